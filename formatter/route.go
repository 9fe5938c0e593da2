package formatter

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
)

// RouteRows are a route configuration's rows of the route table: one per route (and per
// virtual host without routes) when verbose, one for the configuration otherwise. withName
// prefixes the name with "route/", as `pc all` does.
func RouteRows(rc *routev3.RouteConfiguration, verbose, withName bool) []string {
	name := rc.GetName()
	if withName {
		name = "route/" + name
	}
	if !verbose {
		return []string{row(name, strconv.Itoa(len(rc.GetVirtualHosts())))}
	}
	var rows []string
	for _, vh := range rc.GetVirtualHosts() {
		domains := describeRouteDomains(vh.GetDomains())
		for _, r := range vh.GetRoutes() {
			if !isPassthrough(r) {
				rows = append(rows, row(name, vh.GetName(), domains, describeMatch(r.GetMatch()), describeManagement(r.GetMetadata())))
			}
		}
		if len(vh.GetRoutes()) == 0 {
			rows = append(rows, row(name, vh.GetName(), domains, "/*", "404"))
		}
	}
	return rows
}

// RouteTable writes the route view's table from rows made by RouteRows.
func RouteTable(w io.Writer, rows []string, verbose bool) error {
	header := "NAME\tVIRTUAL HOSTS"
	if verbose {
		header = "NAME\tVHOST NAME\tDOMAINS\tMATCH\tVIRTUAL SERVICE"
	}
	return writeTable(w, 5, header, rows)
}

// describeRouteDomains shows the two shortest useful domains of a virtual host: domains with a
// port, and the long forms of names whose short form is there, are left out.
func describeRouteDomains(domains []string) string {
	switch len(domains) {
	case 0:
		return ""
	case 1:
		return domains[0]
	}
	const max = 2
	withoutPort := make([]string, 0, len(domains))
	for _, d := range domains {
		if !strings.Contains(d, ":") {
			withoutPort = append(withoutPort, d)
		} else if strings.Count(d, ":") > 2 && strings.HasSuffix(d, "]") {
			// A bare IPv6 address such as [fd00:10:96::7fc7].
			withoutPort = append(withoutPort, d)
		}
	}
	withoutPort = unexpandDomains(withoutPort)
	if len(withoutPort) > max {
		return fmt.Sprintf("%s + %d more...", strings.Join(withoutPort[:max], ", "), len(withoutPort)-max)
	}
	return strings.Join(withoutPort, ", ")
}

// unexpandDomains drops name.svc.cluster.local and name.svc when name is also listed.
func unexpandDomains(domains []string) []string {
	unique := make(map[string]bool, len(domains))
	for _, d := range domains {
		unique[d] = true
	}
	drop := map[string]bool{}
	for _, d := range domains {
		for _, suffix := range []string{".svc.cluster.local", ".svc"} {
			if short := strings.TrimSuffix(d, suffix); short != d && unique[short] {
				drop[d] = true
			}
		}
	}
	out := make([]string, 0, len(domains))
	for _, d := range domains {
		if !drop[d] {
			out = append(out, d)
		}
	}
	return out
}

func isPassthrough(r *routev3.Route) bool {
	c, ok := r.GetRoute().GetClusterSpecifier().(*routev3.RouteAction_Cluster)
	return ok && c.Cluster == "PassthroughCluster"
}
