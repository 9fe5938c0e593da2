package traffic

import (
	"fmt"
	"strings"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
)

// Listener filter names and the type URLs of their configs (a filter is known by either).
const (
	TLSInspector       = "envoy.filters.listener.tls_inspector"
	HTTPInspector      = "envoy.filters.listener.http_inspector"
	OriginalDst        = "envoy.filters.listener.original_dst"
	ProxyProtocol      = "envoy.filters.listener.proxy_protocol"
	tlsInspectorType   = "type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector"
	httpInspectorType  = "type.googleapis.com/envoy.extensions.filters.listener.http_inspector.v3.HttpInspector"
	originalDstType    = "type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst"
	proxyProtocolType  = "type.googleapis.com/envoy.extensions.filters.listener.proxy_protocol.v3.ProxyProtocol"
	transportTLS       = "tls"
	transportRawBuffer = "raw_buffer"
)

// Inspection is what the listener filters learn of a connection, which the filter chain
// match then reads: the transport protocol, the SNI and the ALPN list.
type Inspection struct {
	// Transport is "tls" when the TLS inspector saw a ClientHello, else "raw_buffer" (Envoy's
	// default when no listener filter detected a transport protocol).
	Transport string
	SNI       string
	ALPN      []string
	// Filters says what each listener filter did, in order.
	Filters []Rejected
}

func filterIs(name, typeURL string, wantName, _ string) bool {
	return known(name, typeURL, wantName)
}

// Inspect runs a listener's filters on connection c: the TLS inspector reads the SNI and ALPN
// of a TLS ClientHello; the HTTP inspector sets the ALPN of plaintext HTTP (http/1.1, or h2c
// for HTTP/2 with prior knowledge); a filter whose filter_disabled predicate matches is
// skipped.
// https://www.envoyproxy.io/docs/envoy/latest/configuration/listeners/listener_filters/tls_inspector
// https://www.envoyproxy.io/docs/envoy/latest/configuration/listeners/listener_filters/http_inspector
func Inspect(l *listenerv3.Listener, c Connection) Inspection {
	in := Inspection{Transport: transportRawBuffer}
	tlsSeen := false
	for _, f := range l.GetListenerFilters() {
		name, url := f.GetName(), f.GetTypedConfig().GetTypeUrl()
		if p := f.GetFilterDisabled(); p != nil && predicateMatches(p, c.DestinationPort) {
			in.Filters = append(in.Filters, Rejected{name, "disabled for this connection: filter_disabled " + describePredicate(p) + " matches"})
			continue
		}
		switch {
		case filterIs(name, url, TLSInspector, tlsInspectorType):
			tlsSeen = true
			if c.TLS == Plaintext {
				in.Filters = append(in.Filters, Rejected{name, "no TLS ClientHello: nothing detected"})
				continue
			}
			in.Transport, in.SNI, in.ALPN = transportTLS, strings.ToLower(c.SNI), c.ALPN
			in.Filters = append(in.Filters, Rejected{name, fmt.Sprintf("TLS: transport tls, SNI %s, ALPN %s", orNone(in.SNI), orNone(strings.Join(in.ALPN, ",")))})
		case filterIs(name, url, HTTPInspector, httpInspectorType):
			switch {
			case c.TLS != Plaintext:
				in.Filters = append(in.Filters, Rejected{name, "TLS bytes, not HTTP: nothing detected"})
			case c.Protocol == HTTP1:
				in.ALPN = []string{"http/1.1"}
				in.Filters = append(in.Filters, Rejected{name, "plaintext HTTP/1.1: ALPN http/1.1"})
			case c.Protocol == HTTP2:
				in.ALPN = []string{"h2c"}
				in.Filters = append(in.Filters, Rejected{name, "plaintext HTTP/2 preface: ALPN h2c"})
			default:
				in.Filters = append(in.Filters, Rejected{name, "not HTTP: nothing detected"})
			}
		case filterIs(name, url, OriginalDst, originalDstType):
			in.Filters = append(in.Filters, Rejected{name, "restores the original destination " + Endpoint(c.Destination, c.DestinationPort)})
		case filterIs(name, url, ProxyProtocol, proxyProtocolType):
			in.Filters = append(in.Filters, Rejected{name, "expects a PROXY protocol header (not modelled: the source is taken as given)"})
		default:
			in.Filters = append(in.Filters, Rejected{name, "not modelled"})
		}
	}
	if !tlsSeen && c.TLS != Plaintext {
		in.Filters = append(in.Filters, Rejected{"(no tls_inspector)", "the SNI and ALPN of the ClientHello are not read: transport raw_buffer, no server name"})
	}
	return in
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// predicateMatches evaluates a listener filter's filter_disabled predicate for a connection
// to port. destination_port_range is [start, end).
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/listener/v3/listener_components.proto#config-listener-v3-listenerfilterchainmatchpredicate
func predicateMatches(p *listenerv3.ListenerFilterChainMatchPredicate, port uint32) bool {
	switch r := p.GetRule().(type) {
	case *listenerv3.ListenerFilterChainMatchPredicate_OrMatch:
		for _, q := range r.OrMatch.GetRules() {
			if predicateMatches(q, port) {
				return true
			}
		}
		return false
	case *listenerv3.ListenerFilterChainMatchPredicate_AndMatch:
		for _, q := range r.AndMatch.GetRules() {
			if !predicateMatches(q, port) {
				return false
			}
		}
		return true
	case *listenerv3.ListenerFilterChainMatchPredicate_NotMatch:
		return !predicateMatches(r.NotMatch, port)
	case *listenerv3.ListenerFilterChainMatchPredicate_AnyMatch:
		return r.AnyMatch
	case *listenerv3.ListenerFilterChainMatchPredicate_DestinationPortRange:
		return int64(port) >= int64(r.DestinationPortRange.GetStart()) && int64(port) < int64(r.DestinationPortRange.GetEnd())
	}
	return false
}

func describePredicate(p *listenerv3.ListenerFilterChainMatchPredicate) string {
	list := func(op string, rules []*listenerv3.ListenerFilterChainMatchPredicate) string {
		parts := make([]string, len(rules))
		for i, q := range rules {
			parts[i] = describePredicate(q)
		}
		return op + "(" + strings.Join(parts, ", ") + ")"
	}
	switch r := p.GetRule().(type) {
	case *listenerv3.ListenerFilterChainMatchPredicate_OrMatch:
		return list("or", r.OrMatch.GetRules())
	case *listenerv3.ListenerFilterChainMatchPredicate_AndMatch:
		return list("and", r.AndMatch.GetRules())
	case *listenerv3.ListenerFilterChainMatchPredicate_NotMatch:
		return "not " + describePredicate(r.NotMatch)
	case *listenerv3.ListenerFilterChainMatchPredicate_AnyMatch:
		return "any"
	case *listenerv3.ListenerFilterChainMatchPredicate_DestinationPortRange:
		return fmt.Sprintf("destination_port_range [%d,%d)", r.DestinationPortRange.GetStart(), r.DestinationPortRange.GetEnd())
	}
	return "(empty)"
}
