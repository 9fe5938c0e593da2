package traffic

import "testing"

// Path rewrites: prefix_rewrite replaces what the route matched, regex_rewrite the whole path,
// path_template_rewrite by the template's variables; the query is kept.
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/route/v3/route_components.proto#config-route-v3-routeaction
func TestPathRewrites(t *testing.T) {
	for _, tc := range []struct {
		name, match, action, path, want, by string
	}{
		{"prefix", `{prefix: /api}`, `{cluster: c, prefix_rewrite: /v2}`, "/api/x?q", "/v2/x?q", "prefix_rewrite"},
		{"prefix to /", `{prefix: /api/}`, `{cluster: c, prefix_rewrite: /}`, "/api/x", "/x", "prefix_rewrite"},
		{"prefix case insensitive", `{prefix: /api, case_sensitive: false}`, `{cluster: c, prefix_rewrite: /v2}`, "/API/x", "/v2/x", "prefix_rewrite"},
		{"path", `{path: /foo}`, `{cluster: c, prefix_rewrite: /bar}`, "/foo", "/bar", "prefix_rewrite"},
		{"path keeps the query", `{path: /api/locations, case_sensitive: false}`, `{cluster: c, prefix_rewrite: /rewrote}`, "/API/locations?works=true", "/rewrote?works=true", "prefix_rewrite"},
		{"regex route prefix_rewrite replaces the path", `{safe_regex: {regex: "/a/.*"}}`, `{cluster: c, prefix_rewrite: /b}`, "/a/x?q", "/b?q", "prefix_rewrite"},
		{"separated prefix", `{path_separated_prefix: /api}`, `{cluster: c, prefix_rewrite: /v}`, "/api/x", "/v/x", "prefix_rewrite"},
		{"regex_rewrite", `{prefix: /}`, `{cluster: c, regex_rewrite: {pattern: {regex: "^/service/([^/]+)(/.*)$"}, substitution: "\\2/instance/\\1"}}`, "/service/foo/v1/api?q", "/v1/api/instance/foo?q", "regex_rewrite"},
		{"regex_rewrite every match", `{prefix: /}`, `{cluster: c, regex_rewrite: {pattern: {regex: "a"}, substitution: "b"}}`, "/aXa", "/bXb", "regex_rewrite"},
		{"regex_rewrite backslash", `{prefix: /}`, `{cluster: c, regex_rewrite: {pattern: {regex: "x"}, substitution: "\\\\"}}`, "/x", `/\`, "regex_rewrite"},
		{"none", `{prefix: /}`, `{cluster: c}`, "/a?b", "/a?b", ""},
	} {
		r := routes(t, "  - match: "+tc.match+"\n    route: "+tc.action+"\n")
		res := r.Route(get("h", tc.path))
		if res.Path != tc.want || res.PathRewrite != tc.by {
			t.Errorf("%s: %q by %q, want %q by %q", tc.name, res.Path, res.PathRewrite, tc.want, tc.by)
		}
		p, _ := res.RequestHeaders.First(":path")
		orig, hasOrig := res.RequestHeaders.First("x-envoy-original-path")
		if p != tc.want || hasOrig != (tc.by != "") || (hasOrig && orig != tc.path) {
			t.Errorf("%s: headers %v", tc.name, res.RequestHeaders)
		}
	}
}

// URI templates (envoy.path.match.uri_template / envoy.path.rewrite.uri_template).
func TestURITemplates(t *testing.T) {
	for _, tc := range []struct {
		match, rewrite, path string
		matched              bool
		want                 string
	}{
		{"/foo/{bar}", "/{bar}", "/foo/x", true, "/x"},
		{"/foo/{bar}", "/{bar}", "/foo/x/y", false, ""},
		{"/foo/{bar}/{rest=**}", "/{rest}/{bar}", "/foo/x/a/b/c?q=1", true, "/a/b/c/x?q=1"},
		{"/foo/*/bar", "/ok", "/foo/x/bar", true, "/ok"},
		{"/foo/**", "/ok", "/foo/", true, "/ok"},
		{"/api/{v=v1/*}/x", "/{v}", "/api/v1/z/x", true, "/v1/z"},
		{"/f.txt", "/g", "/fatxt", false, ""},
		{"/{a}.html", "/{a}", "/index.html", true, "/index"},
	} {
		r := routes(t, sprintf(`
  - match:
      path_match_policy:
        name: envoy.path.match.uri_template.uri_template_matcher
        typed_config: {"@type": type.googleapis.com/envoy.extensions.path.match.uri_template.v3.UriTemplateMatchConfig, path_template: %q}
    route:
      cluster: c
      path_rewrite_policy:
        name: envoy.path.rewrite.uri_template.uri_template_rewriter
        typed_config: {"@type": type.googleapis.com/envoy.extensions.path.rewrite.uri_template.v3.UriTemplateRewriteConfig, path_template_rewrite: %q}
`, tc.match, tc.rewrite))
		res := r.Route(get("h", tc.path))
		if (res.Error == "") != tc.matched || (tc.matched && (res.Path != tc.want || res.PathRewrite != "path_template_rewrite")) {
			t.Errorf("%s on %s: matched %t path %q, want %t %q (%v)", tc.match, tc.path, res.Error == "", res.Path, tc.matched, tc.want, res.Trace)
		}
	}
	for _, bad := range []string{"foo", "/{a}/{a}", "/**/*", "/{1a}", "/a{b}", "/{a=}", "/x y"} {
		if _, err := templateRegex(bad); err == nil {
			t.Errorf("template %q accepted", bad)
		}
	}
	if _, err := newURIRewrite("/{nope}", mustTemplate(t, "/{a}")); err == nil {
		t.Error("rewrite of an unknown variable accepted")
	}
}

func mustTemplate(t *testing.T, s string) *uriTemplate {
	tm, err := newURITemplate(s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// Host rewrites: host_rewrite_literal, host_rewrite_header (first value), host_rewrite_path_regex;
// append_x_forwarded_host.
func TestHostRewrites(t *testing.T) {
	for _, tc := range []struct {
		name, action string
		headers      []string
		want, by     string
		xfh          string
		notes        int
	}{
		{"literal", `{cluster: c, host_rewrite_literal: new}`, nil, "new", "host_rewrite_literal", "", 0},
		{"header", `{cluster: c, host_rewrite_header: X-Host}`, []string{"x-host", "a", "x-host", "b"}, "a", "host_rewrite_header", "", 0},
		{"header absent", `{cluster: c, host_rewrite_header: x-host}`, nil, "old", "", "", 0},
		{"path regex", `{cluster: c, host_rewrite_path_regex: {pattern: {regex: "^/([^/]+)/.*$"}, substitution: "\\1.svc"}}`, nil, "p.svc", "host_rewrite_path_regex", "", 0},
		{"auto", `{cluster: c, auto_host_rewrite: true}`, nil, "old", "", "", 1},
		{"xfh", `{cluster: c, host_rewrite_literal: new, append_x_forwarded_host: true}`, nil, "new", "host_rewrite_literal", "old", 0},
		{"xfh appends", `{cluster: c, host_rewrite_literal: new, append_x_forwarded_host: true}`, []string{"x-forwarded-host", "a"}, "new", "host_rewrite_literal", "a,old", 0},
		{"xfh idempotent", `{cluster: c, host_rewrite_literal: new, append_x_forwarded_host: true}`, []string{"x-forwarded-host", "old"}, "new", "host_rewrite_literal", "old", 0},
	} {
		r := routes(t, "  - match: {prefix: /}\n    route: "+tc.action+"\n")
		res := r.Route(get("old", "/p/x?q", tc.headers...))
		xfh, _ := res.RequestHeaders.Joined("x-forwarded-host")
		if res.Host != tc.want || res.HostRewrite != tc.by || xfh != tc.xfh || len(res.Notes) != tc.notes {
			t.Errorf("%s: host %q by %q xfh %q notes %v", tc.name, res.Host, res.HostRewrite, xfh, res.Notes)
		}
	}
}
