package cli

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/proxyctl/proxyctl/internal/envoytest"
	"github.com/proxyctl/proxyctl/internal/gendump"
	"github.com/proxyctl/proxyctl/internal/istiod/istiodtest"
	"github.com/proxyctl/proxyctl/internal/kubetest"
	"github.com/proxyctl/proxyctl/internal/testutil"
)

// diffFixtures are the dumps the pc diff tests compare, generated into a temporary directory.
type diffFixtures struct {
	dir                                      string
	base, later, changed, seed2, r0, r1, r2  string
	baseDoc, changedDoc, r0Doc, r1Doc, r2Doc []byte
}

// changeDump makes, from a generated dump, the same proxy after a few real changes: a route
// added, a cluster's TLS changed, an endpoint removed, a listener's filter chain changed, a
// cluster removed and one added, and the bootstrap's Istio version.
func changeDump(t *testing.T, doc []byte) []byte {
	return testutil.EditDump(t, doc, func(configs []any) {
		rc := testutil.Find(testutil.Section(configs, "RoutesConfigDump")["dynamic_route_configs"], "route_config.name", "9080")["route_config"].(map[string]any)
		vh := testutil.Find(rc["virtual_hosts"], "name", "ratings.default.svc.cluster.local:9080")
		vh["routes"] = append([]any{map[string]any{"name": "v2", "match": map[string]any{"prefix": "/v2"},
			"route": map[string]any{"cluster": "outbound|9080|v2|ratings.default.svc.cluster.local"}}}, vh["routes"].([]any)...)

		clusters := testutil.Section(configs, "ClustersConfigDump")
		c := testutil.Find(clusters["dynamic_active_clusters"], "cluster.name", "outbound|9080||ratings.default.svc.cluster.local")["cluster"].(map[string]any)
		tls := testutil.Find(c["transport_socket_matches"], "name", "tlsMode-istio")["transport_socket"].(map[string]any)["typed_config"].(map[string]any)
		tls["common_tls_context"].(map[string]any)["tls_params"].(map[string]any)["tls_minimum_protocol_version"] = "TLSv1_3"
		tls["sni"] = "ratings.example.com"
		list := clusters["dynamic_active_clusters"].([]any)
		clusters["dynamic_active_clusters"] = append(list[1:], map[string]any{"cluster": map[string]any{
			"@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster", "name": "outbound|8080||new.default.svc.cluster.local",
			"type": "EDS", "connect_timeout": "5s"}})

		removed := false
		for _, e := range testutil.Section(configs, "EndpointsConfigDump")["dynamic_endpoint_configs"].([]any) {
			for _, l := range e.(map[string]any)["endpoint_config"].(map[string]any)["endpoints"].([]any) {
				loc := l.(map[string]any)
				if lb := loc["lb_endpoints"].([]any); len(lb) > 1 && !removed {
					loc["lb_endpoints"], removed = lb[:len(lb)-1], true
				}
			}
		}
		if !removed {
			t.Fatal("no locality with two endpoints to remove one of")
		}

		l := testutil.Find(testutil.Section(configs, "ListenersConfigDump")["dynamic_listeners"], "name", "virtualInbound")["active_state"].(map[string]any)["listener"].(map[string]any)
		for _, fc := range l["filter_chains"].([]any) {
			if m := fc.(map[string]any); m["name"] == "virtualInbound-blackhole" {
				m["transport_socket_connect_timeout"] = "5s"
			}
		}

		b := testutil.Section(configs, "BootstrapConfigDump")["bootstrap"].(map[string]any)
		b["node"].(map[string]any)["metadata"].(map[string]any)["ISTIO_VERSION"] = "1.25.0"
	})
}

