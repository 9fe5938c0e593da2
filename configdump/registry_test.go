package configdump

import (
	"bytes"
	"testing"

	"github.com/proxyctl/proxyctl/internal/descgen"
)

// TestDescriptorsCurrent fails when the embedded descriptors no longer describe the linked
// API: run `go run ./hack/gendescriptors configdump`.
func TestDescriptorsCurrent(t *testing.T) {
	descriptors, index, err := descgen.Generate()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(descriptors, descriptorsGz) || !bytes.Equal(index, typeIndexGz) {
		t.Fatal("configdump/descriptors.pb.gz or types.idx.gz is out of date: run go run ./hack/gendescriptors configdump")
	}
}

// TestTypeResolution checks how type URLs resolve with only the embedded descriptors.
func TestTypeResolution(t *testing.T) {
	useDescriptors(t)
	cases := []struct {
		url   string
		known bool
		name  string // the message it resolves to
	}{
		{"type.googleapis.com/envoy.extensions.filters.http.router.v3.Router", true, "envoy.extensions.filters.http.router.v3.Router"},
		{"type.googleapis.com/envoy.config.cluster.v3.Cluster.TransportSocketMatch", true, "envoy.config.cluster.v3.Cluster.TransportSocketMatch"},
		{"type.googleapis.com/envoy.api.v2.Cluster", true, "envoy.api.v2.Cluster"},
		{"type.googleapis.com/envoy.config.filter.http.router.v2.Router", true, "envoy.config.filter.http.router.v2.Router"},
		{"type.googleapis.com/istio.envoy.config.filter.http.alpn.v2alpha1.FilterConfig", true, "istio.envoy.config.filter.http.alpn.v2alpha1.FilterConfig"},
		{"type.googleapis.com/io.istio.http.peer_metadata.Config", true, "io.istio.http.peer_metadata.Config"}, // contrib, linked by istioctl
		{"type.googleapis.com/example.future.v9.Thing", false, ""},
		{"example.com/custom.Thing", false, ""},
	}
	for _, tc := range cases {
		if got := knownURL(tc.url); got != tc.known {
			t.Errorf("knownURL(%s) = %v, want %v", tc.url, got, tc.known)
		}
		mt := resolveType(tc.url)
		got := ""
		if mt != nil {
			got = string(mt.Descriptor().FullName())
		}
		if got != tc.name {
			t.Errorf("resolveType(%s) = %q, want %q", tc.url, got, tc.name)
		}
	}
	// Sections and resources of the v2 API count as their v3 successors.
	for v2, v3 := range map[string]string{
		"type.googleapis.com/envoy.api.v2.Cluster":                   "envoy.config.cluster.v3.Cluster",
		"type.googleapis.com/envoy.admin.v2alpha.ClustersConfigDump": "envoy.admin.v3.ClustersConfigDump",
		"type.googleapis.com/envoy.config.cluster.v3.Cluster":        "envoy.config.cluster.v3.Cluster",
	} {
		if got := canonicalName(v2); string(got) != v3 {
			t.Errorf("canonicalName(%s) = %s, want %s", v2, got, v3)
		}
	}
}
