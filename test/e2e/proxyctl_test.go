//go:build e2e

package e2e

import (
	"fmt"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// The admin API request each view needs: nothing more may be fetched.
const (
	reqClusters  = "GET /config_dump?mask=dynamic_active_clusters,static_clusters"
	reqListeners = "GET /config_dump?mask=dynamic_listeners,static_listeners"
	reqRoutes    = "GET /config_dump?mask=dynamic_route_configs,static_route_configs"
	reqEndpoints = "GET /clusters?format=json"
	reqBootstrap = "GET /config_dump?mask=bootstrap,last_updated"
	reqSecrets   = "GET /config_dump?mask=static_secrets,dynamic_active_secrets,dynamic_warming_secrets"
	reqEcds      = "GET /config_dump?mask=ecds_filters"
	reqAll       = "GET /config_dump?include_eds=true"
)

// view is one `proxyctl pc` view and the only admin request it may make.
type view struct {
	args    []string
	request string
}

func (v view) String() string { return strings.Join(v.args, " ") }

var allViews = []view{
	{[]string{"cluster"}, reqClusters},
	{[]string{"cluster", "-o", "json"}, reqClusters},
	{[]string{"listener"}, reqListeners},
	{[]string{"listener", "-o", "yaml"}, reqListeners},
	{[]string{"route"}, reqRoutes},
	{[]string{"endpoint"}, reqEndpoints},
	{[]string{"endpoint", "-o", "json"}, reqEndpoints},
	{[]string{"bootstrap"}, reqBootstrap},
	{[]string{"secret"}, reqSecrets},
	{[]string{"ecds"}, reqEcds},
	{[]string{"all"}, reqAll},
	{[]string{"all", "-o", "json"}, reqAll},
}

// someViews are run on the other target forms: one config dump view and the /clusters one.
var someViews = []view{allViews[0], allViews[5]}

// reference runs a view on the sample file (-f): what the same view must print from a pod.
// The references are computed once per test and must succeed with some output, or the
// comparison would prove nothing.
func reference(t *testing.T) func(v view) Result {
	t.Helper()
	dump, clusters := sampleFiles(t)
	refs := map[string]Result{}
	for _, v := range allViews {
		file := dump
		if v.request == reqEndpoints {
			file = clusters
		}
		r := Proxyctl(t, append(append([]string{"pc"}, v.args...), "-f", file)...)
		if r.Code != 0 || len(r.Stdout) < 100 {
			t.Fatalf("reference output of %s on the sample file:\n%s", v, r)
		}
		refs[v.String()] = r
	}
	return func(v view) Result { return refs[v.String()] }
}

// checkView asserts that a live run printed what the file run did, on stdout and stderr, and
// that the stand-in served exactly the one request the view needs.
func checkView(t *testing.T, got, want Result, v view, served []string) {
	t.Helper()
	if got.Code != 0 {
		t.Errorf("%s", got)
		return
	}
	if got.Stdout != want.Stdout {
		t.Errorf("%s: stdout differs from the -f output (%d bytes, want %d):\n%s\n--- want ---\n%s",
			strings.Join(got.Args, " "), len(got.Stdout), len(want.Stdout), clip(got.Stdout, 1500), clip(want.Stdout, 1500))
	}
	if got.Stderr != want.Stderr {
		t.Errorf("%s: stderr %q, want what -f printed: %q", strings.Join(got.Args, " "), got.Stderr, want.Stderr)
	}
	if !slices.Equal(served, []string{v.request}) {
		t.Errorf("%s: the admin API served %q, want only %q", strings.Join(got.Args, " "), served, v.request)
	}
}

// TestProxyConfigViews runs every view on a pod named NAME.NAMESPACE, NAME -n NAMESPACE and
// deploy/NAME.NAMESPACE, and a config dump view and the endpoint view on every other target
// form: pod/, deployment/, statefulset/ and sts/, daemonset/ and ds/, replicaset/ and rs/,
// service/ and svc/, and a bare pod name in the kubeconfig context's namespace. Each output
// must be byte for byte the one the view prints with -f on the sample the stand-in serves,
// and the stand-in must have served only the request the view needs.
func TestProxyConfigViews(t *testing.T) {
	ns := env.NewNamespace(t)
	ref := reference(t)
	inContext := env.WriteKubeconfig(t, func(cfg *clientcmdapi.Config) {
		cfg.Contexts[cfg.CurrentContext].Namespace = ns
	})

	type form struct {
		name       string
		target     []string // the arguments naming the proxy
		views      []view
		kubeconfig string
		envoy      *Envoy
	}
	var forms []*form
	add := func(name string, views []view, target ...string) *form {
		f := &form{name: name, target: target, views: views, envoy: StartEnvoy(t)}
		forms = append(forms, f)
		return f
	}
	pod := func(f *form, name string) {
		env.CreatePod(t, ns, PodOptions{Name: name, Forward: f.envoy.Forward()})
	}
	pod(add("name.ns", allViews, "alpha."+ns), "alpha")
	pod(add("name -n ns", allViews, "bravo", "-n", ns), "bravo")
	pod(add("pod/name.ns", someViews, "pod/charlie."+ns), "charlie")
	f := add("name in the context's namespace", someViews, "delta")
	f.kubeconfig = inContext
	pod(f, "delta")

	f = add("deploy/name.ns", allViews, "deploy/web."+ns)
	env.CreateDeployment(t, ns, "web", 1, PodOptions{Forward: f.envoy.Forward()})
	f = add("deployment/name -n ns", someViews, "deployment/api", "-n", ns)
	env.CreateDeployment(t, ns, "api", 1, PodOptions{Forward: f.envoy.Forward()})
	f = add("sts/name.ns", someViews, "sts/db."+ns)
	env.CreateStatefulSet(t, ns, "db", 1, PodOptions{Forward: f.envoy.Forward()})
	f = add("statefulset/name -n ns", someViews, "statefulset/cache", "-n", ns)
	env.CreateStatefulSet(t, ns, "cache", 1, PodOptions{Forward: f.envoy.Forward()})
	f = add("rs/name.ns", someViews, "rs/bare."+ns)
	env.CreateReplicaSet(t, ns, "bare", 1, PodOptions{Forward: f.envoy.Forward()}, nil)
	f = add("replicaset/name -n ns", someViews, "replicaset/lone", "-n", ns)
	env.CreateReplicaSet(t, ns, "lone", 1, PodOptions{Forward: f.envoy.Forward()}, nil)
	f = add("ds/name.ns", someViews, "ds/node-agent."+ns)
	env.CreateDaemonSet(t, ns, "node-agent", PodOptions{Forward: f.envoy.Forward()})
	f = add("daemonset/name -n ns", someViews, "daemonset/logs", "-n", ns)
	env.CreateDaemonSet(t, ns, "logs", PodOptions{Forward: f.envoy.Forward()})
	f = add("svc/name.ns", someViews, "svc/front."+ns)
	env.CreatePod(t, ns, PodOptions{Name: "front-backend", Labels: map[string]string{"app": "front"}, Forward: f.envoy.Forward()})
	env.CreateService(t, ns, "front", map[string]string{"app": "front"})
	f = add("service/name -n ns", someViews, "service/back", "-n", ns)
	env.CreatePod(t, ns, PodOptions{Name: "back-backend", Labels: map[string]string{"app": "back"}, Forward: f.envoy.Forward()})
	env.CreateService(t, ns, "back", map[string]string{"app": "back"})

	for _, f := range forms {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel() // each form has its own pod and stand-in
			for _, v := range f.views {
				before := len(f.envoy.Requests())
				args := append(append([]string{"pc"}, v.args...), f.target...)
				got := ProxyctlWith(t, RunOptions{Kubeconfig: f.kubeconfig}, args...)
				checkView(t, got, ref(v), v, f.envoy.Since(before))
				t.Logf("%-22s %s", v, got.Elapsed.Round(time.Millisecond))
			}
		})
	}
}

