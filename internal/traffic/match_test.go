package traffic

import (
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/structpb"
)

// one virtual host "*" with the given routes.
func routes(t *testing.T, y string) *Router {
	t.Helper()
	return router(t, "virtual_hosts:\n- name: v\n  domains: ['*']\n  routes:\n"+y)
}

// Path specifiers: prefix, path, safe_regex (full match), path_separated_prefix, case_sensitive;
// the query string and fragment are not part of the path matched.
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/route/v3/route_components.proto#config-route-v3-routematch
func TestPathSpecifiers(t *testing.T) {
	for _, tc := range []struct {
		name, match, path string
		want              bool
	}{
		{"prefix", `prefix: /api`, "/api/v1", true},
		{"prefix is not segment aware", `prefix: /api`, "/apix", true},
		{"prefix case", `prefix: /api`, "/API", false},
		{"prefix ignore case", `{prefix: /api, case_sensitive: false}`, "/API/x", true},
		{"prefix and query", `prefix: "/a?b"`, "/a?b", false},
		{"path", `path: /a`, "/a", true},
		{"path query stripped", `path: /a`, "/a?x=1", true},
		{"path fragment stripped", `path: /a`, "/a#frag", true},
		{"path longer", `path: /a`, "/ab", false},
		{"path ignore case", `{path: /A, case_sensitive: false}`, "/a", true},
		{"regex full match", `{safe_regex: {regex: "/a/[0-9]+"}}`, "/a/12", true},
		{"regex is anchored", `{safe_regex: {regex: "/a/[0-9]+"}}`, "/a/12/x", false},
		{"regex query stripped", `{safe_regex: {regex: "/a/[0-9]+"}}`, "/a/12?x", true},
		{"regex alternation anchored", `{safe_regex: {regex: "/a|/b"}}`, "/bc", false},
		{"separated prefix exact", `path_separated_prefix: /api`, "/api", true},
		{"separated prefix segment", `path_separated_prefix: /api`, "/api/x", true},
		{"separated prefix not a segment", `path_separated_prefix: /api`, "/apix", false},
		{"separated prefix query", `path_separated_prefix: /api`, "/api?x", true},
	} {
		m := tc.match
		if m[0] != '{' {
			m = "{" + m + "}"
		}
		r := routes(t, "  - match: "+m+"\n    route: {cluster: c}\n")
		res := r.Route(get("h", tc.path))
		if got := res.Error == ""; got != tc.want {
			t.Errorf("%s: %s on %s: matched %t, want %t (%v)", tc.name, tc.match, tc.path, got, tc.want, res.Trace)
		}
	}
}

func TestIgnorePathParameters(t *testing.T) {
	cfg := "ignore_path_parameters_in_path_matching: %s\nvirtual_hosts: [{name: v, domains: ['*'], routes: [{match: {path: /a}, route: {cluster: c}}]}]"
	if res := router(t, sprintf(cfg, "false")).Route(get("h", "/a;x=1")); res.Error == "" {
		t.Error("path parameters matched without ignore_path_parameters_in_path_matching")
	}
	if res := router(t, sprintf(cfg, "true")).Route(get("h", "/a;x=1")); res.Error != "" {
		t.Errorf("path parameters not ignored: %v", res.Trace)
	}
}

// Routes are tried in order; the first that matches wins.
func TestRouteOrder(t *testing.T) {
	r := routes(t, `
  - {name: one, match: {prefix: /a/b}, route: {cluster: one}}
  - {name: two, match: {prefix: /a}, route: {cluster: two}}
  - {name: three, match: {prefix: /a/b/c}, route: {cluster: three}}
`)
	res := r.Route(get("h", "/a/b/c"))
	if res.RouteName != "one" || res.Action.Cluster != "one" {
		t.Errorf("got %s %s", res.RouteName, res.Action.Cluster)
	}
	res = r.Route(get("h", "/a/x"))
	if res.RouteName != "two" || len(res.Trace) != 3 || res.Trace[1].Matched || !res.Trace[2].Matched {
		t.Errorf("got %s, trace %+v", res.RouteName, res.Trace)
	}
	if res = r.Route(get("h", "/b")); res.Error != NoRoute {
		t.Errorf("got %s", chosen(res))
	}
}

