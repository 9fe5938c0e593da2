package configdump

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/proxyctl/proxyctl/internal/testutil"
)

// encodeDecoded is what the transcoder must print: the value decoded, then encoded.
func encodeDecoded(d *Dump, value []byte, md protoreflect.MessageDescriptor, dropUnknown bool, depth int) ([]byte, error) {
	m := infoFor(md).newMessage()
	if err := unmarshalAnyValue(value, m.Interface(), d.src, nil, nil); err != nil {
		return nil, err
	}
	e := d.NewEncoder()
	e.dropUnknown = dropUnknown
	e.SetDepth(depth)
	if err := e.Message(m.Interface()); err != nil {
		return nil, err
	}
	return e.Bytes(), nil
}

// compareTranscoded checks that the transcoder prints value as the decoder and the Encoder
// do, with and without unknown fields; it returns how often the transcoder did it alone
// (without handing the whole value back).
func compareTranscoded(t *testing.T, name string, d *Dump, value []byte, md protoreflect.MessageDescriptor) (alone int) {
	t.Helper()
	for _, drop := range []bool{true, false} {
		want, werr := encodeDecoded(d, value, md, drop, 1)
		e := d.NewEncoder()
		e.dropUnknown = drop
		e.SetDepth(1)
		e.buf = append(e.buf, "prefix"...)
		ok := transcode(e, value, d.src, md)
		got := e.Bytes()
		switch {
		case !ok && string(got) != "prefix":
			t.Errorf("%s (drop %v): a failed transcoding left output behind: %.200q", name, drop, got)
		case !ok && werr == nil && isJSONValue(value):
			t.Errorf("%s (drop %v): not transcoded, though it decodes and encodes", name, drop)
		case ok && werr != nil:
			t.Errorf("%s (drop %v): transcoded, though decoding or encoding fails: %v", name, drop, werr)
		case ok && !bytes.Equal(got[len("prefix"):], want):
			g, w := got[len("prefix"):], want
			i := 0
			for i < len(g) && i < len(w) && g[i] == w[i] {
				i++
			}
			t.Errorf("%s (drop %v): transcoded differently at byte %d:\ngot  ...%q\nwant ...%q", name, drop, i, g[max(0, i-80):min(len(g), i+80)], w[max(0, i-80):min(len(w), i+80)])
		case ok:
			alone++
		}
	}
	return alone
}

// transcodeDump compares, for every section of a known type and every resource in it, the
// transcoder with the decoder and the Encoder.
func transcodeDump(t *testing.T, name string, data []byte) (compared int) {
	t.Helper()
	d, err := Parse(data)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	for i, sp := range d.spans {
		url := sp.typeURL
		if d.kind == KindClusterStatus {
			url = "type.googleapis.com/envoy.admin.v3.ClusterStatus"
		}
		mt := resolveType(url)
		if mt == nil {
			continue
		}
		value := d.src[sp.start:sp.end]
		compareTranscoded(t, name+": "+url, d, value, mt.Descriptor())
		compared++
		if d.kind == KindClusterStatus && i > 50 {
			break
		}
	}
	// The resources, as -o json prints them.
	check := func(section string, anys []resource, md protoreflect.MessageDescriptor) {
		for i, r := range anys {
			if i > 2000 {
				break // enough of the same shape
			}
			compareTranscoded(t, name+": "+section, d, r.any.GetValue(), md)
			compared++
		}
	}
	if d.kind == KindConfigDump {
		if r, err := d.ClusterResources(); err == nil {
			check("cluster", r.list, r.newT().ProtoReflect().Descriptor())
		}
		if r, err := d.ListenerResources(); err == nil {
			check("listener", r.list, r.newT().ProtoReflect().Descriptor())
		}
		if r, err := d.RouteConfigResources(); err == nil {
			check("route", r.list, r.newT().ProtoReflect().Descriptor())
		}
		if r, err := d.LoadAssignmentResources(); err == nil {
			check("endpoint", r.list, r.newT().ProtoReflect().Descriptor())
		}
	}
	return compared
}

