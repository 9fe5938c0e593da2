//go:build e2e

package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/proxyctl/proxyctl/internal/kubetest"
)

// completion runs proxyctl's shell completion (cobra's __complete, what the shell scripts
// call) and returns the candidates without their descriptions. Nothing but candidates and the
// directive may be on stdout.
func completion(t *testing.T, o RunOptions, args ...string) []string {
	t.Helper()
	r := ProxyctlWith(t, o, append([]string{"__complete"}, args...)...)
	lines := strings.Split(strings.TrimSuffix(r.Stdout, "\n"), "\n")
	if r.Code != 0 || len(lines) == 0 || !strings.HasPrefix(lines[len(lines)-1], ":") {
		t.Fatalf("%s", r)
	}
	var out []string
	for _, l := range lines[:len(lines)-1] {
		v, _, _ := strings.Cut(l, "\t")
		if v == "" || strings.ContainsAny(v, " ") {
			t.Errorf("a message among the candidates: %q\n%s", l, r)
		}
		out = append(out, v)
	}
	return out
}

// TestCompletion completes pod arguments and namespaces from the real apiserver: only pods
// that run an Envoy, Running; TYPE/NAME for the workloads and services whose pods run one;
// POD.NAMESPACE across namespaces; and the namespaces for -n.
func TestCompletion(t *testing.T) {
	ns := env.NewNamespace(t)
	other := env.NewNamespace(t)
	consul := meshPod(t, "Consul sidecar")
	env.CreatePod(t, ns, PodOptions{Name: "web-1"})
	env.CreatePod(t, ns, PodOptions{Name: "consul-web", Annotations: consul.Pod.Annotations, Labels: consul.Pod.Labels,
		Containers: consul.Pod.Spec.Containers, InitContainers: consul.Pod.Spec.InitContainers})
	env.CreatePod(t, ns, PodOptions{Name: "no-sidecar", Containers: []corev1.Container{AppContainer()}})
	env.CreatePod(t, ns, PodOptions{Name: "web-pending", Phase: corev1.PodPending})
	env.CreatePod(t, other, PodOptions{Name: "web-1"})
	env.CreateDeployment(t, ns, "reviews", 1, PodOptions{})
	env.CreateDeployment(t, ns, "plain", 1, PodOptions{Containers: []corev1.Container{AppContainer()}})
	env.CreateService(t, ns, "reviews", map[string]string{"app": "reviews"})
	env.CreateService(t, ns, "plain", map[string]string{"app": "plain"})
	env.CreateStatefulSet(t, ns, "db", 1, PodOptions{})

	pods := completion(t, RunOptions{}, "-n", ns, "pc", "cluster", "")
	var names []string
	for _, p := range pods {
		if !strings.HasPrefix(p, "reviews-") && !strings.HasPrefix(p, "db-") {
			names = append(names, p)
		}
	}
	if !slices.Equal(names, []string{"consul-web", "web-1"}) || len(pods) != 4 {
		t.Errorf("pods of %s: %q; want consul-web, web-1 and the Envoy pods of reviews and db (not no-sidecar, web-pending, plain's)", ns, pods)
	}
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"a prefix", []string{"-n", ns, "pc", "listener", "web"}, []string{"web-1"}},
		{"deploy/", []string{"-n", ns, "pc", "cluster", "deploy/"}, []string{"deploy/reviews"}},
		{"deployment/r", []string{"-n", ns, "pc", "route", "deployment/r"}, []string{"deployment/reviews"}},
		{"svc/", []string{"-n", ns, "pc", "cluster", "svc/"}, []string{"svc/reviews"}},
		{"sts/", []string{"-n", ns, "ps", "sts/"}, []string{"sts/db"}},
		{"POD.NAMESPACE", []string{"pc", "cluster", "web-1."}, []string{"web-1." + ns, "web-1." + other}},
		{"POD.NAMESPACE prefix", []string{"pc", "cluster", "web-1." + other[:len(other)-1]}, []string{"web-1." + other}},
		{"TYPE/ prefixes", []string{"-n", ns, "pc", "cluster", "rs"}, []string{"rs/"}},
		{"the second pod of rootca-compare", []string{"-n", ns, "pc", "rootca-compare", "web-1", "c"}, []string{"consul-web"}},
	}
	for _, tt := range tests {
		slices.Sort(tt.want)
		if got := completion(t, RunOptions{}, tt.args...); !slices.Equal(got, tt.want) {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
	namespaces := completion(t, RunOptions{}, "pc", "cluster", "-n", "")
	for _, want := range []string{"default", "kube-system", ns, other} {
		if !slices.Contains(namespaces, want) {
			t.Errorf("-n completion %q lacks %s", namespaces, want)
		}
	}
	if got := completion(t, RunOptions{}, "ps", "-i", ns[:len(ns)-1]); !slices.Equal(got, []string{ns}) {
		t.Errorf("-i %s: %q", ns[:len(ns)-1], got)
	}

	// A user who may read and port-forward to the pods of one namespace, and nothing else: the
	// pods of that namespace are offered, other namespaces quietly not.
	env.Grant(t, ns, LimitedUser, PodReader, WorkloadReader, PortForwarder)
	limited := RunOptions{Kubeconfig: env.LimitedKubeconfig}
	if got := completion(t, limited, "-n", ns, "pc", "cluster", "web"); !slices.Equal(got, []string{"web-1"}) {
		t.Errorf("limited user, pods of %s: %q", ns, got)
	}
	if got := completion(t, limited, "pc", "cluster", "-n", ""); len(got) != 0 {
		t.Errorf("limited user, namespaces: %q", got)
	}
	if got := completion(t, limited, "pc", "cluster", "web-1."); len(got) != 0 {
		t.Errorf("limited user, POD.NAMESPACE: %q", got)
	}
	// Logger names come from the pod's Envoy, through a port-forward.
	envoy := StartEnvoy(t)
	env.CreatePod(t, ns, PodOptions{Name: "logger", Forward: envoy.Forward()})
	if got := completion(t, RunOptions{}, "-n", ns, "pc", "log", "logger", "--level", "ro"); !slices.Equal(got, []string{"router:"}) {
		t.Errorf("--level ro: %q", got)
	}
}

// meshPod returns one of kubetest's mesh-shaped pods.
func meshPod(t *testing.T, name string) kubetest.MeshPod {
	t.Helper()
	for _, p := range kubetest.MeshPods() {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("no mesh pod %q", name)
	return kubetest.MeshPod{}
}

// TestAdminPortByMesh runs a view on pods shaped as each mesh injects them, through the real
// apiserver and kubelet protocol: only the admin port the pod says reaches the Envoy stand-in.
func TestAdminPortByMesh(t *testing.T) {
	ns := env.NewNamespace(t)
	dump, _ := sampleFiles(t)
	want := Proxyctl(t, "pc", "cluster", "-f", dump)
	for i, mp := range kubetest.MeshPods() {
		if mp.AdminPort == 0 {
			continue
		}
		t.Run(mp.Name, func(t *testing.T) {
			envoy := StartEnvoy(t)
			name := fmt.Sprintf("mesh-%d", i)
			env.CreatePod(t, ns, PodOptions{Name: name, Labels: mp.Pod.Labels, Annotations: mp.Pod.Annotations,
				Containers: mp.Pod.Spec.Containers, InitContainers: mp.Pod.Spec.InitContainers,
				Forward: map[int32]string{int32(mp.AdminPort): envoy.Addr}})
			got := Proxyctl(t, "pc", "cluster", name+"."+ns)
			if got.Code != 0 || got.Stdout != want.Stdout {
				t.Fatalf("%s", got)
			}
			note := fmt.Sprintf("note: using Envoy admin port %d of pod %s in namespace %s: ", mp.AdminPort, name, ns)
			switch {
			case mp.AdminPort == 15000 && len(mp.OtherAdminPorts) == 0 && got.Stderr != "":
				t.Errorf("stderr %q, want nothing", got.Stderr)
			case (mp.AdminPort != 15000 || len(mp.OtherAdminPorts) > 0) && !strings.HasPrefix(got.Stderr, note):
				t.Errorf("stderr %q, want %q...", got.Stderr, note)
			}
		})
	}
}

// TestVersionOfAPod: version names the pod's Envoy and Istio versions, from its /server_info.
func TestVersionOfAPod(t *testing.T) {
	ns := env.NewNamespace(t)
	envoy := StartEnvoy(t)
	env.CreatePod(t, ns, PodOptions{Name: "web", Forward: envoy.Forward()})
	got := Proxyctl(t, "version", "web."+ns, "--short")
	if got.Code != 0 || !strings.Contains(got.Stdout, "\nenvoy version: 1.32.3-dev\nistio version: 1.24.2\n") {
		t.Errorf("%s", got)
	}
	if served := envoy.Requests(); !slices.Equal(served, []string{"GET /server_info"}) {
		t.Errorf("served %q", served)
	}
}