// TestWorkloadPicksPod: a workload or service with several pods resolves to the first Running,
// Ready one by name, and says which on stderr when there were several to choose from.
func TestWorkloadPicksPod(t *testing.T) {
	ns := env.NewNamespace(t)
	ref := reference(t)
	envoys := map[string]*Envoy{}
	podOpts := func(name string, o PodOptions) PodOptions {
		e := StartEnvoy(t)
		envoys[name] = e
		o.Name, o.Forward = name, e.Forward()
		return o
	}
	// multi: a NotReady pod and a Pending one sort first; three are Ready.
	multi := env.CreateDeployment(t, ns, "multi", 0, PodOptions{})
	env.AddPods(t, ns, multi, ControllerRef(multi.ReplicaSet, "ReplicaSet"),
		podOpts("multi-a", PodOptions{NotReady: true}),
		podOpts("multi-b", PodOptions{Phase: corev1.PodPending}),
		podOpts("multi-c", PodOptions{}),
		podOpts("multi-d", PodOptions{}),
		podOpts("multi-e", PodOptions{}))
	env.CreateService(t, ns, "multi", multi.Selector)
	// solo: one Ready pod among NotReady ones; nothing to say.
	solo := env.CreateDeployment(t, ns, "solo", 0, PodOptions{})
	env.AddPods(t, ns, solo, ControllerRef(solo.ReplicaSet, "ReplicaSet"),
		podOpts("solo-a", PodOptions{NotReady: true}),
		podOpts("solo-b", PodOptions{}),
		podOpts("solo-c", PodOptions{Phase: corev1.PodFailed}))
	// db: a StatefulSet of three Ready pods.
	db := env.CreateStatefulSet(t, ns, "db", 0, PodOptions{})
	env.AddPods(t, ns, db, ControllerRef(db.StatefulSet, "StatefulSet"),
		podOpts("db-2", PodOptions{}), podOpts("db-0", PodOptions{}), podOpts("db-1", PodOptions{}))

	cases := []struct {
		target string
		used   string
		note   string // the whole of stderr
	}{
		{"deploy/multi." + ns, "multi-c", "note: deployment/multi has 3 ready pods; using multi-c (name a pod to pick another)\n"},
		{"svc/multi." + ns, "multi-c", "note: service/multi has 3 ready pods; using multi-c (name a pod to pick another)\n"},
		{"rs/" + multi.ReplicaSet.Name + "." + ns, "multi-c", "note: replicaset/" + multi.ReplicaSet.Name + " has 3 ready pods; using multi-c (name a pod to pick another)\n"},
		{"statefulset/db." + ns, "db-0", "note: statefulset/db has 3 ready pods; using db-0 (name a pod to pick another)\n"},
		{"deploy/solo." + ns, "solo-b", ""},
		{"multi-e." + ns, "multi-e", ""}, // naming a pod picks that one, silently
	}
	v := allViews[0]
	for _, tc := range cases {
		t.Run(tc.target, func(t *testing.T) {
			before := map[string]int{}
			for name, e := range envoys {
				before[name] = len(e.Requests())
			}
			got := Proxyctl(t, "pc", "cluster", tc.target)
			if got.Code != 0 || got.Stdout != ref(v).Stdout {
				t.Fatalf("want the -f output:\n%s", got)
			}
			if got.Stderr != tc.note {
				t.Errorf("stderr %q, want %q", got.Stderr, tc.note)
			}
			for name, e := range envoys {
				served := e.Since(before[name])
				switch {
				case name == tc.used && !slices.Equal(served, []string{reqClusters}):
					t.Errorf("the pod used, %s, served %q, want %q", name, served, reqClusters)
				case name != tc.used && len(served) > 0:
					t.Errorf("pod %s served %q, though %s was to be used", name, served, tc.used)
				}
			}
		})
	}
}