// HeaderMatcher, every form (Http::HeaderUtility::matchHeaders).
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/route/v3/route_components.proto#config-route-v3-headermatcher
func TestHeaderMatchers(t *testing.T) {
	for _, tc := range []struct {
		name, matcher string
		headers       []string
		want          bool
	}{
		{"present (no specifier)", `{name: x-a}`, []string{"x-a", ""}, true},
		{"present absent", `{name: x-a}`, nil, false},
		{"present inverted absent", `{name: x-a, invert_match: true}`, nil, true},
		{"present_match true", `{name: x-a, present_match: true}`, []string{"x-a", "v"}, true},
		{"present_match false absent", `{name: x-a, present_match: false}`, nil, true},
		{"present_match false present", `{name: x-a, present_match: false}`, []string{"x-a", "v"}, false},
		{"name case", `{name: X-A, string_match: {exact: v}}`, []string{"x-a", "v"}, true},
		{"exact_match", `{name: x-a, exact_match: v}`, []string{"x-a", "v"}, true},
		{"exact_match empty matches any", `{name: x-a, exact_match: ""}`, []string{"x-a", "w"}, true},
		{"string exact", `{name: x-a, string_match: {exact: v}}`, []string{"x-a", "V"}, false},
		{"string exact ignore case", `{name: x-a, string_match: {exact: v, ignore_case: true}}`, []string{"x-a", "V"}, true},
		{"string prefix", `{name: x-a, string_match: {prefix: ab}}`, []string{"x-a", "abc"}, true},
		{"string suffix", `{name: x-a, string_match: {suffix: bc}}`, []string{"x-a", "abc"}, true},
		{"string contains", `{name: x-a, string_match: {contains: b}}`, []string{"x-a", "abc"}, true},
		{"string regex full", `{name: x-a, string_match: {safe_regex: {regex: "a.c"}}}`, []string{"x-a", "abc"}, true},
		{"string regex anchored", `{name: x-a, string_match: {safe_regex: {regex: "b"}}}`, []string{"x-a", "abc"}, false},
		{"safe_regex_match", `{name: x-a, safe_regex_match: {regex: "[0-9]+"}}`, []string{"x-a", "123"}, true},
		{"prefix_match", `{name: x-a, prefix_match: "a"}`, []string{"x-a", "ab"}, true},
		{"suffix_match", `{name: x-a, suffix_match: "b"}`, []string{"x-a", "ab"}, true},
		{"contains_match", `{name: x-a, contains_match: "z"}`, []string{"x-a", "ab"}, false},
		{"range in", `{name: x-a, range_match: {start: 0, end: 10}}`, []string{"x-a", "9"}, true},
		{"range half open", `{name: x-a, range_match: {start: 0, end: 10}}`, []string{"x-a", "10"}, false},
		{"range negative", `{name: x-a, range_match: {start: -10, end: 0}}`, []string{"x-a", "-1"}, true},
		{"range not a number", `{name: x-a, range_match: {start: 0, end: 10}}`, []string{"x-a", "1x"}, false},
		{"range spaces", `{name: x-a, range_match: {start: 0, end: 10}}`, []string{"x-a", " 5 "}, true},
		{"invert", `{name: x-a, string_match: {exact: v}, invert_match: true}`, []string{"x-a", "w"}, true},
		{"invert absent does not match", `{name: x-a, string_match: {exact: v}, invert_match: true}`, nil, false},
		{"missing as empty", `{name: x-a, string_match: {exact: ""}, treat_missing_header_as_empty: true}`, nil, true},
		{"missing as empty prefix", `{name: x-a, string_match: {prefix: a}, treat_missing_header_as_empty: true}`, nil, false},
		{"values joined by comma", `{name: x-a, string_match: {exact: "a,b"}}`, []string{"x-a", "a", "x-a", "b"}, true},
		{"pseudo header", `{name: ":method", string_match: {exact: GET}}`, nil, true},
	} {
		r := routes(t, "  - match: {prefix: /, headers: ["+tc.matcher+"]}\n    route: {cluster: c}\n")
		res := r.Route(get("h", "/", tc.headers...))
		if got := res.Error == ""; got != tc.want {
			t.Errorf("%s: matched %t, want %t (%v)", tc.name, got, tc.want, res.Trace)
		}
	}
}

// Every header matcher of a route must match.
func TestHeaderMatchersAll(t *testing.T) {
	r := routes(t, `
  - match: {prefix: /, headers: [{name: a, string_match: {exact: "1"}}, {name: b, string_match: {exact: "2"}}]}
    route: {cluster: both}
  - match: {prefix: /}
    route: {cluster: fallback}
`)
	if c := r.Route(get("h", "/", "a", "1")).Action.Cluster; c != "fallback" {
		t.Errorf("one of two: %s", c)
	}
	if c := r.Route(get("h", "/", "a", "1", "b", "2")).Action.Cluster; c != "both" {
		t.Errorf("both: %s", c)
	}
}

