package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/proxyctl/proxyctl/internal/routecheck"
	"github.com/proxyctl/proxyctl/internal/testutil"
)

var (
	shopConfig   = testutil.Path("testdata", "routecheck", "shop.yaml")
	shopTests    = testutil.Path("testdata", "routecheck", "shop-tests.yaml")
	shopFailures = testutil.Path("testdata", "routecheck", "shop-failures.yaml")
	sampleTests  = testutil.Path("docs", "examples", "route-check-sample.yaml")
)

// TestRouteCheck runs route-check as a CI job would: exit statuses, what goes to stdout and
// stderr, and router_check_tool's lines.
func TestRouteCheck(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	badConfig := write("bad.yaml", "virtual_hosts: [{name: v, domains: ['*'], routes: [{match: {prefix: /}, route: {cluster: c, timeout: soon}}]}]\n")
	dupConfig := write("dup.yaml", "virtual_hosts: [{name: a, domains: ['*']}, {name: b, domains: ['*']}]\n")
	badTests := write("bad-tests.json", `{"tests": [{"test_name": "x", "input": {"authority": "a", "path": "/", "method": "GE"}, "validate": {}}]}`)
	cases := []struct {
		name      string
		stdin     string
		args      []string
		code      int
		out, err  []string // each must be in stdout / stderr
		notOut    []string
		emptyOut  bool
		lastError string // the last line of stderr
	}{
		{name: "passes", args: []string{"-c", shopConfig, "-t", shopTests}, code: 0, out: []string{"Current route coverage: 114.286%\n"}},
		{name: "details", args: []string{"-c", shopConfig, "-t", shopTests, "-d"}, code: 0, out: []string{"cart\ncheckout is a virtual cluster\n", "backend by header\nCurrent route coverage: "}},
		{name: "covall fail under", args: []string{"-c", shopConfig, "-t", shopTests, "--covall", "-f", "80"}, code: 1,
			out: []string{"Current route coverage: 71.4286%"}, err: []string{"Failed to meet coverage requirement: 80%\n"}, lastError: "error: route coverage 71.4286% is under --fail-under 80%"},
		{name: "fail under met", args: []string{"-c", shopConfig, "-t", shopTests, "--fail-under", "100"}, code: 0},
		{name: "failures", args: []string{"-c", shopConfig, "-t", shopFailures, "--only-show-failures"}, code: 1,
			err: []string{"every string field\nexpected: [wrong], actual: [cart], test type: cluster_name\n"}, emptyOut: true, lastError: "error: 2 of 3 tests failed"},
		{name: "tests on stdin", stdin: "tests: [{test_name: t, input: {authority: anything, path: /ping, method: GET}, validate: {code_redirect: 200}}]",
			args: []string{"-c", shopConfig, "-t", "-"}, code: 0},
		{name: "sample dump", args: []string{"--file", sampleDump, "--route", "9080", "-t", sampleTests, "--details", "--fail-under", "100"}, code: 0,
			out: []string{"productpage by its short name\n", "Current route coverage: 100%\n"}},
		{name: "unknown route", args: []string{"--file", sampleDump, "--route", "90", "-t", sampleTests}, code: 1, emptyOut: true,
			lastError: `error: no route configuration named "90": the proxy has "9080", "InboundPassthroughClusterIpv4", "inbound|9080||", and 2 unnamed (inline in listeners)`},
		{name: "no route flag", args: []string{"--file", sampleDump, "-t", sampleTests}, code: 2, lastError: "error: name the route configuration to test with --route NAME (proxyctl pc route lists them)"},
		{name: "no config", args: []string{"-t", sampleTests}, code: 2, lastError: "error: route-check needs a route configuration"},
		{name: "no tests", args: []string{"-c", shopConfig}, code: 2, lastError: "error: route-check needs a route configuration"},
		{name: "two configs", args: []string{"-c", shopConfig, "--file", sampleDump, "-t", sampleTests}, code: 2, lastError: "error: give only one route configuration"},
		{name: "route with -c", args: []string{"-c", shopConfig, "--route", "x", "-t", sampleTests}, code: 2, lastError: "error: --route picks a route configuration"},
		{name: "malformed config", args: []string{"-c", badConfig, "-t", shopTests}, code: 2, emptyOut: true,
			lastError: "error: " + badConfig + `: virtual_hosts[0].routes[0].route.timeout: want a duration such as "1.5s", got "soon"`},
		{name: "config Envoy rejects", args: []string{"-c", dupConfig, "-t", shopTests}, code: 2, lastError: "only a single wildcard domain (*) is permitted"},
		{name: "malformed tests", args: []string{"-c", shopConfig, "-t", badTests}, code: 2,
			lastError: "error: " + badTests + `: tests[0] (x).input.method: must have at least 3 characters, got "GE"`},
		{name: "tests file as config", args: []string{"-c", shopTests, "-t", shopConfig}, code: 2,
			lastError: "error: " + shopTests + `: INVALID_ARGUMENT: envoy.config.route.v3.RouteConfiguration has no field "tests"`},
		{name: "missing file", args: []string{"-c", filepath.Join(dir, "nope.yaml"), "-t", shopTests}, code: 1, lastError: "nope.yaml: no such file or directory"},
		{name: "fail-under is not --file", args: []string{"-c", shopConfig, "-t", shopTests, "-f", "x"}, code: 2, lastError: `invalid argument "x" for "-f, --fail-under"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := run(t, tc.stdin, append([]string{"route-check"}, tc.args...)...)
			if code != tc.code {
				t.Errorf("exit %d, want %d\nstdout %s\nstderr %s", code, tc.code, out, errOut)
			}
			for _, w := range tc.out {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tc.err {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
			if tc.emptyOut && out != "" {
				t.Errorf("stdout should be empty: %q", out)
			}
			lines := strings.Split(strings.TrimSuffix(errOut, "\n"), "\n")
			if last := lines[len(lines)-1]; tc.lastError != "" && !strings.HasPrefix(last, tc.lastError) && !strings.Contains(last, tc.lastError) {
				t.Errorf("last stderr line %q, want %q", last, tc.lastError)
			}
			if tc.code == 0 && errOut != "" {
				t.Errorf("stderr should be empty: %q", errOut)
			}
		})
	}
}

// --output-path writes router_check_tool's binary ValidationResult.
func TestRouteCheckOutputPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "result.pb")
	code, _, errOut := run(t, "", "route-check", "-c", shopConfig, "-t", shopFailures, "-o", path, "--only-show-failures")
	if code != 1 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m, err := routecheck.DecodeValidationResult(b)
	if err != nil {
		t.Fatal(err)
	}
	if n := m.Get(m.Descriptor().Fields().ByName("test_results")).List().Len(); n != 2 {
		t.Errorf("%d results, want the 2 failed", n)
	}
}

// The same tests against the admin API of a proxy give the same result as against its dump.
func TestRouteCheckAdminURL(t *testing.T) {
	admin, url := startAdmin(t)
	code, out, errOut := run(t, "", "route-check", "--admin-url", url, "--route", "9080", "-t", sampleTests, "-d")
	_, fileOut, _ := run(t, "", "route-check", "--file", sampleDump, "--route", "9080", "-t", sampleTests, "-d")
	if code != 0 || out != fileOut {
		t.Errorf("exit %d, stdout %q, want %q (stderr %s)", code, out, fileOut, errOut)
	}
	if got := strings.Join(admin.Requests(), " "); got != "GET /"+pathRoutes {
		t.Errorf("requests %s", got)
	}
}

// TestRouteCheckStdin: -c or -t given as "-" read stdin, bounded by --timeout like every
// other reader (an idle pipe ends with the limit named), and not both at once.
func TestRouteCheckStdin(t *testing.T) {
	tests, err := os.ReadFile(shopTests)
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run(t, string(tests), "route-check", "-c", shopConfig, "-t", "-")
	if code != 0 || !strings.Contains(out, "Current route coverage") {
		t.Errorf("-t -: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, _, errOut = run(t, "", "route-check", "-c", "-", "-t", "-")
	if code != ExitUsage || !strings.Contains(errOut, "cannot both read stdin") {
		t.Errorf("-c - -t -: exit %d, stderr %q", code, errOut)
	}
	for _, args := range [][]string{{"-c", shopConfig, "-t", "-"}, {"-c", "-", "-t", shopTests}} {
		pr, pw, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		code, _, errOut := runWithStdin(t, pr, append([]string{"route-check", "--timeout", "300ms"}, args...)...)
		pw.Close()
		pr.Close()
		if code != ExitRuntime || errOut != "error: reading stdin took longer than --timeout 300ms: context deadline exceeded\n" {
			t.Errorf("%v on an idle pipe: exit %d, stderr %q", args, code, errOut)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("%v on an idle pipe took %s", args, d)
		}
	}
}
