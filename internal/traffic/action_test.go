package traffic

import (
	"testing"
	"time"
)

func TestClusterActions(t *testing.T) {
	r := routes(t, `
  - match: {prefix: /c}
    route: {cluster: fixed, timeout: 3s}
  - match: {prefix: /h}
    route: {cluster_header: X-Cluster}
  - match: {prefix: /n}
    non_forwarding_action: {}
  - match: {prefix: /p}
    route: {cluster_specifier_plugin: lua}
`)
	for _, tc := range []struct {
		path    string
		headers []string
		kind    ActionKind
		cluster string
		timeout time.Duration
	}{
		{"/c", nil, ActionCluster, "fixed", 3 * time.Second},
		{"/h", []string{"x-cluster", "one", "x-cluster", "two"}, ActionClusterHeader, "one", defaultRouteTimeout},
		{"/h", nil, ActionClusterHeader, "", defaultRouteTimeout},
		{"/n", nil, ActionNonForwarding, "", defaultRouteTimeout},
		{"/p", nil, ActionClusterPlugin, "", defaultRouteTimeout},
	} {
		res := r.Route(get("h", tc.path, tc.headers...))
		a := res.Action
		if a.Kind != tc.kind || a.Cluster != tc.cluster || a.Timeout != tc.timeout || !res.Forwarding() {
			t.Errorf("%s: %+v", tc.path, a)
		}
	}
}

// weighted_clusters: value % total weight, the first cluster whose cumulative weight exceeds it.
func TestWeightedClusters(t *testing.T) {
	r := routes(t, `
  - match: {prefix: /}
    route:
      weighted_clusters:
        clusters:
        - {name: c1, weight: 30}
        - {name: c2, weight: 30}
        - {name: zero, weight: 0}
        - {cluster_header: x-c, weight: 40}
`)
	for _, tc := range []struct {
		rv      uint64
		headers []string
		want    string
		picked  int
	}{
		{0, nil, "c1", 0}, {29, nil, "c1", 0}, {30, nil, "c2", 1}, {115, nil, "c1", 0}, {445, nil, "c2", 1},
		{60, []string{"x-c", "dyn"}, "dyn", 3}, {99, nil, "", 3}, {100, nil, "c1", 0},
	} {
		req := get("h", "/", tc.headers...)
		req.RandomValue = tc.rv
		a := r.Route(req).Action
		if a.Kind != ActionWeighted || a.Cluster != tc.want || a.Weighted.Picked != tc.picked || a.Weighted.Total != 100 || len(a.Weighted.Clusters) != 4 {
			t.Errorf("rv %d: %+v %+v", tc.rv, a, a.Weighted)
		}
	}
	// header_name: the random value from a request header, when it has a single numeric value.
	r = routes(t, `
  - match: {prefix: /}
    route: {weighted_clusters: {header_name: x-rv, clusters: [{name: a, weight: 1}, {name: b, weight: 1}]}}
`)
	for _, tc := range []struct {
		headers []string
		want    string
	}{{[]string{"x-rv", "1"}, "b"}, {[]string{"x-rv", "x"}, "a"}, {[]string{"x-rv", "1", "x-rv", "1"}, "a"}} {
		if got := r.Route(get("h", "/", tc.headers...)).Action.Cluster; got != tc.want {
			t.Errorf("%v: %s, want %s", tc.headers, got, tc.want)
		}
	}
	if _, err := NewRouter(config(t, `virtual_hosts: [{name: v, domains: ['*'], routes: [{match: {prefix: /}, route: {weighted_clusters: {clusters: [{name: a, weight: 0}]}}}]}]`), Options{}); err == nil {
		t.Error("zero total weight accepted")
	}
}

