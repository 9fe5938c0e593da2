package traffic

import (
	"strings"
	"testing"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	"google.golang.org/protobuf/encoding/protojson"
)

const (
	dstIP   = `{"name":"ip","typed_config":{"@type":"type.googleapis.com/envoy.extensions.matching.common_inputs.network.v3.DestinationIPInput"}}`
	dstPort = `{"name":"port","typed_config":{"@type":"type.googleapis.com/envoy.extensions.matching.common_inputs.network.v3.DestinationPortInput"}}`
	sni     = `{"name":"sni","typed_config":{"@type":"type.googleapis.com/envoy.extensions.matching.common_inputs.network.v3.ServerNameInput"}}`
	alpnIn  = `{"name":"alpn","typed_config":{"@type":"type.googleapis.com/envoy.extensions.matching.common_inputs.network.v3.ApplicationProtocolInput"}}`
)

func action(name string) string {
	return `{"action":{"name":"ignored","typed_config":{"@type":"type.googleapis.com/google.protobuf.StringValue","value":"` + name + `"}}}`
}

func ipMatcher(ranges ...string) string {
	return `{"matcher_tree":{"input":` + dstIP + `,"custom_match":{"name":"ip","typed_config":{"@type":"type.googleapis.com/xds.type.matcher.v3.IPMatcher","range_matchers":[` + strings.Join(ranges, ",") + `]}}}}`
}

func portMap(entries string) string {
	return `{"matcher":{"matcher_tree":{"input":` + dstPort + `,"exact_match_map":{"map":{` + entries + `}}}}}`
}

func waypointListener(t testing.TB, matcher string) *listenerv3.Listener {
	t.Helper()
	l := listener(t, `{"name":"main_internal","filter_chains":[{"name":"a"},{"name":"b"},{"name":"c"},{"name":"direct"}],"default_filter_chain":{"name":"default"}}`)
	m := &listenerv3.Listener{}
	if err := protojson.Unmarshal([]byte(`{"filter_chain_matcher":`+matcher+`}`), m); err != nil {
		t.Fatalf("bad matcher %s: %v", matcher, err)
	}
	l.FilterChainMatcher = m.FilterChainMatcher
	return l
}

func TestSelectFilterChainMatcher(t *testing.T) {
	tree := ipMatcher(
		`{"ranges":[{"address_prefix":"10.96.0.0","prefix_len":16}],"on_match":`+portMap(`"9090":`+action("b"))+`}`,
		`{"ranges":[{"address_prefix":"10.96.0.20","prefix_len":32}],"on_match":`+portMap(`"8080":`+action("a"))+`}`,
	)
	withNoMatch := strings.TrimSuffix(tree, "}") + `,"on_no_match":` + action("direct") + `}`
	exclusive := ipMatcher(
		`{"ranges":[{"address_prefix":"10.96.0.0","prefix_len":16}],"exclusive":true,"on_match":`+portMap(`"9090":`+action("b"))+`}`,
		`{"ranges":[{"address_prefix":"10.96.0.20","prefix_len":32}],"on_match":`+portMap(`"8080":`+action("a"))+`}`,
	)
	prefix := `{"matcher_tree":{"input":` + sni + `,"prefix_match_map":{"map":{"api.":` + action("a") + `,"api.v2.":` + action("b") + `}}}}`
	list := `{"matcher_list":{"matchers":[
		{"predicate":{"single_predicate":{"input":` + sni + `,"value_match":{"suffix":".internal"}}},"on_match":` + action("a") + `},
		{"predicate":{"and_matcher":{"predicate":[
			{"single_predicate":{"input":` + alpnIn + `,"value_match":{"exact":"'h2'"}}},
			{"not_matcher":{"single_predicate":{"input":` + sni + `,"value_match":{"safe_regex":{"regex":"bad.*"}}}}}]}},"on_match":` + action("c") + `}]},
		"on_no_match":` + action("direct") + `}`
	unknownInput := `{"matcher_tree":{"input":{"name":"x","typed_config":{"@type":"type.googleapis.com/xds.type.matcher.v3.HttpAttributesCelMatchInput"}},"exact_match_map":{"map":{}}}}`
	missing := `{"matcher_tree":{"input":` + dstPort + `,"exact_match_map":{"map":{"1":` + action("nope") + `}}},"on_no_match":` + action("nope") + `}`
	keep := `{"matcher_list":{"matchers":[
		{"predicate":{"single_predicate":{"input":` + dstPort + `,"value_match":{"exact":"8080"}}},"on_match":{"keep_matching":true,"action":{"name":"a"}}},
		{"predicate":{"single_predicate":{"input":` + dstPort + `,"value_match":{"prefix":"80"}}},"on_match":{"action":{"name":"b"}}}]}}`
	tests := []struct {
		name    string
		matcher string
		c       Connection
		in      Inspection
		want    string
		err     string
	}{
		{"longest range first", tree, Connection{Destination: ip("10.96.0.20"), DestinationPort: 8080}, Inspection{}, "a", ""},
		{"the longest range's nested matcher fails: the next range tries", tree, Connection{Destination: ip("10.96.0.20"), DestinationPort: 9090}, Inspection{}, "b", ""},
		{"an exclusive range is not tried after another", exclusive, Connection{Destination: ip("10.96.0.20"), DestinationPort: 9090}, Inspection{}, "default", ""},
		{"in no range: on_no_match", withNoMatch, Connection{Destination: ip("192.168.0.1"), DestinationPort: 8080}, Inspection{}, "direct", ""},
		{"no match, no on_no_match: the default chain", tree, Connection{Destination: ip("192.168.0.1"), DestinationPort: 8080}, Inspection{}, "default", ""},
		{"an input without a value: on_no_match", withNoMatch, Connection{DestinationPort: 8080}, Inspection{}, "direct", ""},
		{"prefix map: longest prefix", prefix, Connection{}, Inspection{SNI: "api.v2.example"}, "b", ""},
		{"prefix map: shorter prefix", prefix, Connection{}, Inspection{SNI: "api.v1.example"}, "a", ""},
		{"matcher list: first predicate", list, Connection{}, Inspection{SNI: "db.internal", ALPN: []string{"h2"}}, "a", ""},
		{"matcher list: and, not, regex", list, Connection{}, Inspection{SNI: "good.example", ALPN: []string{"h2"}}, "c", ""},
		{"matcher list: regex matches whole value only", list, Connection{}, Inspection{SNI: "xbad.example", ALPN: []string{"h2"}}, "c", ""},
		{"matcher list: none, on_no_match", list, Connection{}, Inspection{SNI: "bad.example", ALPN: []string{"h2"}}, "direct", ""},
		{"keep_matching goes on", keep, Connection{DestinationPort: 8080}, Inspection{}, "b", ""},
		{"an input this code cannot evaluate", unknownInput, Connection{DestinationPort: 80}, Inspection{}, "", "matcher_error"},
		{"an action naming a chain the listener lacks", missing, Connection{DestinationPort: 80}, Inspection{}, "", "no_filter_chain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.in.Transport = "raw_buffer"
			m := SelectFilterChain(waypointListener(t, tt.matcher), tt.c, tt.in, unmarshal)
			if m.Name != tt.want || m.Err != tt.err {
				t.Errorf("got chain %q err %q, want %q err %q (%s)", m.Name, m.Err, tt.want, tt.err, m.Rule)
			}
		})
	}
}
