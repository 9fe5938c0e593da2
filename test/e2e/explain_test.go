//go:build e2e

package e2e

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// TestExplainThroughAPod explains a request on a pod's proxy through a port-forward: one
// config_dump?include_eds=true and one /clusters?format=json over the same forward, the
// endpoints from /clusters, and the same explanation as -f gives for the rest.
func TestExplainThroughAPod(t *testing.T) {
	ns := env.NewNamespace(t)
	envoy := StartEnvoy(t)
	env.CreatePod(t, ns, PodOptions{Name: "web-1", Forward: envoy.Forward()})
	request := []string{"--url", "http://productpage.default:9080/productpage", "-o", "json"}
	got := Proxyctl(t, append([]string{"pc", "explain", "web-1." + ns}, request...)...)
	if got.Code != 0 {
		t.Fatalf("%s", got)
	}
	served := envoy.Requests()
	if want := []string{reqAll, reqEndpoints}; !slices.Equal(served, want) {
		t.Errorf("the admin API served %q, want %q", served, want)
	}
	var e struct {
		Listener, Cluster, Error string
		Steps                    []struct{ Step, Rule string }
		Endpoints                []struct{ Address string }
	}
	if err := json.Unmarshal([]byte(got.Stdout), &e); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, got.Stdout)
	}
	last := e.Steps[len(e.Steps)-1]
	if e.Listener != "0.0.0.0_9080" || e.Cluster != "outbound|9080||productpage.default.svc.cluster.local" || e.Error != "" ||
		last.Step != "ENDPOINTS" || !strings.Contains(last.Rule, "/clusters") || len(e.Endpoints) == 0 {
		t.Errorf("got %+v", e)
	}
	dump, _ := sampleFiles(t)
	ref := Proxyctl(t, append([]string{"pc", "explain", "-f", dump}, request...)...)
	var r struct{ Listener, FilterChain, RouteConfig, VirtualHost, Route, Cluster string }
	var g struct{ Listener, FilterChain, RouteConfig, VirtualHost, Route, Cluster string }
	json.Unmarshal([]byte(ref.Stdout), &r)
	json.Unmarshal([]byte(got.Stdout), &g)
	if r != g {
		t.Errorf("through the pod %+v, from the file %+v", g, r)
	}
}
