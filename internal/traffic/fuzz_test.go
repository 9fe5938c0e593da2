package traffic

import "testing"

// FuzzRoute routes arbitrary requests through a configuration that uses every matcher and
// action: never a panic, and a result that is consistent.
func FuzzRoute(f *testing.F) {
	r := router(f, `
virtual_hosts:
- name: a
  domains: [a.com, "*.a.com", "a.*"]
  require_tls: EXTERNAL_ONLY
  routes:
  - match: {prefix: /p, case_sensitive: false, headers: [{name: x, range_match: {start: 1, end: 9}}], query_parameters: [{name: q, present_match: true}]}
    route: {cluster: p, prefix_rewrite: /, host_rewrite_path_regex: {pattern: {regex: "^/(.)"}, substitution: "\\1.h"}}
  - match: {safe_regex: {regex: "/r/([a-z]+)"}, cookies: [{name: c, string_match: {exact: v}}]}
    route: {cluster: r, regex_rewrite: {pattern: {regex: "([a-z]+)"}, substitution: "<\\1>"}}
  - match: {path_separated_prefix: /s}
    redirect: {regex_rewrite: {pattern: {regex: "s"}, substitution: "t"}, https_redirect: true, strip_query: true}
  - match: {connect_matcher: {}}
    route: {cluster_header: x-c}
- name: d
  domains: ["*"]
  routes:
  - match: {prefix: /, grpc: {}}
    direct_response: {status: 200, body: {inline_string: ok}}
    response_headers_to_add: [{header: {key: r, value: "%REQ(x)%"}}]
  - match: {prefix: /}
    route: {weighted_clusters: {header_name: x-rv, clusters: [{name: w1, weight: 1}, {cluster_header: x-w, weight: 2}]}}
    request_headers_to_add: [{header: {key: ip, value: "%DOWNSTREAM_REMOTE_ADDRESS%"}}]
`)
	f.Add("a.com", "/P?q", "GET", "http", "x", "5", uint64(0))
	f.Add("b.a.com:80", "/r/abc", "CONNECT", "https", "cookie", "c=v", uint64(7))
	f.Add("[::1]:8080", "/s/x?y", "GET", "https", "x-rv", "99999999999999999999", uint64(1<<63))
	f.Fuzz(func(t *testing.T, authority, path, method, scheme, name, value string, rv uint64) {
		res := r.Route(&Request{Authority: authority, Path: path, Method: method, Scheme: scheme,
			Headers: []Header{{name, value}, {"content-type", value}}, RandomValue: rv, RemoteIP: "::1"})
		if (res.Route == nil) != (res.RouteIndex < 0) || (res.VirtualHost == nil) != (res.VirtualHostIndex < 0) {
			t.Fatalf("inconsistent result %+v", res)
		}
		if res.Error == "" && !res.Forwarding() && !res.DirectResponse() {
			t.Fatalf("a route with no action: %+v", res.Action)
		}
	})
}
