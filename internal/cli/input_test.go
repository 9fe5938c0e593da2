package cli

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf16"
)

// TestTableAndJSONAgree: a table reads a few fields of each resource, -o json all of them; both
// accept and refuse the same documents, whatever field holds the bad value.
func TestTableAndJSONAgree(t *testing.T) {
	cluster := func(fields string) string {
		return `{"configs": [{"@type": "type.googleapis.com/envoy.admin.v3.ClustersConfigDump", "dynamic_active_clusters": [{"cluster": {
  "@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster", "name": "outbound|9080||reviews.default.svc.cluster.local", "type": "EDS", ` + fields + `}}]}]}`
	}
	listener := func(fields string) string {
		return `{"configs": [{"@type": "type.googleapis.com/envoy.admin.v3.ListenersConfigDump", "dynamic_listeners": [{"name": "l", "active_state": {"listener": {
  "@type": "type.googleapis.com/envoy.config.listener.v3.Listener", "name": "l", "address": {"socket_address": {"address": "0.0.0.0", "port_value": 80}}, ` + fields + `}}}]}]}`
	}
	route := func(fields string) string {
		return `{"configs": [{"@type": "type.googleapis.com/envoy.admin.v3.RoutesConfigDump", "dynamic_route_configs": [{"route_config": {
  "@type": "type.googleapis.com/envoy.config.route.v3.RouteConfiguration", "name": "r", ` + fields + `}}]}]}`
	}
	endpoint := func(fields string) string {
		return `{"configs": [{"@type": "type.googleapis.com/envoy.admin.v3.EndpointsConfigDump", "dynamic_endpoint_configs": [{"endpoint_config": {
  "@type": "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment", "cluster_name": "c", ` + fields + `}}]}]}`
	}
	tls := func(inner string) string {
		return `"transport_socket": {"name": "tls", "typed_config": {"@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext", ` + inner + `}}`
	}
	cases := []struct {
		name, view, dump string
		ok               bool
	}{
		{"port -1", "cluster", cluster(`"load_assignment": {"endpoints": [{"lb_endpoints": [{"endpoint": {"address": {"socket_address": {"address": "10.0.0.1", "port_value": -1}}}}]}]}`), false},
		{"port 2^32", "cluster", cluster(`"load_assignment": {"endpoints": [{"lb_endpoints": [{"endpoint": {"address": {"socket_address": {"address": "10.0.0.1", "port_value": 4294967296}}}}]}]}`), false},
		{"a PEM for a duration", "cluster", cluster(`"connect_timeout": "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----"`), false},
		{"a duration without unit", "cluster", cluster(`"connect_timeout": "10"`), false},
		{"a bad duration in a typed config", "cluster", cluster(tls(`"common_tls_context": {"tls_params": {}}, "max_session_keys": -3`)), false},
		{"a bad number in a typed config", "cluster", cluster(`"typed_extension_protocol_options": {"envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {"@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions", "common_http_protocol_options": {"idle_timeout": "forever"}}}`), false},
		{"a typed config whose @type comes last", "cluster", cluster(`"typed_extension_protocol_options": {"x": {"common_http_protocol_options": {"idle_timeout": "forever"}, "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions"}}`), false},
		{"a bad timestamp", "listener", listener(`"filter_chains": [{"filters": [{"name": "f", "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy", "stat_prefix": "x", "idle_timeout": "1h2"}}]}]`), false},
		{"a bad map key", "cluster", cluster(`"metadata": {"typed_filter_metadata": {"x": {"@type": "type.googleapis.com/google.protobuf.Struct", "value": {"a": 1e999}}}}`), false},
		{"a string for a bool", "route", route(`"validate_clusters": "yes"`), false},
		{"a bad enum number", "endpoint", endpoint(`"endpoints": [{"lb_endpoints": [{"health_status": 99999999999}]}]`), false},
		{"an object for a list", "route", route(`"virtual_hosts": [{"name": "v", "domains": {"a": 1}}]`), false},
		// What both accept.
		{"an unknown enum name", "cluster", cluster(`"lb_policy": "NO_SUCH_POLICY"`), true},
		{"nulls", "cluster", cluster(`"connect_timeout": null, "load_assignment": {"endpoints": [null]}`), true},
		{"an unknown field", "cluster", cluster(`"future_field": {"port_value": -1}`), true},
		{"a typed config of an unknown type", "cluster", cluster(`"transport_socket": {"name": "x", "typed_config": {"@type": "type.googleapis.com/example.X", "port_value": -1}}`), true},
		{"a duration, a Struct and a timestamp", "cluster", cluster(`"connect_timeout": "1.5s", "metadata": {"filter_metadata": {"x": {"a": [1, "b", null, {"c": true}]}}}`), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			codeTable, outTable, errTable := run(t, tc.dump, "pc", tc.view, "-f", "-")
			codeJSON, outJSON, errJSON := run(t, tc.dump, "pc", tc.view, "-f", "-", "-o", "json")
			switch {
			case tc.ok && (codeTable != 0 || codeJSON != 0):
				t.Errorf("want both to accept: table exit %d %s; json exit %d %s", codeTable, errTable, codeJSON, errJSON)
			case !tc.ok && (codeTable != ExitRuntime || codeJSON != ExitRuntime || outTable != "" || outJSON != ""):
				t.Errorf("want both to refuse: table exit %d %s%s; json exit %d %s%.200s", codeTable, errTable, outTable, codeJSON, errJSON, outJSON)
			case !tc.ok && where(errTable) != where(errJSON):
				t.Errorf("different errors:\n table %s json  %s", errTable, errJSON)
			}
			if strings.Contains(errTable+errJSON, "MIIE") {
				t.Errorf("the error quotes the whole invalid value: %s", errTable)
			}
		})
	}
}