// TestProxyConfigLog reads and sets Envoy log levels through the apiserver: on one pod, on a
// workload, and on every pod matching -l.
func TestProxyConfigLog(t *testing.T) {
	ns := env.NewNamespace(t)
	one := StartEnvoy(t)
	env.CreatePod(t, ns, PodOptions{Name: "logger", Forward: one.Forward()})
	dep := StartEnvoy(t)
	env.CreateDeployment(t, ns, "logdep", 1, PodOptions{Forward: dep.Forward()})
	selA, selB, pending, other := StartEnvoy(t), StartEnvoy(t), StartEnvoy(t), StartEnvoy(t)
	env.CreatePod(t, ns, PodOptions{Name: "sel-a", Labels: map[string]string{"app": "sel"}, Forward: selA.Forward()})
	env.CreatePod(t, ns, PodOptions{Name: "sel-b", Labels: map[string]string{"app": "sel"}, Forward: selB.Forward()})
	env.CreatePod(t, ns, PodOptions{Name: "sel-pending", Labels: map[string]string{"app": "sel"}, Phase: corev1.PodPending, Forward: pending.Forward()})
	env.CreatePod(t, ns, PodOptions{Name: "other", Labels: map[string]string{"app": "other"}, Forward: other.Forward()})
	mixedOK := StartEnvoy(t)
	env.CreatePod(t, ns, PodOptions{Name: "mixed-a", Labels: map[string]string{"app": "mixed"}, Forward: map[int32]string{AdminPort: ClosedAddr(t)}})
	env.CreatePod(t, ns, PodOptions{Name: "mixed-b", Labels: map[string]string{"app": "mixed"}, Forward: mixedOK.Forward()})

	// levels returns the loggers not at want.
	off := func(e *Envoy, want string, except map[string]string) map[string]string {
		bad := map[string]string{}
		for l, lv := range e.Levels() {
			w := want
			if x, ok := except[l]; ok {
				w = x
			}
			if lv != w {
				bad[l] = lv
			}
		}
		return bad
	}
	type step struct {
		name     string
		args     []string
		envoys   []*Envoy
		requests []string // what each of envoys must have served
		level    string   // every logger's level afterwards...
		except   map[string]string
		stdout   []string // ...and lines stdout must hold
	}
	steps := []step{
		{"one logger", []string{"logger." + ns, "--level", "http:debug"}, []*Envoy{one},
			[]string{"POST /logging", "POST /logging?http=debug"}, "warning", map[string]string{"http": "debug"},
			[]string{"active loggers:", "  http: debug", "  router: warning"}},
		{"read only", []string{"logger", "-n", ns}, []*Envoy{one},
			[]string{"POST /logging"}, "warning", map[string]string{"http": "debug"},
			[]string{"active loggers:", "  http: debug"}},
		{"two loggers", []string{"logger." + ns, "--level", "router:trace,upstream:error"}, []*Envoy{one},
			[]string{"POST /logging", "POST /logging?router=trace", "POST /logging?upstream=error"}, "warning",
			map[string]string{"http": "debug", "router": "trace", "upstream": "error"},
			[]string{"  http: debug", "  router: trace", "  upstream: error"}},
		{"reset", []string{"logger." + ns, "-r"}, []*Envoy{one},
			[]string{"POST /logging?level=warning"}, "warning", nil, []string{"  http: warning", "  router: warning"}},
		{"deployment", []string{"deploy/logdep." + ns, "--level", "info"}, []*Envoy{dep},
			[]string{"POST /logging?level=info"}, "info", nil, []string{"active loggers:", "  admin: info"}},
		{"selector", []string{"-l", "app=sel", "-n", ns, "--level", "debug"}, []*Envoy{selA, selB},
			[]string{"POST /logging?level=debug"}, "debug", nil,
			[]string{"sel-a." + ns + ":", "sel-b." + ns + ":", "  wasm: debug"}},
		{"selector reset", []string{"-l", "app=sel", "-n", ns, "-r"}, []*Envoy{selA, selB},
			[]string{"POST /logging?level=warning"}, "warning", nil,
			[]string{"sel-a." + ns + ":", "sel-b." + ns + ":", "  wasm: warning"}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			before := make([]int, len(s.envoys))
			for i, e := range s.envoys {
				before[i] = len(e.Requests())
			}
			got := Proxyctl(t, append([]string{"pc", "log"}, s.args...)...)
			if got.Code != 0 || got.Stderr != "" {
				t.Fatalf("%s", got)
			}
			lines := strings.Split(got.Stdout, "\n")
			for _, want := range s.stdout {
				if !slices.Contains(lines, want) {
					t.Errorf("stdout lacks the line %q:\n%s", want, got.Stdout)
				}
			}
			for i, e := range s.envoys {
				if served := e.Since(before[i]); !slices.Equal(served, s.requests) {
					t.Errorf("envoy %d served %q, want %q", i, served, s.requests)
				}
				if bad := off(e, s.level, s.except); len(bad) > 0 {
					t.Errorf("envoy %d: loggers %v, want %s (except %v)", i, bad, s.level, s.except)
				}
			}
			if s.name == "selector" && strings.Count(got.Stdout, "active loggers:") != 2 {
				t.Errorf("want the levels of two pods:\n%s", got.Stdout)
			}
		})
	}
	// The Pending pod matched -l but was left alone, as was the pod of another app.
	if r := append(pending.Requests(), other.Requests()...); len(r) > 0 {
		t.Errorf("pods not selected were changed: %q", r)
	}

	t.Run("one pod of the selector fails", func(t *testing.T) {
		got := Proxyctl(t, "pc", "log", "-l", "app=mixed", "-n", ns, "--level", "debug")
		errs := regexp.MustCompile(`(?m)^error: .*$`).FindAllString(got.Stderr, -1)
		if got.Code != 1 || len(errs) != 2 || !strings.Contains(errs[0], "mixed-a") ||
			!strings.Contains(errs[0], "nothing is listening on port 15000") || errs[1] != "error: 1 of 2 pods failed" {
			t.Errorf("want exit 1, an error naming mixed-a, then \"error: 1 of 2 pods failed\":\n%s", got)
		}
		if !strings.Contains(got.Stdout, "mixed-b."+ns+":\nactive loggers:") || mixedOK.Levels()["http"] != "debug" {
			t.Errorf("mixed-b was not set to debug (levels %v):\n%s", mixedOK.Levels(), got)
		}
	})
	t.Run("selector matches no Running pod", func(t *testing.T) {
		got := Proxyctl(t, "pc", "log", "-l", "app=nosuch", "-n", ns)
		want := "error: no Running pod matches app=nosuch in namespace " + ns + " (0 pods match): check -l and -n\n"
		if got.Code != 1 || got.Stderr != want || got.Stdout != "" {
			t.Errorf("want exit 1 and %q:\n%s", want, got)
		}
	})
}