func newDiffFixtures(t *testing.T) *diffFixtures {
	t.Helper()
	f := &diffFixtures{dir: t.TempDir()}
	write := func(name string, doc []byte) string {
		p := filepath.Join(f.dir, name)
		if err := os.WriteFile(p, doc, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	f.baseDoc = testutil.Generate(t, gendump.Options{})
	f.base = write("base.json", f.baseDoc)
	f.later = write("later.json", testutil.Generate(t, gendump.Options{Later: true}))
	f.changedDoc = changeDump(t, f.baseDoc)
	f.changed = write("changed.json", f.changedDoc)
	f.seed2 = write("seed2.json", testutil.Generate(t, gendump.Options{Seed: 2}))
	f.r0Doc = testutil.Generate(t, gendump.Options{Replicas: 3, Replica: 0})
	f.r1Doc = testutil.Generate(t, gendump.Options{Replicas: 3, Replica: 1})
	f.r2Doc = changeDump(t, testutil.Generate(t, gendump.Options{Replicas: 3, Replica: 2}))
	f.r0, f.r1, f.r2 = write("r0.json", f.r0Doc), write("r1.json", f.r1Doc), write("r2.json", f.r2Doc)
	return f
}

// stable replaces the temporary directory in output by $DIR.
func (f *diffFixtures) stable(s string) string { return strings.ReplaceAll(s, f.dir, "$DIR") }

// TestDiffGoldens compares generated dumps in every output format: the output must be the
// golden one, and the exit code 0 for the same configuration, 1 for different ones.
func TestDiffGoldens(t *testing.T) {
	f := newDiffFixtures(t)
	cases := []struct {
		name  string
		args  []string
		code  int
		stdin string
	}{
		{"same", []string{f.base, f.base}, 0, ""},
		{"noise", []string{f.base, f.later}, 0, ""},
		{"changed", []string{f.base, f.changed}, 1, ""},
		{"changed_verbose", []string{f.base, f.changed, "--verbose"}, 1, ""},
		{"changed_diff", []string{f.base, f.changed, "-o", "diff"}, 1, ""},
		{"changed_json", []string{f.base, f.changed, "-o", "json"}, 1, ""},
		{"changed_yaml", []string{f.base, f.changed, "-o", "yaml"}, 1, ""},
		{"changed_name", []string{f.base, f.changed, "-o", "name"}, 1, ""},
		{"changed_jsonpath", []string{f.base, f.changed, "-o", `jsonpath={range .resources[*]}{.type}/{.name} {.change}{"\n"}{end}`}, 1, ""},
		{"changed_noheaders", []string{f.base, f.changed, "--no-headers", "--type", "cluster"}, 1, ""},
		{"changed_type", []string{f.base, f.changed, "--type", "route,endpoint", "--verbose"}, 1, ""},
		{"changed_name_filter", []string{f.base, f.changed, "--name", "ratings", "--type", "cluster", "-o", "diff"}, 1, ""},
		{"changed_stdin", []string{f.base, "-", "--type", "bootstrap"}, 1, "changed"},
		{"secrets", []string{f.base, f.seed2, "--type", "secret", "--verbose"}, 1, ""},
		{"replicas_same", []string{f.r0, f.r1}, 0, ""},
		{"replicas_keep_identity", []string{f.r0, f.r1, "--keep-identity", "--verbose"}, 1, ""},
		{"replicas_changed", []string{f.r0, f.r2}, 1, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			stdin := ""
			if tc.stdin == "changed" {
				stdin = string(f.changedDoc)
			}
			code, out, errOut := run(t, stdin, append([]string{"pc", "diff"}, tc.args...)...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d: %s", code, tc.code, errOut)
			}
			if strings.Contains(errOut, "error:") {
				t.Errorf("stderr: %s", errOut)
			}
			ext := ".out"
			if i := slices.Index(tc.args, "-o"); i >= 0 && (tc.args[i+1] == "json" || tc.args[i+1] == "yaml") {
				ext = "." + tc.args[i+1]
			}
			testutil.Golden(t, "diff/"+tc.name+ext, []byte(f.stable(out)))
		})
	}
}

// TestDiffReport checks the JSON report's shape (docs/diff-report.md) on the real changes.
func TestDiffReport(t *testing.T) {
	f := newDiffFixtures(t)
	code, out, errOut := run(t, "", "pc", "diff", f.base, f.changed, "-o", "json")
	if code != 1 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var rep struct {
		From, To  string
		Same      bool
		Summary   struct{ Added, Removed, Changed int }
		Resources []struct {
			Type, Name, Change string
			Fields             []map[string]any
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Same || rep.Summary.Added != 1 || rep.Summary.Removed != 1 || rep.Summary.Changed != 5 || !strings.HasPrefix(rep.From, "file ") {
		t.Errorf("report %+v", rep)
	}
	found := false
	for _, r := range rep.Resources {
		for _, fl := range r.Fields {
			if fl["path"] == "transport_socket_matches[tlsMode-istio].transport_socket.typed_config.common_tls_context.tls_params.tls_minimum_protocol_version" {
				found = fl["old"] == "TLSv1_2" && fl["new"] == "TLSv1_3" && r.Type == "cluster" && r.Change == "changed"
			}
			if r.Change == "changed" && fl["path"] == "" {
				t.Errorf("a field without a path: %v", fl)
			}
		}
	}
	if !found {
		t.Errorf("the TLS change is not reported with its old and new value:\n%s", out)
	}
}

// TestDiffErrors checks usage errors (exit 2) and failures (exit 3): one line on stderr.
func TestDiffErrors(t *testing.T) {
	f := newDiffFixtures(t)
	garbage := filepath.Join(f.dir, "garbage.json")
	if err := os.WriteFile(garbage, []byte("<html>hello</html>"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KUBECONFIG", filepath.Join(f.dir, "none"))
	cases := []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "name two proxies"},
		{[]string{"web-1"}, 2, "one target must name several pods"},
		{[]string{f.base}, 2, "one target must name several pods"},
		{[]string{"-", "-"}, 2, "stdin (-) can be only one"},
		{[]string{f.base, f.changed, "--type", "foo"}, 2, `unknown resource type "foo"`},
		{[]string{f.base, f.changed, "--name", "("}, 2, "not a regular expression"},
		{[]string{f.base, f.changed, "--verbose", "-o", "json"}, 2, "--verbose adds to the table"},
		{[]string{f.base, f.changed, "-o", "xml"}, 2, "use one of short, json, yaml, name, jsonpath=TEMPLATE or diff"},
		{[]string{f.base, f.changed, "-o", "json", "--no-headers"}, 2, "--no-headers applies to the table"},
		{[]string{"-l", "app=web", "deploy/web"}, 2, "not both"},
		{[]string{f.base, f.changed, "--concurrency", "0"}, 2, "--concurrency must be positive"},
		{[]string{f.base, f.changed, "extra"}, 2, "accepts at most 2 arg(s)"},
		{[]string{f.base, filepath.Join(f.dir, "missing.json")}, 3, "cannot open"},
		{[]string{garbage, f.base}, 3, "the document is not JSON"},
		{[]string{f.base, "http://127.0.0.1:1"}, 3, "127.0.0.1:1"},
		{[]string{f.base, "web-1.shop"}, 3, "no Kubernetes configuration found"},
		{[]string{f.base, sampleClusters}, 3, "no section in common"},
		{[]string{"deploy/web"}, 3, "no Kubernetes configuration found"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, out, errOut := run(t, "", append([]string{"pc", "diff"}, tc.args...)...)
			lines := strings.Split(strings.TrimSpace(errOut), "\n")
			if code != tc.code || !strings.Contains(errOut, tc.want) || !strings.HasPrefix(lines[len(lines)-1], "error: ") || out != "" {
				t.Errorf("exit %d (want %d), stdout %q, stderr %q (want %q)", code, tc.code, out, errOut, tc.want)
			}
		})
	}
}

// TestDiffAdminURLs compares two Envoy admin APIs: each is asked once for its whole dump, and
// the output is the one of the same dumps as files, but for the names of the sides.
func TestDiffAdminURLs(t *testing.T) {
	f := newDiffFixtures(t)
	serve := func(doc []byte) (*envoytest.Admin, string) {
		admin, err := envoytest.NewAdmin(doc, []byte(`{"cluster_statuses": []}`))
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(admin)
		t.Cleanup(srv.Close)
		return admin, srv.URL
	}
	a, urlA := serve(f.baseDoc)
	b, urlB := serve(f.changedDoc)
	code, live, errOut := run(t, "", "pc", "diff", urlA, urlB, "-o", "json")
	if code != 1 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	_, fromFiles, _ := run(t, "", "pc", "diff", f.base, f.changed, "-o", "json")
	names := strings.NewReplacer("admin API "+urlA, "A", "admin API "+urlB, "B", "file "+f.base, "A", "file "+f.changed, "B")
	if names.Replace(live) != names.Replace(fromFiles) {
		t.Errorf("admin URLs and files differ:\n%s\n---\n%s", clipped(names.Replace(live)), clipped(names.Replace(fromFiles)))
	}
	for _, admin := range []*envoytest.Admin{a, b} {
		if got := admin.Requests(); !slices.Equal(got, []string{"GET /config_dump?include_eds=true"}) {
			t.Errorf("requests %q, want only the whole dump with EDS", got)
		}
	}
}

// TestDiffSidesAtOnce checks that the two sides are fetched at once: each admin API answers
// only once the other has been asked too.
func TestDiffSidesAtOnce(t *testing.T) {
	f := newDiffFixtures(t)
	var arrived sync.WaitGroup
	arrived.Add(2)
	serve := func(doc []byte) string {
		admin, err := envoytest.NewAdmin(doc, []byte(`{"cluster_statuses": []}`))
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			arrived.Done()
			done := make(chan struct{})
			go func() { arrived.Wait(); close(done) }()
			select {
			case <-done:
				admin.ServeHTTP(w, r)
			case <-time.After(10 * time.Second):
				http.Error(w, "the other side was never asked", http.StatusServiceUnavailable)
			}
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	code, out, errOut := run(t, "", "pc", "diff", serve(f.baseDoc), serve(f.changedDoc))
	if code != 1 || !strings.Contains(out, "BlackHoleCluster") {
		t.Errorf("exit %d\n%s\n%s", code, out, errOut)
	}
}

// TestDiffReplicas runs pc diff -l over three pods behind a port-forward, one of which differs,
// then over the same with one pod that cannot be reached.
func TestDiffReplicas(t *testing.T) {
	f := newDiffFixtures(t)
	serve := func(doc []byte) string {
		admin, err := envoytest.NewAdmin(doc, []byte(`{"cluster_statuses": []}`))
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(admin)
		t.Cleanup(srv.Close)
		return strings.TrimPrefix(srv.URL, "http://")
	}
	labels := map[string]string{"app": "web"}
	pods := []kubetest.Pod{
		{Name: "web-a", Namespace: "shop", Labels: labels, Forward: map[int32]string{15000: serve(f.r0Doc)}},
		{Name: "web-b", Namespace: "shop", Labels: labels, Forward: map[int32]string{15000: serve(f.r2Doc)}},
		{Name: "web-c", Namespace: "shop", Labels: labels, Forward: map[int32]string{15000: serve(f.r1Doc)}},
		{Name: "other", Namespace: "shop", Labels: map[string]string{"app": "other"}, Forward: map[int32]string{15000: serve(f.baseDoc)}},
	}
	api := kubetest.NewServer(t, pods...)
	for _, format := range []string{"short", "json", "name"} {
		t.Run(format, func(t *testing.T) {
			code, out, errOut := run(t, "", "--kubeconfig", api.Kubeconfig, "pc", "diff", "-l", "app=web", "-n", "shop", "-o", format)
			if code != 1 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			testutil.Golden(t, "diff/replicas_pods."+map[string]string{"short": "out", "json": "json", "name": "name"}[format], []byte(out))
		})
	}
	down := kubetest.NewServer(t, append(pods[:3:3], kubetest.Pod{Name: "web-d", Namespace: "shop", Labels: labels})...)
	code, out, errOut := run(t, "", "--kubeconfig", down.Kubeconfig, "pc", "diff", "-l", "app=web", "-n", "shop")
	if code != ExitDiffTrouble || !strings.Contains(errOut, "warning: ") || !strings.Contains(errOut, "web-d") ||
		!strings.Contains(errOut, "error: 1 of the 4 Running pods") || !strings.Contains(out, "web-a, web-c") ||
		!strings.Contains(errOut, "read 4 of 4 pods") {
		t.Errorf("a pod that cannot be read: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	same := kubetest.NewServer(t, pods[0], pods[2])
	code, out, errOut = run(t, "", "--kubeconfig", same.Kubeconfig, "pc", "diff", "-l", "app=web", "-n", "shop")
	if code != 0 || !strings.Contains(out, "web-a, web-c (reference)") || strings.Contains(out, "Group 2") {
		t.Errorf("two replicas alike: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
}

// TestDiffConcurrency reads six pods with --concurrency 2: never more than two are asked at
// once.
func TestDiffConcurrency(t *testing.T) {
	doc := testutil.Generate(t, gendump.Options{})
	admin, err := envoytest.NewAdmin(doc, []byte(`{"cluster_statuses": []}`))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	inFlight, most, served := 0, 0, 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		inFlight++
		most = max(most, inFlight)
		mu.Unlock()
		time.Sleep(50 * time.Millisecond)
		admin.ServeHTTP(w, r)
		mu.Lock()
		inFlight--
		served++
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	var pods []kubetest.Pod
	for i := range 6 {
		pods = append(pods, kubetest.Pod{Name: fmt.Sprintf("web-%d", i), Namespace: "shop", Labels: map[string]string{"app": "web"},
			Forward: map[int32]string{15000: strings.TrimPrefix(srv.URL, "http://")}})
	}
	api := kubetest.NewServer(t, pods...)
	code, out, errOut := run(t, "", "--kubeconfig", api.Kubeconfig, "pc", "diff", "-l", "app=web", "-n", "shop", "--concurrency", "2")
	if code != 0 || !strings.Contains(out, "web-0, web-1, web-2, web-3, web-4, web-5 (reference)") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	if most > 2 || served != 6 {
		t.Errorf("%d requests at once (--concurrency 2), %d served (want 6)", most, served)
	}
}

// TestProxyStatusSemantic compares istiod's view with Envoy's as pc diff does, on the shared
// reference dumps, and keeps ps POD as it was.
func TestProxyStatusSemantic(t *testing.T) {
	dumps := filepath.Join(testutil.Root(), "..", "shared", "conformance", "dumps")
	istiodDump, err := os.ReadFile(filepath.Join(dumps, "istio__writer__compare__configdump.json"))
	if err != nil {
		t.Skip("../shared not found beside the checkout")
	}
	srv := istiodtest.NewServer(t, istiodtest.Options{ConfigDumps: map[string][]byte{"reviews-v3.default": istiodDump}})
	for _, tc := range []struct {
		envoy, golden string
		code          int
		args          []string
	}{
		{"istio__writer__compare__configdump.json", "ps_semantic_same.out", 0, nil},
		{"istio__writer__compare__configdump_diff.json", "ps_semantic_diff.out", 1, nil},
		{"istio__writer__compare__configdump_diff.json", "ps_semantic_diff.json", 1, []string{"-o", "json"}},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			args := append([]string{"ps", "reviews-v3.default", "--istiod-url", srv.URL, "--file", filepath.Join(dumps, tc.envoy), "--semantic"}, tc.args...)
			code, out, errOut := run(t, "", args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d: %s", code, tc.code, errOut)
			}
			testutil.Golden(t, "diff/"+tc.golden, []byte(strings.ReplaceAll(out, strings.TrimPrefix(srv.URL, "http://"), "$ISTIOD")))
		})
	}
	if code, _, errOut := run(t, "", "ps", "--semantic"); code != 2 || !strings.Contains(errOut, "name the pod") {
		t.Errorf("ps --semantic without a pod: exit %d: %s", code, errOut)
	}
}

func clipped(s string) string {
	if len(s) > 400 {
		return s[:400] + "..."
	}
	return s
}

// TestDiffFilterSelectsNothing: --name and --type that select no resource are an error (exit
// 3), not "No differences"; a filter that selects some compares those.
func TestDiffFilterSelectsNothing(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--name", "zzz"}, ExitDiffTrouble, `error: --name "zzz" selects no resource of either side`},
		{[]string{"--name", "zzz", "--type", "cluster"}, ExitDiffTrouble, `error: --name "zzz" and --type cluster select no resource of either side`},
		{[]string{"--name", "9080"}, 0, ""},
	} {
		code, out, errOut := run(t, "", append([]string{"pc", "diff", sampleDump, sampleDump}, tc.args...)...)
		if code != tc.code || !strings.HasPrefix(errOut, tc.want) || (tc.code == 0 && !strings.HasPrefix(out, "No differences (2 clusters")) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", tc.args, code, out, errOut)
		}
	}
}
