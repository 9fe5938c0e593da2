package traffic

import (
	"strings"
	"testing"
)

// Header mutations: route, virtual host and route configuration levels, evaluated from the
// most to the least specific so that the least specific wins, unless
// most_specific_header_mutations_wins; removals before additions; append semantics.
// https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_conn_man/headers#custom-request-response-headers
func TestHeaderMutationOrder(t *testing.T) {
	cfg := `
most_specific_header_mutations_wins: %s
request_headers_to_add: [{header: {key: x-level, value: config}, append: false}, {header: {key: x-all, value: config}}]
response_headers_to_add: [{header: {key: x-level, value: config}, append_action: OVERWRITE_IF_EXISTS_OR_ADD}]
virtual_hosts:
- name: v
  domains: ['*']
  request_headers_to_add: [{header: {key: x-level, value: vhost}, append: false}, {header: {key: x-all, value: vhost}}]
  response_headers_to_add: [{header: {key: x-level, value: vhost}, append_action: OVERWRITE_IF_EXISTS_OR_ADD}]
  routes:
  - match: {prefix: /}
    route: {cluster: c}
    request_headers_to_add: [{header: {key: x-level, value: route}, append: false}, {header: {key: x-all, value: route}}]
    response_headers_to_add: [{header: {key: x-level, value: route}, append_action: OVERWRITE_IF_EXISTS_OR_ADD}]
`
	for _, tc := range []struct{ most, level, all string }{
		{"false", "config", "route,vhost,config"},
		{"true", "route", "config,vhost,route"},
	} {
		res := router(t, sprintf(cfg, tc.most)).Route(get("h", "/"))
		level, _ := res.RequestHeaders.Joined("x-level")
		all, _ := res.RequestHeaders.Joined("x-all")
		rlevel, _ := res.ResponseHeaders.Joined("x-level")
		if level != tc.level || all != tc.all || rlevel != tc.level {
			t.Errorf("most specific wins %s: x-level %q x-all %q response x-level %q", tc.most, level, all, rlevel)
		}
	}
}

func TestHeaderAppendActions(t *testing.T) {
	for _, tc := range []struct {
		name, option string
		existing     []string
		want         string
		present      bool
	}{
		{"default appends", `{header: {key: x, value: new}}`, []string{"x", "old"}, "old,new", true},
		{"append true", `{header: {key: x, value: new}, append: true}`, []string{"x", "old"}, "old,new", true},
		{"append false overwrites", `{header: {key: x, value: new}, append: false}`, []string{"x", "old", "x", "old2"}, "new", true},
		{"add if absent, present", `{header: {key: x, value: new}, append_action: ADD_IF_ABSENT}`, []string{"x", "old"}, "old", true},
		{"add if absent, absent", `{header: {key: x, value: new}, append_action: ADD_IF_ABSENT}`, nil, "new", true},
		{"overwrite if exists, absent", `{header: {key: x, value: new}, append_action: OVERWRITE_IF_EXISTS}`, nil, "", false},
		{"overwrite if exists, present", `{header: {key: x, value: new}, append_action: OVERWRITE_IF_EXISTS}`, []string{"x", "old"}, "new", true},
		{"empty value skipped", `{header: {key: x, value: ""}}`, nil, "", false},
		{"empty value kept", `{header: {key: x, value: ""}, keep_empty_value: true}`, nil, "", true},
		{"key lower-cased", `{header: {key: X-Up, value: v}}`, nil, "", false},
	} {
		r := routes(t, "  - match: {prefix: /}\n    route: {cluster: c}\n    request_headers_to_add: ["+tc.option+"]\n")
		res := r.Route(get("h", "/", tc.existing...))
		got, ok := res.RequestHeaders.Joined("x")
		if got != tc.want || ok != tc.present {
			t.Errorf("%s: %q %t, want %q %t", tc.name, got, ok, tc.want, tc.present)
		}
		if tc.name == "key lower-cased" && !res.RequestHeaders.Has("x-up") {
			t.Errorf("%s: %v", tc.name, res.RequestHeaders)
		}
	}
}

func TestHeaderRemoval(t *testing.T) {
	// Removed first, then added: the configured value replaces the request's.
	r := routes(t, `
  - match: {prefix: /}
    route: {cluster: c}
    request_headers_to_remove: [X-Drop, x-set]
    request_headers_to_add: [{header: {key: x-set, value: mine}}]
    response_headers_to_remove: [server]
`)
	req := get("h", "/", "x-drop", "1", "x-set", "theirs", "x-keep", "2")
	req.ResponseHeaders = []Header{{"server", "upstream"}, {"x-r", "1"}}
	res := r.Route(req)
	set, _ := res.RequestHeaders.Joined("x-set")
	if res.RequestHeaders.Has("x-drop") || set != "mine" || !res.RequestHeaders.Has("x-keep") {
		t.Errorf("request %v", res.RequestHeaders)
	}
	if res.ResponseHeaders.Has("server") || !res.ResponseHeaders.Has("x-r") {
		t.Errorf("response %v", res.ResponseHeaders)
	}
}

