package cli

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/proxyctl/proxyctl/internal/envoytest"
	"github.com/proxyctl/proxyctl/internal/gendump"
	"github.com/proxyctl/proxyctl/internal/istiod/istiodtest"
	"github.com/proxyctl/proxyctl/internal/kubetest"
)

// TestAdminURLShape: --admin-url is http://HOST:PORT (a path prefix allowed); a query or a
// fragment is a usage error naming it, on every command that takes one.
func TestAdminURLShape(t *testing.T) {
	for _, tc := range []struct{ url, want string }{
		{"http://127.0.0.1:15000/ok?x=1", "has a query (?x=1): give [http://]HOST:PORT only"},
		{"http://127.0.0.1:15000?", "has a query"},
		{"127.0.0.1:15000?mask=x", "has a query"},
		{"http://127.0.0.1:15000/#frag", "has a fragment (#...)"},
		{"http://127.0.0.1:15000#", "has a fragment"},
		{"ftp://127.0.0.1:15000", "is not of the form [http://]HOST:PORT"},
	} {
		for _, cmd := range [][]string{{"pc", "cluster"}, {"pc", "all"}, {"pc", "log"}} {
			code, out, errOut := run(t, "", append(cmd, "--admin-url", tc.url)...)
			if code != ExitUsage || out != "" || !strings.Contains(errOut, tc.want) || strings.Count(errOut, "\n") != 1 {
				t.Errorf("%v --admin-url %s: exit %d, stderr %q; want exit 2 and %q", cmd, tc.url, code, errOut, tc.want)
			}
		}
	}
	// A path prefix is kept: the admin API behind a proxy that serves it under /envoy.
	admin, err := envoytest.NewAdmin(mustRead(t, sampleDump), mustRead(t, sampleClusters))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.StripPrefix("/envoy", admin))
	defer srv.Close()
	if code, _, errOut := run(t, "", "pc", "cluster", "--admin-url", srv.URL+"/envoy/"); code != 0 {
		t.Errorf("a path prefix: exit %d %s", code, errOut)
	}
}

// TestRedirects: an admin API or istiod may redirect a GET within its own host; a redirect to
// another host is refused, and a POST (pc log --level) is never sent again through one.
func TestRedirects(t *testing.T) {
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
		http.Error(w, "should not be asked", http.StatusTeapot)
	}))
	defer other.Close()
	admin, err := envoytest.NewAdmin(mustRead(t, sampleDump), mustRead(t, sampleClusters))
	if err != nil {
		t.Fatal(err)
	}
	istiod := istiodtest.NewServer(t, istiodtest.Options{Syncz: []byte(`[{"proxy": "web-1.shop", "istio_version": "1.24"}]`)})
	redirector := func(to string, code int) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch {
			case strings.HasPrefix(r.URL.Path, "/moved/"):
				r.URL.Path = strings.TrimPrefix(r.URL.Path, "/moved")
				if strings.HasPrefix(r.URL.Path, "/debug/") {
					istiod.Config.Handler.ServeHTTP(w, r)
					return
				}
				admin.ServeHTTP(w, r)
			case to == "":
				http.Redirect(w, r, "/moved"+r.URL.RequestURI(), code)
			default:
				http.Redirect(w, r, to+r.URL.RequestURI(), code)
			}
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	for _, tc := range []struct {
		name string
		args func(url string) []string
		to   string // "" redirects within the host
		code int
		want string // the error; "" for success
	}{
		{"GET within the host", func(u string) []string { return []string{"pc", "cluster", "--admin-url", u} }, "", http.StatusFound, ""},
		{"GET to another host", func(u string) []string { return []string{"pc", "cluster", "--admin-url", u} }, other.URL, http.StatusFound, "was redirected to " + other.URL + "/config_dump?mask=dynamic_active_clusters,static_clusters: refused: it leaves http://"},
		{"istiod GET within the host", func(u string) []string { return []string{"ps", "--istiod-url", u} }, "", http.StatusMovedPermanently, ""},
		{"istiod GET to another host", func(u string) []string { return []string{"ps", "--istiod-url", u} }, other.URL, http.StatusTemporaryRedirect, "refused: it leaves http://"},
		{"POST 307 within the host", func(u string) []string { return []string{"pc", "log", "--admin-url", u, "--level", "debug"} }, "", http.StatusTemporaryRedirect, "POST /logging was redirected to"},
		{"POST 308 to another host", func(u string) []string { return []string{"pc", "log", "--admin-url", u, "--level", "debug"} }, other.URL, http.StatusPermanentRedirect, "proxyctl does not repeat a request that changes a proxy's state"},
		{"POST 302 (a GET after it)", func(u string) []string { return []string{"pc", "log", "--admin-url", u, "-r"} }, "", http.StatusFound, "POST /logging was redirected"},
		{"POST 303 to another host", func(u string) []string { return []string{"pc", "log", "--admin-url", u} }, other.URL, http.StatusSeeOther, "POST /logging was redirected"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := admin.Levels()["admin"]
			elsewhere.Store(0)
			code, out, errOut := run(t, "", tc.args(redirector(tc.to, tc.code))...)
			switch {
			case tc.want == "" && (code != 0 || out == ""):
				t.Errorf("exit %d, stderr %q; want success", code, errOut)
			case tc.want != "" && (code != ExitRuntime || out != "" || !strings.Contains(errOut, tc.want) || strings.Count(errOut, "\n") != 1):
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 1 and %q", code, out, errOut, tc.want)
			}
			if n := elsewhere.Load(); n > 0 {
				t.Errorf("the other host was asked %d times", n)
			}
			if after := admin.Levels()["admin"]; after != before {
				t.Errorf("a POST went through a redirect: the level changed from %s to %s", before, after)
			}
		})
	}
}