// TestProxyConfigRootCACompare compares the root CAs of two pods reached through two forwards.
func TestProxyConfigRootCACompare(t *testing.T) {
	ns := env.NewNamespace(t)
	a, b := StartEnvoy(t), StartEnvoy(t)
	env.CreatePod(t, ns, PodOptions{Name: "ca-a", Forward: a.Forward()})
	env.CreatePod(t, ns, PodOptions{Name: "ca-b", Forward: b.Forward()})
	got := Proxyctl(t, "pc", "rootca-compare", "ca-a."+ns, "ca-b", "-n", ns)
	want := fmt.Sprintf("Both pod ca-a in namespace %[1]s and pod ca-b in namespace %[1]s have the identical ROOT CA (1 root(s))", ns)
	if got.Code != 0 || !strings.HasPrefix(got.Stdout, want) || !strings.Contains(got.Stdout, "\nROOT ") || got.Stderr != "" {
		t.Errorf("want exit 0 and %q:\n%s", want, got)
	}
	for name, e := range map[string]*Envoy{"ca-a": a, "ca-b": b} {
		if r := e.Requests(); !slices.Equal(r, []string{reqSecrets}) {
			t.Errorf("%s served %q, want %q", name, r, reqSecrets)
		}
	}
}

// errorCase is a proxyctl run that must fail with a one-line message.
type errorCase struct {
	name string
	args []string
	opts RunOptions
	code int
	// want are fragments of the error line; notWant must not be in it.
	want, notWant []string
	// within bounds how long the run may take (default 15s).
	within time.Duration
	// bug names a known proxyctl bug this case shows: while the case fails, it is skipped
	// with "BUG: ..." (reported, not failed), unless $E2E_KNOWN_BUGS=fail.
	bug string
}

