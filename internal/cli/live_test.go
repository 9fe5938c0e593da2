package cli

import (
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/proxyctl/proxyctl/internal/envoytest"
)

func startAdmin(t *testing.T) (*envoytest.Admin, string) {
	t.Helper()
	dump, err := os.ReadFile(sampleDump)
	if err != nil {
		t.Fatal(err)
	}
	clusters, err := os.ReadFile(sampleClusters)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := envoytest.NewAdmin(dump, clusters)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(admin)
	t.Cleanup(srv.Close)
	return admin, srv.URL
}

// TestAdminURL runs each view against an Envoy admin API stand-in: the output must be the one
// the same view gives on the dump file, and only what the view needs is fetched.
func TestAdminURL(t *testing.T) {
	cases := []struct {
		view     []string
		file     string // the file giving the same output
		requests []string
	}{
		{[]string{"cluster"}, sampleDump, []string{"GET /config_dump?mask=dynamic_active_clusters,static_clusters"}},
		{[]string{"cluster", "-o", "json"}, sampleDump, []string{"GET /config_dump?mask=dynamic_active_clusters,static_clusters"}},
		{[]string{"listener"}, sampleDump, []string{"GET /config_dump?mask=dynamic_listeners,static_listeners"}},
		{[]string{"route", "--name", "9080", "-o", "yaml"}, sampleDump, []string{"GET /config_dump?mask=dynamic_route_configs,static_route_configs"}},
		{[]string{"secret"}, sampleDump, []string{"GET /config_dump?mask=static_secrets,dynamic_active_secrets,dynamic_warming_secrets"}},
		{[]string{"bootstrap", "-o", "short"}, sampleDump, []string{"GET /config_dump?mask=bootstrap,last_updated"}},
		{[]string{"endpoint"}, sampleClusters, []string{"GET /clusters?format=json"}},
		{[]string{"all", "--with-headers"}, sampleDump, []string{"GET /config_dump?include_eds=true"}},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.view, " "), func(t *testing.T) {
			admin, url := startAdmin(t)
			code, live, errOut := run(t, "", append([]string{"pc"}, append(tc.view, "--admin-url", url)...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			_, fromFile, _ := run(t, "", append([]string{"pc"}, append(tc.view, "-f", tc.file)...)...)
			if live != fromFile {
				t.Errorf("admin URL and file outputs differ:\n%s\n---\n%s", live, fromFile)
			}
			if got := admin.Requests(); strings.Join(got, "|") != strings.Join(tc.requests, "|") {
				t.Errorf("requests %v, want %v", got, tc.requests)
			}
		})
	}
}

// TestAdminURLErrors checks the messages of admin APIs that fail.
func TestAdminURLErrors(t *testing.T) {
	serve := func(h http.HandlerFunc) string {
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		return srv.URL
	}
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()
	cases := []struct {
		name string
		url  string
		args []string
		code int
		want string
	}{
		{"500", serve(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "envoy overloaded\nsecond line", http.StatusInternalServerError)
		}), nil, ExitRuntime, "answered 500 Internal Server Error to GET /config_dump: envoy overloaded"},
		{"HTML", serve(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte("<html><body>Sign in</body></html>"))
		}), nil, ExitRuntime, "answered an HTML page to GET /config_dump, not Envoy's JSON"},
		{"nothing listening", closedURL, nil, ExitRuntime, "nothing answers at 127.0.0.1:"},
		{"stalls", serve(func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"configs": [`))
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		}), []string{"--timeout", "300ms"}, ExitRuntime, "took longer than --timeout 300ms"},
		{"not a URL", "ftp://localhost:15000", nil, ExitUsage, `admin URL "ftp://localhost:15000" is not of the form [http://]HOST:PORT`},
		{"no host", "http://", nil, ExitUsage, `admin URL "http://" is not of the form [http://]HOST:PORT`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			code, out, errOut := run(t, "", append([]string{"pc", "cluster", "--admin-url", tc.url}, tc.args...)...)
			if code != tc.code || out != "" || !strings.Contains(errOut, tc.want) || strings.Count(errOut, "\n") != 1 {
				t.Errorf("exit %d (want %d), stdout %q, stderr %q (want %q)", code, tc.code, out, errOut, tc.want)
			}
			if time.Since(start) > 5*time.Second {
				t.Errorf("took %s", time.Since(start))
			}
		})
	}
}

// TestLogAdminURL reads and sets log levels through an admin URL.
func TestLogAdminURL(t *testing.T) {
	admin, url := startAdmin(t)
	code, out, errOut := run(t, "", "pc", "log", "--admin-url", url, "--level", "http:debug,router:trace")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "  http: debug\n") || !strings.Contains(out, "  router: trace\n") || !strings.HasPrefix(out, "active loggers:\n") {
		t.Errorf("output:\n%s", out)
	}
	if lv := admin.Levels(); lv["http"] != "debug" || lv["router"] != "trace" || lv["admin"] != "warning" {
		t.Errorf("levels %v", lv)
	}
	if code, _, errOut := run(t, "", "pc", "log", "--admin-url", url, "--level", "debug"); code != 0 || admin.Levels()["admin"] != "debug" {
		t.Errorf("--level debug: exit %d %s, levels %v", code, errOut, admin.Levels())
	}
	if code, _, errOut := run(t, "", "pc", "log", "--admin-url", url, "-r"); code != 0 || admin.Levels()["http"] != "warning" {
		t.Errorf("-r: exit %d %s, levels %v", code, errOut, admin.Levels())
	}
	code, _, errOut = run(t, "", "pc", "log", "--admin-url", url, "--level", "nosuch:debug")
	if code != ExitRuntime || !strings.Contains(errOut, "has no logger nosuch, so no level was changed") {
		t.Errorf("unknown logger: exit %d, %s", code, errOut)
	}
	for _, bad := range [][]string{{"--level", "loud"}, {"--level", "http"}, {"--level", "debug", "-r"}} {
		code, _, errOut := run(t, "", append([]string{"pc", "log", "--admin-url", url}, bad...)...)
		if code != ExitUsage || !strings.HasPrefix(errOut, "error: ") {
			t.Errorf("%v: exit %d, %s", bad, code, errOut)
		}
	}
}
