package traffic

import (
	"net/netip"
	"testing"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	// The typed configs the tests' listeners carry.
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/listener/http_inspector/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/listener/tls_inspector/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/matching/common_inputs/network/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
)

// listener parses a listener written as JSON.
func listener(t testing.TB, js string) *listenerv3.Listener {
	t.Helper()
	l := &listenerv3.Listener{}
	if err := protojson.Unmarshal([]byte(js), l); err != nil {
		t.Fatalf("bad test listener %s: %v", js, err)
	}
	return l
}

// unmarshal decodes a binary Any as the tests build them.
func unmarshal(a *anypb.Any, m proto.Message) error { return proto.Unmarshal(a.GetValue(), m) }

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

func TestSelectListener(t *testing.T) {
	vo := `{"name":"virtualOutbound","address":{"socket_address":{"address":"0.0.0.0","port_value":15001}},"use_original_dst":true}`
	vi := `{"name":"virtualInbound","address":{"socket_address":{"address":"0.0.0.0","port_value":15006}}}`
	wild80 := `{"name":"0.0.0.0_80","address":{"socket_address":{"address":"0.0.0.0","port_value":80}},"bind_to_port":false}`
	exact80 := `{"name":"10.0.0.1_80","address":{"socket_address":{"address":"10.0.0.1","port_value":80}},"bind_to_port":false}`
	bound443 := `{"name":"gw_443","address":{"socket_address":{"address":"0.0.0.0","port_value":443}}}`
	v6 := `{"name":"v6_8080","address":{"socket_address":{"address":"::","port_value":8080}}}`
	v6compat := `{"name":"v6compat_8080","address":{"socket_address":{"address":"::","port_value":8080,"ipv4_compat":true}}}`
	extra := `{"name":"multi","address":{"socket_address":{"address":"10.0.0.9","port_value":90}},"additional_addresses":[{"address":{"socket_address":{"address":"10.0.0.10","port_value":90}}}]}`
	tests := []struct {
		name      string
		listeners []string
		c         Connection
		want      string
		via       string
		err       string
	}{
		{"outbound: exact address:port before the wildcard", []string{vo, wild80, exact80}, Connection{Mode: ModeOutbound, Destination: ip("10.0.0.1"), DestinationPort: 80}, "10.0.0.1_80", "virtualOutbound", ""},
		{"outbound: the wildcard on the port", []string{vo, wild80, exact80}, Connection{Mode: ModeOutbound, Destination: ip("10.0.0.2"), DestinationPort: 80}, "0.0.0.0_80", "virtualOutbound", ""},
		{"outbound: bind_to_port false listeners are reached through original_dst", []string{vo, exact80}, Connection{Mode: ModeOutbound, Destination: ip("10.0.0.1"), DestinationPort: 80}, "10.0.0.1_80", "virtualOutbound", ""},
		{"outbound: none for the destination, the virtual listener keeps it", []string{vo, wild80}, Connection{Mode: ModeOutbound, Destination: ip("10.0.0.1"), DestinationPort: 81}, "virtualOutbound", "", ""},
		{"outbound: an unknown address takes the wildcard", []string{vo, exact80, wild80}, Connection{Mode: ModeOutbound, DestinationPort: 80}, "0.0.0.0_80", "virtualOutbound", ""},
		{"outbound without use_original_dst: bound listeners only", []string{wild80, bound443}, Connection{Mode: ModeOutbound, Destination: ip("1.1.1.1"), DestinationPort: 80}, "", "", "no_listener"},
		{"outbound without use_original_dst: a bound listener", []string{wild80, bound443}, Connection{Mode: ModeOutbound, Destination: ip("1.1.1.1"), DestinationPort: 443}, "gw_443", "", ""},
		{"gateway: bind_to_port false is not reachable", []string{vo, exact80}, Connection{Mode: ModeGateway, Destination: ip("10.0.0.1"), DestinationPort: 80}, "", "", "no_listener"},
		{"gateway: the bound wildcard", []string{vo, bound443}, Connection{Mode: ModeGateway, Destination: ip("10.0.0.1"), DestinationPort: 443}, "gw_443", "", ""},
		{"gateway: no listener on the port", []string{bound443}, Connection{Mode: ModeGateway, Destination: ip("10.0.0.1"), DestinationPort: 8443}, "", "", "no_listener"},
		{"inbound: virtualInbound whatever the port", []string{vo, vi, wild80}, Connection{Mode: ModeInbound, Destination: ip("10.0.0.1"), DestinationPort: 80}, "virtualInbound", "", ""},
		{"inbound: no virtualInbound", []string{vo, wild80}, Connection{Mode: ModeInbound, DestinationPort: 80}, "", "", "no_listener"},
		{"IPv6 wildcard takes IPv6", []string{v6}, Connection{Mode: ModeGateway, Destination: ip("fd00::1"), DestinationPort: 8080}, "v6_8080", "", ""},
		{"IPv6 wildcard does not take IPv4", []string{v6}, Connection{Mode: ModeGateway, Destination: ip("10.0.0.1"), DestinationPort: 8080}, "", "", "no_listener"},
		{"IPv6 wildcard with ipv4_compat takes IPv4", []string{v6compat}, Connection{Mode: ModeGateway, Destination: ip("10.0.0.1"), DestinationPort: 8080}, "v6compat_8080", "", ""},
		{"additional_addresses count", []string{extra}, Connection{Mode: ModeGateway, Destination: ip("10.0.0.10"), DestinationPort: 90}, "multi", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ls []*listenerv3.Listener
			for _, js := range tt.listeners {
				ls = append(ls, listener(t, js))
			}
			m := SelectListener(ls, tt.c)
			if m.Name != tt.want || m.Via != tt.via || m.Err != tt.err {
				t.Errorf("got listener %q via %q err %q, want %q via %q err %q (%s)", m.Name, m.Via, m.Err, tt.want, tt.via, tt.err, m.Rule)
			}
			if (m.Index < 0) != (tt.want == "") {
				t.Errorf("index %d for listener %q", m.Index, m.Name)
			}
			if m.Rule == "" {
				t.Error("no rule")
			}
		})
	}
}

