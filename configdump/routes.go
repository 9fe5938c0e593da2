package configdump

import (
	"strconv"

	adminv3 "github.com/envoyproxy/go-control-plane/envoy/admin/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
)

// RouteConfigs returns the dump's route configurations: dynamic ones, then static ones.
func (d *Dump) RouteConfigResources() (Resources[*routev3.RouteConfiguration], error) {
	rd, err := section(d, RoutesSection, func() *adminv3.RoutesConfigDump { return &adminv3.RoutesConfigDump{} })
	if err != nil {
		return Resources[*routev3.RouteConfiguration]{}, err
	}
	res := make([]resource, 0, len(rd.DynamicRouteConfigs)+len(rd.StaticRouteConfigs))
	for i, r := range rd.DynamicRouteConfigs {
		if r.RouteConfig != nil {
			res = append(res, resource{r.RouteConfig, "dynamic_route_configs", i, "route_config"})
		}
	}
	for i, r := range rd.StaticRouteConfigs {
		if r.RouteConfig != nil {
			res = append(res, resource{r.RouteConfig, "static_route_configs", i, "route_config"})
		}
	}
	return newResources(d, RoutesSection, res, func() *routev3.RouteConfiguration { return &routev3.RouteConfiguration{} }), nil
}

// RouteFilter selects route configurations by name.
type RouteFilter struct {
	Name string
}

// Match reports whether r passes the filter.
func (f RouteFilter) Match(r *routev3.RouteConfiguration) bool {
	return f.Name == "" || f.Name == r.GetName()
}

// RouteKey is the key istioctl orders route configurations by.
type RouteKey struct {
	n  int
	ok bool
}

// RouteOrder returns a route configuration's key: its name as a port number, if it is one.
func RouteOrder(r *routev3.RouteConfiguration) RouteKey {
	n, err := strconv.Atoi(r.GetName())
	return RouteKey{n, err == nil}
}

// Less orders route configurations as istioctl does: names that are port numbers in numeric
// order; istioctl's comparison leaves every other name where the sort puts it.
func (a RouteKey) Less(b RouteKey) bool { return a.ok && b.ok && a.n < b.n }
