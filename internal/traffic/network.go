package traffic

import (
	"fmt"
	"strings"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tcpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
)

// Network filter and transport socket names, and the type URLs of their configs.
const (
	HTTPConnectionManager = "envoy.filters.network.http_connection_manager"
	TCPProxy              = "envoy.filters.network.tcp_proxy"
	hcmType               = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
	tcpProxyType          = "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy"
	tlsTransportSocket    = "envoy.transport_sockets.tls"
	downstreamTLSType     = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext"
)

// TLSCheck is what the chain's transport socket makes of the connection.
type TLSCheck struct {
	// Terminates: the chain has a TLS transport socket (DownstreamTlsContext).
	Terminates bool
	// RequiresClientCert: require_client_certificate is set.
	RequiresClientCert bool
	Rule               string
	// Err is "tls_error" (plaintext into a chain that terminates TLS) or "mtls_error" (no
	// client certificate where one is required).
	Err string
}

// CheckTLS checks connection c against filter chain fc's transport socket.
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/extensions/transport_sockets/tls/v3/tls.proto#extensions-transport-sockets-tls-v3-downstreamtlscontext
func CheckTLS(fc *listenerv3.FilterChain, c Connection, u Unmarshaler) TLSCheck {
	ts := fc.GetTransportSocket()
	if ts == nil {
		if c.TLS == Plaintext {
			return TLSCheck{Rule: "no transport socket: plaintext"}
		}
		return TLSCheck{Rule: "no transport socket: the chain does not terminate TLS; the TLS bytes pass through as they are"}
	}
	url := ts.GetTypedConfig().GetTypeUrl()
	if !known(ts.GetName(), url, tlsTransportSocket) {
		return TLSCheck{Rule: fmt.Sprintf("transport socket %s (%s) not modelled", ts.GetName(), url)}
	}
	ctx := &tlsv3.DownstreamTlsContext{}
	if err := u(ts.GetTypedConfig(), ctx); err != nil {
		return TLSCheck{Terminates: true, Rule: "TLS transport socket whose config does not decode: " + err.Error()}
	}
	t := TLSCheck{Terminates: true, RequiresClientCert: ctx.GetRequireClientCertificate().GetValue()}
	what := "terminates TLS"
	if t.RequiresClientCert {
		what = "terminates TLS and requires a client certificate (mTLS)"
	}
	switch {
	case c.TLS == Plaintext:
		t.Err, t.Rule = "tls_error", "the chain "+what+", and the connection is plaintext: the handshake fails"
	case t.RequiresClientCert && c.TLS != MTLS:
		t.Err, t.Rule = "mtls_error", "the chain "+what+", and the client sends none: the handshake fails"
	case c.TLS == MTLS && !t.RequiresClientCert:
		t.Rule = "the chain " + what + " without asking for a client certificate; the client's is not used"
	default:
		t.Rule = "the chain " + what
	}
	return t
}

// TCPWeight is one of a TCP proxy's weighted clusters.
type TCPWeight struct {
	Name   string `json:"name"`
	Weight uint32 `json:"weight"`
}

// NetworkMatch is what the chain's network filters do with the connection.
type NetworkMatch struct {
	// Filter is the terminal (last) network filter; Kind "http" (an HTTP connection manager),
	// "tcp" (a TCP proxy) or "other".
	Filter string
	Kind   string
	// Passed are the filters before it: run, not evaluated here (RBAC, stats, ...).
	Passed []string
	Rule   string
	Err    string

	HCM *hcmv3.HttpConnectionManager
	// RouteConfigName is the RDS name; InlineRoutes the inline route_config.
	RouteConfigName string
	InlineRoutes    *routev3.RouteConfiguration

	// TCP proxy: its cluster, or its weighted clusters and the one picked.
	Cluster  string
	Weighted []TCPWeight
}

// Filters are known by their name, their deprecated name or the type URL of their config, v3
// or v2 (Envoy before 1.18, whose v2 configs configdump reads as v3).
var knownFilters = map[string][]string{
	HTTPConnectionManager: {"envoy.http_connection_manager", hcmType, "type.googleapis.com/envoy.config.filter.network.http_connection_manager.v2.HttpConnectionManager"},
	TCPProxy:              {"envoy.tcp_proxy", tcpProxyType, "type.googleapis.com/envoy.config.filter.network.tcp_proxy.v2.TcpProxy"},
	tlsTransportSocket:    {"tls", downstreamTLSType, "type.googleapis.com/envoy.api.v2.auth.DownstreamTlsContext"},
	TLSInspector:          {"envoy.listener.tls_inspector", tlsInspectorType},
	HTTPInspector:         {"envoy.listener.http_inspector", httpInspectorType},
	OriginalDst:           {"envoy.listener.original_dst", originalDstType},
	ProxyProtocol:         {"envoy.listener.proxy_protocol", proxyProtocolType},
}

// known reports whether an extension of that name and config type URL is the named one.
func known(name, typeURL, want string) bool {
	if name == want || (typeURL != "" && typeURL == want) {
		return true
	}
	for _, alias := range knownFilters[want] {
		if name == alias || typeURL == alias {
			return true
		}
	}
	return false
}

func isFilter(f *listenerv3.Filter, name, _ string) bool {
	return known(f.GetName(), f.GetTypedConfig().GetTypeUrl(), name)
}

