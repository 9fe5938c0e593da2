package traffic

import (
	"strings"
	"testing"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"sigs.k8s.io/yaml"

	// Typed configs the test configurations use.
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/path/match/uri_template/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/path/rewrite/uri_template/v3"
)

// config parses a RouteConfiguration written in YAML.
func config(t testing.TB, y string) *routev3.RouteConfiguration {
	t.Helper()
	j, err := yaml.YAMLToJSON([]byte(y))
	if err != nil {
		t.Fatal(err)
	}
	rc := &routev3.RouteConfiguration{}
	if err := protojson.Unmarshal(j, rc); err != nil {
		t.Fatalf("%v\n%s", err, j)
	}
	return rc
}

// router compiles a configuration, failing the test on a configuration error.
func router(t testing.TB, y string) *Router {
	t.Helper()
	r, err := NewRouter(config(t, y), Options{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// get builds a plain GET request.
func get(authority, path string, headers ...string) *Request {
	req := &Request{Authority: authority, Path: path, Method: "GET", Scheme: "http"}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Headers = append(req.Headers, Header{headers[i], headers[i+1]})
	}
	return req
}

// chosen names what a result chose: "vhost/route" (route by name, else by index), or the error.
func chosen(res *Result) string {
	if res.Error != "" && res.Error != TLSRequired {
		return string(res.Error)
	}
	var b strings.Builder
	b.WriteString(res.VirtualHost.GetName())
	if res.Route != nil {
		b.WriteString("/")
		if res.RouteName != "" {
			b.WriteString(res.RouteName)
		} else {
			b.WriteString(string(rune('0' + res.RouteIndex)))
		}
	}
	if res.Error == TLSRequired {
		b.WriteString(" tls_required")
	}
	return b.String()
}