// Query parameters: the first value, not URL-decoded; present_match.
func TestQueryParameters(t *testing.T) {
	for _, tc := range []struct {
		matcher, path string
		want          bool
	}{
		{`{name: a, string_match: {exact: "1"}}`, "/?a=1", true},
		{`{name: a, string_match: {exact: "1"}}`, "/?b=2&a=1", true},
		{`{name: a, string_match: {exact: "1"}}`, "/?a=2&a=1", false},
		{`{name: a, string_match: {exact: "x y"}}`, "/?a=x%20y", false},
		{`{name: a, string_match: {exact: "x%20y"}}`, "/?a=x%20y", true},
		{`{name: a, present_match: true}`, "/?a", true},
		{`{name: a, present_match: true}`, "/?ab=1", false},
		{`{name: a, string_match: {exact: ""}}`, "/?a", true},
		{`{name: a, string_match: {prefix: "v"}}`, "/", false},
	} {
		r := routes(t, "  - match: {prefix: /, query_parameters: ["+tc.matcher+"]}\n    route: {cluster: c}\n")
		if got := r.Route(get("h", tc.path)).Error == ""; got != tc.want {
			t.Errorf("%s on %s: %t, want %t", tc.matcher, tc.path, got, tc.want)
		}
	}
}

func TestCookies(t *testing.T) {
	for _, tc := range []struct {
		matcher, cookie string
		want            bool
	}{
		{`{name: s, string_match: {exact: "1"}}`, "a=2; s=1", true},
		{`{name: s, string_match: {exact: "1"}}`, `s="1"`, true},
		{`{name: s, string_match: {exact: "1"}}`, "", false},
		{`{name: s, string_match: {exact: "1"}, invert_match: true}`, "", true},
		{`{name: s, string_match: {exact: "1"}, invert_match: true}`, "s=1", false},
	} {
		r := routes(t, "  - match: {prefix: /, cookies: ["+tc.matcher+"]}\n    route: {cluster: c}\n")
		var hs []string
		if tc.cookie != "" {
			hs = []string{"cookie", tc.cookie}
		}
		if got := r.Route(get("h", "/", hs...)).Error == ""; got != tc.want {
			t.Errorf("%s on %q: %t, want %t", tc.matcher, tc.cookie, got, tc.want)
		}
	}
}

// grpc: content-type application/grpc or application/grpc+...
func TestGrpc(t *testing.T) {
	r := routes(t, "  - match: {prefix: /, grpc: {}}\n    route: {cluster: c}\n")
	for ct, want := range map[string]bool{"application/grpc": true, "application/grpc+proto": true, "application/grpc-web": false, "text/plain": false, "": false} {
		var hs []string
		if ct != "" {
			hs = []string{"content-type", ct}
		}
		if got := r.Route(get("h", "/", hs...)).Error == ""; got != want {
			t.Errorf("%q: %t, want %t", ct, got, want)
		}
	}
}

func TestTLSContext(t *testing.T) {
	r := routes(t, "  - match: {prefix: /, tls_context: {presented: true, validated: true}}\n    route: {cluster: c}\n")
	for _, tc := range []struct {
		tls  *DownstreamTLS
		want bool
		note bool
	}{
		{nil, false, false},
		{&DownstreamTLS{PeerCertificatePresented: true}, false, false},
		{&DownstreamTLS{PeerCertificatePresented: true, PeerCertificateValidated: true}, true, false},
		{&DownstreamTLS{PeerUnknown: true}, true, true},
	} {
		req := get("h", "/")
		req.TLS = tc.tls
		res := r.Route(req)
		if got := res.Error == ""; got != tc.want || (len(res.Notes) > 0) != tc.note {
			t.Errorf("%+v: matched %t notes %v, want %t", tc.tls, got, res.Notes, tc.want)
		}
	}
}

