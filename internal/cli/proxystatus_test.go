package cli

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/proxyctl/proxyctl/internal/istiod/istiodtest"
	"github.com/proxyctl/proxyctl/internal/testutil"
)

func syncz(t *testing.T, name string) []byte {
	return istiodtest.ReadFixture(t, testutil.Path("testdata", "istiod", name))
}

// istiodURLs starts one fake istiod per syncz fixture and returns the --istiod-url flags, each
// naming its replica after its fixture (istiod1...), as the reference outputs do.
func istiodURLs(t *testing.T, fixtures ...string) []string {
	var args []string
	for _, f := range fixtures {
		srv := istiodtest.NewServer(t, istiodtest.Options{Syncz: syncz(t, f)})
		args = append(args, "--istiod-url", strings.TrimSuffix(filepath.Base(f), ".json")+"="+srv.URL)
	}
	return args
}

// TestProxyStatus runs proxy-status against fake istiod replicas.
func TestProxyStatus(t *testing.T) {
	multi := []string{"multipilot/istiod1.json", "multipilot/istiod2.json", "multipilot/istiod3.json", "multipilot/istiod4.json"}
	cases := []struct {
		name     string
		fixtures []string
		args     []string
		code     int
	}{
		{"ps_multipilot.out", multi, nil, 0},
		{"ps_multipilot_verbose.out", multi[:1], []string{"-v", "1"}, 0},
		{"ps_multipilot.json", multi, []string{"-o", "json"}, 0},
		{"ps_multipilot.yaml", multi, []string{"-o", "yaml"}, 0},
		{"ps_singlepilot_failon.out", []string{"singlepilot/istiod1.json"}, []string{"--fail-on", "stale"}, ExitFailOn},
		{"ps_singlepilot_failon_error.out", []string{"singlepilot/istiod1.json"}, []string{"--fail-on", "error"}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := append(append([]string{"ps"}, istiodURLs(t, tc.fixtures...)...), tc.args...)
			code, out, errOut := run(t, "", args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d: %s", code, tc.code, errOut)
			}
			if tc.code == ExitFailOn && !strings.Contains(errOut, "--fail-on") {
				t.Errorf("stderr does not explain exit 3: %q", errOut)
			}
			testutil.Golden(t, "cli/"+tc.name, []byte(out))
		})
	}
}

