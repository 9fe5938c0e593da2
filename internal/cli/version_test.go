package cli

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/proxyctl/proxyctl/internal/buildinfo"
	"github.com/proxyctl/proxyctl/internal/istiod/istiodtest"
	"github.com/proxyctl/proxyctl/internal/testutil"
)

// sampleVersions are the versions the sample dump's bootstrap names.
const (
	sampleEnvoy       = "1.32.3-dev"
	sampleEnvoyBuild  = "1.32.3-dev/Clean/RELEASE/BoringSSL"
	sampleEnvoyCommit = "5f3b6b5c7a3e0b2a6b1c4f9d8e7a6b5c4d3e2f1a"
	sampleIstio       = "1.24.2"
)

func TestVersion(t *testing.T) {
	client := buildinfo.Get()
	_, adminURL := startAdmin(t)
	// An Envoy whose /server_info fails: the bootstrap answers for it.
	admin, _ := startAdmin(t)
	noServerInfo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/server_info" {
			http.Error(w, "admin endpoint disabled", http.StatusForbidden)
			return
		}
		admin.ServeHTTP(w, r)
	}))
	defer noServerInfo.Close()
	istiodA := istiodtest.NewServer(t, istiodtest.Options{Version: "1.24.2-0123abcd-Clean"})
	istiodB := istiodtest.NewServer(t, istiodtest.Options{Version: "1.25.0-beta.0-4567ef-Modified"})

	clientLine := "client version: " + client.Version
	tests := []struct {
		name string
		args []string
		want []string // lines of stdout, in order
	}{
		{"client", nil, []string{clientLine + " (" + client.GoVersion + ", " + client.Platform + ")"}},
		{"client short", []string{"--short"}, []string{clientLine}},
		{"file", []string{"-f", sampleDump}, []string{clientLine + " (" + client.GoVersion + ", " + client.Platform + ")",
			"proxy: file " + sampleDump,
			"  envoy version: " + sampleEnvoyBuild + " (commit " + sampleEnvoyCommit + ")",
			"  istio version: " + sampleIstio + " (proxy commit " + sampleEnvoyCommit + ")"}},
		{"file short", []string{"-f", sampleDump, "--short"}, []string{clientLine, "envoy version: " + sampleEnvoy, "istio version: " + sampleIstio}},
		// A bootstrap that names no build version (a waypoint's): unknown, not 0.0.0.
		{"no build version", []string{"-f", testutil.Path("testdata", "explain", "waypoint.json"), "--short"}, []string{clientLine, "envoy version: unknown"}},
		{"server_info", []string{"--admin-url", adminURL, "--short"}, []string{clientLine, "envoy version: " + sampleEnvoy, "istio version: " + sampleIstio}},
		{"bootstrap when server_info fails", []string{"--admin-url", noServerInfo.URL, "--short"}, []string{clientLine, "envoy version: " + sampleEnvoy, "istio version: " + sampleIstio}},
		{"remote, one version", []string{"--remote", "--istiod-url", "istiod-a=" + istiodA.URL, "--short"}, []string{clientLine, "control plane version: 1.24.2"}},
		{"remote, two versions", []string{"--remote", "--istiod-url", "istiod-a=" + istiodA.URL, "--istiod-url", "istiod-b=" + istiodB.URL},
			[]string{clientLine + " (" + client.GoVersion + ", " + client.Platform + ")",
				"control plane version: 1.24.2 (istiod-a, commit 0123abcd, Clean)",
				"control plane version: 1.25.0-beta.0 (istiod-b, commit 4567ef, Modified)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := run(t, "", append([]string{"version"}, tt.args...)...)
			if code != 0 || errOut != "" {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			if got := strings.Split(strings.TrimSuffix(out, "\n"), "\n"); strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("stdout:\n%s\nwant:\n%s", out, strings.Join(tt.want, "\n"))
			}
		})
	}
	if got := admin.Requests(); len(got) != 1 || got[0] != "GET /config_dump?mask=bootstrap,last_updated" {
		t.Errorf("without /server_info, the bootstrap must be read: %q", got)
	}

	// -o json and -o yaml: the same value; jsonpath over it.
	args := []string{"version", "--admin-url", adminURL, "--remote", "--istiod-url", "istiod-a=" + istiodA.URL}
	_, jsonOut, _ := run(t, "", append(args, "-o", "json")...)
	_, yamlOut, _ := run(t, "", append(args, "-o", "yaml")...)
	var fromJSON, fromYAML map[string]any
	if err := json.Unmarshal([]byte(jsonOut), &fromJSON); err != nil {
		t.Fatalf("-o json: %v\n%s", err, jsonOut)
	}
	if err := yaml.Unmarshal([]byte(yamlOut), &fromYAML); err != nil {
		t.Fatalf("-o yaml: %v\n%s", err, yamlOut)
	}
	want := map[string]any{
		"clientVersion": map[string]any{"version": client.Version, "goVersion": client.GoVersion, "platform": client.Platform},
		"proxyVersion": map[string]any{"source": "admin API " + adminURL, "envoyVersion": sampleEnvoy, "envoyBuild": sampleEnvoyBuild,
			"envoyCommit": sampleEnvoyCommit, "istioVersion": sampleIstio, "istioProxyCommit": sampleEnvoyCommit},
		"controlPlaneVersions": []any{map[string]any{"istiod": "istiod-a", "version": "1.24.2", "gitRevision": "0123abcd", "buildStatus": "Clean"}},
	}
	if client.GitCommit != "" {
		want["clientVersion"].(map[string]any)["gitCommit"] = client.GitCommit
	}
	if client.GitTreeState != "" {
		want["clientVersion"].(map[string]any)["gitTreeState"] = client.GitTreeState
	}
	if client.BuildDate != "" {
		want["clientVersion"].(map[string]any)["buildDate"] = client.BuildDate
	}
	wantJSON, _ := json.Marshal(want)
	gotJSON, _ := json.Marshal(fromJSON)
	gotYAML, _ := json.Marshal(fromYAML)
	if string(gotJSON) != string(wantJSON) || string(gotYAML) != string(wantJSON) {
		t.Errorf("-o json:\n%s\n-o yaml:\n%s\nwant:\n%s", gotJSON, gotYAML, wantJSON)
	}
	if _, out, _ := run(t, "", append(args, "-o", "jsonpath={.proxyVersion.envoyVersion} {.controlPlaneVersions[0].version}")...); out != sampleEnvoy+" 1.24.2" {
		t.Errorf("-o jsonpath: %q", out)
	}
}