// runtime_fraction: the Runtime decides; none assumes it matches and says so.
func TestRuntimeFraction(t *testing.T) {
	r := routes(t, `
  - match: {prefix: /, runtime_fraction: {runtime_key: k, default_value: {numerator: 30, denominator: HUNDRED}}}
    route: {cluster: runtime}
  - match: {prefix: /}
    route: {cluster: other}
`)
	envoy := func(key string, f *typev3.FractionalPercent, rv uint64) bool { return FractionEnabled(f, rv) }
	for _, tc := range []struct {
		rt   RuntimeFunc
		rv   uint64
		want string
	}{
		{envoy, 29, "runtime"},
		{envoy, 30, "other"},
		{envoy, 129, "runtime"},
		{func(string, *typev3.FractionalPercent, uint64) bool { return false }, 0, "other"},
		{nil, 99, "runtime"},
	} {
		req := get("h", "/")
		req.Runtime, req.RandomValue = tc.rt, tc.rv
		res := r.Route(req)
		if res.Action.Cluster != tc.want {
			t.Errorf("rv %d: %s, want %s", tc.rv, res.Action.Cluster, tc.want)
		}
		if tc.rt == nil && (len(res.Notes) != 1 || !contains(res.Notes[0], "assumed")) {
			t.Errorf("no note of the assumption: %v", res.Notes)
		}
	}
	for _, tc := range []struct {
		den  typev3.FractionalPercent_DenominatorType
		num  uint32
		rv   uint64
		want bool
	}{
		{typev3.FractionalPercent_TEN_THOUSAND, 1, 10000, true},
		{typev3.FractionalPercent_TEN_THOUSAND, 1, 10001, false},
		{typev3.FractionalPercent_MILLION, 500000, 1499999, true},
	} {
		if got := FractionEnabled(&typev3.FractionalPercent{Numerator: tc.num, Denominator: tc.den}, tc.rv); got != tc.want {
			t.Errorf("%d/%s at %d: %t", tc.num, tc.den, tc.rv, got)
		}
	}
}

// dynamic_metadata: MetadataMatcher on the stream's dynamic metadata.
func TestDynamicMetadata(t *testing.T) {
	r := routes(t, `
  - match:
      prefix: /
      dynamic_metadata:
      - {filter: f, path: [{key: a}, {key: b}], value: {string_match: {exact: x}}}
    route: {cluster: meta}
  - match:
      prefix: /
      dynamic_metadata:
      - {filter: f, path: [{key: 'n'}], value: {double_match: {range: {start: 1, end: 5}}}}
      - {filter: f, path: [{key: flag}], value: {bool_match: true}, invert: true}
    route: {cluster: num}
  - match: {prefix: /}
    route: {cluster: other}
`)
	md := func(fields map[string]any) *corev3.Metadata {
		s, err := structpb.NewStruct(fields)
		if err != nil {
			t.Fatal(err)
		}
		return &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{"f": s}}
	}
	for _, tc := range []struct {
		md   *corev3.Metadata
		want string
	}{
		{md(map[string]any{"a": map[string]any{"b": "x"}}), "meta"},
		{md(map[string]any{"a": map[string]any{"b": "y"}}), "other"},
		{md(map[string]any{"a": "x"}), "other"},
		{md(map[string]any{"n": 2}), "num"},
		{md(map[string]any{"n": 2, "flag": true}), "other"},
		{md(map[string]any{"n": 5}), "other"},
		{&corev3.Metadata{}, "other"},
		{nil, "meta"}, // unknown: assumed
	} {
		req := get("h", "/")
		req.DynamicMetadata = tc.md
		if got := r.Route(req).Action.Cluster; got != tc.want {
			t.Errorf("%v: %s, want %s", tc.md, got, tc.want)
		}
	}
}

func TestFilterState(t *testing.T) {
	r := routes(t, `
  - match: {prefix: /, filter_state: [{key: k, string_match: {exact: v}}]}
    route: {cluster: fs}
  - match: {prefix: /}
    route: {cluster: other}
`)
	for _, tc := range []struct {
		fs   map[string]string
		want string
	}{{map[string]string{"k": "v"}, "fs"}, {map[string]string{"k": "w"}, "other"}, {map[string]string{}, "other"}, {nil, "fs"}} {
		req := get("h", "/")
		req.FilterState = tc.fs
		if got := r.Route(req).Action.Cluster; got != tc.want {
			t.Errorf("%v: %s, want %s", tc.fs, got, tc.want)
		}
	}
}

// connect_matcher: CONNECT requests (which may have no :path) and CONNECT-UDP upgrades.
func TestConnectMatcher(t *testing.T) {
	r := routes(t, `
  - match: {connect_matcher: {}}
    route: {cluster: tunnel}
  - match: {prefix: /}
    route: {cluster: other}
`)
	if c := r.Route(&Request{Authority: "h:443", Method: "CONNECT", Scheme: "https"}).Action.Cluster; c != "tunnel" {
		t.Errorf("CONNECT: %s", c)
	}
	if c := r.Route(get("h", "/")).Action.Cluster; c != "other" {
		t.Errorf("GET: %s", c)
	}
	if res := routes(t, "  - match: {prefix: /}\n    route: {cluster: c}\n").Route(&Request{Authority: "h", Method: "CONNECT", Scheme: "http"}); res.Error != NoRoute {
		t.Errorf("pathless request matched a prefix route: %s", chosen(res))
	}
}
