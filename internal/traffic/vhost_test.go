package traffic

import "testing"

// Virtual host selection: RouteMatcher::findVirtualHost.
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/route/v3/route_components.proto#config-route-v3-virtualhost
func TestVirtualHostSelection(t *testing.T) {
	r := router(t, `
virtual_hosts:
- {name: exact, domains: [api.example.com, "api.example.com:8080"], routes: [{match: {prefix: /}, route: {cluster: a}}]}
- {name: suffix-long, domains: ["*-bar.example.com"], routes: [{match: {prefix: /}, route: {cluster: a}}]}
- {name: suffix, domains: ["*.example.com"], routes: [{match: {prefix: /}, route: {cluster: a}}]}
- {name: prefix, domains: ["foo.*", "foo.bar.*"], routes: [{match: {prefix: /}, route: {cluster: a}}]}
- {name: default, domains: ["*"], routes: [{match: {prefix: /}, route: {cluster: a}}]}
`)
	for _, tc := range []struct{ authority, want string }{
		{"api.example.com", "exact/0"},
		{"API.Example.COM", "exact/0"},           // hosts are case-insensitive
		{"api.example.com:8080", "exact/0"},      // a domain may name the port
		{"api.example.com:9090", "default/0"},    // the port is part of the host
		{"foo-bar.example.com", "suffix-long/0"}, // the longest suffix wins
		{"x.example.com", "suffix/0"},            // suffix wildcard
		{".example.com", "default/0"},            // * needs at least one character
		{"example.com", "default/0"},             // not a subdomain
		{"foo.bar.baz", "prefix/0"},              // the longest prefix: foo.bar.*
		{"foo.x.example.com", "suffix/0"},        // suffix wildcards before prefix wildcards
		{"foo.com", "prefix/0"},
		{"other.org", "default/0"},
	} {
		res := r.Route(get(tc.authority, "/"))
		if got := chosen(res); got != tc.want {
			t.Errorf("%s: got %s, want %s (trace %+v)", tc.authority, got, tc.want, res.Trace)
		}
	}
}

func TestVirtualHostIgnorePort(t *testing.T) {
	cfg := `
ignore_port_in_host_matching: %s
virtual_hosts:
- {name: a, domains: [a.com], routes: [{match: {prefix: /}, route: {cluster: a}}]}
- {name: b, domains: [b.com], routes: [{match: {prefix: /}, route: {cluster: b}}]}
`
	for _, tc := range []struct {
		ignore, authority, want string
	}{
		{"false", "a.com:80", "no_virtual_host"},
		{"true", "a.com:80", "a/0"},
		{"true", "[::1]:80", "no_virtual_host"},
		{"true", "A.COM:443", "a/0"},
	} {
		r := router(t, sprintf(cfg, tc.ignore))
		if got := chosen(r.Route(get(tc.authority, "/"))); got != tc.want {
			t.Errorf("ignore=%s %s: got %s, want %s", tc.ignore, tc.authority, got, tc.want)
		}
	}
}

func TestVirtualHostOnlyDefault(t *testing.T) {
	// With only a "*" virtual host, Envoy does not even read :authority.
	r := router(t, `virtual_hosts: [{name: d, domains: ["*"], routes: [{match: {prefix: /}, route: {cluster: a}}]}]`)
	if got := chosen(r.Route(&Request{Path: "/", Method: "GET", Scheme: "http"})); got != "d/0" {
		t.Errorf("got %s", got)
	}
	r = router(t, `virtual_hosts: [{name: a, domains: [a.com], routes: [{match: {prefix: /}, route: {cluster: a}}]}]`)
	if got := chosen(r.Route(&Request{Path: "/", Method: "GET", Scheme: "http"})); got != "no_virtual_host" {
		t.Errorf("no authority: got %s", got)
	}
}

func TestVirtualHostConfigErrors(t *testing.T) {
	for _, tc := range []struct{ name, cfg, want string }{
		{"two defaults", `virtual_hosts: [{name: a, domains: ["*"]}, {name: b, domains: ["*"]}]`, "only a single wildcard domain"},
		{"duplicate", `virtual_hosts: [{name: a, domains: [x.com]}, {name: b, domains: [X.com]}]`, "duplicate entry of domain x.com"},
		{"duplicate wildcard", `virtual_hosts: [{name: a, domains: ["*.x.com"]}, {name: b, domains: ["*.x.com"]}]`, "duplicate entry"},
	} {
		_, err := NewRouter(config(t, tc.cfg), Options{})
		if err == nil || !contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.name, err, tc.want)
		}
	}
}

// require_tls: VirtualHostImpl::getRouteFromEntries.
func TestRequireTLS(t *testing.T) {
	r := router(t, `
virtual_hosts:
- {name: all, domains: [all.com], require_tls: ALL, routes: [{match: {prefix: /}, route: {cluster: a}}]}
- {name: ext, domains: [ext.com], require_tls: EXTERNAL_ONLY, routes: [{match: {prefix: /}, route: {cluster: a}}]}
`)
	for _, tc := range []struct {
		host, proto string
		internal    bool
		want, loc   string
	}{
		{"all.com", "http", false, "all tls_required", "https://all.com/p?q"},
		{"all.com", "http", true, "all tls_required", "https://all.com/p?q"},
		{"all.com", "https", false, "all/0", ""},
		{"ext.com", "http", false, "ext tls_required", "https://ext.com/p?q"},
		{"ext.com", "http", true, "ext/0", ""},
		{"ext.com", "https", false, "ext/0", ""},
	} {
		req := get(tc.host, "/p?q")
		req.Scheme = tc.proto
		if tc.internal {
			req.Headers = append(req.Headers, Header{"x-envoy-internal", "true"})
		}
		res := r.Route(req)
		if got := chosen(res); got != tc.want {
			t.Errorf("%s %s internal=%t: got %s, want %s", tc.host, tc.proto, tc.internal, got, tc.want)
		}
		if tc.loc != "" && (res.Action.Redirect == nil || res.Action.Redirect.Location != tc.loc || res.Action.Redirect.Code != 301) {
			t.Errorf("%s: redirect %+v, want 301 %s", tc.host, res.Action.Redirect, tc.loc)
		}
	}
	// No x-forwarded-proto: no route at all.
	res := r.Route(&Request{Authority: "all.com", Path: "/", Method: "GET"})
	if res.Error != NoForwardedProto {
		t.Errorf("no scheme: got %s", chosen(res))
	}
}
