package traffic

// The listener layer: what Envoy does with a connection before the router sees a request
// (connection.go, listener.go, listenerfilter.go, filterchain.go, matcher.go, network.go),
// then clusters and endpoints (cluster.go), and the whole pipeline of pc explain
// (explain.go, explain_route.go, config.go).

import (
	"fmt"
	"net/netip"
	"strings"
)

// Mode is how a connection reaches Envoy.
type Mode string

const (
	// ModeOutbound: a sidecar's iptables redirect delivers it to the virtual outbound listener
	// (use_original_dst), which hands it to the listener bound to the original destination.
	ModeOutbound Mode = "outbound"
	// ModeInbound: the virtual inbound listener (15006) takes it and its filter chains match
	// on the original destination.
	ModeInbound Mode = "inbound"
	// ModeGateway: no redirect; the listener bound to the destination takes it.
	ModeGateway Mode = "gateway"
)

// ParseMode validates a --mode value.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case ModeOutbound, ModeInbound, ModeGateway:
		return m, nil
	}
	return "", fmt.Errorf("unknown mode %q: use outbound, inbound or gateway", s)
}

// TLSMode is what the client speaks on the connection.
type TLSMode string

const (
	Plaintext TLSMode = "plaintext"
	TLS       TLSMode = "tls"
	// MTLS is TLS with a client certificate.
	MTLS TLSMode = "mtls"
)

// ParseTLSMode validates a --tls value.
func ParseTLSMode(s string) (TLSMode, error) {
	switch m := TLSMode(s); m {
	case Plaintext, TLS, MTLS:
		return m, nil
	}
	return "", fmt.Errorf("unknown TLS mode %q: use plaintext, tls or mtls", s)
}

// Protocol is the application protocol the client speaks (inside TLS, if any).
type Protocol string

const (
	HTTP1 Protocol = "http"
	HTTP2 Protocol = "http2"
	TCP   Protocol = "tcp"
)

// ParseProtocol validates a --protocol value.
func ParseProtocol(s string) (Protocol, error) {
	switch p := Protocol(s); p {
	case HTTP1, HTTP2, TCP:
		return p, nil
	}
	return "", fmt.Errorf("unknown protocol %q: use http, http2 or tcp", s)
}

// IsHTTP reports whether the protocol is HTTP/1.1 or HTTP/2.
func (p Protocol) IsHTTP() bool { return p == HTTP1 || p == HTTP2 }

// Connection is what Envoy knows of a downstream connection before any HTTP is read.
type Connection struct {
	Mode Mode
	// Destination is the original destination. An invalid address means unknown: it matches
	// only catch-all ranges (0.0.0.0/0, ::/0) and chains without ranges.
	Destination     netip.Addr
	DestinationPort uint32
	// Source is the client's address (the direct peer: no PROXY protocol is modelled); invalid
	// means unknown, matched like an unknown destination, and counted as external.
	Source     netip.Addr
	SourcePort uint32
	TLS        TLSMode
	// SNI and ALPN are what the client sends in its TLS ClientHello.
	SNI      string
	ALPN     []string
	Protocol Protocol
}

// DefaultALPN is the ALPN list a client sends when none is given: Istio's for mTLS (a
// sidecar peer), a browser's or curl's first choice for TLS, none in plaintext.
func DefaultALPN(t TLSMode, p Protocol) []string {
	switch {
	case t == MTLS && p == HTTP1:
		return []string{"istio-http/1.1"}
	case t == MTLS && p == HTTP2:
		return []string{"istio-h2"}
	case t == MTLS:
		return []string{"istio"}
	case t == TLS && p == HTTP1:
		return []string{"http/1.1"}
	case t == TLS && p == HTTP2:
		return []string{"h2"}
	}
	return nil
}

// Endpoint renders an address and port as Envoy does ("1.2.3.4:80", "[::1]:80"); an unknown
// address is "unknown".
func Endpoint(a netip.Addr, port uint32) string {
	if !a.IsValid() {
		return fmt.Sprintf("unknown:%d", port)
	}
	return netip.AddrPortFrom(a, uint16(port)).String()
}

// ParseIP parses an IP address as Envoy writes them, without brackets or zone.
func ParseIP(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"))
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a, true
}