func (tc errorCase) check(t *testing.T) Result {
	t.Helper()
	got := ProxyctlWith(t, tc.opts, tc.args...)
	line := got.ErrorLine()
	var problems []string
	switch {
	case got.Code != tc.code:
		problems = append(problems, fmt.Sprintf("exit %d, want %d", got.Code, tc.code))
	case got.Stdout != "":
		problems = append(problems, "stdout not empty")
	case !strings.HasPrefix(got.Stderr, "error: ") || strings.Count(got.Stderr, "\n") != 1:
		problems = append(problems, "stderr is not one \"error: \" line")
	}
	for _, w := range tc.want {
		if !strings.Contains(line, w) {
			problems = append(problems, fmt.Sprintf("the error lacks %q", w))
		}
	}
	for _, w := range tc.notWant {
		if strings.Contains(line, w) {
			problems = append(problems, fmt.Sprintf("the error has %q", w))
		}
	}
	within := tc.within
	if within == 0 {
		within = 15 * time.Second
	}
	if got.Elapsed > within {
		problems = append(problems, fmt.Sprintf("took %s, want less than %s", got.Elapsed, within))
	}
	t.Logf("exit %d after %s: %s", got.Code, got.Elapsed.Round(time.Millisecond), line)
	switch {
	case len(problems) == 0:
		if tc.bug != "" {
			t.Logf("known bug %q no longer shows: drop the bug field", tc.bug)
		}
	case tc.bug != "" && os.Getenv("E2E_KNOWN_BUGS") != "fail":
		t.Skipf("BUG: %s: %s\n%s", tc.bug, strings.Join(problems, "; "), got)
	default:
		t.Errorf("%s\n%s", strings.Join(problems, "; "), got)
	}
	return got
}