// TestVersionErrors: what version refuses, and that what it learnt is printed before a failure.
func TestVersionErrors(t *testing.T) {
	code, out, errOut := run(t, "", "version", "-f", sampleClusters)
	if code != ExitRuntime || !strings.HasPrefix(out, "client version: ") || !strings.Contains(errOut, "bootstrap") {
		t.Errorf("a file without a bootstrap: exit %d\nstdout %q\nstderr %q", code, out, errOut)
	}
	broken := istiodtest.NewServer(t, istiodtest.Options{Raw: []byte("<html>login</html>")})
	code, out, errOut = run(t, "", "version", "--remote", "--istiod-url", broken.URL)
	if code != ExitRuntime || !strings.HasPrefix(out, "client version: ") || !strings.Contains(errOut, "not istiod's VERSION-REVISION-STATUS") {
		t.Errorf("an istiod that is not one: exit %d\nstdout %q\nstderr %q", code, out, errOut)
	}
	for _, args := range [][]string{
		{"version", "--istiod-url", "http://127.0.0.1:1"},
		{"version", "-o", "name"},
		{"version", "a", "b"},
		{"version", "-f", sampleDump, "--admin-url", "127.0.0.1:1"},
	} {
		if code, _, errOut := run(t, "", args...); code != ExitUsage {
			t.Errorf("%v: exit %d, %s", args, code, errOut)
		}
	}
}

// TestVersionLdflags builds proxyctl as make build does and checks the version it was given is
// the one it prints.
func TestVersionLdflags(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "proxyctl")
	const pkg = "github.com/proxyctl/proxyctl/internal/buildinfo"
	build := exec.Command("go", "build", "-o", bin, "-ldflags",
		"-X "+pkg+".version=v9.8.7-test -X "+pkg+".gitCommit=abcdef0123 -X "+pkg+".gitTreeState=clean", "./cmd/proxyctl")
	build.Dir = testutil.Root()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if want := "client version: v9.8.7-test (commit abcdef0123, clean, " + runtime.Version(); !strings.HasPrefix(string(out), want) {
		t.Errorf("version: %q, want it to start with %q", out, want)
	}
	out, err = exec.Command(bin, "version", "-o", "jsonpath={.clientVersion.version}").Output()
	if err != nil || string(out) != "v9.8.7-test" {
		t.Errorf("jsonpath: %q, %v", out, err)
	}
	// make build and make install stamp the same variables.
	for _, target := range []string{"build", "install"} {
		dry := exec.Command("make", "-n", target)
		dry.Dir = testutil.Root()
		out, err := dry.Output()
		if err != nil {
			t.Fatalf("make -n %s: %v", target, err)
		}
		for _, v := range []string{pkg + ".version=", pkg + ".gitCommit=", pkg + ".gitTreeState="} {
			if !strings.Contains(string(out), v) {
				t.Errorf("make %s does not set %s: %s", target, v, out)
			}
		}
	}
}