// Header value formatters that a route can evaluate; the others are kept as written and noted.
func TestHeaderFormatters(t *testing.T) {
	r := routes(t, `
  - name: r1
    match: {prefix: /}
    route: {cluster: c}
    request_headers_to_add:
    - {header: {key: x-ip, value: "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%"}}
    - {header: {key: x-addr, value: "%DOWNSTREAM_REMOTE_ADDRESS%"}}
    - {header: {key: x-local, value: "%DOWNSTREAM_LOCAL_ADDRESS%"}}
    - {header: {key: x-proto, value: "%PROTOCOL%"}}
    - {header: {key: x-req, value: "<%REQ(x-in)%>"}}
    - {header: {key: x-alt, value: "%REQ(x-none?x-in)%"}}
    - {header: {key: x-trunc, value: "%REQ(x-in):2%"}}
    - {header: {key: x-missing, value: "%REQ(x-none)%"}}
    - {header: {key: x-pct, value: "100%%"}}
    - {header: {key: x-route, value: "%ROUTE_NAME%"}}
    - {header: {key: x-up, value: "%UPSTREAM_METADATA([\"a\", \"b\"])%"}}
    response_headers_to_add:
    - {header: {key: x-resp, value: "%RESP(x-u)%"}}
`)
	req := get("h", "/", "x-in", "abc")
	req.RemoteIP, req.RemotePort, req.LocalIP, req.LocalPort, req.Protocol = "127.0.0.1", 0, "::1", 80, "HTTP/1.1"
	req.ResponseHeaders = []Header{{"x-u", "up"}}
	res := r.Route(req)
	for k, want := range map[string]string{
		"x-ip": "127.0.0.1", "x-addr": "127.0.0.1:0", "x-local": "[::1]:80", "x-proto": "HTTP/1.1", "x-req": "<abc>",
		"x-alt": "abc", "x-trunc": "ab", "x-pct": "100%", "x-route": "r1", "x-up": `%UPSTREAM_METADATA(["a", "b"])%`,
	} {
		if got, _ := res.RequestHeaders.First(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	if res.RequestHeaders.Has("x-missing") {
		t.Error("a header whose value formats to empty was added")
	}
	if got, _ := res.ResponseHeaders.First("x-resp"); got != "up" {
		t.Errorf("x-resp %q", got)
	}
	if len(res.Notes) != 1 || !strings.Contains(res.Notes[0], "UPSTREAM_METADATA") {
		t.Errorf("notes %v", res.Notes)
	}
}

func TestWeightedClusterHeaders(t *testing.T) {
	r := routes(t, `
  - match: {prefix: /}
    route:
      weighted_clusters:
        clusters:
        - name: a
          weight: 1
          host_rewrite_literal: a.internal
          request_headers_to_add: [{header: {key: x-wc, value: a}}]
          response_headers_to_add: [{header: {key: x-wc, value: a}}]
    request_headers_to_add: [{header: {key: x-wc, value: route}}]
    response_headers_to_add: [{header: {key: x-wc, value: route}}]
`)
	res := r.Route(get("h", "/"))
	req, _ := res.RequestHeaders.Joined("x-wc")
	resp, _ := res.ResponseHeaders.Joined("x-wc")
	if req != "a,route" || resp != "a,route" || res.Host != "a.internal" {
		t.Errorf("request %q response %q host %q", req, resp, res.Host)
	}
}

func TestHeaderMutationErrors(t *testing.T) {
	for _, tc := range []struct{ name, opts, want string }{
		{"pseudo header", `request_headers_to_add: [{header: {key: ":path", value: x}}]`, "may not be modified"},
		{"host", `request_headers_to_add: [{header: {key: Host, value: x}}]`, "may not be modified"},
		{"remove pseudo", `request_headers_to_remove: [":authority"]`, "may not be removed"},
		{"remove host", `response_headers_to_remove: [host]`, "may not be removed"},
		{"both", `request_headers_to_add: [{header: {key: x, value: x}, append: true, append_action: ADD_IF_ABSENT}]`, "both append and append_action"},
		{"lone percent", `request_headers_to_add: [{header: {key: x, value: "50%"}}]`, "unescaped %"},
		{"unterminated", `request_headers_to_add: [{header: {key: x, value: "%REQ(a"}}]`, "unterminated"},
	} {
		_, err := NewRouter(config(t, "virtual_hosts: [{name: v, domains: ['*'], routes: [{match: {prefix: /}, route: {cluster: c}, "+tc.opts+"}]}]"), Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestBrokenRouteNeverMatches(t *testing.T) {
	r, err := NewRouter(config(t, `
virtual_hosts:
- name: v
  domains: ['*']
  routes:
  - {match: {safe_regex: {regex: "("}}, route: {cluster: broken}}
  - {match: {prefix: /}, route: {cluster: ok}}
`), Options{})
	if err == nil {
		t.Fatal("invalid regex accepted")
	}
	res := r.Route(get("h", "/"))
	if res.Action.Cluster != "ok" || !strings.HasPrefix(res.Trace[1].Reason, "not evaluated") {
		t.Errorf("%s %+v", res.Action.Cluster, res.Trace)
	}
}