// TestProxyConfigErrors: each way reaching a proxy goes wrong ends with exit 1 and a one-line
// message naming the cause and the fix; bad invocations with exit 2. No stand-in that a check
// should have stopped proxyctl from reaching is reached.
func TestProxyConfigErrors(t *testing.T) {
	ns := env.NewNamespace(t)
	ref := reference(t)
	untouched := StartEnvoy(t) // behind every pod that a check must stop proxyctl from reaching
	fwd := untouched.Forward()

	env.CreatePod(t, ns, PodOptions{Name: "pending", Phase: corev1.PodPending, Forward: fwd})
	env.CreatePod(t, ns, PodOptions{Name: "failed", Phase: corev1.PodFailed, Forward: fwd})
	env.CreatePod(t, ns, PodOptions{Name: "unscheduled", NodeName: Unscheduled, Forward: fwd})
	env.CreatePod(t, ns, PodOptions{Name: "no-sidecar", Containers: []corev1.Container{AppContainer()}, Forward: fwd})
	env.CreatePod(t, ns, PodOptions{Name: "guarded", Forward: fwd})
	env.CreatePod(t, ns, PodOptions{Name: "closed", Forward: map[int32]string{AdminPort: ClosedAddr(t)}})
	env.CreatePod(t, ns, PodOptions{Name: "no-forward"})
	env.CreateDeployment(t, ns, "unready", 2, PodOptions{NotReady: true, Forward: fwd})
	env.CreatePod(t, ns, PodOptions{Name: "unavailable", Forward: map[int32]string{AdminPort: ServeAdmin(t, http.HandlerFunc(
		func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "upstream overloaded: try later\nsecond line of the body", http.StatusServiceUnavailable)
		}))}})
	hang, hangRequests := Hang(t)
	env.CreatePod(t, ns, PodOptions{Name: "hang", Forward: map[int32]string{AdminPort: hang}})
	env.Grant(t, ns, LimitedUser, PodReader)
	env.Grant(t, ns, "e2e-get-only", PodReader, []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods/portforward"}, Verbs: []string{"get"}}})

	what := func(pod string) string { return fmt.Sprintf("pod %s in namespace %s", pod, ns) }
	cases := []errorCase{
		{name: "pod not found", args: []string{"pc", "cluster", "nosuch." + ns}, code: 1,
			want: []string{"error: pod nosuch in namespace " + ns + " not found; check the name and the namespace"}},
		{name: "pod not found with -n", args: []string{"pc", "cluster", "nosuch", "-n", ns}, code: 1,
			want: []string{"pod nosuch in namespace " + ns + " not found"}},
		{name: "namespace not found", args: []string{"pc", "cluster", "guarded.nosuch-ns"}, code: 1,
			want: []string{"pod guarded in namespace nosuch-ns not found"}},
		{name: "deployment not found", args: []string{"pc", "cluster", "deploy/nosuch." + ns}, code: 1,
			want: []string{"deployment/nosuch in namespace " + ns + " not found"}},
		{name: "pod Pending", args: []string{"pc", "cluster", "pending." + ns}, code: 1,
			want: []string{what("pending") + " is Pending, not Running", "kubectl describe pod pending -n " + ns}},
		{name: "pod without a node", args: []string{"pc", "secret", "unscheduled", "-n", ns}, code: 1,
			want: []string{what("unscheduled") + " is Pending, not Running"}},
		{name: "pod Failed", args: []string{"pc", "log", "failed." + ns}, code: 1,
			want: []string{what("failed") + " is Failed, not Running"}},
		{name: "no Ready pod in a deployment", args: []string{"pc", "cluster", "deploy/unready." + ns}, code: 1,
			want: []string{"deployment/unready in namespace " + ns + " has 2 pod(s) matching app=unready", "none Running and Ready"}},
		{name: "no istio-proxy container", args: []string{"pc", "cluster", "no-sidecar." + ns}, code: 1,
			want: []string{what("no-sidecar") + " has no istio-proxy container and no container port 15000", "--proxy-admin-port"}},
		{name: "forbidden, client certificate", args: []string{"pc", "cluster", "guarded." + ns},
			opts: RunOptions{Kubeconfig: env.LimitedKubeconfig}, code: 1,
			want: []string{"you may not port-forward to " + what("guarded"), "RBAC", "pods/portforward"}},
		{name: "forbidden, --as", args: []string{"pc", "listener", "guarded." + ns, "--as", LimitedUser}, code: 1,
			want: []string{"you may not port-forward to " + what("guarded"), "RBAC", "pods/portforward"}},
		{name: "forbidden, get but not create", args: []string{"pc", "log", "guarded." + ns, "--as", "e2e-get-only"}, code: 1,
			want:    []string{"you may not port-forward to " + what("guarded"), "RBAC", "create pods/portforward"},
			notWant: []string{"allowed by"}}, // the reason of the allowed get does not explain the denied create
		{name: "may not read the pod", args: []string{"pc", "cluster", "guarded." + ns, "--as", "e2e-nobody"}, code: 1,
			want: []string{"you may not read " + what("guarded"), "get/list pods"}},
		{name: "may not read the deployment", args: []string{"pc", "cluster", "deploy/unready." + ns}, opts: RunOptions{Kubeconfig: env.LimitedKubeconfig}, code: 1,
			want: []string{"you may not read deployment/unready in namespace " + ns, "get/list deployments"}},
		{name: "nothing listening", args: []string{"pc", "cluster", "closed." + ns}, code: 1,
			want: []string{"nothing is listening on port 15000 in " + what("closed"), "--proxy-admin-port"}},
		{name: "no forward at all", args: []string{"pc", "endpoint", "no-forward", "-n", ns}, code: 1,
			want: []string{"nothing is listening on port 15000 in " + what("no-forward"), "--proxy-admin-port"}},
		{name: "nothing on another admin port", args: []string{"pc", "cluster", "guarded." + ns, "--proxy-admin-port", "15001"}, code: 1,
			want: []string{"nothing is listening on port 15001 in " + what("guarded")}},
		{name: "log: nothing listening", args: []string{"pc", "log", "closed." + ns}, code: 1,
			want: []string{"nothing is listening on port 15000 in " + what("closed")}},
		{name: "admin API answers 503", args: []string{"pc", "route", "unavailable." + ns}, code: 1,
			want:    []string{"503 Service Unavailable", "GET /config_dump", "upstream overloaded: try later", what("unavailable")},
			notWant: []string{"second line"}},
		{name: "log: admin API answers 503", args: []string{"pc", "log", "unavailable." + ns, "--level", "debug"}, code: 1,
			want: []string{"503 Service Unavailable", "POST /logging", "upstream overloaded: try later"}, notWant: []string{"second line"}},
		{name: "timeout", args: []string{"pc", "cluster", "hang." + ns, "--timeout", "2s"}, code: 1, within: 8 * time.Second,
			want: []string{"took longer than --timeout 2s", what("hang")}},
		{name: "log: timeout", args: []string{"pc", "log", "hang." + ns, "--timeout", "2s"}, code: 1, within: 8 * time.Second,
			want: []string{"took longer than --timeout 2s", what("hang")}},
		{name: "rootca-compare: timeout", args: []string{"pc", "rootca-compare", "hang." + ns, "guarded." + ns, "--timeout", "2s"}, code: 1,
			within: 8 * time.Second, want: []string{"took longer than --timeout 2s", what("hang")}},

		// Usage errors are found before any Kubernetes request: the kubeconfig is not even read.
		{name: "-n disagrees with NAME.NAMESPACE", args: []string{"pc", "cluster", "guarded.b", "-n", "a"}, code: 2,
			opts: RunOptions{Kubeconfig: "/nonexistent/kubeconfig"}, within: 5 * time.Second,
			want: []string{`"guarded.b" names namespace b but -n says a`}},
		{name: "unknown kind", args: []string{"pc", "cluster", "foo/x"}, code: 2,
			opts: RunOptions{Kubeconfig: "/nonexistent/kubeconfig"}, within: 5 * time.Second,
			want: []string{`unknown kind "foo" in "foo/x"`, "deployment/"}},
		{name: "log: unknown kind", args: []string{"pc", "log", "foo/x." + ns}, code: 2,
			opts: RunOptions{Kubeconfig: "/nonexistent/kubeconfig"}, within: 5 * time.Second,
			want: []string{`unknown kind "foo"`}},
		{name: "no target", args: []string{"pc", "cluster"}, code: 2, within: 5 * time.Second,
			want: []string{"name the proxy"}},
		{name: "pod and -f", args: []string{"pc", "cluster", "guarded." + ns, "-f", "x.json"}, code: 2, within: 5 * time.Second,
			want: []string{"give only one of"}},
		{name: "bad admin port", args: []string{"pc", "cluster", "guarded." + ns, "--proxy-admin-port", "0"}, code: 2, within: 5 * time.Second,
			want: []string{"--proxy-admin-port must be between 1 and 65535"}},
		{name: "log: pod and -l", args: []string{"pc", "log", "guarded." + ns, "-l", "app=x"}, code: 2, within: 5 * time.Second,
			want: []string{"name the proxies with one of"}},
		{name: "log: bad level", args: []string{"pc", "log", "guarded." + ns, "--level", "loud"}, code: 2, within: 5 * time.Second,
			want: []string{`unknown log level "loud"`}},
		{name: "rootca-compare: one pod", args: []string{"pc", "rootca-compare", "guarded." + ns}, code: 2, within: 5 * time.Second},
	}
	var hangRuns atomic.Int64
	t.Run("cases", func(t *testing.T) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel() // mostly for the three that wait for --timeout
				if slices.Contains(tc.args, "hang."+ns) {
					hangRuns.Add(1)
				}
				tc.check(t)
			})
		}
	})
	if r := untouched.Requests(); len(r) > 0 {
		t.Errorf("proxyctl reached a proxy that a check should have stopped it from reaching: %q", r)
	}
	// Each timeout case did reach the admin API: the time ran out waiting for its answer.
	if n, want := hangRequests(), int(hangRuns.Load()); n != want {
		t.Errorf("the hanging admin API got %d requests, want %d (one per timeout case)", n, want)
	}

	t.Run("no istio-proxy container, --proxy-admin-port 15000", func(t *testing.T) {
		before := len(untouched.Requests())
		got := Proxyctl(t, "pc", "cluster", "no-sidecar."+ns, "--proxy-admin-port", "15000")
		checkView(t, got, ref(allViews[0]), allViews[0], untouched.Since(before))
	})
	t.Run("an Envoy container declaring port 15000", func(t *testing.T) {
		e := StartEnvoy(t)
		env.CreatePod(t, ns, PodOptions{Name: "gateway", Forward: e.Forward(), Containers: []corev1.Container{{
			Name: "envoy", Image: "envoyproxy/envoy:v1.36", Ports: []corev1.ContainerPort{{Name: "admin", ContainerPort: AdminPort}},
		}}})
		got := Proxyctl(t, "pc", "cluster", "gateway."+ns)
		checkView(t, got, ref(allViews[0]), allViews[0], e.Requests())
	})
	t.Run("may create pods/portforward but not get it: SPDY", func(t *testing.T) {
		const user = "e2e-create-only"
		env.Grant(t, ns, user, PodReader, []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods/portforward"}, Verbs: []string{"create"}}})
		e := StartEnvoy(t)
		env.CreatePod(t, ns, PodOptions{Name: "spdy-only", Forward: e.Forward()})
		got := Proxyctl(t, "pc", "cluster", "spdy-only."+ns, "--as", user)
		checkView(t, got, ref(allViews[0]), allViews[0], e.Requests())
	})
	t.Run("allowed user", func(t *testing.T) {
		const user = "e2e-forwarder"
		env.Grant(t, ns, user, PodReader, PortForwarder)
		e := StartEnvoy(t)
		env.CreatePod(t, ns, PodOptions{Name: "allowed", Forward: e.Forward()})
		kc := env.WriteImpersonatingKubeconfig(t, user)
		got := ProxyctlWith(t, RunOptions{Kubeconfig: kc}, "pc", "cluster", "allowed."+ns)
		checkView(t, got, ref(allViews[0]), allViews[0], e.Requests())
	})
}