// NetworkFilters reads the chain's network filters: the last one is terminal and decides
// where the connection goes; an HTTP connection manager needs HTTP (and TLS terminated by the
// chain, if the client speaks TLS). random picks among a TCP proxy's weighted clusters (nil: 0).
func NetworkFilters(fc *listenerv3.FilterChain, c Connection, tlsc TLSCheck, u Unmarshaler, random *uint64) NetworkMatch {
	filters := fc.GetFilters()
	if len(filters) == 0 {
		return NetworkMatch{Kind: "other", Rule: "the chain has no network filters: Envoy closes the connection"}
	}
	last := filters[len(filters)-1]
	m := NetworkMatch{Filter: last.GetName()}
	for _, f := range filters[:len(filters)-1] {
		m.Passed = append(m.Passed, f.GetName())
	}
	switch {
	case isFilter(last, HTTPConnectionManager, hcmType):
		m.Kind = "http"
		hcm := &hcmv3.HttpConnectionManager{}
		if err := u(last.GetTypedConfig(), hcm); err != nil {
			m.Err, m.Rule = "protocol_error", "the HTTP connection manager's config does not decode: "+err.Error()
			return m
		}
		m.HCM = hcm
		if err := hcmAccepts(hcm, c, tlsc); err != "" {
			m.Err, m.Rule = "protocol_error", err
			return m
		}
		switch {
		case hcm.GetRouteConfig() != nil:
			m.InlineRoutes = hcm.GetRouteConfig()
			m.Rule = "HTTP connection manager with an inline route_config"
		case hcm.GetRds() != nil:
			m.RouteConfigName = hcm.GetRds().GetRouteConfigName()
			m.Rule = "HTTP connection manager with RDS route config " + m.RouteConfigName
		case hcm.GetScopedRoutes() != nil:
			m.Rule = "HTTP connection manager with scoped routes (not followed)"
		default:
			m.Rule = "HTTP connection manager without routes"
		}
	case isFilter(last, TCPProxy, tcpProxyType):
		m.Kind = "tcp"
		tp := &tcpv3.TcpProxy{}
		if err := u(last.GetTypedConfig(), tp); err != nil {
			m.Rule = "the TCP proxy's config does not decode: " + err.Error()
			return m
		}
		if cl := tp.GetCluster(); cl != "" {
			m.Cluster, m.Rule = cl, "TCP proxy to cluster "+cl
		} else if wc := tp.GetWeightedClusters(); wc != nil {
			for _, w := range wc.GetClusters() {
				m.Weighted = append(m.Weighted, TCPWeight{w.GetName(), w.GetWeight()})
			}
			m.Rule = "TCP proxy to weighted clusters " + describeWeights(m.Weighted)
			var v uint64
			from := "random value 0 (--random-value not given)"
			if random != nil {
				v, from = *random, fmt.Sprintf("random value %d", *random)
			}
			if name, ok := tcpPickWeighted(m.Weighted, v); ok {
				m.Cluster = name
				m.Rule += fmt.Sprintf("; %s picks %s", from, name)
			}
		}
		if tp.GetTunnelingConfig() != nil {
			m.Rule += fmt.Sprintf(", tunnelled over HTTP CONNECT to %s", tp.GetTunnelingConfig().GetHostname())
		}
	default:
		m.Kind = "other"
		m.Rule = "terminal network filter " + last.GetName() + " (not followed)"
	}
	return m
}

// hcmAccepts says why an HTTP connection manager cannot serve the connection ("" if it can):
// it needs HTTP, and it cannot read TLS it does not terminate; its codec_type must allow the
// client's HTTP version.
func hcmAccepts(hcm *hcmv3.HttpConnectionManager, c Connection, tlsc TLSCheck) string {
	switch {
	case c.TLS != Plaintext && !tlsc.Terminates:
		return "the client speaks TLS to an HTTP connection manager on a chain that does not terminate TLS: the TLS bytes are not HTTP"
	case !c.Protocol.IsHTTP():
		return "the client speaks TCP, not HTTP, to an HTTP connection manager"
	}
	switch hcm.GetCodecType() {
	case hcmv3.HttpConnectionManager_HTTP1:
		if c.Protocol == HTTP2 {
			return "the HTTP connection manager's codec_type is HTTP1, and the client speaks HTTP/2"
		}
	case hcmv3.HttpConnectionManager_HTTP2:
		if c.Protocol == HTTP1 {
			return "the HTTP connection manager's codec_type is HTTP2, and the client speaks HTTP/1.1"
		}
	case hcmv3.HttpConnectionManager_HTTP3:
		return "the HTTP connection manager's codec_type is HTTP3 (QUIC over UDP), and the client speaks TCP"
	}
	return ""
}

func describeWeights(ws []TCPWeight) string {
	parts := make([]string, len(ws))
	for i, w := range ws {
		parts[i] = fmt.Sprintf("%s (%d)", w.Name, w.Weight)
	}
	return strings.Join(parts, ", ")
}

// tcpPickWeighted picks a TCP proxy's weighted cluster as Envoy does: random modulo the total weight, then
// the first cluster whose cumulative weight exceeds it.
func tcpPickWeighted(ws []TCPWeight, random uint64) (string, bool) {
	var total uint64
	for _, w := range ws {
		total += uint64(w.Weight)
	}
	if total == 0 {
		return "", false
	}
	v := random % total
	var sum uint64
	for _, w := range ws {
		sum += uint64(w.Weight)
		if v < sum {
			return w.Name, true
		}
	}
	return "", false
}
