package routecheck

import (
	"strings"
	"testing"
)

// FuzzLoad feeds arbitrary bytes to the route configuration and tests loaders in each format,
// and runs what loads: a malformed file is an error of one line, never a panic.
func FuzzLoad(f *testing.F) {
	for _, s := range []string{
		"virtual_hosts: [{name: v, domains: ['*'], routes: [{match: {prefix: /}, route: {cluster: c, timeout: {seconds: 1}}}]}]",
		`{"tests": [{"test_name": "x", "input": {"authority": "a", "path": "/", "method": "GET"}, "validate": {"cluster_name": "c"}},]}`,
		"tests { test_name: \"x\" input: { authority: \"a\" path: \"/\" method: \"GET\" } validate: { cluster_name: { value: \"c\" } } }",
		`{"virtual_hosts": [{"name": "v", "domains": ["*"], "routes": [{"match": {"safe_regex": {"regex": "(a"}}, "route": {"cluster": "c"}}]}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, name := range []string{"f.json", "f.yaml", "f.pb_text"} {
			rc, err := LoadRouteConfig(name, data)
			if err != nil && strings.Contains(err.Error(), "\n") {
				t.Fatalf("%s: a multi-line error: %q", name, err)
			}
			s, serr := LoadSuite(name, data)
			if serr != nil && strings.Contains(serr.Error(), "\n") {
				t.Fatalf("%s: a multi-line error: %q", name, serr)
			}
			if err == nil {
				if c, err := NewChecker(rc, Options{}); err == nil && serr == nil {
					c.Run(s)
					c.Coverage(true, true)
				}
			}
		}
	})
}
