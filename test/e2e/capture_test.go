//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// captureDocs are the sample proxy's other admin documents, by the admin path capture asks.
var captureDocs = map[string]string{
	"server_info":           "server_info.json",
	"certs":                 "certs.json",
	"listeners?format=json": "listeners.json",
	"runtime":               "runtime.json",
	"memory":                "memory.json",
	"stats":                 "stats.txt",
}

// captureRequests are the requests a capture makes of each proxy, in order.
var captureRequests = []string{"GET /server_info", "GET /config_dump?include_eds=true", "GET /clusters?format=json",
	"GET /listeners?format=json", "GET /certs", "GET /runtime", "GET /memory", "GET /stats"}

// startFullEnvoy is StartEnvoy serving every document capture fetches.
func startFullEnvoy(t *testing.T) *Envoy {
	t.Helper()
	e := StartEnvoy(t)
	for path, file := range captureDocs {
		data, err := os.ReadFile(filepath.Join(env.root, "testdata", "sample", file))
		if err != nil {
			t.Fatal(err)
		}
		e.SetDocument(path, data)
	}
	return e
}

// TestCapture: proxyctl capture -l app=web -n NS over three pods through the real apiserver's
// port-forward, then pc cluster -f BUNDLE web-1.NS (and other views, on other pods) print what
// they print live; each proxy was asked each document once, and a pod of another app was left
// alone. (The pods are cap-web-N: other tests count the pods named web-1 in every namespace.)
func TestCapture(t *testing.T) {
	ns := env.NewNamespace(t)
	envoys := map[string]*Envoy{}
	for _, name := range []string{"cap-web-1", "cap-web-2", "cap-web-3", "cap-db-0"} {
		e := startFullEnvoy(t)
		envoys[name] = e
		app := strings.TrimPrefix(strings.TrimRight(name, "-0123456789"), "cap-")
		env.CreatePod(t, ns, PodOptions{Name: name, Labels: map[string]string{"app": app}, Forward: e.Forward()})
	}
	bundle := filepath.Join(t.TempDir(), "incident.tar.gz")
	r := Proxyctl(t, "capture", "-l", "app=web", "-n", ns, "-o", bundle)
	if r.Code != 0 || r.Stderr != "" {
		t.Fatalf("%s", r)
	}
	for _, want := range []string{"cap-web-1." + ns + " ", "cap-web-2." + ns + " ", "cap-web-3." + ns + " ", "Wrote " + bundle + " (3 proxies, "} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("the summary lacks %q:\n%s", want, r.Stdout)
		}
	}
	if strings.Contains(r.Stdout, "cap-db-0") {
		t.Errorf("a pod of another app was captured:\n%s", r.Stdout)
	}
	for name, e := range envoys {
		want := captureRequests
		if name == "cap-db-0" {
			want = nil
		}
		if got := e.Requests(); !slices.Equal(got, want) {
			t.Errorf("%s served %q, want %q", name, got, want)
		}
	}
	for _, c := range []struct {
		view []string
		pod  string
	}{
		{[]string{"cluster"}, "cap-web-1"},
		{[]string{"cluster", "-o", "json"}, "cap-web-1"},
		{[]string{"endpoint"}, "cap-web-2"},
		{[]string{"listener"}, "cap-web-3"},
		{[]string{"secret"}, "cap-web-3"},
		{[]string{"all", "-o", "json"}, "cap-web-2"},
	} {
		target := c.pod + "." + ns
		live := Proxyctl(t, append(append([]string{"pc"}, c.view...), target)...)
		got := Proxyctl(t, append(append([]string{"pc"}, c.view...), "-f", bundle, target)...)
		if live.Code != 0 || len(live.Stdout) < 100 || got.Code != 0 || got.Stdout != live.Stdout || got.Stderr != live.Stderr {
			t.Errorf("pc %s -f BUNDLE %s:\n%s\n--- live ---\n%s", strings.Join(c.view, " "), target, got, live)
		}
	}
	// Offline: no kubeconfig at all.
	got := ProxyctlWith(t, RunOptions{Kubeconfig: NoKubeconfig}, "pc", "cluster", "-f", bundle, "cap-web-1."+ns)
	if ref := Proxyctl(t, "pc", "cluster", "cap-web-1."+ns); got.Code != 0 || got.Stdout != ref.Stdout {
		t.Errorf("offline:\n%s", got)
	}
}

// TestCaptureWorkload: deploy/NAME captures every replica, not one; a replica that is not
// Running is left out with a note.
func TestCaptureWorkload(t *testing.T) {
	ns := env.NewNamespace(t)
	e := startFullEnvoy(t)
	w := env.CreateDeployment(t, ns, "cap-api", 3, PodOptions{Forward: e.Forward()})
	var replicas []string
	for _, p := range w.Pods {
		replicas = append(replicas, p.Name)
	}
	env.AddPods(t, ns, w, ControllerRef(w.ReplicaSet, "ReplicaSet"), PodOptions{Name: "cap-api-pending", Phase: "Pending", Forward: e.Forward()})
	bundle := filepath.Join(t.TempDir(), "api.tar.gz")
	r := Proxyctl(t, "capture", "deploy/cap-api."+ns, "-o", bundle)
	if r.Code != 0 || !strings.Contains(r.Stdout, "(3 proxies, ") || r.Stderr != "note: left out 1 selected pod(s) not Running: cap-api-pending."+ns+"\n" {
		t.Fatalf("%s", r)
	}
	if len(replicas) != 3 {
		t.Fatalf("replicas %v", replicas)
	}
	for _, name := range replicas {
		got := Proxyctl(t, "pc", "endpoint", "-f", bundle, name, "-n", ns)
		if ref := Proxyctl(t, "pc", "endpoint", name+"."+ns); got.Code != 0 || got.Stdout != ref.Stdout {
			t.Errorf("pc endpoint -f BUNDLE %s -n %s:\n%s", name, ns, got)
		}
	}
	if n := len(e.Requests()); n != 3*len(captureRequests)+3 {
		t.Errorf("the stand-in served %d requests, want %d", n, 3*len(captureRequests)+3)
	}
}
