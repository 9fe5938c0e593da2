package traffic

import (
	"fmt"
	"strings"
	"testing"
)

// chains builds a listener from filter chain matches ("name": match JSON), with an optional
// default chain.
func chains(t testing.TB, def bool, named ...string) string {
	t.Helper()
	var parts []string
	for i := 0; i+1 < len(named); i += 2 {
		parts = append(parts, fmt.Sprintf(`{"name":%q,"filter_chain_match":%s}`, named[i], named[i+1]))
	}
	js := `{"name":"l","filter_chains":[` + strings.Join(parts, ",") + `]`
	if def {
		js += `,"default_filter_chain":{"name":"default"}`
	}
	return js + "}"
}

func TestSelectFilterChainMatch(t *testing.T) {
	c := Connection{Destination: ip("10.1.2.3"), DestinationPort: 9080, Source: ip("10.9.9.9"), SourcePort: 5555, TLS: TLS, Protocol: HTTP1}
	in := Inspection{Transport: "tls", SNI: "www.example.com", ALPN: []string{"h2", "http/1.1"}}
	plain := Inspection{Transport: "raw_buffer", ALPN: []string{"http/1.1"}}
	local := c
	local.Source = ip("127.0.0.1")
	tests := []struct {
		name    string
		l       string
		c       Connection
		in      Inspection
		want    string // chain name; "default"; "" with err
		wantErr string
	}{
		{"destination_port: exact beats unset", chains(t, false, "any", `{}`, "p", `{"destination_port":9080}`), c, in, "p", ""},
		{"destination_port: unset when no chain has the port", chains(t, false, "any", `{}`, "p", `{"destination_port":80}`), c, in, "any", ""},
		{"destination_port: exact port chain fails later: default chain, not the port-0 chains",
			chains(t, true, "any", `{}`, "p", `{"destination_port":9080,"transport_protocol":"raw_buffer"}`), c, in, "default", ""},
		{"same, without a default chain", chains(t, false, "any", `{}`, "p", `{"destination_port":9080,"transport_protocol":"raw_buffer"}`), c, in, "", "no_filter_chain"},
		{"prefix_ranges: longest prefix", chains(t, false, "8", `{"prefix_ranges":[{"address_prefix":"10.0.0.0","prefix_len":8}]}`, "16", `{"prefix_ranges":[{"address_prefix":"10.1.0.0","prefix_len":16}]}`), c, in, "16", ""},
		{"prefix_ranges: a range beats an empty list (0.0.0.0/0)", chains(t, false, "any", `{}`, "8", `{"prefix_ranges":[{"address_prefix":"10.0.0.0","prefix_len":8}]}`), c, in, "8", ""},
		{"prefix_ranges: no range matches, the empty list does", chains(t, false, "any", `{}`, "192", `{"prefix_ranges":[{"address_prefix":"192.168.0.0","prefix_len":16}]}`), c, in, "any", ""},
		{"prefix_ranges: unknown address matches only /0", chains(t, false, "8", `{"prefix_ranges":[{"address_prefix":"10.0.0.0","prefix_len":8}]}`, "all", `{"prefix_ranges":[{"address_prefix":"0.0.0.0","prefix_len":0}]}`), Connection{DestinationPort: 9080}, in, "all", ""},
		{"server_names: exact beats wildcard", chains(t, false, "w", `{"server_names":["*.example.com"]}`, "e", `{"server_names":["www.example.com"]}`), c, in, "e", ""},
		{"server_names: longest wildcard", chains(t, false, "com", `{"server_names":["*.com"]}`, "ex", `{"server_names":["*.example.com"]}`), c, in, "ex", ""},
		{"server_names: wildcard does not match the bare domain", chains(t, false, "w", `{"server_names":["*.www.example.com"]}`, "any", `{}`), c, in, "any", ""},
		{"server_names: no SNI takes chains without server names", chains(t, false, "e", `{"server_names":["www.example.com"]}`, "any", `{}`), c, plain, "any", ""},
		{"server_names: a partial wildcard never matches", chains(t, true, "p", `{"server_names":["*w.example.com"]}`), c, in, "default", ""},
		{"transport_protocol: tls", chains(t, false, "raw", `{"transport_protocol":"raw_buffer"}`, "tls", `{"transport_protocol":"tls"}`), c, in, "tls", ""},
		{"transport_protocol: raw_buffer", chains(t, false, "raw", `{"transport_protocol":"raw_buffer"}`, "tls", `{"transport_protocol":"tls"}`), c, plain, "raw", ""},
		{"application_protocols: the client's first choice wins", chains(t, false, "h1", `{"application_protocols":["http/1.1"]}`, "h2", `{"application_protocols":["h2"]}`), c, in, "h2", ""},
		{"application_protocols: a later choice when the first is unlisted", chains(t, false, "h1", `{"application_protocols":["http/1.1"]}`, "x", `{"application_protocols":["istio"]}`), c, in, "h1", ""},
		{"application_protocols: unset as fallback", chains(t, false, "x", `{"application_protocols":["istio"]}`, "any", `{}`), c, in, "any", ""},
		{"an earlier criterion narrows: the empty match loses", chains(t, true, "any", `{}`, "tls-istio", `{"transport_protocol":"tls","application_protocols":["istio"]}`), c, in, "default", ""},
		{"direct_source_prefix_ranges", chains(t, false, "any", `{}`, "d", `{"direct_source_prefix_ranges":[{"address_prefix":"10.9.0.0","prefix_len":16}]}`), c, in, "d", ""},
		{"source_type: external", chains(t, false, "local", `{"source_type":"SAME_IP_OR_LOOPBACK"}`, "ext", `{"source_type":"EXTERNAL"}`), c, in, "ext", ""},
		{"source_type: loopback is local", chains(t, false, "local", `{"source_type":"SAME_IP_OR_LOOPBACK"}`, "ext", `{"source_type":"EXTERNAL"}`), local, in, "local", ""},
		{"source_type: local without a local chain takes ANY", chains(t, false, "ext", `{"source_type":"EXTERNAL"}`, "any", `{}`), local, in, "any", ""},
		{"source_prefix_ranges", chains(t, false, "s8", `{"source_prefix_ranges":[{"address_prefix":"10.0.0.0","prefix_len":8}]}`, "s24", `{"source_prefix_ranges":[{"address_prefix":"10.9.9.0","prefix_len":24}]}`), c, in, "s24", ""},
		{"source_ports: exact", chains(t, false, "any", `{}`, "sp", `{"source_ports":[5555,6666]}`), c, in, "sp", ""},
		{"source_ports: unset as fallback", chains(t, false, "any", `{}`, "sp", `{"source_ports":[6666]}`), c, in, "any", ""},
		{"nothing matches: default chain", chains(t, true, "p", `{"destination_port":1}`), c, in, "default", ""},
		{"two chains with the same match", chains(t, false, "a", `{"destination_port":9080}`, "b", `{"destination_port":9080}`), c, in, "", "multiple_filter_chains"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := listener(t, tt.l)
			m := SelectFilterChain(l, tt.c, tt.in, unmarshal)
			if m.Name != tt.want || m.Err != tt.wantErr {
				t.Errorf("got chain %q err %q, want %q err %q (%s; rejected %v)", m.Name, m.Err, tt.want, tt.wantErr, m.Rule, m.Rejected)
			}
			if tt.want == "default" && m.Index != DefaultChain {
				t.Errorf("index %d, want the default chain", m.Index)
			}
		})
	}
}
