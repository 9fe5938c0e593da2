//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/proxyctl/proxyctl/internal/envoytest"
)

// TestProxyConfigDiff runs pc diff deploy/web over a deployment's three Running pods, one of
// which holds another configuration (a cluster's load balancing policy), and a Pending pod
// that is left out; then two of its pods by name. Each proxy is asked once for its whole dump.
func TestProxyConfigDiff(t *testing.T) {
	ns := env.NewNamespace(t)
	dumpPath, clustersPath := sampleFiles(t)
	dump, err := os.ReadFile(dumpPath)
	if err != nil {
		t.Fatal(err)
	}
	clusters, err := os.ReadFile(clustersPath)
	if err != nil {
		t.Fatal(err)
	}
	changed := bytes.Replace(dump, []byte(`"lb_policy": "LEAST_REQUEST"`), []byte(`"lb_policy": "RING_HASH"`), 1)
	if bytes.Equal(changed, dump) {
		t.Fatal("the sample no longer has what the test changes")
	}
	envoys := map[string]*envoytest.Admin{}
	pod := func(name string, doc []byte, o PodOptions) PodOptions {
		admin, err := envoytest.NewAdmin(doc, clusters)
		if err != nil {
			t.Fatal(err)
		}
		envoys[name] = admin
		o.Name, o.Forward = name, map[int32]string{AdminPort: ServeAdmin(t, admin)}
		return o
	}
	web := env.CreateDeployment(t, ns, "web", 0, PodOptions{})
	env.AddPods(t, ns, web, ControllerRef(web.ReplicaSet, "ReplicaSet"),
		pod("web-a", dump, PodOptions{}),
		pod("web-b", changed, PodOptions{NotReady: true}), // misbehaving: compared all the same
		pod("web-c", dump, PodOptions{}),
		pod("web-d", dump, PodOptions{Phase: corev1.PodPending}))

	r := Proxyctl(t, "pc", "diff", "deploy/web", "-n", ns)
	if r.Code != 1 {
		t.Fatalf("%s", r)
	}
	for _, want := range []string{
		"1       2      web-a, web-c (reference)\n",
		"2       1      web-b\n",
		"Group 2 (web-b) against group 1 (web-a):\n",
		"outbound|9080||productpage.default.svc.cluster.local   changed   lb_policy\n",
	} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r)
		}
	}
	if strings.Contains(r.Stdout, "web-d") || r.Stderr != "" {
		t.Errorf("the Pending pod is compared, or stderr is not empty:\n%s", r)
	}
	for name, admin := range envoys {
		want := []string{"GET /config_dump?include_eds=true"}
		if name == "web-d" {
			want = nil
		}
		if got := admin.Requests(); !slices.Equal(got, want) {
			t.Errorf("%s served %q, want %q", name, got, want)
		}
	}

	r = Proxyctl(t, "pc", "diff", "deploy/web."+ns, "-o", "json")
	var rep struct {
		Same   bool
		Groups []struct {
			Pods []string
			Diff *struct {
				Resources []struct{ Type, Name, Change string }
			}
		}
	}
	if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil || r.Code != 1 || rep.Same || len(rep.Groups) != 2 ||
		rep.Groups[1].Diff == nil || len(rep.Groups[1].Diff.Resources) != 1 || rep.Groups[1].Diff.Resources[0].Type != "cluster" {
		t.Errorf("-o json: %v\n%s", err, r)
	}

	// Two pods by name: the same configuration, their own identities normalised.
	if r := Proxyctl(t, "pc", "diff", "web-a", "web-c."+ns, "-n", ns); r.Code != 0 || !strings.HasPrefix(r.Stdout, "No differences (") {
		t.Errorf("two pods alike:\n%s", r)
	}
	// A pod against a saved dump of another.
	if r := Proxyctl(t, "pc", "diff", "web-b."+ns, dumpPath, "--type", "cluster"); r.Code != 1 || !strings.Contains(r.Stdout, "lb_policy") {
		t.Errorf("a pod against a file:\n%s", r)
	}
	// A workload whose pods are all Pending: nothing to compare.
	pending := env.CreateDeployment(t, ns, "pending", 0, PodOptions{})
	env.AddPods(t, ns, pending, ControllerRef(pending.ReplicaSet, "ReplicaSet"), pod("pending-a", dump, PodOptions{Phase: corev1.PodPending}))
	if r := Proxyctl(t, "pc", "diff", "deploy/pending", "-n", ns); r.Code != 3 || !strings.Contains(r.ErrorLine(), "none of its 1 pod(s) is Running") {
		t.Errorf("no Running pod:\n%s", r)
	}
}