// TestTranscodeMatchesEncoder: the transcoder prints every section and resource of the
// shared dumps, the generated one, the real-shaped one and the fixtures as decoding and
// encoding them does, byte for byte.
func TestTranscodeMatchesEncoder(t *testing.T) {
	for _, mode := range []string{"linked", "descriptors"} {
		t.Run(mode, func(t *testing.T) {
			if mode == "descriptors" {
				useDescriptors(t)
			}
			transcodeFiles(t)
		})
	}
}

func transcodeFiles(t *testing.T) {
	files := sharedDumps(t)
	fixtures, _ := filepath.Glob("../testdata/dumps/*.json")
	samples, _ := filepath.Glob("../testdata/sample/*.json")
	files = append(append(files, fixtures...), samples...)
	compared := 0
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(data); err != nil {
			continue // not an admin document (or one the views refuse)
		}
		compared += transcodeDump(t, filepath.Base(file), data)
	}
	compared += transcodeDump(t, "generated", testutil.GeneratedDump(t, 40))
	if compared < 500 {
		t.Errorf("compared only %d values", compared)
	}
}

func TestTranscodeRealShaped(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	transcodeDump(t, "real-shaped", testutil.RealShapedDump(t, 2))
}

// TestTranscodeEdgeCases: values the transcoder hands back to the decoder and the Encoder,
// and values it writes itself that the Encoder writes in a particular way.
func TestTranscodeEdgeCases(t *testing.T) {
	const cluster = "envoy.config.cluster.v3.Cluster"
	tests := []struct {
		name, json string
	}{
		{"empty", `{}`},
		{"fields out of order", `{"type": "EDS", "name": "a", "connect_timeout": "1s"}`},
		{"a key twice", `{"name": "a", "name": "b"}`},
		{"a message twice (merged)", `{"circuit_breakers": {"thresholds": [{"max_connections": 1}]}, "circuit_breakers": {"thresholds": [{"max_requests": 2}]}}`},
		{"a list twice (appended)", `{"transport_socket_matches": [{"name": "a"}], "transport_socket_matches": [{"name": "b"}]}`},
		{"proto and JSON names of one field", `{"connect_timeout": "1s", "connectTimeout": "2s"}`},
		{"two members of a oneof", `{"type": "EDS", "cluster_type": {"name": "x"}}`},
		{"a oneof member null, then another", `{"type": null, "cluster_type": {"name": "x"}}`},
		{"defaults left out", `{"name": "", "per_connection_buffer_limit_bytes": 0, "respect_dns_ttl": false, "lb_policy": "ROUND_ROBIN"}`},
		{"a wrapper of zero", `{"per_connection_buffer_limit_bytes": 0}`},
		{"negative zero", `{"lb_subset_config": {"fallback_policy": "ANY_ENDPOINT"}, "outlier_detection": {"max_ejection_percent": 0}}`},
		{"null values", `{"name": null, "load_assignment": null, "transport_socket_matches": [null, {"name": "a"}]}`},
		{"unknown members", `{"name": "a", "no_such_field": {"x": [1, 2]}, "@type": "x"}`},
		{"unknown enum", `{"name": "a", "lb_policy": "NO_SUCH_POLICY", "dns_lookup_family": "V4_ONLY"}`},
		{"unknown enum in a list", `{"upstream_config": null, "dns_resolvers": [], "close_connections_on_host_health_failure": true}`},
		{"numbers as strings", `{"per_connection_buffer_limit_bytes": "1024", "max_requests_per_connection": 5e2}`},
		{"escapes", `{"name": "a\u00e9\"b\\c\/d\n", "alt_stat_name": "\ud83d\ude00"}`},
		{"map of structs", `{"metadata": {"filter_metadata": {"z": {"b": 1, "a": [true, null, "x", {"k": 1.5e300}]}, "a": {}}}}`},
		{"map keys given twice", `{"metadata": {"filter_metadata": {"a": {"x": 1}, "a": {"y": 2}}}}`},
		{"typed config of a known type", `{"transport_socket": {"name": "tls", "typed_config": {"@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext", "sni": "x", "common_tls_context": {"alpn_protocols": ["h2"]}}}}`},
		{"typed config with @type last", `{"transport_socket": {"name": "tls", "typed_config": {"sni": "x", "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext"}}}`},
		{"typed config of an unknown type", `{"transport_socket": {"name": "x", "typed_config": {"@type": "type.googleapis.com/no.such.Type", "a": {"b": [1, 2,   3]}}}}`},
		{"typed config of a well-known type", `{"filters": [{"name": "x", "typed_config": {"@type": "type.googleapis.com/google.protobuf.StringValue", "value": "abc"}}]}`},
		{"typed config without a type", `{"filters": [{"name": "x", "typed_config": {}}]}`},
		{"secrets", `{"transport_socket": {"name": "tls", "typed_config": {"@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext", "common_tls_context": {"tls_certificates": [{"private_key": {"inline_string": "KEY"}, "password": {"inline_bytes": "UEFTUw=="}}]}}}}`},
		{"bytes not base64", `{"transport_socket": {"name": "tls", "typed_config": {"@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext", "session_ticket_keys": {"keys": [{"inline_bytes": "[redacted]"}, {"inline_bytes": "YWJj"}]}}}}`},
		{"durations", `{"connect_timeout": "1.5s", "dns_refresh_rate": "0.000001s", "cleanup_interval": "-2s"}`},
		{"typed config with @type twice", `{"transport_socket": {"name": "tls", "typed_config": {"@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext", "sni": "x", "@type": "type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer"}}}`},
		{"typed config, restarted", `{"transport_socket": {"name": "tls", "typed_config": {"@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext", "sni": "x", "sni": "y"}}}`},
		{"struct values", `{"metadata": {"filter_metadata": {"istio": {"n": -0.0, "big": 1e400, "list": [], "empty": {}, "s": "x", "nested": {"b": [{"c": null}], "a": false}}}}}`},
		{"wrappers", `{"per_connection_buffer_limit_bytes": 7, "max_requests_per_connection": null, "common_lb_config": {"healthy_panic_threshold": {"value": 0.5}}}`},
		{"an error", `{"connect_timeout": 5}`},
		{"an error in a typed config", `{"transport_socket": {"name": "tls", "typed_config": {"@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext", "sni": 5}}}`},
		{"an error in a struct", `{"metadata": {"filter_metadata": {"istio": {"x": 1e}}}}`},
		{"deep", `{"load_assignment": {"endpoints": [{"lb_endpoints": [{"endpoint": {"address": {"socket_address": {"address": "1.2.3.4", "port_value": 80}}}, "metadata": {"filter_metadata": {"istio": {"workload": "w"}}}}]}]}}`},
	}
	d, err := Parse([]byte(`{"configs": []}`))
	if err != nil {
		t.Fatal(err)
	}
	md := resolveType("type.googleapis.com/" + cluster).Descriptor()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := []byte(tt.json)
			d.src = doc
			compareTranscoded(t, tt.name, d, doc, md)
		})
	}
	// Timestamps, in a section.
	md = resolveType("type.googleapis.com/envoy.admin.v3.ClustersConfigDump").Descriptor()
	for _, doc := range []string{
		`{"dynamic_active_clusters": [{"last_updated": "2024-01-02T03:04:05.123000Z", "version_info": "1"}, {"last_updated": "2024-01-02T03:04:05+01:00"}]}`,
		`{"dynamic_active_clusters": [{"last_updated": "0000-01-02T03:04:05Z"}]}`,
	} {
		d.src = []byte(doc)
		compareTranscoded(t, doc, d, d.src, md)
	}
}
