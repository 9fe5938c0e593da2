package portforward

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/proxyctl/proxyctl/internal/kubetest"
)

func TestDetectAdminPort(t *testing.T) {
	pods := map[string]kubetest.MeshPod{}
	for _, p := range kubetest.MeshPods() {
		pods[p.Name] = p
	}
	tests := []struct {
		name   string
		reason string
	}{
		{"Istio sidecar", "istio-proxy container"},
		{"Istio native sidecar", "istio-proxy container"},
		{"Istio gateway", "istio-proxy container"},
		{"Consul sidecar", "consul-dataplane container"},
		{"Consul multi-port pod", "2 consul-dataplane containers, the first one's"},
		{"Consul API gateway", "container api-gateway runs consul-dataplane"},
		{"Consul before 1.0", "envoy-sidecar container"},
		{"Kuma sidecar", "kuma-sidecar container, kuma.io/envoy-admin-port annotation"},
		{"Kuma, another admin port", "kuma-sidecar container, kuma.io/envoy-admin-port annotation"},
		{"Envoy Gateway", "app.kubernetes.io/managed-by=envoy-gateway, the admin port of container envoy's --config-yaml"},
		{"Envoy Gateway, another admin port", "--config-yaml"},
		{"OSM sidecar", "osm-proxy-uuid label, container port proxy-admin"},
		{"Envoy with a port named admin", "container port admin"},
		{"Envoy with --config-yaml", "the admin port of container proxy's --config-yaml"},
	}
	if len(tests) != len(pods)-1 {
		t.Fatalf("%d cases for %d mesh pods", len(tests), len(pods)-1)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, ok := pods[tt.name]
			if !ok {
				t.Fatalf("no mesh pod %q", tt.name)
			}
			a, ok := DetectAdminPort(p.Pod)
			if !ok || a.Port != p.AdminPort || a.Mesh != p.Mesh || !strings.Contains(a.Reason, tt.reason) || !slices.Equal(a.Others, p.OtherAdminPorts) {
				t.Errorf("DetectAdminPort = %+v, %v; want port %d, mesh %q, reason with %q, others %v", a, ok, p.AdminPort, p.Mesh, tt.reason, p.OtherAdminPorts)
			}
		})
	}
	if a, ok := DetectAdminPort(pods["no Envoy"].Pod); ok {
		t.Errorf("a pod without Envoy: %+v", a)
	}
}

func TestAdminPortNote(t *testing.T) {
	var multi *corev1.Pod
	for _, p := range kubetest.MeshPods() {
		if p.Name == "Consul multi-port pod" {
			multi = p.Pod
		}
	}
	a, _ := DetectAdminPort(multi)
	got := adminPortNote("pod web-1 in namespace shop", a)
	want := "using Envoy admin port 19000 of pod web-1 in namespace shop: Consul Envoy (2 consul-dataplane containers, the first one's); its other Envoys listen on 19001 (--proxy-admin-port)"
	if got != want {
		t.Errorf("note:\n got %q\nwant %q", got, want)
	}
}