// where is what an error says from its position on ("invalid JSON at line ...").
func where(errLine string) string {
	if i := strings.Index(errLine, "invalid JSON at"); i >= 0 {
		return errLine[i:]
	}
	return errLine
}

// TestInputEncodings: a UTF-8 byte order mark is skipped; a compressed or UTF-16 file is named
// in the error, with what to do.
func TestInputEncodings(t *testing.T) {
	sample, err := os.ReadFile(sampleDump)
	if err != nil {
		t.Fatal(err)
	}
	_, want, _ := run(t, "", "pc", "cluster", "-f", sampleDump)
	_, yamlDump, _ := run(t, "", "pc", "all", "-f", sampleDump, "-o", "yaml")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(sample)
	zw.Close()
	utf16le := func(s string, bom bool) []byte {
		var b bytes.Buffer
		if bom {
			b.Write([]byte{0xff, 0xfe})
		}
		for _, u := range utf16.Encode([]rune(s)) {
			binary.Write(&b, binary.LittleEndian, u)
		}
		return b.Bytes()
	}
	bom := []byte{0xef, 0xbb, 0xbf}
	cases := []struct {
		name  string
		input []byte
		want  string // the error; empty: the sample's table
	}{
		{"UTF-8 BOM, JSON", append(append([]byte{}, bom...), sample...), ""},
		{"UTF-8 BOM, YAML", append(append([]byte{}, bom...), yamlDump...), ""},
		{"gzip", gz.Bytes(), "gunzip"}, // a file is taken for a capture bundle, and said not to be one
		{"UTF-16 with BOM", utf16le(string(sample[:5000]), true), "this looks like UTF-16 text"},
		{"UTF-16 without BOM", utf16le(string(sample[:5000]), false), "this looks like UTF-16 text"},
		{"zip", append([]byte("PK\x03\x04"), sample[:100]...), "this looks like a zip archive"},
	}
	dir := t.TempDir()
	for _, tc := range cases {
		path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_"))
		if err := os.WriteFile(path, tc.input, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, src := range []struct {
			name, stdin string
			args        []string
		}{{"file", "", []string{"-f", path}}, {"stdin", string(tc.input), []string{"-f", "-"}}} {
			t.Run(tc.name+"/"+src.name, func(t *testing.T) {
				code, out, errOut := run(t, src.stdin, append([]string{"pc", "cluster"}, src.args...)...)
				if tc.want == "" {
					if code != 0 || out != want {
						t.Errorf("exit %d %s\n%.300s", code, errOut, out)
					}
					return
				}
				if code != ExitRuntime || out != "" || !strings.Contains(errOut, tc.want) || strings.Count(errOut, "\n") != 1 {
					t.Errorf("exit %d, stderr %q; want %q", code, errOut, tc.want)
				}
			})
		}
	}
	// pc all -o json prints a dump read past its BOM without it.
	code, out, _ := run(t, string(append(append([]byte{}, bom...), sample...)), "pc", "all", "-f", "-", "-o", "json")
	if code != 0 || bytes.HasPrefix([]byte(out), bom) {
		t.Errorf("exit %d, output starts %q", code, out[:min(len(out), 8)])
	}
}

// TestAllRejectsNonDumps: pc all -o json|yaml refuses what the table refuses, with its error.
func TestAllRejectsNonDumps(t *testing.T) {
	for _, doc := range []string{`{"configs":[{}]}`, `{"configs":[1]}`, `{"configs":[{"@type":5}]}`, `{"configs":[]}`, `[1]`, `[{"@type":5}]`, `{"foo":1}`, `{"cluster_statuses":[]}`, `"x"`} {
		_, _, errTable := run(t, doc, "pc", "all", "-f", "-")
		for _, o := range []string{"json", "yaml"} {
			code, out, errOut := run(t, doc, "pc", "all", "-f", "-", "-o", o)
			if code != ExitRuntime || out != "" || errOut != errTable || strings.Count(errOut, "\n") != 1 {
				t.Errorf("%s -o %s: exit %d, stdout %q, stderr %q; the table says %q", doc, o, code, out, errOut, errTable)
			}
		}
	}
}
