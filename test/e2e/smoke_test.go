//go:build e2e

package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/version"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// fakeAdmin stands in for an Envoy admin API: /config_dump answers a marker naming the pod.
func fakeAdmin(t *testing.T, marker string) (addr string, hits *atomic.Int64) {
	hits = new(atomic.Int64)
	addr = ServeAdmin(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path != "/config_dump" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"configs":[],"marker":%q}`, marker)
	}))
	return addr, hits
}

func TestEnvironment(t *testing.T) {
	v, err := env.Client.Discovery().ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	sv, err := version.ParseSemantic(v.GitVersion)
	if err != nil {
		t.Fatalf("server version %q does not parse: %v", v.GitVersion, err)
	}
	if sv.Major() != 1 || sv.Minor() != 36 {
		t.Errorf("server version %s, want v1.36.x (the minor of client-go)", v.GitVersion)
	}
	node, err := env.Client.CoreV1().Nodes().Get(ctxFor(t), env.NodeName, metaGet)
	if err != nil {
		t.Fatal(err)
	}
	ready := false
	for _, c := range node.Status.Conditions {
		ready = ready || c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue
	}
	if !ready || node.Status.DaemonEndpoints.KubeletEndpoint.Port == 0 {
		t.Errorf("node %s: ready=%v kubelet port=%d", node.Name, ready, node.Status.DaemonEndpoints.KubeletEndpoint.Port)
	}
	t.Logf("kube-apiserver %s at %s, node %s, kubelet port %d", v.GitVersion, env.APIServer, node.Name,
		node.Status.DaemonEndpoints.KubeletEndpoint.Port)
}

// TestPortForward fetches /config_dump of a pod's port 15000 through the apiserver with each
// of client-go's dialers: WebSocket tunnelling (no fallback), plain SPDY, and the fallback.
func TestPortForward(t *testing.T) {
	ns := env.NewNamespace(t)
	addr, hits := fakeAdmin(t, "pf-pod")
	env.CreatePod(t, ns, PodOptions{Name: "pf-pod", Forward: map[int32]string{AdminPort: addr}})

	for _, mode := range []DialMode{DialWebSocket, DialSPDY, DialFallback} {
		t.Run(mode.String(), func(t *testing.T) {
			before := hits.Load()
			fwd, err := ForwardPort(env.Config, ns, "pf-pod", AdminPort, mode)
			if err != nil {
				t.Fatalf("port-forward: %v", err)
			}
			// Two requests on two connections: two stream pairs on one forward.
			for i := 0; i < 2; i++ {
				code, body, err := HTTPGet(fwd.LocalAddr, "/config_dump")
				if err != nil {
					t.Fatalf("GET /config_dump #%d through %s: %v", i, fwd.LocalAddr, err)
				}
				if code != http.StatusOK || !strings.Contains(body, `"marker":"pf-pod"`) {
					t.Fatalf("GET /config_dump #%d: %d %q", i, code, body)
				}
			}
			if err := fwd.Close(); err != nil {
				t.Errorf("port-forward ended with %v", err)
			}
			if got := hits.Load() - before; got != 2 {
				t.Errorf("admin server got %d requests, want 2", got)
			}
		})
	}
}

// TestPortForwardForbidden: a user who may read pods but not create pods/portforward gets 403,
// whether impersonated by the admin (--as) or authenticated by its own client certificate.
func TestPortForwardForbidden(t *testing.T) {
	ns := env.NewNamespace(t)
	addr, _ := fakeAdmin(t, "guarded")
	env.CreatePod(t, ns, PodOptions{Name: "guarded", Forward: map[int32]string{AdminPort: addr}})
	env.Grant(t, ns, LimitedUser, PodReader)
	const allowed = "e2e-forwarder"
	env.Grant(t, ns, allowed, PodReader, PortForwarder)

	identities := []struct {
		name string
		cfg  *rest.Config
	}{
		{"impersonated", env.ImpersonatedConfig(LimitedUser)},
		{"client-cert", env.LimitedConfig(t)},
	}
	for _, id := range identities {
		t.Run(id.name, func(t *testing.T) {
			c, err := kubernetes.NewForConfig(id.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.CoreV1().Pods(ns).Get(ctxFor(t), "guarded", metaGet); err != nil {
				t.Fatalf("%s cannot even get the pod: %v", LimitedUser, err)
			}
			if _, err := c.CoreV1().Pods("default").List(ctxFor(t), metav1.ListOptions{}); !apierrors.IsForbidden(err) {
				t.Errorf("list pods in default: want 403, got %v", err)
			}
			for _, mode := range []DialMode{DialWebSocket, DialSPDY, DialFallback} {
				fwd, err := ForwardPort(id.cfg, ns, "guarded", AdminPort, mode)
				if err == nil {
					_ = fwd.Close()
					t.Errorf("%s: port-forward as %s succeeded, want 403", mode, LimitedUser)
					continue
				}
				msg := err.Error()
				if !strings.Contains(msg, "403") && !strings.Contains(msg, "forbidden") ||
					!strings.Contains(msg, `"pods/portforward"`) {
					t.Errorf("%s: want a 403 on pods/portforward, got: %v", mode, err)
				}
				t.Logf("%s: %v", mode, err)
			}
		})
	}

	t.Run("granted", func(t *testing.T) {
		for _, mode := range []DialMode{DialWebSocket, DialSPDY} {
			fwd, err := ForwardPort(env.ImpersonatedConfig(allowed), ns, "guarded", AdminPort, mode)
			if err != nil {
				t.Fatalf("%s: port-forward as %s: %v", mode, allowed, err)
			}
			code, body, err := HTTPGet(fwd.LocalAddr, "/config_dump")
			_ = fwd.Close()
			if err != nil || code != http.StatusOK || !strings.Contains(body, "guarded") {
				t.Errorf("%s: GET as %s: %d %q %v", mode, allowed, code, body, err)
			}
		}
	})
}

// TestFakeKubelet checks the conventions later tests rely on: how a pod that is missing,
// Pending, unscheduled, or has nothing on the port fails a port-forward.
func TestFakeKubelet(t *testing.T) {
	ns := env.NewNamespace(t)
	addr, _ := fakeAdmin(t, "x")
	env.CreatePod(t, ns, PodOptions{Name: "pending", Phase: corev1.PodPending, Forward: map[int32]string{AdminPort: addr}})
	env.CreatePod(t, ns, PodOptions{Name: "unscheduled", NodeName: Unscheduled})
	env.CreatePod(t, ns, PodOptions{Name: "closed", Forward: map[int32]string{AdminPort: ClosedAddr(t)}})
	env.CreatePod(t, ns, PodOptions{Name: "no-annotation"})
	notReady := env.CreatePod(t, ns, PodOptions{Name: "not-ready", NotReady: true, Forward: map[int32]string{AdminPort: addr}})
	noSidecar := env.CreatePod(t, ns, PodOptions{Name: "no-sidecar", Containers: []corev1.Container{AppContainer()}})

	if notReady.Status.Phase != corev1.PodRunning || isReady(notReady) {
		t.Errorf("not-ready: phase %s ready %v", notReady.Status.Phase, isReady(notReady))
	}
	if got := len(noSidecar.Status.ContainerStatuses); got != 1 {
		t.Errorf("no-sidecar: %d container statuses", got)
	}
	pending, _ := env.Client.CoreV1().Pods(ns).Get(ctxFor(t), "pending", metaGet)
	if pending.Status.Phase != corev1.PodPending {
		t.Errorf("pending: phase %s", pending.Status.Phase)
	}

	for _, mode := range []DialMode{DialWebSocket, DialSPDY} {
		t.Run(mode.String(), func(t *testing.T) {
			// Refused when dialling.
			for _, tc := range []struct{ pod, want string }{
				{"missing", `pods "missing" not found`},
				{"unscheduled", "does not have a host assigned"},
				{"pending", "is not running"},
			} {
				fwd, err := ForwardPort(env.Config, ns, tc.pod, AdminPort, mode)
				if err == nil {
					_ = fwd.Close()
					t.Errorf("%s: port-forward succeeded", tc.pod)
					continue
				}
				// Over WebSocket the apiserver's tunnel drops the kubelet's error body (it logs
				// "SPDY upgrade failed: 400 Bad Request"); only errors of its own come through.
				if tc.pod == "pending" && mode == DialWebSocket {
					tc.want = "unable to upgrade streaming request"
				}
				if !strings.Contains(err.Error(), tc.want) {
					t.Errorf("%s: want an error containing %q, got: %v", tc.pod, tc.want, err)
				}
				t.Logf("%s: %v", tc.pod, err)
			}
			// Refused on the first connection: the forward starts, the data stream fails.
			for _, pod := range []string{"closed", "no-annotation"} {
				fwd, err := ForwardPort(env.Config, ns, pod, AdminPort, mode)
				if err != nil {
					t.Fatalf("%s: port-forward: %v", pod, err)
				}
				// client-go drops the connection to the apiserver after the kubelet's error. The
				// kubelet may also reset the data stream before client-go has it (the dial fails
				// at once here): client-go then only logs "Stream reset" and the forward stays up,
				// so a few connections are tried, each of which must fail.
				var ended error
				for try := 0; try < 3; try++ {
					code, body, err := HTTPGet(fwd.LocalAddr, "/config_dump")
					if err == nil {
						t.Errorf("%s: GET through a refused forward answered %d %q", pod, code, body)
					}
					if ended = fwd.Wait(3 * time.Second); ended == nil || !strings.Contains(ended.Error(), "still running") {
						break
					}
				}
				if ended == nil || !strings.Contains(ended.Error(), "lost connection to pod") {
					t.Errorf("%s: port-forward ended with %v after 3 refused connections, want lost connection to pod", pod, ended)
				}
				_ = fwd.Close()
			}
			// Running but NotReady still forwards, like a real kubelet.
			fwd, err := ForwardPort(env.Config, ns, "not-ready", AdminPort, mode)
			if err != nil {
				t.Fatalf("not-ready: %v", err)
			}
			if code, _, err := HTTPGet(fwd.LocalAddr, "/config_dump"); err != nil || code != 200 {
				t.Errorf("not-ready: %d %v", code, err)
			}
			_ = fwd.Close()
		})
	}
	if log := env.LogFile("fakekubelet"); !strings.Contains(log, "connection refused") {
		t.Errorf("the fake kubelet logged no refused connection:\n%s", tail(log, 20))
	}
}

// TestWorkloads checks the workload helpers: Deployment -> ReplicaSet -> pods, StatefulSet,
// and a Service, resolved the way kubectl resolves them (selector, then a Running pod).
func TestWorkloads(t *testing.T) {
	ns := env.NewNamespace(t)
	addr, hits := fakeAdmin(t, "workload")
	tmpl := PodOptions{Forward: map[int32]string{AdminPort: addr}}
	dep := env.CreateDeployment(t, ns, "web", 2, tmpl)
	sts := env.CreateStatefulSet(t, ns, "db", 2, tmpl)
	rs := env.CreateReplicaSet(t, ns, "bare", 1, tmpl, nil)
	env.CreateService(t, ns, "web", dep.Selector)

	check := func(kind, name string, w *Workload, ownerKind string, n int) {
		t.Helper()
		pods, err := env.Client.CoreV1().Pods(ns).List(ctxFor(t), metav1.ListOptions{
			LabelSelector: labels.SelectorFromSet(w.Selector).String()})
		if err != nil {
			t.Fatal(err)
		}
		if len(pods.Items) != n {
			t.Fatalf("%s/%s: %d pods match %v, want %d", kind, name, len(pods.Items), w.Selector, n)
		}
		for _, p := range pods.Items {
			ref := metav1.GetControllerOf(&p)
			if p.Status.Phase != corev1.PodRunning || !isReady(&p) || ref == nil || ref.Kind != ownerKind {
				t.Errorf("%s/%s: pod %s phase %s ready %v controller %v", kind, name, p.Name, p.Status.Phase, isReady(&p), ref)
			}
		}
	}
	check("deployment", "web", dep, "ReplicaSet", 2)
	check("statefulset", "db", sts, "StatefulSet", 2)
	check("replicaset", "bare", rs, "ReplicaSet", 1)
	if ref := metav1.GetControllerOf(dep.ReplicaSet); ref == nil || ref.Kind != "Deployment" || ref.Name != "web" {
		t.Errorf("replicaset %s controller %v", dep.ReplicaSet.Name, ref)
	}
	if dep.Deployment.Status.ReadyReplicas != 2 || sts.StatefulSet.Status.ReadyReplicas != 2 {
		t.Errorf("status: deployment ready %d, statefulset ready %d", dep.Deployment.Status.ReadyReplicas, sts.StatefulSet.Status.ReadyReplicas)
	}
	if sts.Pods[0].Name != "db-0" || sts.Pods[1].Name != "db-1" {
		t.Errorf("statefulset pods %s %s", sts.Pods[0].Name, sts.Pods[1].Name)
	}
	svc, err := env.Client.CoreV1().Services(ns).Get(ctxFor(t), "web", metaGet)
	if err != nil || svc.Spec.ClusterIP == "" {
		t.Fatalf("service web: %v %+v", err, svc)
	}

	// Any pod of the deployment forwards to the shared admin stand-in.
	fwd, err := ForwardPort(env.Config, ns, dep.Pods[1].Name, AdminPort, DialFallback)
	if err != nil {
		t.Fatal(err)
	}
	defer fwd.Close()
	if code, body, err := HTTPGet(fwd.LocalAddr, "/config_dump"); err != nil || code != 200 || !strings.Contains(body, "workload") {
		t.Errorf("GET through %s: %d %q %v", dep.Pods[1].Name, code, body, err)
	}
	if hits.Load() != 1 {
		t.Errorf("admin hits %d", hits.Load())
	}
}
