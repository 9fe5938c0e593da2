package configdump

import (
	"encoding/base64"
	"strings"
	"testing"

	adminv3 "github.com/envoyproxy/go-control-plane/envoy/admin/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

func mustAny(t *testing.T, m proto.Message) *anypb.Any {
	t.Helper()
	a, err := anypb.New(m)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestDocumentFromConfigs: configs sent as protobuf (as istiod's xDS debug API sends a config
// dump) read back as the admin document, secrets redacted, unknown types kept.
func TestDocumentFromConfigs(t *testing.T) {
	unknownNested := &anypb.Any{TypeUrl: "type.googleapis.com/io.example.Unknown", Value: []byte{0x0a, 0x03, 'a', 'b', 'c'}}
	cluster := &clusterv3.Cluster{
		Name:            "outbound|9080||reviews.default.svc.cluster.local",
		TransportSocket: &corev3.TransportSocket{Name: "custom", ConfigType: &corev3.TransportSocket_TypedConfig{TypedConfig: unknownNested}},
	}
	clusters := &adminv3.ClustersConfigDump{DynamicActiveClusters: []*adminv3.ClustersConfigDump_DynamicCluster{{Cluster: mustAny(t, cluster)}}}
	secret := &tlsv3.Secret{Name: "default", Type: &tlsv3.Secret_TlsCertificate{TlsCertificate: &tlsv3.TlsCertificate{
		PrivateKey: &corev3.DataSource{Specifier: &corev3.DataSource_InlineString{InlineString: "-----BEGIN PRIVATE KEY----- s3cr3t"}},
	}}}
	secrets := &adminv3.SecretsConfigDump{DynamicActiveSecrets: []*adminv3.SecretsConfigDump_DynamicSecret{{Name: "default", Secret: mustAny(t, secret)}}}
	unknownTop := &anypb.Any{TypeUrl: "type.googleapis.com/io.example.TopLevelDump", Value: []byte{0x08, 0x01}}

	doc, err := DocumentFromConfigs([]*anypb.Any{mustAny(t, clusters), mustAny(t, secrets), unknownTop})
	if err != nil {
		t.Fatal(err)
	}
	s := string(doc)
	for _, want := range []string{
		`"name": "outbound|9080||reviews.default.svc.cluster.local"`,
		`{"@type": "type.googleapis.com/io.example.Unknown", "value": "` + base64.StdEncoding.EncodeToString(unknownNested.Value) + `"}`,
		`{"@type": "type.googleapis.com/io.example.TopLevelDump", "value": "CAE="}`,
		Redacted,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("document lacks %s:\n%s", want, s)
		}
	}
	if strings.Contains(s, "s3cr3t") {
		t.Errorf("the private key is printed:\n%s", s)
	}
	d, err := Parse(doc)
	if err != nil {
		t.Fatalf("does not parse: %v\n%s", err, s)
	}
	rs, err := d.ClusterResources()
	if err != nil {
		t.Fatal(err)
	}
	got, err := rs.Decode()
	if err != nil || len(got) != 1 || got[0].GetName() != cluster.Name {
		t.Errorf("clusters %v, %v", got, err)
	}

	empty, err := DocumentFromConfigs(nil)
	if err != nil || string(empty) != "{\n    \"configs\": []\n}\n" {
		t.Errorf("no configs: %q, %v", empty, err)
	}
}