// Redirects: Http::Utility::newUri and the redirect's path rewrites.
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/route/v3/route_components.proto#config-route-v3-redirectaction
func TestRedirects(t *testing.T) {
	for _, tc := range []struct {
		name, redirect, match, authority, path, proto string
		code                                          uint32
		want                                          string
	}{
		{"host", `{host_redirect: new.com}`, "prefix: /", "old.com", "/a?q", "http", 301, "http://new.com/a?q"},
		{"path keeps the query", `{path_redirect: /b}`, "prefix: /", "h", "/a?q=1", "http", 301, "http://h/b?q=1"},
		{"path with a query replaces it", `{path_redirect: "/b?x"}`, "prefix: /", "h", "/a?q=1", "http", 301, "http://h/b?x"},
		{"strip query", `{path_redirect: /b, strip_query: true}`, "prefix: /", "h", "/a?q=1", "http", 301, "http://h/b"},
		{"strip query keeps path_redirect's", `{path_redirect: "/b?x", strip_query: true}`, "prefix: /", "h", "/a?q", "http", 301, "http://h/b?x"},
		{"https", `{https_redirect: true}`, "prefix: /", "h", "/a", "http", 301, "https://h/a"},
		{"https drops :80", `{https_redirect: true}`, "prefix: /", "h:80", "/a", "http", 301, "https://h/a"},
		{"https keeps :8080", `{https_redirect: true}`, "prefix: /", "h:8080", "/a", "http", 301, "https://h:8080/a"},
		{"scheme", `{scheme_redirect: ftp}`, "prefix: /", "h", "/a", "http", 301, "ftp://h/a"},
		{"port", `{port_redirect: 8443}`, "prefix: /", "h:80", "/a", "http", 301, "http://h:8443/a"},
		{"port with host", `{host_redirect: n.com, port_redirect: 81}`, "prefix: /", "h", "/a", "http", 301, "http://n.com:81/a"},
		{"ipv6 port", `{https_redirect: true}`, "prefix: /", "[::1]:80", "/a", "http", 301, "https://[::1]/a"},
		{"prefix rewrite", `{prefix_rewrite: /new}`, "prefix: /old", "h", "/old/x?q", "http", 301, "http://h/new/x?q"},
		{"regex rewrite", `{regex_rewrite: {pattern: {regex: "^/v([0-9])/(.*)$"}, substitution: "/\\2/version\\1"}}`, "prefix: /", "h", "/v1/a?q", "http", 301, "http://h/a/version1?q"},
		{"found", `{host_redirect: nn, response_code: FOUND}`, "prefix: /", "h", "/", "http", 302, "http://nn/"},
		{"see other", `{host_redirect: nn, response_code: SEE_OTHER}`, "prefix: /", "h", "/", "http", 303, "http://nn/"},
		{"temporary", `{host_redirect: nn, response_code: TEMPORARY_REDIRECT}`, "prefix: /", "h", "/", "http", 307, "http://nn/"},
		{"permanent", `{host_redirect: nn, response_code: PERMANENT_REDIRECT}`, "prefix: /", "h", "/", "http", 308, "http://nn/"},
		{"path without slash", `{path_redirect: b}`, "prefix: /", "h", "/a", "http", 301, "http://h/b"},
		{"scheme from the request", `{host_redirect: nn}`, "prefix: /", "h", "/a", "https", 301, "https://nn/a"},
	} {
		r := routes(t, "  - match: {"+tc.match+"}\n    redirect: "+tc.redirect+"\n")
		req := get(tc.authority, tc.path)
		req.Scheme = tc.proto
		res := r.Route(req)
		rd := res.Action.Redirect
		if res.Action.Kind != ActionRedirect || rd == nil || rd.Location != tc.want || rd.Code != tc.code || !res.DirectResponse() {
			t.Errorf("%s: %+v %+v, want %d %s", tc.name, res.Action, rd, tc.code, tc.want)
			continue
		}
		if st, _ := res.ResponseHeaders.First(":status"); st != sprintf("%d", tc.code) || res.ResponseHeaders.Has("content-type") {
			t.Errorf("%s: response headers %v", tc.name, res.ResponseHeaders)
		}
	}
}

// direct_response: the local reply's headers (content-type text/plain and content-length only
// with a body), then the route's response headers.
func TestDirectResponse(t *testing.T) {
	r := routes(t, `
  - match: {path: /body}
    direct_response: {status: 200, body: {inline_string: "hello"}}
    response_headers_to_add: [{header: {key: content-type, value: application/json}}]
  - match: {path: /empty}
    direct_response: {status: 204}
  - match: {path: /json}
    direct_response: {status: 503, body: {inline_string: "{}"}}
    response_headers_to_add: [{header: {key: content-type, value: application/json}, append_action: OVERWRITE_IF_EXISTS_OR_ADD}]
  - match: {path: /file}
    direct_response: {status: 200, body: {filename: /etc/x}}
`)
	for _, tc := range []struct {
		path, body, ct, cl string
		status             uint32
		notes              int
	}{
		{"/body", "hello", "text/plain,application/json", "5", 200, 0},
		{"/empty", "", "", "", 204, 0},
		{"/json", "{}", "application/json", "2", 503, 0},
		{"/file", "", "", "", 200, 1},
	} {
		res := r.Route(get("h", tc.path))
		a := res.Action
		ct, _ := res.ResponseHeaders.Joined("content-type")
		cl, _ := res.ResponseHeaders.Joined("content-length")
		if a.Kind != ActionDirectResponse || a.Status != tc.status || a.Body != tc.body || ct != tc.ct || cl != tc.cl || len(res.Notes) != tc.notes {
			t.Errorf("%s: %+v ct=%q cl=%q notes=%v", tc.path, a, ct, cl, res.Notes)
		}
	}
}

func TestVirtualClusters(t *testing.T) {
	r := router(t, `
virtual_hosts:
- name: v
  domains: ['*']
  routes: [{match: {prefix: /}, route: {cluster: c}}]
  virtual_clusters:
  - {name: rides, headers: [{name: ":path", string_match: {safe_regex: {regex: "^/rides/\\d+$"}}}, {name: ":method", string_match: {exact: PUT}}]}
- name: none
  domains: [none]
  routes: [{match: {prefix: /}, route: {cluster: c}}]
`)
	for _, tc := range []struct{ host, method, path, want string }{
		{"h", "PUT", "/rides/1", "rides"}, {"h", "GET", "/rides/1", "other"}, {"h", "PUT", "/rides/x", "other"}, {"none", "PUT", "/rides/1", ""},
	} {
		req := get(tc.host, tc.path)
		req.Method = tc.method
		if got := r.Route(req).VirtualCluster; got != tc.want {
			t.Errorf("%+v: %q", tc, got)
		}
	}
}
