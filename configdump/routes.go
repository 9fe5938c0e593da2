package configdump

import (
	"strconv"

	adminv3 "github.com/envoyproxy/go-control-plane/envoy/admin/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
)

// RouteConfigs returns the dump's route configurations: dynamic ones, then static ones.
func (d *Dump) RouteConfigs() ([]*routev3.RouteConfiguration, error) {
	rd, err := section(d, RoutesSection, func() *adminv3.RoutesConfigDump { return &adminv3.RoutesConfigDump{} })
	if err != nil {
		return nil, err
	}
	res := make([]resource, 0, len(rd.DynamicRouteConfigs)+len(rd.StaticRouteConfigs))
	for i, r := range rd.DynamicRouteConfigs {
		if r.RouteConfig != nil {
			res = append(res, resource{r.RouteConfig, "dynamic_route_configs", i})
		}
	}
	for i, r := range rd.StaticRouteConfigs {
		if r.RouteConfig != nil {
			res = append(res, resource{r.RouteConfig, "static_route_configs", i})
		}
	}
	return decodeResources(d, res, func() *routev3.RouteConfiguration { return &routev3.RouteConfiguration{} })
}

// RouteFilter selects route configurations by name.
type RouteFilter struct {
	Name string
}

// Match reports whether r passes the filter.
func (f RouteFilter) Match(r *routev3.RouteConfiguration) bool {
	return f.Name == "" || f.Name == r.GetName()
}

// FilterRouteConfigs returns the route configurations that match f, in order.
func FilterRouteConfigs(rs []*routev3.RouteConfiguration, f RouteFilter) []*routev3.RouteConfiguration {
	out := rs[:0:0]
	for _, r := range rs {
		if f.Match(r) {
			out = append(out, r)
		}
	}
	return out
}

type routeKey struct {
	n  int
	ok bool
}

// SortRouteConfigs orders route configurations as istioctl does: names that are port numbers
// in numeric order; istioctl's comparison leaves every other name where the sort puts it.
func SortRouteConfigs(rs []*routev3.RouteConfiguration) {
	sortByKey(rs, func(r *routev3.RouteConfiguration) routeKey {
		n, err := strconv.Atoi(r.GetName())
		return routeKey{n, err == nil}
	}, func(a, b routeKey) bool {
		return a.ok && b.ok && a.n < b.n
	})
}
