package cli

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/proxyctl/proxyctl/internal/envoytest"
)

// TestDiffBundles: pc diff BUNDLE1 BUNDLE2 compares the proxies both captured, by name: one
// that changed between the captures, one that did not, one only in each; in every output.
func TestDiffBundles(t *testing.T) {
	sample := readFile(t, sampleDump)
	changed := []byte(strings.Replace(string(sample), `"connect_timeout": "10s"`, `"connect_timeout": "3s"`, 1))
	changedPath := filepath.Join(t.TempDir(), "changed.json")
	if err := os.WriteFile(changedPath, changed, 0o644); err != nil {
		t.Fatal(err)
	}
	_, stableURL := fullAdmin(t, sampleDump)
	// One proxy's admin API, whose configuration changes between the captures.
	var moving atomic.Pointer[envoytest.Admin]
	moving.Store(mustAdmin(t, sample))
	movingSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { moving.Load().ServeHTTP(w, r) }))
	defer movingSrv.Close()
	movingURL := movingSrv.URL
	_, goneURL := fullAdmin(t, sampleDump)
	before, code, _, errOut := capture(t, "--admin-url", stableURL, "--admin-url", movingURL, "--admin-url", goneURL)
	if code != 0 {
		t.Fatalf("capture: exit %d: %s", code, errOut)
	}
	// The second capture: the moving proxy changed, the gone one is gone, a new one came.
	moving.Store(mustAdmin(t, changed))
	_, newURL := fullAdmin(t, sampleDump)
	after, code, _, errOut := capture(t, "--admin-url", stableURL, "--admin-url", movingURL, "--admin-url", newURL)
	if code != 0 {
		t.Fatalf("capture: exit %d: %s", code, errOut)
	}
	s, m, g, n := hostOf(t, stableURL), hostOf(t, movingURL), hostOf(t, goneURL), hostOf(t, newURL)

	code, out, errOut := run(t, "", "pc", "diff", before, after)
	if code != ExitDifferent || errOut != "" {
		t.Fatalf("exit %d: %s\n%s", code, errOut, out)
	}
	for _, want := range []string{
		"PROXY ", s + " ", "same\n", m + " ", "1 resource differs\n", g + " ", "only in " + before + "\n", n + " ", "only in " + after + "\n",
		"\n" + m + ":\nTYPE ", "connect_timeout",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// The moving proxy's comparison is the one pc diff makes of its two config dumps.
	_, direct, _ := run(t, "", "pc", "diff", sampleDump, changedPath)
	if !strings.Contains(out, direct) {
		t.Errorf("the proxy's table is not the one of its dumps:\n%s\n--- dumps ---\n%s", out, direct)
	}

	code, out, _ = run(t, "", "pc", "diff", before, after, "-o", "json")
	var rep struct {
		From, To string
		Same     bool
		Proxies  []struct {
			Proxy string
			Diff  struct {
				From, To string
				Same     bool
			}
		}
		OnlyInFrom, OnlyInTo []string
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != ExitDifferent {
		t.Fatalf("exit %d, %v:\n%s", code, err, out)
	}
	if rep.From != before || rep.To != after || rep.Same || len(rep.Proxies) != 2 || strings.Join(rep.OnlyInFrom, ",") != g || strings.Join(rep.OnlyInTo, ",") != n {
		t.Errorf("report %+v", rep)
	}
	for _, p := range rep.Proxies {
		if p.Diff.Same != (p.Proxy == s) || p.Diff.From != p.Proxy+" in bundle "+before || p.Diff.To != p.Proxy+" in bundle "+after {
			t.Errorf("proxy %+v", p)
		}
	}
	code, out, _ = run(t, "", "pc", "diff", before, after, "-o", "name")
	names := []string{"proxy/" + m, "proxy/" + g, "proxy/" + n}
	sort.Strings(names)
	if want := strings.Join(names, "\n") + "\n"; code != ExitDifferent || out != want {
		t.Errorf("-o name: exit %d\n%s\nwant\n%s", code, out, want)
	}
	// A bundle against itself is the same.
	if code, out, errOut := run(t, "", "pc", "diff", before, before); code != 0 || strings.Contains(out, "differ") {
		t.Errorf("itself: exit %d %s\n%s", code, errOut, out)
	}
	// Bundles of one proxy each are those proxies, whatever their names.
	one, _, _, _ := capture(t, "--admin-url", stableURL)
	other, _, _, _ := capture(t, "--admin-url", newURL)
	if code, out, errOut := run(t, "", "pc", "diff", one, other); code != 0 || !strings.HasPrefix(out, "No differences") {
		t.Errorf("one against one: exit %d %s\n%s", code, errOut, out)
	}
	if code, _, errOut := run(t, "", "pc", "diff", one, sampleDump); code != 0 {
		t.Errorf("a bundle of one against a dump: exit %d %s", code, errOut)
	}
	// A bundle of several against a dump cannot be paired.
	if code, _, errOut := run(t, "", "pc", "diff", before, sampleDump); code != ExitUsage || !strings.Contains(errOut, "holds 3 proxies: pc diff compares it with another bundle, proxy by proxy") {
		t.Errorf("several against a dump: exit %d %s", code, errOut)
	}
}

func mustAdmin(t *testing.T, dump []byte) *envoytest.Admin {
	t.Helper()
	a, err := envoytest.NewAdmin(dump, readFile(t, sampleClusters))
	if err != nil {
		t.Fatal(err)
	}
	for path, file := range sampleDocs {
		a.SetDocument(path, readFile(t, filepath.Join(filepath.Dir(sampleDump), file)))
	}
	return a
}

// TestDiffBundlesWithFailedProxies: a proxy a capture failed to read is never compared as
// the same: pc diff lists it as not compared, with why, and exits 3; a bundle whose other
// proxies failed is its one captured proxy, against any proxy.
func TestDiffBundlesWithFailedProxies(t *testing.T) {
	_, okURL := fullAdmin(t, sampleDump)
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	withFailed, code, _, errOut := capture(t, "--admin-url", okURL, "--admin-url", deadURL)
	if code != ExitRuntime {
		t.Fatalf("capture with a dead proxy: exit %d: %s", code, errOut)
	}
	onlyOK, code, _, errOut := capture(t, "--admin-url", okURL)
	if code != 0 {
		t.Fatalf("capture: exit %d: %s", code, errOut)
	}
	o, d := hostOf(t, okURL), hostOf(t, deadURL)

	if code, out, errOut := run(t, "", "pc", "diff", withFailed, sampleDump); code != 0 || !strings.HasPrefix(out, "No differences") {
		t.Errorf("a bundle of one captured and one failed proxy against a dump: exit %d %s\n%s", code, errOut, out)
	}
	for _, tc := range []struct {
		a, b, why string
	}{
		{withFailed, withFailed, "not compared: not captured in either bundle: "},
		{withFailed, onlyOK, "not compared: not captured in " + withFailed + ": "},
		{onlyOK, withFailed, "not compared: not captured in " + withFailed + ": "},
	} {
		code, out, errOut := run(t, "", "pc", "diff", tc.a, tc.b)
		if code != ExitDiffTrouble || !strings.Contains(out, o+" ") || !strings.Contains(out, "same\n") ||
			!strings.Contains(out, d+" ") || !strings.Contains(out, tc.why) ||
			!strings.Contains(errOut, "error: 1 of the proxies of bundles "+tc.a+" and "+tc.b+" could not be compared ("+d+" first)") {
			t.Errorf("%s against %s: exit %d, stderr %q\n%s", tc.a, tc.b, code, errOut, out)
		}
	}
	code, out, _ := run(t, "", "pc", "diff", withFailed, onlyOK, "-o", "json")
	var rep struct {
		Same   bool
		Failed []struct{ Proxy, Error string }
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != ExitDiffTrouble || rep.Same ||
		len(rep.Failed) != 1 || rep.Failed[0].Proxy != d || !strings.HasPrefix(rep.Failed[0].Error, "not captured in "+withFailed+": ") {
		t.Errorf("-o json: exit %d, %v, %+v\n%s", code, err, rep, out)
	}
}