func TestInspect(t *testing.T) {
	both := `{"name":"l","listener_filters":[
		{"name":"envoy.filters.listener.tls_inspector","typed_config":{"@type":"type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector"}},
		{"name":"envoy.filters.listener.http_inspector","typed_config":{"@type":"type.googleapis.com/envoy.extensions.filters.listener.http_inspector.v3.HttpInspector"}}]}`
	none := `{"name":"l"}`
	disabled := func(pred string) string {
		return `{"name":"l","listener_filters":[
		{"name":"envoy.filters.listener.tls_inspector","filter_disabled":` + pred + `},
		{"name":"envoy.filters.listener.http_inspector","filter_disabled":` + pred + `}]}`
	}
	tests := []struct {
		name      string
		l         string
		c         Connection
		transport string
		sni       string
		alpn      string
	}{
		{"TLS: SNI and ALPN read", both, Connection{TLS: TLS, SNI: "Foo.COM", ALPN: []string{"h2", "http/1.1"}, Protocol: HTTP2, DestinationPort: 443}, "tls", "foo.com", "h2,http/1.1"},
		{"plaintext HTTP/1.1", both, Connection{TLS: Plaintext, Protocol: HTTP1, DestinationPort: 80}, "raw_buffer", "", "http/1.1"},
		{"plaintext HTTP/2: h2c", both, Connection{TLS: Plaintext, Protocol: HTTP2, DestinationPort: 80}, "raw_buffer", "", "h2c"},
		{"plaintext TCP: nothing", both, Connection{TLS: Plaintext, Protocol: TCP, DestinationPort: 80}, "raw_buffer", "", ""},
		{"TLS without the inspector: raw_buffer, no SNI", none, Connection{TLS: TLS, SNI: "a.com", ALPN: []string{"h2"}, Protocol: HTTP2}, "raw_buffer", "", ""},
		{"disabled on the port range [80,81)", disabled(`{"destination_port_range":{"start":80,"end":81}}`), Connection{TLS: TLS, SNI: "a.com", Protocol: HTTP1, DestinationPort: 80}, "raw_buffer", "", ""},
		{"range end is exclusive", disabled(`{"destination_port_range":{"start":80,"end":81}}`), Connection{TLS: TLS, SNI: "a.com", ALPN: []string{"h2"}, Protocol: HTTP2, DestinationPort: 81}, "tls", "a.com", "h2"},
		{"not_match", disabled(`{"not_match":{"destination_port_range":{"start":80,"end":81}}}`), Connection{TLS: Plaintext, Protocol: HTTP1, DestinationPort: 81}, "raw_buffer", "", ""},
		{"or_match", disabled(`{"or_match":{"rules":[{"destination_port_range":{"start":1,"end":2}},{"destination_port_range":{"start":80,"end":90}}]}}`), Connection{TLS: Plaintext, Protocol: HTTP1, DestinationPort: 85}, "raw_buffer", "", ""},
		{"and_match", disabled(`{"and_match":{"rules":[{"destination_port_range":{"start":1,"end":100}},{"destination_port_range":{"start":80,"end":90}}]}}`), Connection{TLS: Plaintext, Protocol: HTTP1, DestinationPort: 95}, "raw_buffer", "", "http/1.1"},
		{"any_match", disabled(`{"any_match":true}`), Connection{TLS: TLS, SNI: "a", Protocol: HTTP1, DestinationPort: 1}, "raw_buffer", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := Inspect(listener(t, tt.l), tt.c)
			if in.Transport != tt.transport || in.SNI != tt.sni || join(in.ALPN) != tt.alpn {
				t.Errorf("got transport %s sni %q alpn %q, want %s %q %q (%v)", in.Transport, in.SNI, join(in.ALPN), tt.transport, tt.sni, tt.alpn, in.Filters)
			}
		})
	}
}

func join(s []string) string {
	out := ""
	for i, v := range s {
		if i > 0 {
			out += ","
		}
		out += v
	}
	return out
}