// TestKubeFlags: the kubectl flags and the kubeconfig are honoured, and nothing of the
// machine's own configuration leaks in.
func TestKubeFlags(t *testing.T) {
	ns := env.NewNamespace(t)
	ref := reference(t)
	e := StartEnvoy(t)
	env.CreatePod(t, ns, PodOptions{Name: "flags", Forward: e.Forward()})
	// Two contexts: the current one reaches nothing, "e2e" is the admin's.
	twoContexts := env.WriteKubeconfig(t, func(cfg *clientcmdapi.Config) {
		real := cfg.Contexts[cfg.CurrentContext]
		cfg.Clusters["nowhere"] = &clientcmdapi.Cluster{Server: "https://" + ClosedAddr(t)}
		cfg.Contexts["nowhere"] = &clientcmdapi.Context{Cluster: "nowhere", AuthInfo: real.AuthInfo, Namespace: ns}
		cfg.Contexts["e2e"] = real
		cfg.CurrentContext = "nowhere"
	})
	v := allViews[0]
	ok := func(t *testing.T, o RunOptions, args ...string) {
		t.Helper()
		before := len(e.Requests())
		got := ProxyctlWith(t, o, append([]string{"pc", "cluster"}, args...)...)
		checkView(t, got, ref(v), v, e.Since(before))
	}
	t.Run("--context", func(t *testing.T) {
		ok(t, RunOptions{Kubeconfig: twoContexts}, "flags."+ns, "--context", "e2e")
	})
	t.Run("$KUBECONFIG", func(t *testing.T) {
		ok(t, RunOptions{Kubeconfig: NoKubeconfig, Env: []string{"KUBECONFIG=" + env.Kubeconfig}}, "flags", "-n", ns)
	})
	t.Run("--namespace", func(t *testing.T) {
		ok(t, RunOptions{}, "flags", "--namespace", ns)
	})
	t.Run("--as", func(t *testing.T) {
		env.Grant(t, ns, "e2e-as", PodReader, PortForwarder)
		ok(t, RunOptions{}, "flags."+ns, "--as", "e2e-as")
	})
	t.Run("--request-timeout", func(t *testing.T) {
		ok(t, RunOptions{}, "flags."+ns, "--request-timeout", "10s")
	})
	errorCases := []errorCase{
		{name: "current context unreachable", args: []string{"pc", "cluster", "flags"}, opts: RunOptions{Kubeconfig: twoContexts}, code: 1,
			want: []string{"cannot reach the Kubernetes API server at 127.0.0.1:", "connection refused", "--context"}},
		{name: "unknown context", args: []string{"pc", "cluster", "flags." + ns, "--context", "nosuch"}, code: 1,
			want: []string{"loading the Kubernetes configuration", `"nosuch"`, "--context"}},
		{name: "no kubeconfig anywhere", args: []string{"pc", "cluster", "flags." + ns}, opts: RunOptions{Kubeconfig: NoKubeconfig}, code: 1,
			want: []string{"no Kubernetes configuration found", "--kubeconfig", "--admin-url"}},
		{name: "missing kubeconfig file", args: []string{"pc", "cluster", "flags." + ns}, opts: RunOptions{Kubeconfig: "/nonexistent/kubeconfig"}, code: 1,
			want: []string{"/nonexistent/kubeconfig"}},
	}
	for _, tc := range errorCases {
		t.Run(tc.name, func(t *testing.T) { tc.check(t) })
	}
}
