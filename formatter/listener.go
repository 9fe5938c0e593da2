package formatter

import (
	"fmt"
	"io"
	"reflect"
	"sort"
	"strconv"
	"strings"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"

	"github.com/proxyctl/proxyctl/configdump"
)

// ListenerRows are a listener's rows of the listener table: one per filter chain when verbose
// (ordered by destination, as istioctl orders them), one for the listener otherwise. withName
// adds the NAME column `pc all` shows.
func ListenerRows(d *configdump.Dump, l *listenerv3.Listener, verbose, withName bool) []string {
	prefix := row(strings.Join(configdump.ListenerAddresses(l), ","), strconv.Itoa(int(configdump.ListenerPort(l))))
	if withName {
		prefix = row("listener/"+l.GetName()) + "\t" + prefix
	}
	if !verbose {
		return []string{prefix + "\t" + row(configdump.ListenerType(l))}
	}
	chains := chainRows(d, l)
	sort.Slice(chains, func(i, j int) bool { return chains[i].destination > chains[j].destination })
	rows := make([]string, len(chains))
	for i, c := range chains {
		rows[i] = prefix + "\t" + row(c.match, c.destination)
	}
	return rows
}

// ListenerTable writes the listener view's table from rows made by ListenerRows.
func ListenerTable(w io.Writer, rows []string, verbose, withName bool) error {
	header := "ADDRESSES\tPORT"
	if withName {
		header = "NAME\t" + header
	}
	if verbose {
		header += "\tMATCH\tDESTINATION"
	} else {
		header += "\tTYPE"
	}
	return writeTable(w, 1, header, rows)
}

type chainRow struct {
	match, destination string
}

func chainRows(d *configdump.Dump, l *listenerv3.Listener) []chainRow {
	chains := configdump.FilterChains(l)
	rows := make([]chainRow, 0, len(chains))
	for _, fc := range chains {
		rows = append(rows, chainRow{
			match:       describeChainMatch(fc.GetFilterChainMatch()),
			destination: describeTarget(d.ChainTarget(fc.GetFilters())),
		})
	}
	return rows
}

// Names istioctl gives to well-known ALPN lists.
var alpnDescriptions = []struct {
	name      string
	protocols []string
}{
	{"App: HTTP TLS", []string{"http/1.0", "http/1.1", "h2c", "istio-http/1.0", "istio-http/1.1", "istio-h2"}},
	{"App: Istio HTTP Plain", []string{"istio", "istio-http/1.0", "istio-http/1.1", "istio-h2"}},
	{"App: TCP TLS", []string{"istio-peer-exchange", "istio"}},
	{"App: HTTP", []string{"http/1.0", "http/1.1", "h2c"}},
}

func describeChainMatch(m *listenerv3.FilterChainMatch) string {
	var descrs []string
	if len(m.GetServerNames()) > 0 {
		descrs = append(descrs, "SNI: "+strings.Join(m.GetServerNames(), ","))
	}
	if m.GetTransportProtocol() != "" {
		descrs = append(descrs, "Trans: "+m.GetTransportProtocol())
	}
	if alpn := m.GetApplicationProtocols(); len(alpn) > 0 {
		descr := "App: " + strings.Join(alpn, ",")
		for _, known := range alpnDescriptions {
			if reflect.DeepEqual(alpn, known.protocols) {
				descr = known.name
				break
			}
		}
		descrs = append(descrs, descr)
	}
	port := ""
	if m.GetDestinationPort() != nil {
		port = fmt.Sprintf(":%d", m.GetDestinationPort().GetValue())
	}
	if ranges := m.GetPrefixRanges(); len(ranges) > 0 {
		pf := make([]string, 0, len(ranges))
		for _, p := range ranges {
			pf = append(pf, fmt.Sprintf("%s/%d", p.GetAddressPrefix(), p.GetPrefixLen().GetValue()))
		}
		descrs = append(descrs, "Addr: "+strings.Join(pf, ",")+port)
	} else if port != "" {
		descrs = append(descrs, "Addr: *"+port)
	}
	if len(descrs) == 0 {
		return "ALL"
	}
	return strings.Join(descrs, "; ")
}

func describeTarget(t configdump.ChainTarget) string {
	switch t.Kind {
	case configdump.TargetHTTP:
		if t.RouteConfig != nil {
			return describeRouteConfig(t.RouteConfig)
		}
		if t.RDSName != "" {
			return "Route: " + t.RDSName
		}
		return "HTTP"
	case configdump.TargetTCP:
		return clusterTarget(t.Cluster)
	case configdump.TargetError:
		return t.Err.Error()
	}
	return "Non-HTTP/Non-TCP"
}

// clusterTarget prints a destination cluster; Istio's PassthroughCluster and BlackHoleCluster
// stand alone.
func clusterTarget(cluster string) string {
	if strings.Contains(cluster, "Cluster") {
		return cluster
	}
	return "Cluster: " + cluster
}

func describeRouteConfig(rc *routev3.RouteConfiguration) string {
	if cluster := matchAllCluster(rc); cluster != "" {
		return cluster
	}
	vhosts := make([]string, 0, len(rc.GetVirtualHosts()))
	for _, vh := range rc.GetVirtualHosts() {
		if domains := describeDomains(vh); domains != "" {
			vhosts = append(vhosts, domains+" "+describeRoutes(vh))
		} else {
			vhosts = append(vhosts, describeRoutes(vh))
		}
	}
	return "Inline Route: " + strings.Join(vhosts, "; ")
}

// matchAllCluster returns the cluster of a route config that sends everything to one cluster.
func matchAllCluster(rc *routev3.RouteConfiguration) string {
	if len(rc.GetVirtualHosts()) != 1 {
		return ""
	}
	vh := rc.GetVirtualHosts()[0]
	if !reflect.DeepEqual(vh.GetDomains(), []string{"*"}) || len(vh.GetRoutes()) != 1 {
		return ""
	}
	r := vh.GetRoutes()[0]
	if r.GetMatch().GetPrefix() != "/" {
		return ""
	}
	cluster, ok := r.GetRoute().GetClusterSpecifier().(*routev3.RouteAction_Cluster)
	if !ok {
		return ""
	}
	return clusterTarget(cluster.Cluster)
}

func describeDomains(vh *routev3.VirtualHost) string {
	if len(vh.GetDomains()) == 1 && vh.GetDomains()[0] == "*" {
		return ""
	}
	return strings.Join(vh.GetDomains(), "/")
}

func describeRoutes(vh *routev3.VirtualHost) string {
	routes := make([]string, 0, len(vh.GetRoutes()))
	for _, r := range vh.GetRoutes() {
		routes = append(routes, describeMatch(r.GetMatch()))
	}
	return strings.Join(routes, ", ")
}

// describeMatch prints a route match's path condition (headers are not shown).
func describeMatch(m *routev3.RouteMatch) string {
	var conds []string
	if m.GetPrefix() != "" {
		conds = append(conds, m.GetPrefix()+"*")
	}
	if m.GetPathSeparatedPrefix() != "" {
		conds = append(conds, "PathPrefix:"+m.GetPathSeparatedPrefix())
	}
	if m.GetPath() != "" {
		conds = append(conds, m.GetPath())
	}
	if m.GetSafeRegex() != nil {
		conds = append(conds, "regex "+m.GetSafeRegex().GetRegex())
	}
	return strings.Join(conds, " ")
}