// kubeFailure stands in for an API server that fails every request in one way.
type kubeFailure struct {
	name string
	kube func(t *testing.T) string // returns a kubeconfig
	want string
}

func kubeFailures(t *testing.T) []kubeFailure {
	status := func(code int, reason metav1.StatusReason, msg string) func(t *testing.T) string {
		return func(t *testing.T) string {
			api := kubetest.NewServer(t)
			api.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(code)
				fmt.Fprintf(w, `{"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": %q, "reason": %q, "code": %d}`, msg, reason, code)
				return true
			})
			return api.Kubeconfig
		}
	}
	return []kubeFailure{
		{"API server down", func(t *testing.T) string {
			api := kubetest.NewServer(t)
			api.Close()
			return api.Kubeconfig
		}, "cannot reach the Kubernetes API server at 127.0.0.1:"},
		{"forbidden", status(http.StatusForbidden, metav1.StatusReasonForbidden, `pods is forbidden: User "dev" cannot list resource "pods"`), "you may not read the pods with labels"},
		{"unauthorised", status(http.StatusUnauthorized, metav1.StatusReasonUnauthorized, "Unauthorized"), "the API server did not accept your credentials reading the pods with labels"},
	}
}

// TestKubernetesFailures: ps and pc log -l turn client-go's failures into one sentence naming
// the cause and the fix, as the pc views do.
func TestKubernetesFailures(t *testing.T) {
	for _, f := range kubeFailures(t) {
		for _, tc := range []struct {
			name  string
			args  []string
			wants []string
		}{
			{"ps", []string{"ps"}, []string{"istiod", "--istiod-url"}},
			{"pc log -l", []string{"pc", "log", "-l", "app=web", "-n", "shop"}, []string{"app=web", "--admin-url"}},
		} {
			t.Run(f.name+"/"+tc.name, func(t *testing.T) {
				start := time.Now()
				code, out, errOut := run(t, "", append(tc.args, "--kubeconfig", f.kube(t), "--timeout", "5s")...)
				if code != ExitRuntime || out != "" || !strings.Contains(errOut, f.want) || strings.Count(errOut, "\n") != 1 {
					t.Errorf("exit %d, stderr %q; want one line with %q", code, errOut, f.want)
				}
				for _, w := range tc.wants {
					if f.name != "unauthorised" && !strings.Contains(errOut, w) {
						t.Errorf("stderr %q lacks %q", errOut, w)
					}
				}
				if time.Since(start) > 5*time.Second {
					t.Errorf("took %s", time.Since(start))
				}
			})
		}
	}
}

// TestDeadIstiodPort: an istiod pod whose debug port has nothing listening is named as such,
// not as a bare EOF (ps then asks its xDS port, which fails here too).
func TestDeadIstiodPort(t *testing.T) {
	api := kubetest.NewServer(t, kubetest.Pod{Name: "istiod-1", Namespace: "istio-system", Labels: map[string]string{"app": "istiod"}})
	for _, args := range [][]string{{"ps"}, {"ps", "web-1.shop", "--file", sampleDump}} {
		code, _, errOut := run(t, "", append(args, "--kubeconfig", api.Kubeconfig, "--timeout", "5s")...)
		// Why it is closed: "nothing is listening there" when the forward reports the refused
		// connection in time, "the connection closed before any answer" when, on a loaded
		// machine, the stream closes first. Both name the port, never a bare EOF.
		want := "istiod istiod-1 in istio-system: the HTTP debug port 15014 is closed ("
		if code != ExitRuntime || !strings.Contains(errOut, want) || strings.Contains(errOut, ": EOF") {
			t.Errorf("%v: exit %d, stderr %q; want %q", args, code, errOut, want)
		}
	}
}

