package routecheck

import (
	"fmt"
	"math"
	"os"
	"strings"
	"testing"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/proxyctl/proxyctl/internal/testutil"
)

func fixture(t *testing.T, name string) (string, []byte) {
	t.Helper()
	p := testutil.Path("testdata", "routecheck", name)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return p, b
}

func counter() func() string {
	n := 0
	return func() string { n++; return fmt.Sprintf("uuid%d", n) }
}

func checker(t *testing.T, config string) *Checker {
	t.Helper()
	name, b := fixture(t, config)
	rc, err := LoadRouteConfig(name, b)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewChecker(rc, Options{UUID: counter()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func suite(t *testing.T, tests string) *Suite {
	t.Helper()
	name, b := fixture(t, tests)
	s, err := LoadSuite(name, b)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestShopPasses(t *testing.T) {
	c := checker(t, "shop.yaml")
	for _, r := range c.Run(suite(t, "shop-tests.yaml")) {
		if !r.Passed {
			t.Errorf("%s: %v", r.Name, r.Lines)
		}
	}
	// 8 covered entries (the require_tls redirect is one of them) of 7 routes, a weighted
	// route counting each of its 2 clusters: router_check_tool's arithmetic.
	if got := FormatFloat(c.Coverage(false, false).Percent); got != "114.286" {
		t.Errorf("coverage %s", got)
	}
	// --covall: cart 5/5, canary 1/5, split 1/5 + 1/5, three direct responses 2/2, by-header 2/5.
	rep := c.Coverage(true, false)
	if got := FormatFloat(rep.Percent); got != "71.4286" || len(rep.Missing) != 0 {
		t.Errorf("covall %s, missing %v", got, rep.Missing)
	}
}

func TestShopFailures(t *testing.T) {
	c := checker(t, "shop.yaml")
	res := c.Run(suite(t, "shop-failures.yaml"))
	if !res[0].Passed || res[1].Passed || res[2].Passed {
		t.Fatalf("verdicts %v %v %v", res[0].Passed, res[1].Passed, res[2].Passed)
	}
	want := []string{
		"expected: [wrong], actual: [cart], test type: cluster_name",
		"expected: [wrong], actual: [other], test type: virtual_cluster_name",
		"expected: [wrong], actual: [shop], test type: virtual_host_name",
		"expected: [wrong], actual: [/v2/cart], test type: path_rewrite",
		"expected: [wrong], actual: [shop.example.com], test type: host_rewrite",
		"expected: [wrong], actual: [], test type: path_redirect",
		"expected: [302], actual: [0], test type: code_redirect",
		"expected: [1500], actual: [5000], test type: timeout",
		"expected: [nobody], actual: [team-cart], test type: route_metadata",
	}
	if got := strings.Join(res[1].Lines, "\n"); got != strings.Join(want, "\n") {
		t.Errorf("lines:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	if f := res[1].Failure; len(f.Strings) != 6 || f.Code == nil || f.Timeout == nil {
		t.Errorf("failure %+v", f)
	}
	if f := res[2].Failure; len(f.Response) != 8 || len(f.Request) != 0 {
		t.Errorf("header failures: %d response, %d request", len(f.Response), len(f.Request))
	}
	// A failed check marks no coverage; the passing test's direct response is the one entry.
	if got := FormatFloat(c.Coverage(false, false).Percent); got != "14.2857" {
		t.Errorf("coverage %s", got)
	}
}

// Coverage reports list the routes without a test in configuration order, by renamed route
// (--detailed-coverage) or by match in text format (--covall).
func TestCoverageMissing(t *testing.T) {
	c := checker(t, "shop.yaml")
	c.Run(suite(t, "shop-failures.yaml"))
	rep := c.Coverage(false, true)
	var names []string
	for _, m := range rep.Missing {
		names = append(names, m.VirtualHost+"/"+m.Name)
	}
	if got := strings.Join(names, " "); got != "shop/cart-uuid1 shop/canary-uuid2 shop/split-uuid3 legacy/moved-uuid4 health/by-header-uuid6" {
		t.Errorf("missing %s", got)
	}
	if m := c.Coverage(true, false).Missing[0].Match; m != "prefix: \"/cart\"\nheaders {\n  name: \"x-user\"\n  present_match: true\n}\n" {
		t.Errorf("match %q", m)
	}
	if rep := c.Coverage(false, false); rep.Missing != nil {
		t.Errorf("missing without being asked: %v", rep.Missing)
	}
}

// The routecheck fixture of router_check_tool's own: a route with runtime_fraction whose
// default numerator is 0 is enabled by random value 0 of a test naming its key.
func TestRuntimeFractionZero(t *testing.T) {
	rc := &routev3.RouteConfiguration{}
	if err := protojson.Unmarshal([]byte(`{"virtual_hosts": [{"name": "v", "domains": ["*"], "routes": [
		{"match": {"prefix": "/", "runtime_fraction": {"runtime_key": "k", "default_value": {"numerator": 0}}}, "route": {"cluster": "rt"}},
		{"match": {"prefix": "/"}, "route": {"cluster": "other"}}]}]}`), rc); err != nil {
		t.Fatal(err)
	}
	c, err := NewChecker(rc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rc.VirtualHosts[0].Routes[0].Match.GetRuntimeFraction().GetDefaultValue().GetNumerator() != 0 {
		t.Error("NewChecker changed the caller's configuration")
	}
	s, err := LoadSuite("t.yaml", []byte(`
tests:
- {test_name: on, input: {authority: h, path: /, method: GET, runtime: k, random_value: 0}, validate: {cluster_name: rt}}
- {test_name: off, input: {authority: h, path: /, method: GET, runtime: k, random_value: 1}, validate: {cluster_name: other}}
- {test_name: not named, input: {authority: h, path: /, method: GET, random_value: 0}, validate: {cluster_name: other}}
- {test_name: other key, input: {authority: h, path: /, method: GET, runtime: x, random_value: 0}, validate: {cluster_name: other}}
- {test_name: random value wraps at 32 bits, input: {authority: h, path: /, method: GET, runtime: k, random_value: 4294967296}, validate: {cluster_name: rt}}
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range c.Run(s) {
		if !r.Passed {
			t.Errorf("%s: %v", r.Name, r.Lines)
		}
	}
}

func TestDynamicMetadataInput(t *testing.T) {
	rc := &routev3.RouteConfiguration{}
	if err := protojson.Unmarshal([]byte(`{"virtual_hosts": [{"name": "v", "domains": ["*"], "routes": [
		{"match": {"prefix": "/", "dynamic_metadata": [{"filter": "m", "path": [{"key": "foo"}], "value": {"string_match": {"exact": "bar"}}}]}, "route": {"cluster": "meta"}},
		{"match": {"prefix": "/"}, "route": {"cluster": "other"}}]}]}`), rc); err != nil {
		t.Fatal(err)
	}
	c, err := NewChecker(rc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := LoadSuite("t.json", []byte(`{"tests": [
		{"test_name": "match", "input": {"authority": "h", "path": "/", "method": "GET", "dynamic_metadata": [{"metadata_namespace": "m", "value": {"foo": "bar"}}]}, "validate": {"cluster_name": "meta"}},
		{"test_name": "none", "input": {"authority": "h", "path": "/", "method": "GET"}, "validate": {"cluster_name": "other"}},
		{"test_name": "overwrite", "input": {"authority": "h", "path": "/", "method": "GET", "dynamic_metadata": [{"metadata_namespace": "m", "value": {"foo": "x"}}, {"metadata_namespace": "m", "value": {"foo": "bar"}, "allow_overwrite": true}]}, "validate": {"cluster_name": "meta"}},
		{"test_name": "no overwrite", "input": {"authority": "h", "path": "/", "method": "GET", "dynamic_metadata": [{"metadata_namespace": "m", "value": {"foo": "x"}}, {"metadata_namespace": "m", "value": {"foo": "bar"}}]}, "validate": {"cluster_name": "other"}}
	]}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range c.Run(s) {
		if !r.Passed {
			t.Errorf("%s: %v", r.Name, r.Lines)
		}
	}
}

// A malformed file: one error naming the file and the field.
func TestLoadErrors(t *testing.T) {
	for _, tc := range []struct {
		name, file, data, want string
		config                 bool
	}{
		{"unknown top-level field", "r.json", `{"tests": []}`, `r.json: INVALID_ARGUMENT: envoy.config.route.v3.RouteConfiguration has no field "tests"`, true},
		{"unknown nested field", "r.yaml", "virtual_hosts: [{name: v, domains: ['*'], routes: [{match: {prefx: /}}]}]",
			`r.yaml: INVALID_ARGUMENT: envoy.config.route.v3.RouteMatch has no field "prefx" (at virtual_hosts[0].routes[0].match)`, true},
		{"wrong type", "r.yaml", "virtual_hosts: [{name: v, domains: ['*'], routes: [{match: {prefix: /}, route: {weighted_clusters: {clusters: [{name: a, weight: heavy}]}}}]}]",
			`r.yaml: virtual_hosts[0].routes[0].route.weighted_clusters.clusters[0].weight: want an integer from 0 to 4294967295, got "heavy"`, true},
		{"bad enum", "r.yaml", "virtual_hosts: [{name: v, domains: ['*'], require_tls: SOME}]", `virtual_hosts[0].require_tls: "SOME" is not a value of envoy.config.route.v3.VirtualHost.TlsRequirementType`, true},
		{"bad duration", "r.yaml", "virtual_hosts: [{name: v, domains: ['*'], routes: [{match: {prefix: /}, route: {cluster: c, timeout: 5}}]}]", "route.timeout: want a duration", true},
		{"validation", "r.yaml", "virtual_hosts: [{name: v}]", "r.yaml: invalid route configuration: invalid RouteConfiguration.VirtualHosts[0]", true},
		{"not YAML", "r.yaml", "a: [", "r.yaml: not valid YAML", true},
		{"not JSON", "r.json", "{", "r.json: not valid JSON", true},
		{"empty", "r.json", " \n", "r.json: the file is empty", true},
		{"no tests", "t.yaml", "tests: []", "t.yaml: tests: the file has no test", false},
		{"no name", "t.yaml", "tests: [{input: {authority: a, path: /, method: GET}, validate: {}}]", "t.yaml: tests[0].test_name: must not be empty", false},
		{"no input", "t.yaml", "tests: [{test_name: x, validate: {}}]", "t.yaml: tests[0] (x).input: is required", false},
		{"short method", "t.yaml", "tests: [{test_name: x, input: {authority: a, path: /, method: GE}, validate: {}}]", `tests[0] (x).input.method: must have at least 3 characters, got "GE"`, false},
		{"no authority", "t.yaml", "tests: [{test_name: x, input: {path: /, method: GET}, validate: {}}]", "tests[0] (x).input.authority: must not be empty", false},
		{"unknown test field", "t.json", `{"tests": [{"test_name": "x", "input": {"authority": "a", "path": "/", "method": "GET"}, "validate": {"cluster": "c"}}]}`,
			`t.json: INVALID_ARGUMENT: envoy.RouterCheckToolSchema.ValidationAssert has no field "cluster" (at tests[0].validate)`, false},
		{"bad matcher regex", "t.yaml", "tests: [{test_name: x, input: {authority: a, path: /, method: GET}, validate: {request_header_matches: [{name: a, safe_regex_match: {regex: '('}}]}}]",
			"tests[0] (x).validate.request_header_matches[0]: header a: regex", false},
		{"text format", "t.pb_text", "tests {\n  test_name: \"x\"\n  bogus: 1\n}\n", "t.pb_text: line 3, column 3: unknown field: bogus", false},
	} {
		var err error
		if tc.config {
			_, err = LoadRouteConfig(tc.file, []byte(tc.data))
		} else {
			_, err = LoadSuite(tc.file, []byte(tc.data))
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v\nwant %q", tc.name, err, tc.want)
		}
	}
}

// Envoy's loader reads Durations as objects, and router_check_tool's JSON with a trailing comma.
func TestLoadLeniencies(t *testing.T) {
	rc, err := LoadRouteConfig("r.yaml", []byte("virtual_hosts: [{name: v, domains: ['*'], routes: [{match: {prefix: /}, route: {cluster: c, timeout: {seconds: 3, nanos: 500000000}}}]}]"))
	if err != nil {
		t.Fatal(err)
	}
	if d := rc.VirtualHosts[0].Routes[0].GetRoute().GetTimeout().AsDuration().Milliseconds(); d != 3500 {
		t.Errorf("timeout %dms", d)
	}
	s, err := LoadSuite("t.json", []byte(`{"tests": [{"test_name": "x", "input": {"authority": "a", "path": "/", "method": "GET"}, "validate": {"cluster_name": "c"},},]}`))
	if err != nil || len(s.Tests) != 1 || *s.Tests[0].Validate.ClusterName != "c" {
		t.Fatalf("%v %+v", err, s)
	}
	s, err = LoadSuite("t.pb_text", []byte(`tests { test_name: "x" input: { authority: "a" path: "/" method: "GET" } validate: { cluster_name: { value: "" } code_redirect: { value: 301 } } }`))
	if err != nil || *s.Tests[0].Validate.ClusterName != "" || *s.Tests[0].Validate.CodeRedirect != 301 || s.Tests[0].Validate.VirtualHostName != nil {
		t.Fatalf("%v %+v", err, s.Tests[0].Validate)
	}
}

func TestValidationResult(t *testing.T) {
	c := checker(t, "shop.yaml")
	res := c.Run(suite(t, "shop-failures.yaml"))
	for _, only := range []bool{false, true} {
		b, err := ValidationResult(res, only)
		if err != nil {
			t.Fatal(err)
		}
		m, err := DecodeValidationResult(b)
		if err != nil {
			t.Fatal(err)
		}
		j, _ := protojson.Marshal(m)
		items := m.Get(m.Descriptor().Fields().ByName("test_results")).List()
		want := 3
		if only {
			want = 2
		}
		if items.Len() != want {
			t.Fatalf("only failures %t: %d results: %s", only, items.Len(), j)
		}
		if passed := strings.Contains(string(j), `"testPassed":true`) || strings.Contains(string(j), `"testPassed": true`); passed == only {
			t.Errorf("only failures %t: the passing test %s", only, map[bool]string{true: "is listed", false: "is missing"}[passed])
		}
		for _, s := range []string{`"actualClusterName":"cart"`, `"expectedCodeRedirect":302`, `"actualTimeout":"5s"`, `"actualHeaderValue":"no-store"`} {
			if !strings.Contains(string(j), strings.ReplaceAll(s, `":`, `": `)) && !strings.Contains(string(j), s) {
				t.Errorf("%s not in %s", s, j)
			}
		}
	}
}

func TestSchema(t *testing.T) {
	fd := schema()
	for _, m := range []string{"Validation", "ValidationItem", "ValidationInput", "ValidationAssert", "ValidationResult", "ValidationItemResult", "ValidationFailure", "HeaderMatchFailure"} {
		if fd.Messages().ByName(protoreflect.Name(m)) == nil {
			t.Errorf("no message %s", m)
		}
	}
	// validation.proto's field numbers, which --output-path files depend on.
	a := fd.Messages().ByName("ValidationAssert").Fields()
	for name, num := range map[string]int{"cluster_name": 1, "path_redirect": 6, "request_header_matches": 11, "code_redirect": 13, "timeout": 14} {
		if f := a.ByName(protoreflect.Name(name)); f == nil || int(f.Number()) != num {
			t.Errorf("ValidationAssert.%s: %v", name, f)
		}
	}
}

func TestFormatFloat(t *testing.T) {
	for f, want := range map[float64]string{100: "100", 200.0 / 3: "66.6667", 7.448630136986301: "7.44863", 0: "0", 12.5: "12.5", 1e-5: "1e-05", 1234567: "1.23457e+06", math.NaN(): "nan"} {
		if got := FormatFloat(f); got != want {
			t.Errorf("%v: %s, want %s", f, got, want)
		}
	}
}

func TestTextFormat(t *testing.T) {
	m := &routev3.RouteMatch{}
	if err := protojson.Unmarshal([]byte(`{"safe_regex": {"regex": "/a\"\n\u00e9"}, "case_sensitive": false, "headers": [{"name": "x", "exact_match": "v"}, {"name": "y", "invert_match": true}], "grpc": {}}`), m); err != nil {
		t.Fatal(err)
	}
	want := "case_sensitive {\n}\nheaders {\n  name: \"x\"\n  exact_match: \"v\"\n}\nheaders {\n  name: \"y\"\n  invert_match: true\n}\ngrpc {\n}\nsafe_regex {\n  regex: \"/a\\\"\\n\\303\\251\"\n}\n"
	if got := TextFormat(m); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
