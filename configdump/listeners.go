package configdump

import (
	"bytes"
	"fmt"
	"strings"

	adminv3 "github.com/envoyproxy/go-control-plane/envoy/admin/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tcpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// Filter names that classify listeners, as istioctl does.
const (
	HTTPConnectionManager = "envoy.filters.network.http_connection_manager"
	TCPProxy              = "envoy.filters.network.tcp_proxy"
	// BlackHoleCluster is the cluster of Istio's catch-all TCP proxies, which do not count.
	BlackHoleCluster = "BlackHoleCluster"
)

// The names v2-era proxies (Envoy 1.13 and before, Istio up to 1.5) gave the same filters.
const (
	v2HTTPConnectionManager = "envoy.http_connection_manager"
	v2TCPProxy              = "envoy.tcp_proxy"
)

func isHTTPConnectionManager(f *listenerv3.Filter) bool {
	return f.GetName() == HTTPConnectionManager || f.GetName() == v2HTTPConnectionManager
}

func isTCPProxy(f *listenerv3.Filter) bool {
	return f.GetName() == TCPProxy || f.GetName() == v2TCPProxy
}

// filterConfig returns the JSON of a network filter's config: its typed_config, or the untyped
// "config" (a Struct with the config's fields) of a v2-era filter, which the v3 Filter does not
// know and which the decoder kept (as "hidden_envoy_deprecated_config" in some v3 dumps).
func (d *Dump) filterConfig(f *listenerv3.Filter) (typed *anypb.Any, untyped []byte) {
	if tc := f.GetTypedConfig(); tc != nil {
		return tc, nil
	}
	for _, key := range []string{"config", "hidden_envoy_deprecated_config"} {
		if raw := d.rawMember(f, key); raw != nil {
			return nil, raw
		}
	}
	return nil, nil
}

// decodeFilterConfig decodes a network filter's config (see filterConfig) into m; a typed
// config of m's type, only the fields proj selects (all when nil).
func (d *Dump) decodeFilterConfig(f *listenerv3.Filter, m proto.Message, proj Projection) error {
	typed, untyped := d.filterConfig(f)
	if untyped != nil {
		return d.decodeRaw(untyped, m)
	}
	if typed != nil && proj != nil && canonicalName(typed.GetTypeUrl()) == m.ProtoReflect().Descriptor().FullName() {
		return unmarshalAnyValue(typed.GetValue(), m, d.src, nil, proj)
	}
	return d.UnmarshalAny(typed, m)
}

// The fields ChainTarget reads of an HTTP connection manager and a TCP proxy: the tables that
// show them check the whole listener first (see Resources.Checked), so the rest need not be
// decoded again for every filter chain.
var (
	hcmTargetFields = Fields("route_config", "rds")
	tcpTargetFields = Fields("cluster")
)

// Listeners returns the dump's listeners: the active state of dynamic ones, then static ones.
func (d *Dump) ListenerResources() (Resources[*listenerv3.Listener], error) {
	ld, err := section(d, ListenersSection, func() *adminv3.ListenersConfigDump { return &adminv3.ListenersConfigDump{} })
	if err != nil {
		return Resources[*listenerv3.Listener]{}, err
	}
	res := make([]resource, 0, len(ld.DynamicListeners)+len(ld.StaticListeners))
	for i, l := range ld.DynamicListeners {
		if l.GetActiveState().GetListener() != nil {
			res = append(res, resource{l.ActiveState.Listener, "dynamic_listeners", i, "active_state.listener"})
		}
	}
	// Envoy 1.12 and before listed active listeners apart, with the static ones' shape.
	if raw := d.rawMember(ld, "dynamic_active_listeners"); raw != nil {
		var v2 adminv3.ListenersConfigDump
		fd := v2.ProtoReflect().Descriptor().Fields().ByName("static_listeners")
		dec := newDecoder(raw, offsetIn(d.src, raw), d.src, nil)
		if err := dec.listField(v2.ProtoReflect(), nil, fd, nil, 0); err == nil {
			for i, l := range v2.StaticListeners {
				if l.Listener != nil {
					res = append(res, resource{l.Listener, "dynamic_active_listeners", i, "listener"})
				}
			}
		} else {
			return Resources[*listenerv3.Listener]{}, fmt.Errorf("listeners section: dynamic_active_listeners: %w", err)
		}
	}
	for i, l := range ld.StaticListeners {
		if l.Listener != nil {
			res = append(res, resource{l.Listener, "static_listeners", i, "listener"})
		}
	}
	return newResources(d, ListenersSection, res, func() *listenerv3.Listener { return &listenerv3.Listener{} }), nil
}

// FilterChains returns a listener's filter chains followed by its default chain.
func FilterChains(l *listenerv3.Listener) []*listenerv3.FilterChain {
	chains := l.GetFilterChains()
	if l.GetDefaultFilterChain() != nil {
		chains = append(chains[:len(chains):len(chains)], l.DefaultFilterChain)
	}
	return chains
}

// isBlackHole reports whether a TCP proxy filter only feeds the black hole cluster; like
// istioctl, it looks for the name anywhere in the filter's config.
func isBlackHole(f *listenerv3.Filter) bool {
	if bytes.Contains(f.GetTypedConfig().GetValue(), []byte(BlackHoleCluster)) {
		return true
	}
	if f.GetTypedConfig() == nil && HasUnknownMembers(f) {
		for _, key := range []string{"config", "hidden_envoy_deprecated_config"} {
			if v, _, ok := UnknownMember(f, key); ok {
				return bytes.Contains(v, []byte(BlackHoleCluster))
			}
		}
	}
	return false
}

// ListenerType classifies a listener as HTTP, TCP, HTTP+TCP or UNKNOWN by its network filters
// (by their v3 or v2 names).
func ListenerType(l *listenerv3.Listener) string {
	nHTTP, nTCP := 0, 0
	for _, fc := range FilterChains(l) {
		for _, f := range fc.GetFilters() {
			switch {
			case isHTTPConnectionManager(f):
				nHTTP++
			case isTCPProxy(f) && !isBlackHole(f):
				nTCP++
			}
		}
	}
	switch {
	case nHTTP > 0 && nTCP == 0:
		return "HTTP"
	case nHTTP > 0:
		return "HTTP+TCP"
	case nTCP > 0:
		return "TCP"
	}
	return "UNKNOWN"
}

// ListenerAddress is the listener's socket address, or pipe path.
func ListenerAddress(l *listenerv3.Listener) string {
	if sa := l.GetAddress().GetSocketAddress(); sa != nil {
		return sa.GetAddress()
	}
	return l.GetAddress().GetPipe().GetPath()
}

// ListenerAddresses is the listener's address followed by its additional addresses.
func ListenerAddresses(l *listenerv3.Listener) []string {
	out := []string{ListenerAddress(l)}
	for _, a := range l.GetAdditionalAddresses() {
		out = append(out, a.GetAddress().GetSocketAddress().GetAddress())
	}
	return out
}

// ListenerPort is the port of the listener's socket address (0 for pipes and internal ones).
func ListenerPort(l *listenerv3.Listener) uint32 {
	return l.GetAddress().GetSocketAddress().GetPortValue()
}

// ListenerFilter selects listeners as istioctl's --address, --port and --type do.
type ListenerFilter struct {
	Address string
	Port    uint32
	Type    string
}

// Match reports whether l passes the filter.
func (f ListenerFilter) Match(l *listenerv3.Listener) bool {
	if f.Address != "" {
		found := false
		for _, a := range ListenerAddresses(l) {
			if strings.EqualFold(a, f.Address) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	if f.Port != 0 && ListenerPort(l) != f.Port {
		return false
	}
	return f.Type == "" || strings.EqualFold(ListenerType(l), f.Type)
}

// ListenerKey is the key istioctl's table orders listeners by: port, address, then type.
type ListenerKey struct {
	port uint32
	addr string
	typ  string
	// For the waypoint table, internal listeners are ordered by name among themselves.
	internal bool
	name     string
}

// ListenerOrder returns a listener's key. Its strings are copies, not the document's memory,
// as ClusterOrder's are: sorting must not read back the pages of released resources.
func ListenerOrder(l *listenerv3.Listener) ListenerKey {
	return ListenerKey{ListenerPort(l), strings.Clone(ListenerAddress(l)), strings.Clone(ListenerType(l)), l.GetInternalListener() != nil, strings.Clone(l.GetName())}
}

// Less orders listeners as istioctl's table does.
func (a ListenerKey) Less(b ListenerKey) bool {
	if a.port != b.port {
		return a.port < b.port
	}
	if a.addr != b.addr {
		return a.addr < b.addr
	}
	return a.typ < b.typ
}

// WaypointLess orders listeners as istioctl's waypoint table does: internal listeners by name
// among themselves, the others as Less does.
func (a ListenerKey) WaypointLess(b ListenerKey) bool {
	if a.internal && b.internal {
		return a.name < b.name
	}
	return a.Less(b)
}

// TargetKind says where a filter chain sends traffic.
type TargetKind int

const (
	// TargetOther: neither an HTTP connection manager nor a (non black hole) TCP proxy.
	TargetOther TargetKind = iota
	// TargetHTTP: an HTTP connection manager, with an inline route config or an RDS name.
	TargetHTTP
	// TargetTCP: a TCP proxy to a cluster.
	TargetTCP
	// TargetError: the filter's config could not be decoded (Err says why).
	TargetError
)

// ChainTarget is where a filter chain's first HTTP or TCP filter sends traffic.
type ChainTarget struct {
	Kind        TargetKind
	RouteConfig *routev3.RouteConfiguration // inline routes of an HTTP connection manager
	RDSName     string                      // route config fetched by RDS
	Cluster     string                      // TCP proxy cluster
	Err         error
}

// ChainTarget decodes the first HTTP connection manager or TCP proxy filter of a chain, whatever
// its type URL says, as istioctl does; a v2-era filter's untyped config reads as its typed one.
// Of a typed config of the filter's own type, it decodes only what it returns: call it on
// listeners checked whole (see Resources.Checked).
func (d *Dump) ChainTarget(filters []*listenerv3.Filter) ChainTarget {
	for _, f := range filters {
		switch {
		case isHTTPConnectionManager(f):
			hcm := &hcmv3.HttpConnectionManager{}
			if err := d.decodeFilterConfig(f, hcm, hcmTargetFields); err != nil {
				return ChainTarget{Kind: TargetError, Err: err}
			}
			return ChainTarget{Kind: TargetHTTP, RouteConfig: hcm.GetRouteConfig(), RDSName: hcm.GetRds().GetRouteConfigName()}
		case isTCPProxy(f) && !isBlackHole(f):
			tcp := &tcpv3.TcpProxy{}
			if err := d.decodeFilterConfig(f, tcp, tcpTargetFields); err != nil {
				return ChainTarget{Kind: TargetError, Err: err}
			}
			return ChainTarget{Kind: TargetTCP, Cluster: tcp.GetCluster()}
		}
	}
	return ChainTarget{Kind: TargetOther}
}
