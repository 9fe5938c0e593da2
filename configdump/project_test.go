package configdump

import (
	"strings"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	"google.golang.org/protobuf/encoding/protojson"
)

// TestProjectMapKeys: a projection through a map field (filter_metadata) or a Struct names
// their keys: only those are decoded, the others skipped, or checked when the decoder checks
// (a bad value under a key left out still fails a checked decode, and only then).
func TestProjectMapKeys(t *testing.T) {
	const md = `{"name": "c", "metadata": {"filter_metadata": {` +
		`"istio": {"config": "/apis/networking.istio.io/v1/namespaces/ns/destination-rule/dr", "services": [{"host": "h"}]},` +
		`"other": {"k": "v"}}}}`
	for _, tc := range []struct {
		name, doc string
		proj      Projection
		check     bool
		want      string // protojson of the result, or the error's text
	}{
		{"whole metadata", md, Fields("metadata"), false,
			`{"metadata":{"filterMetadata":{"istio":{"config":"/apis/networking.istio.io/v1/namespaces/ns/destination-rule/dr","services":[{"host":"h"}]},"other":{"k":"v"}}}}`},
		{"one map key", md, Fields("metadata.filter_metadata.other"), false,
			`{"metadata":{"filterMetadata":{"other":{"k":"v"}}}}`},
		{"a map key and a Struct key", md, Fields("name", "metadata.filter_metadata.istio.config"), true,
			`{"name":"c","metadata":{"filterMetadata":{"istio":{"config":"/apis/networking.istio.io/v1/namespaces/ns/destination-rule/dr"}}}}`},
		{"a key not there", md, Fields("metadata.filter_metadata.absent"), true,
			`{"metadata":{}}`},
		{"a bad value under a key left out, checked", `{"metadata": {"filter_metadata": {"other": {"k": 1e999}, "istio": {}}}}`,
			Fields("metadata.filter_metadata.istio.config"), true, `1e999`},
		{"a bad value under a key left out, unchecked", `{"metadata": {"filter_metadata": {"other": {"k": 1e999}, "istio": {}}}}`,
			Fields("metadata.filter_metadata.istio.config"), false, `{"metadata":{"filterMetadata":{"istio":{}}}}`},
		{"a bad typed value under a key left out, checked", `{"metadata": {"typed_filter_metadata": {"x": {"@type": "type.googleapis.com/google.protobuf.Struct", "value": {"a": 1e999}}, "y": {"@type": "type.googleapis.com/google.protobuf.Struct", "value": {}}}}}`,
			Fields("metadata.typed_filter_metadata.y"), true, `1e999`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := []byte(tc.doc)
			c := &clusterv3.Cluster{}
			err := decodeValue(doc, c, doc, nil, tc.proj, tc.check)
			got := ""
			if err != nil {
				got = err.Error()
			} else {
				got = protojson.MarshalOptions{}.Format(c)
				got = strings.Join(strings.Fields(got), "")
			}
			if !strings.Contains(got, tc.want) || (err == nil) != strings.HasPrefix(tc.want, "{") {
				t.Errorf("got %s\nwant %s", got, tc.want)
			}
		})
	}
}