// TestProxyStatusReplicas: a replica that fails is reported and the others are shown; when
// none answers, the command fails.
func TestProxyStatusReplicas(t *testing.T) {
	good := istiodtest.NewServer(t, istiodtest.Options{Syncz: syncz(t, "singlepilot/istiod1.json")})
	garbage := istiodtest.NewServer(t, istiodtest.Options{Raw: []byte("<html>login</html>")})
	slow := istiodtest.NewServer(t, istiodtest.Options{Syncz: syncz(t, "singlepilot/istiod1.json"), Delay: time.Minute})
	down := istiodtest.ClosedURL(t)

	start := time.Now()
	code, out, errOut := run(t, "", "ps", "--istiod-url", good.URL, "--istiod-url", down, "--istiod-url", garbage.URL, "--timeout", "2s")
	if code != 0 || !strings.Contains(out, "proxy1") || strings.Count(errOut, "warning: ") != 2 {
		t.Errorf("exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("took %s", time.Since(start))
	}
	code, out, errOut = run(t, "", "ps", "--istiod-url", down, "--istiod-url", slow.URL, "--timeout", "500ms")
	if code != ExitRuntime || out != "" || !strings.Contains(errOut, "no istiod answered (asked 2)") {
		t.Errorf("all down: exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
}

// TestProxyStatusNamespace: -n asks istiod for that namespace only, and filters.
func TestProxyStatusNamespace(t *testing.T) {
	a := istiodtest.NewServer(t, istiodtest.Options{Syncz: syncz(t, "namespaces/istiod-a.json")})
	code, out, errOut := run(t, "", "ps", "--istiod-url", a.URL, "-n", "default", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if got := a.Requests(); len(got) != 1 || got[0] != "/debug/syncz?namespace=default" {
		t.Errorf("requests %v", got)
	}
	if strings.Contains(out, `"namespace": "istio-system"`) || !strings.Contains(out, `"namespace": "default"`) {
		t.Errorf("not filtered:\n%s", out)
	}
}

// TestProxyStatusDiff compares istiod's and Envoy's configuration of one proxy.
func TestProxyStatusDiff(t *testing.T) {
	sample, err := os.ReadFile(sampleDump)
	if err != nil {
		t.Fatal(err)
	}
	// Envoy's side: the same dump, with a port changed in a cluster and a listener.
	changed := bytes.Replace(sample, []byte(`"outbound|9080||productpage.default.svc.cluster.local"`), []byte(`"outbound|9081||productpage.default.svc.cluster.local"`), 1)
	changed = bytes.Replace(changed, []byte(`"stat_prefix": "outbound_0.0.0.0_9080"`), []byte(`"stat_prefix": "outbound_0.0.0.0_9081"`), 1)
	if bytes.Equal(changed, sample) {
		t.Fatal("the fixture no longer has what the test changes")
	}
	envoyFile := filepath.Join(t.TempDir(), "envoy.json")
	if err := os.WriteFile(envoyFile, changed, 0o644); err != nil {
		t.Fatal(err)
	}
	srv := istiodtest.NewServer(t, istiodtest.Options{ConfigDumps: map[string][]byte{"productpage-v1.default": sample}})
	t.Setenv("TZ", "UTC")
	for _, tc := range []struct {
		name, file string
	}{{"ps_diff_same.out", sampleDump}, {"ps_diff_changed.out", envoyFile}} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := run(t, "", "ps", "productpage-v1.default", "--istiod-url", srv.URL, "--file", tc.file)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			testutil.Golden(t, "cli/"+tc.name, []byte(out))
		})
	}
	code, _, errOut := run(t, "", "ps", "nosuch.default", "--istiod-url", srv.URL, "--file", sampleDump)
	if code != ExitRuntime || !strings.Contains(errOut, "nosuch.default") {
		t.Errorf("unknown proxy: exit %d: %s", code, errOut)
	}

	// A pod without a namespace: "default" when there is no Kubernetes configuration at all;
	// a broken configuration is reported, not taken for "default".
	dir := t.TempDir()
	t.Setenv("KUBECONFIG", filepath.Join(dir, "none"))
	if code, _, errOut := run(t, "", "ps", "productpage-v1", "--istiod-url", srv.URL, "--file", sampleDump); code != 0 {
		t.Errorf("no kubeconfig: exit %d: %s", code, errOut)
	}
	broken := filepath.Join(dir, "broken")
	if err := os.WriteFile(broken, []byte("apiVersion: v1\nkind: Config\ncurrent-context: gone\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KUBECONFIG", broken)
	if code, _, errOut := run(t, "", "ps", "productpage-v1", "--istiod-url", srv.URL, "--file", sampleDump); code != ExitRuntime || !strings.Contains(errOut, "loading the Kubernetes configuration") {
		t.Errorf("broken kubeconfig: exit %d: %s", code, errOut)
	}
}

// TestProxyStatusDiffReference reproduces the reference diff on the shared compare dumps.
func TestProxyStatusDiffReference(t *testing.T) {
	ref := filepath.Join(testutil.Root(), "..", "shared", "reference", "proxy-status")
	dumps := filepath.Join(testutil.Root(), "..", "shared", "conformance", "dumps")
	istiodDump, err := os.ReadFile(filepath.Join(dumps, "istio__writer__compare__configdump.json"))
	if err != nil {
		t.Skip("../shared not found beside the checkout")
	}
	srv := istiodtest.NewServer(t, istiodtest.Options{ConfigDumps: map[string][]byte{"reviews-v3.default": istiodDump}})
	t.Setenv("TZ", "UTC")
	for envoy, want := range map[string]string{
		"istio__writer__compare__configdump_diff.json": "diff_compare.txt",
		"istio__writer__compare__configdump.json":      "diff_same.txt",
	} {
		code, out, errOut := run(t, "", "ps", "reviews-v3.default", "--istiod-url", srv.URL, "--file", filepath.Join(dumps, envoy))
		wantOut, err := os.ReadFile(filepath.Join(ref, want))
		if err != nil {
			t.Fatal(err)
		}
		if code != 0 || out != string(wantOut) {
			t.Errorf("%s: exit %d (%s)\n%s", want, code, errOut, out)
		}
	}
}

// TestProxyStatusErrors checks usage errors and a hanging istiod.
func TestProxyStatusErrors(t *testing.T) {
	hang := istiodtest.NewServer(t, istiodtest.Options{Delay: time.Minute})
	bad := istiodtest.NewServer(t, istiodtest.Options{Status: http.StatusServiceUnavailable})
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"ps", "--fail-on", "sometimes"}, ExitUsage, `invalid --fail-on value "sometimes"`},
		{[]string{"ps", "--file", sampleDump}, ExitUsage, "--file is Envoy's side of a diff"},
		{[]string{"ps", "pod.ns", "-o", "json"}, ExitUsage, "-o, --no-headers, -v and --fail-on apply to the status table"},
		{[]string{"ps", "deploy/x.ns", "--istiod-url", hang.URL}, ExitUsage, "proxy-status compares one pod"},
		{[]string{"ps", "--istiod-url", "not a url"}, ExitUsage, "invalid --istiod-url"},
		{[]string{"ps", "--istiod-url", hang.URL, "--timeout", "300ms"}, ExitRuntime, "no answer in time"},
		{[]string{"ps", "--istiod-url", bad.URL}, ExitRuntime, "503 Service Unavailable"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, out, errOut := run(t, "", tc.args...)
			if code != tc.code || out != "" || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d (want %d), stdout %q, stderr %q (want %q)", code, tc.code, out, errOut, tc.want)
			}
		})
	}
}