// TestRootCANoSharedRoot: rootca-compare prints the comparison, and stderr ends with the
// error line every failure has.
func TestRootCANoSharedRoot(t *testing.T) {
	var pods []kubetest.Pod
	for i, seed := range []uint64{1, 2} {
		var dump bytes.Buffer
		if err := gendump.Write(&dump, gendump.Options{Services: 1, Seed: seed}); err != nil {
			t.Fatal(err)
		}
		admin, err := envoytest.NewAdmin(dump.Bytes(), mustRead(t, sampleClusters))
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(admin)
		defer srv.Close()
		pods = append(pods, kubetest.Pod{Name: fmt.Sprintf("ca-%d", i), Namespace: "shop", Forward: map[int32]string{15000: strings.TrimPrefix(srv.URL, "http://")}})
	}
	api := kubetest.NewServer(t, pods...)
	code, out, errOut := run(t, "", "pc", "rootca-compare", "ca-0.shop", "ca-1.shop", "--kubeconfig", api.Kubeconfig)
	want := "error: pod ca-0 in namespace shop and pod ca-1 in namespace shop share no root CA: they cannot verify each other's certificates\n"
	if code != ExitRuntime || !strings.Contains(out, "have no ROOT CA in common") || !strings.HasSuffix(errOut, want) {
		t.Errorf("exit %d, stdout %q, stderr %q; want exit 1 and stderr ending %q", code, out, errOut, want)
	}
}

// TestLogTimeoutWords: a pc log that only reads the levels says "reading" when it times out;
// one that sets them says "setting".
func TestLogTimeoutWords(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer srv.Close()
	for _, tc := range []struct {
		args       []string
		want, not_ string
	}{
		{nil, "reading the log levels of", "setting"},
		{[]string{"--level", "debug"}, "setting the log levels of", "reading"},
		{[]string{"-r"}, "setting the log levels of", "reading"},
	} {
		code, _, errOut := run(t, "", append([]string{"pc", "log", "--admin-url", srv.URL, "--timeout", "300ms"}, tc.args...)...)
		if code != ExitRuntime || !strings.Contains(errOut, tc.want+" admin API "+srv.URL+" took longer than --timeout 300ms") || strings.Contains(errOut, tc.not_) {
			t.Errorf("%v: exit %d, stderr %q; want %q", tc.args, code, errOut, tc.want)
		}
	}
}

// TestHugeNames: a 16 MB cluster name or @type does not make a view hold many times its size, nor
// a note or an error quote it.
func TestHugeNames(t *testing.T) {
	huge := strings.Repeat("a", 16<<20)
	cluster := func(typeURL, name string) string {
		return `{"configs": [{"@type": "type.googleapis.com/envoy.admin.v3.ClustersConfigDump", "static_clusters": [{"cluster": {"@type": "` + typeURL + `", "name": "` + name + `", "connect_timeout": "` + huge[:1<<20] + `"}}]},
  {"@type": "type.googleapis.com/envoy.admin.v3.ListenersConfigDump", "static_listeners": [{"listener": {"@type": "type.googleapis.com/envoy.config.listener.v3.Listener", "name": "` + name + `"}}]},
  {"@type": "type.googleapis.com/x.` + name + `"}]}`
	}
	dir := t.TempDir()
	for _, tc := range []struct{ name, dump string }{
		{"name", cluster("type.googleapis.com/envoy.config.cluster.v3.Cluster", huge)},
		{"@type", cluster("type.googleapis.com/envoy.config."+huge, "c")},
	} {
		path := dir + "/" + strings.Trim(tc.name, "@") + ".json"
		if err := os.WriteFile(path, []byte(tc.dump), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, view := range [][]string{{"cluster"}, {"cluster", "-o", "json"}, {"listener"}, {"listener", "-o", "yaml"}, {"all"}, {"all", "-o", "json"}} {
			t.Run(tc.name+"/"+strings.Join(view, " "), func(t *testing.T) {
				peak := heapPeak(t)
				code, out, errOut := run(t, "", append(append([]string{"pc"}, view...), "-f", path)...)
				grew := peak()
				for _, line := range strings.Split(errOut, "\n") {
					if len(line) > 2100 {
						t.Errorf("a stderr line of %d bytes: %.200s", len(line), line)
					}
				}
				if code == 0 && len(out) == 0 {
					t.Errorf("no output")
				}
				// The output itself may hold the name (a table cell): beyond it, a few copies for
				// each section read at once (the tables of all read allAtOnce).
				copies := uint64(8)
				if len(view) == 1 && view[0] == "all" { // the tables; -o json is one pass
					copies *= allAtOnce
				}
				if grew > uint64(len(out))+copies*16<<20 {
					t.Errorf("the heap grew by %d MB for %d MB of output", grew>>20, len(out)>>20)
				}
			})
		}
	}
}
