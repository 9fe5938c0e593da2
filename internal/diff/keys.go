package diff

import (
	"fmt"
	"sort"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// listRule says how the elements of one list field are told apart.
type listRule struct {
	key func(*node) string
	// fallback, when set, is tried when key does not tell every element apart.
	fallback func(*node) string
	// unordered: the order of the elements is not configuration (Envoy picks a filter chain by
	// its match and a virtual host by its domains, whatever their order).
	unordered bool
}

// listRules are the lists with a key of their own, by message and field; every other list of
// messages with a unique name each is keyed by name, in order (filters, routes, clusters of
// a weighted cluster...), and the rest compared by position.
var listRules = map[protoreflect.FullName]listRule{
	"envoy.config.listener.v3.Listener.filter_chains":                                                {key: filterChainKey, fallback: filterChainNameAndMatch, unordered: true},
	"envoy.config.route.v3.RouteConfiguration.virtual_hosts":                                         {key: nameKey, unordered: true},
	"envoy.config.endpoint.v3.ClusterLoadAssignment.endpoints":                                       {key: localityKey, unordered: true},
	"envoy.config.endpoint.v3.LocalityLbEndpoints.lb_endpoints":                                      {key: endpointKey, unordered: true},
	"envoy.config.bootstrap.v3.Bootstrap.StaticResources.clusters":                                   {key: nameKey, unordered: true},
	"envoy.config.bootstrap.v3.Bootstrap.StaticResources.listeners":                                  {key: nameKey, unordered: true},
	"envoy.config.bootstrap.v3.Bootstrap.StaticResources.secrets":                                    {key: nameKey, unordered: true},
	"envoy.config.route.v3.WeightedCluster.clusters":                                                 {key: nameKey, unordered: true},
	"envoy.config.route.v3.VirtualHost.routes":                                                       {key: nameKey},
	"envoy.config.listener.v3.FilterChain.filters":                                                   {key: nameKey},
	"envoy.config.listener.v3.Listener.listener_filters":                                             {key: nameKey},
	"envoy.config.cluster.v3.Cluster.transport_socket_matches":                                       {key: nameKey},
	"envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager.http_filters": {key: nameKey},
}

// keyList gives a list's items their keys, when every item has one and no two are the same,
// and sorts them by key when their order is noise.
func keyList(parent protoreflect.MessageDescriptor, fd protoreflect.FieldDescriptor, l *node) {
	if fd.Message() == nil || len(l.items) == 0 {
		return
	}
	rule, ok := listRules[parent.FullName().Append(fd.Name())]
	if !ok {
		if fd.Message().Fields().ByName("name") == nil {
			return
		}
		rule = listRule{key: nameKey}
	}
	keys, ok := uniqueKeys(l, rule.key)
	if !ok && rule.fallback != nil {
		keys, ok = uniqueKeys(l, rule.fallback)
	}
	if !ok {
		return // by position
	}
	for i := range l.items {
		l.items[i].key = keys[i]
	}
	l.keyed, l.ordered = true, !rule.unordered
	if rule.unordered {
		sort.SliceStable(l.items, func(i, j int) bool { return l.items[i].key < l.items[j].key })
	}
}

// uniqueKeys returns each item's key, and whether every item has one and no two the same.
func uniqueKeys(l *node, key func(*node) string) ([]string, bool) {
	seen := make(map[string]bool, len(l.items))
	keys := make([]string, len(l.items))
	for i, it := range l.items {
		k := key(it.n)
		if k == "" || seen[k] {
			return nil, false
		}
		seen[k] = true
		keys[i] = k
	}
	return keys, true
}

func nameKey(n *node) string { return n.get("name").str() }

// filterChainNameAndMatch tells apart filter chains of one name (Istio names every inbound
// chain of a port alike): NAME{MATCH}.
func filterChainNameAndMatch(n *node) string {
	m := n.get("filter_chain_match")
	if m == nil || len(m.fields) == 0 {
		return nameKey(n) + "{}"
	}
	return nameKey(n) + "{" + compact(m) + "}"
}

// filterChainKey is a filter chain's name, or else its match: "destination_port=8080,
// transport_protocol=tls"; "*" for a chain that matches everything.
func filterChainKey(n *node) string {
	if name := nameKey(n); name != "" {
		return name
	}
	m := n.get("filter_chain_match")
	if m == nil || len(m.fields) == 0 {
		return "*"
	}
	return compact(m)
}

// localityKey is region/zone/sub_zone, with the priority when it is not 0.
func localityKey(n *node) string {
	loc := n.get("locality")
	k := strings.TrimRight(loc.get("region").str()+"/"+loc.get("zone").str()+"/"+loc.get("sub_zone").str(), "/")
	if k == "" {
		k = "*"
	}
	if p := n.get("priority"); p != nil {
		k += fmt.Sprintf(" priority=%v", p.scalar)
	}
	return k
}

// endpointKey is an endpoint's address (IP:PORT, a pipe's path, envoy://LISTENER/ID) or name.
func endpointKey(n *node) string {
	if name := n.get("endpoint_name").str(); name != "" {
		return name
	}
	addr := n.get("endpoint").get("address")
	if sa := addr.get("socket_address"); sa != nil {
		port := ""
		if p := sa.get("port_value"); p != nil {
			port = fmt.Sprint(p.scalar)
		} else {
			port = sa.get("named_port").str()
		}
		host := sa.get("address").str()
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
		return host + ":" + port
	}
	if p := addr.get("pipe"); p != nil {
		return p.get("path").str()
	}
	if in := addr.get("envoy_internal_address"); in != nil {
		return "envoy://" + in.get("server_listener_name").str() + "/" + in.get("endpoint_id").str()
	}
	return ""
}

// compact writes a node on one line: k=v members joined by commas, list items by |.
func compact(n *node) string {
	var b strings.Builder
	writeCompact(&b, n, true)
	return b.String()
}

func writeCompact(b *strings.Builder, n *node, top bool) {
	switch n.kind {
	case scalarNode:
		fmt.Fprint(b, n.scalar)
	case listNode:
		for i, it := range n.items {
			if i > 0 {
				b.WriteByte('|')
			}
			writeCompact(b, it.n, false)
		}
	case objectNode:
		// A CIDR range: 10.0.0.0/8.
		if p := n.get("address_prefix"); p != nil && len(n.fields) <= 2 {
			b.WriteString(p.str())
			if l := n.get("prefix_len"); l != nil {
				fmt.Fprintf(b, "/%v", l.scalar)
			}
			return
		}
		if !top {
			b.WriteByte('{')
		}
		for i, f := range n.fields {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(f.name)
			b.WriteByte('=')
			writeCompact(b, f.n, false)
		}
		if !top {
			b.WriteByte('}')
		}
	}
}
