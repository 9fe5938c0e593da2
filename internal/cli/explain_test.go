package cli

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/proxyctl/proxyctl/internal/envoytest"
	"github.com/proxyctl/proxyctl/internal/gendump"
	"github.com/proxyctl/proxyctl/internal/testutil"
)

var (
	gatewayDump     = testutil.Path("testdata", "explain", "gateway.json")
	gatewayClusters = testutil.Path("testdata", "explain", "gateway-clusters.json")
	waypointDump    = testutil.Path("testdata", "explain", "waypoint.json")
)

// sidecarDump writes the generated mesh of 8 services (bookinfo and Istio's own) to a file:
// a realistic sidecar's config dump, with EDS.
func sidecarDump(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sidecar.json")
	if err := os.WriteFile(path, testutil.GeneratedDump(t, 8), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestExplainGoldens explains requests on the project's fixtures, every step and every error
// of the trace among them, and compares the output with testdata/golden/explain.
func TestExplainGoldens(t *testing.T) {
	sidecar := sidecarDump(t)
	cases := []struct {
		name string
		args []string
		code int
		err  string // the "error" of the JSON form
	}{
		// A sidecar (generated): outbound to a service, inbound, TCP services, a header route.
		{"sidecar_outbound", []string{"-f", sidecar, "--url", "http://reviews.default:9080/reviews/0"}, 0, ""},
		{"sidecar_outbound_verbose", []string{"-f", sidecar, "--url", "http://reviews.default:9080/reviews/0", "--verbose", "--random-value", "50"}, 0, ""},
		{"sidecar_header_route", []string{"-f", sidecar, "--url", "http://reviews.default:9080/api/v2/x", "-H", "x-canary: true"}, 0, ""},
		{"sidecar_inbound", []string{"-f", sidecar, "--mode", "inbound", "--port", "9080", "--tls", "mtls", "--host", "productpage.default"}, 0, ""},
		{"sidecar_inbound_plaintext_verbose", []string{"-f", sidecar, "--mode", "inbound", "--port", "9080", "--host", "productpage", "--verbose"}, 0, ""},
		{"sidecar_tcp", []string{"-f", sidecar, "--url", "tcp://kubernetes.default.svc.cluster.local:443"}, 0, ""},
		{"sidecar_passthrough", []string{"-f", sidecar, "--url", "http://example.com/", "--address", "93.184.216.34"}, 0, ""},
		{"sidecar_virtual_outbound", []string{"-f", sidecar, "--url", "tcp://203.0.113.9:5000"}, 0, ""},
		{"sidecar_json", []string{"-f", sidecar, "--url", "http://ratings.default:9080/ratings/1", "-o", "json"}, 0, ""},
		// A gateway (written): hosts, TLS, redirects, direct responses, weighted clusters.
		{"gateway_host", []string{"-f", gatewayDump, "--url", "http://bookinfo.example.com:8080/productpage"}, 0, ""},
		{"gateway_header_route", []string{"-f", gatewayDump, "--url", "http://bookinfo.example.com:8080/reviews/1", "-H", "end-user: jason", "--verbose"}, 0, ""},
		{"gateway_weighted", []string{"-f", gatewayDump, "--url", "http://bookinfo.example.com:8080/reviews/1", "--random-value", "95"}, 0, ""},
		{"gateway_redirect", []string{"-f", gatewayDump, "--url", "http://bookinfo.example.com:8080/shop/cart?id=3"}, 0, ""},
		{"gateway_direct_response", []string{"-f", gatewayDump, "--url", "http://bookinfo.example.com:8080/healthz"}, 0, ""},
		{"gateway_rewrite", []string{"-f", gatewayDump, "--url", "http://bookinfo.example.com:8080/api/v1/books", "-o", "yaml"}, 0, ""},
		{"gateway_wildcard_host", []string{"-f", gatewayDump, "--url", "http://eu.shop.example.com:8080/"}, 0, ""},
		{"gateway_https", []string{"-f", gatewayDump, "--url", "https://bookinfo.example.com:8443/", "--verbose"}, 0, ""},
		{"gateway_mtls", []string{"-f", gatewayDump, "--url", "https://api.partners.example.com:8443/", "--tls", "mtls", "--alpn", "h2", "--protocol", "http2"}, 0, ""},
		{"gateway_tls_passthrough", []string{"-f", gatewayDump, "--url", "tcp://db.example.com:8443", "--tls", "tls"}, 0, ""},
		{"gateway_tcp_weighted", []string{"-f", gatewayDump, "--url", "tcp://tcp-echo.example.com:31400", "--random-value", "85", "-o", "json"}, 0, ""},
		{"gateway_jsonpath", []string{"-f", gatewayDump, "--url", "http://bookinfo.example.com:8080/productpage", "-o", "jsonpath={.listener} {.filter_chain_index} {.route} {.cluster}"}, 0, ""},
		// Each error.
		{"error_no_listener", []string{"-f", gatewayDump, "--url", "http://bookinfo.example.com:9999/", "-o", "json"}, 1, "no_listener"},
		{"error_no_filter_chain", []string{"-f", gatewayDump, "--url", "https://unknown.example.com:8443/", "--verbose"}, 1, ""},
		{"error_no_filter_chain_json", []string{"-f", gatewayDump, "--url", "https://unknown.example.com:8443/", "-o", "json"}, 1, "no_filter_chain"},
		{"error_no_virtual_host", []string{"-f", gatewayDump, "--url", "http://nope.example.com:8080/", "--verbose"}, 1, ""},
		{"error_no_route", []string{"-f", gatewayDump, "--url", "http://bookinfo.example.com:8080/nothing/here", "--verbose"}, 1, ""},
		{"error_tls_required", []string{"-f", gatewayDump, "--url", "http://secure.example.com:8080/login", "-o", "json"}, 1, "tls_required"},
		{"error_protocol_error", []string{"-f", gatewayDump, "--url", "tcp://bookinfo.example.com:8080"}, 1, ""},
		{"error_protocol_error_tls", []string{"-f", waypointDump, "--listener", "main_internal", "--address", "10.1.2.3", "--port", "80", "--tls", "tls"}, 1, ""},
		{"sidecar_tls_to_http_port", []string{"-f", sidecar, "--url", "https://reviews.default:9080/"}, 0, ""},
		{"error_tls_error", []string{"-f", gatewayDump, "--url", "http://admin.example.com:9443/", "-o", "json"}, 1, "tls_error"},
		{"error_mtls_error", []string{"-f", gatewayDump, "--url", "https://api.partners.example.com:8443/", "-o", "json"}, 1, "mtls_error"},
		// A waypoint: the filter chain matcher of an internal listener, reached through HBONE.
		{"waypoint_connect", []string{"-f", waypointDump, "--port", "15008", "--tls", "mtls", "--protocol", "http2", "--alpn", "h2", "--method", "CONNECT", "--host", "10.96.186.205:8000"}, 0, ""},
		{"waypoint_matcher", []string{"-f", waypointDump, "--listener", "main_internal", "--address", "10.96.186.205", "--port", "8000", "--host", "httpbin.ambient", "--verbose"}, 0, ""},
		{"waypoint_matcher_no_match", []string{"-f", waypointDump, "--listener", "main_internal", "--address", "10.1.2.3", "--port", "5432", "--protocol", "tcp"}, 0, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := run(t, "", append([]string{"pc", "explain"}, tc.args...)...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d: %s\n%s", code, tc.code, errOut, out)
			}
			ext := ".out"
			switch {
			case strings.HasSuffix(tc.name, "_json") || tc.err != "":
				ext = ".json"
				var e struct {
					Error *string `json:"error"`
				}
				if err := json.Unmarshal([]byte(out), &e); err != nil || e.Error == nil {
					t.Fatalf("output is not an explanation in JSON (%v):\n%.500s", err, out)
				}
				if *e.Error != tc.err {
					t.Errorf("error %q, want %q", *e.Error, tc.err)
				}
			case strings.Contains(strings.Join(tc.args, " "), "-o yaml"):
				ext = ".yaml"
			}
			testutil.Golden(t, "explain/"+tc.name+ext, []byte(out))
		})
	}
}

// TestExplainContract checks the JSON keys the issue names, with their types, on a request
// that gets through and on one that stops.
func TestExplainContract(t *testing.T) {
	for _, args := range [][]string{
		{"--url", "http://bookinfo.example.com:8080/productpage"},
		{"--url", "http://nope.example.com:8080/"},
	} {
		code, out, _ := run(t, "", append([]string{"pc", "x", "-f", gatewayDump, "-o", "json"}, args...)...)
		var m map[string]any
		if err := json.Unmarshal([]byte(out), &m); err != nil {
			t.Fatalf("%v: not JSON: %v", args, err)
		}
		for _, k := range []string{"listener", "filter_chain", "route_config", "virtual_host", "route", "cluster", "error"} {
			if _, ok := m[k].(string); !ok {
				t.Errorf("%v: %q is %T, want a string", args, k, m[k])
			}
		}
		for _, k := range []string{"filter_chain_index", "route_index"} {
			if v, ok := m[k]; !ok || (v != nil && func() bool { _, isNum := v.(float64); return !isNum }()) {
				t.Errorf("%v: %q is %v, want a number or null", args, k, v)
			}
		}
		if _, ok := m["request"].(map[string]any); !ok {
			t.Errorf("%v: no request object", args)
		}
		if _, ok := m["steps"].([]any); !ok {
			t.Errorf("%v: no steps", args)
		}
		if _, ok := m["endpoints"].([]any); !ok {
			t.Errorf("%v: endpoints is %T, want a list", args, m["endpoints"])
		}
		if (m["error"] != "") != (code == 1) {
			t.Errorf("%v: exit %d with error %q", args, code, m["error"])
		}
	}
	_, out, _ := run(t, "", "pc", "x", "-f", gatewayDump, "--url", "http://bookinfo.example.com:8080/productpage", "-o", "json")
	var e struct {
		FilterChainIndex *int   `json:"filter_chain_index"`
		RouteIndex       *int   `json:"route_index"`
		Route            string `json:"route"`
		Cluster          string `json:"cluster"`
	}
	json.Unmarshal([]byte(out), &e)
	if e.FilterChainIndex == nil || *e.FilterChainIndex != 0 || e.RouteIndex == nil || *e.RouteIndex != 2 || e.Route != "productpage" ||
		e.Cluster != "outbound|9080||productpage.bookinfo.svc.cluster.local" {
		t.Errorf("got %+v", e)
	}
}

// TestExplainLive explains through an admin API: one config_dump?include_eds=true and one
// /clusters?format=json, whose health (an ejected host) the endpoints show.
func TestExplainLive(t *testing.T) {
	dump, err := os.ReadFile(gatewayDump)
	if err != nil {
		t.Fatal(err)
	}
	clusters, err := os.ReadFile(gatewayClusters)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := envoytest.NewAdmin(dump, clusters)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(admin)
	defer srv.Close()
	code, out, errOut := run(t, "", "pc", "explain", "--admin-url", srv.URL, "--url", "http://bookinfo.example.com:8080/reviews/1", "-H", "end-user: jason", "--verbose")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	testutil.Golden(t, "explain/live_clusters.out", []byte(out))
	want := []string{"GET /config_dump?include_eds=true", "GET /clusters?format=json"}
	if got := admin.Requests(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("requests %v, want %v", got, want)
	}
	if !strings.Contains(out, "10.8.1.21:9080 UNHEALTHY") || !strings.Contains(out, "ejected by outlier detection") {
		t.Errorf("the ejected host is not shown as such:\n%s", out)
	}
}

// TestExplainGeneratedClusters: the generated /clusters document of the same mesh, from an
// admin API, gives the endpoints of the generated sidecar.
func TestExplainGeneratedClusters(t *testing.T) {
	var clusters bytes.Buffer
	if err := gendump.WriteClusters(&clusters, gendump.Options{Services: 8, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	admin, err := envoytest.NewAdmin(testutil.GeneratedDump(t, 8), clusters.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(admin)
	defer srv.Close()
	code, out, errOut := run(t, "", "pc", "x", "--admin-url", srv.URL, "--url", "http://ratings.default:9080/", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var e struct {
		Cluster   string `json:"cluster"`
		Endpoints []struct {
			Address string `json:"address"`
		} `json:"endpoints"`
		Steps []struct {
			Step, Rule string
		} `json:"steps"`
	}
	if err := json.Unmarshal([]byte(out), &e); err != nil {
		t.Fatal(err)
	}
	last := e.Steps[len(e.Steps)-1]
	if e.Cluster == "" || len(e.Endpoints) == 0 || last.Step != "ENDPOINTS" || !strings.Contains(last.Rule, "/clusters") {
		t.Errorf("cluster %q, %d endpoints, last step %+v", e.Cluster, len(e.Endpoints), last)
	}
}

// TestExplainUsage: a request that cannot be made is a usage error (exit 2), named.
func TestExplainUsage(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--host", "a"}, "give the destination port"},
		{[]string{"--port", "70000"}, "--port must be between 1 and 65535"},
		{[]string{"--url", "ftp://a/"}, "the scheme must be http, https or tcp"},
		{[]string{"--url", "tcp://a"}, "a tcp:// URL needs a port"},
		{[]string{"--url", "http://a:0/"}, "the port must be between 1 and 65535"},
		{[]string{"--port", "80", "--mode", "sideways"}, "unknown mode"},
		{[]string{"--port", "80", "--tls", "ssl"}, "unknown TLS mode"},
		{[]string{"--port", "80", "--protocol", "udp"}, "unknown protocol"},
		{[]string{"--port", "80", "--alpn", "h2"}, "--alpn needs --tls tls or mtls"},
		{[]string{"--port", "80", "--sni", "a.com"}, "--sni needs --tls tls or mtls"},
		{[]string{"--port", "80", "--address", "not-an-ip"}, "is not an IP address"},
		{[]string{"--port", "80", "--source-ip", "1.2.3"}, "is not an IP address"},
		{[]string{"--port", "80", "-H", "novalue"}, "a header is 'Name: value'"},
		{[]string{"--port", "80", "--path", "relative"}, "must start with /"},
	}
	for _, tc := range cases {
		code, _, errOut := run(t, "", append([]string{"pc", "explain", "-f", gatewayDump}, tc.args...)...)
		if code != ExitUsage || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 with %q", tc.args, code, errOut, tc.want)
		}
	}
	code, _, errOut := run(t, "", "pc", "explain", "-f", gatewayClusters, "--port", "80")
	if code != ExitRuntime || !strings.Contains(errOut, "not a config dump") {
		t.Errorf("a /clusters document: exit %d, %q", code, errOut)
	}
	code, _, errOut = run(t, "", "pc", "explain", "-f", testutil.Path("testdata", "explain", "missing.json"), "--port", "80")
	if code != ExitRuntime || !strings.Contains(errOut, "cannot open") {
		t.Errorf("a missing file: exit %d, %q", code, errOut)
	}
}

// TestGuideExplainExamples runs the worked examples of docs/guide.md's explain section and
// compares their output with what the guide shows.
func TestGuideExplainExamples(t *testing.T) {
	guide, err := os.ReadFile(testutil.Path("docs", "guide.md"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, block := range strings.Split(string(guide), "```console\n")[1:] {
		block, _, _ = strings.Cut(block, "```")
		cmd, want, _ := strings.Cut(block, "\n")
		line, ok := strings.CutPrefix(cmd, "$ proxyctl ")
		if !ok || !strings.HasPrefix(line, "pc explain ") {
			continue
		}
		n++
		args := splitWords(line)
		for i, a := range args {
			if strings.HasPrefix(a, "testdata/") {
				args[i] = testutil.Path(a)
			}
		}
		_, out, _ := run(t, "", append(args, "--quiet")...)
		if out != want {
			t.Errorf("docs/guide.md: %s prints\n%s\nnot what the guide shows:\n%s", line, out, want)
		}
	}
	if n < 6 {
		t.Errorf("the guide has %d explain examples, want 6", n)
	}
}

// splitWords splits a command line on spaces, keeping 'single-quoted' words whole.
func splitWords(s string) []string {
	var out []string
	var b strings.Builder
	quoted, in := false, false
	for _, r := range s {
		switch {
		case r == '\'':
			quoted, in = !quoted, true
		case r == ' ' && !quoted:
			if in {
				out = append(out, b.String())
				b.Reset()
			}
			in = false
		default:
			b.WriteRune(r)
			in = true
		}
	}
	if in {
		out = append(out, b.String())
	}
	return out
}

// TestExplainHostPrecedence: the request's host is the URL's, unless a Host (or :authority)
// header says otherwise, as curl sends it; --host wins over both.
func TestExplainHostPrecedence(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // the virtual host, "" for none
	}{
		{[]string{"--url", "http://10.8.0.5:8080/productpage"}, ""},
		{[]string{"--url", "http://10.8.0.5:8080/productpage", "-H", "Host: bookinfo.example.com"}, "bookinfo.example.com:80"},
		{[]string{"--url", "http://10.8.0.5:8080/productpage", "-H", ":authority: bookinfo.example.com"}, "bookinfo.example.com:80"},
		{[]string{"--url", "http://bookinfo.example.com:8080/productpage", "-H", "Host: nope.example.com"}, ""},
		{[]string{"--url", "http://10.8.0.5:8080/productpage", "-H", "Host: nope.example.com", "--host", "bookinfo.example.com"}, "bookinfo.example.com:80"},
	} {
		_, out, errOut := run(t, "", append([]string{"pc", "x", "-f", gatewayDump, "-o", "json"}, tc.args...)...)
		var e struct {
			VirtualHost string `json:"virtual_host"`
		}
		if err := json.Unmarshal([]byte(out), &e); err != nil {
			t.Fatalf("%v: not JSON (%v): %s", tc.args, err, errOut)
		}
		if e.VirtualHost != tc.want {
			t.Errorf("%v: virtual host %q, want %q", tc.args, e.VirtualHost, tc.want)
		}
	}
}
