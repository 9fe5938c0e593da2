// Package routecheck runs router_check_tool's tests (Envoy's test/tools/router_check) on a
// route configuration with proxyctl's matching engine, internal/traffic: the same test files,
// the same verdicts, failure lines and coverage as the C++ tool. It does no I/O: the
// command (internal/cli/routecheck.go) reads the files and formatter/routecheck.go prints.
package routecheck

import (
	"fmt"
	"math"
	"strconv"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	setmetadatav3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/set_metadata/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/proxyctl/proxyctl/internal/traffic"
)

// Checker runs tests against one route configuration (RouterCheckTool).
type Checker struct {
	cfg    *routev3.RouteConfiguration
	router *traffic.Router
	// names are the routes' names as router_check_tool renames them: "<name>-<uuid>".
	names    [][]string
	coverage *Coverage
}

// Options tune a Checker.
type Options struct {
	// Engine are the matching engine's options (how to decode typed configs).
	Engine traffic.Options
	// UUID makes the suffix router_check_tool gives every route name (a random UUID: the
	// caller's, this package reads no entropy); nil: UUIDs counted from 1.
	UUID func() string
}

// NewChecker prepares a route configuration as router_check_tool does: every route is named
// "<name>-<uuid>", and a runtime_fraction whose default numerator is 0 gets 1, so that a test
// naming its runtime key with random_value 0 enables it. The error is the engine's
// *traffic.ConfigError: what Envoy would refuse to load.
func NewChecker(rc *routev3.RouteConfiguration, o Options) (*Checker, error) {
	rc = proto.Clone(rc).(*routev3.RouteConfiguration)
	uuid := o.UUID
	if uuid == nil {
		n := 0
		uuid = func() string { n++; return fmt.Sprintf("00000000-0000-4000-8000-%012x", n) }
	}
	c := &Checker{cfg: rc}
	for _, vh := range rc.GetVirtualHosts() {
		var names []string
		for _, r := range vh.GetRoutes() {
			names = append(names, r.GetName()+"-"+uuid())
			if rf := r.GetMatch().GetRuntimeFraction(); rf != nil && rf.GetDefaultValue().GetNumerator() == 0 {
				if rf.DefaultValue == nil {
					rf.DefaultValue = &typev3.FractionalPercent{}
				}
				rf.DefaultValue.Numerator = 1
			}
		}
		c.names = append(c.names, names)
	}
	r, err := traffic.NewRouter(rc, o.Engine)
	if err != nil {
		return nil, err
	}
	c.router = r
	c.coverage = newCoverage(c)
	return c, nil
}

// Result is the outcome of one test.
type Result struct {
	Name   string
	Passed bool
	// Lines are the failure lines, in check order ("expected: [E], actual: [A], test type: T").
	Lines   []string
	Failure *Failure
}

// Failure is what failed, as router_check_tool's ValidationFailure records it.
type Failure struct {
	// Fields holds expected and actual values by ValidationFailure field name without its
	// expected_/actual_ prefix: cluster_name, virtual_cluster_name, virtual_host_name,
	// host_rewrite, path_rewrite, path_redirect (strings), code_redirect (uint32), timeout.
	Strings  []FieldFailure
	Code     *[2]uint32
	Timeout  *[2]time.Duration
	Request  []HeaderFailure
	Response []HeaderFailure
}

// FieldFailure is one string field that did not match.
type FieldFailure struct{ Field, Expected, Actual string }

// HeaderFailure is one header matcher that did not match, and the header's first value.
type HeaderFailure struct {
	Matcher *routev3.HeaderMatcher
	Actual  string
}

// Run runs every test of the suite, in order.
func (c *Checker) Run(s *Suite) []*Result {
	out := make([]*Result, 0, len(s.Tests))
	for _, t := range s.Tests {
		out = append(out, c.run(t))
	}
	return out
}

// request builds the request router_check_tool sends for a test (ToolConfig::create): the
// pseudo-headers, x-forwarded-proto and :scheme from ssl, x-envoy-internal: true when
// internal, then the additional headers; from 127.0.0.1 over HTTP/1.1.
func request(in Input) *traffic.Request {
	scheme := "http"
	if in.SSL {
		scheme = "https"
	}
	req := &traffic.Request{
		Authority: in.Authority, Path: in.Path, Method: in.Method, Scheme: scheme, ForwardedProto: scheme,
		RemoteIP: "127.0.0.1", Protocol: "HTTP/1.1",
		// The tool passes random_value through an int: its low 32 bits, sign-extended.
		RandomValue:     uint64(int64(int32(uint32(in.RandomValue)))),
		DynamicMetadata: dynamicMetadata(in.DynamicMetadata),
		FilterState:     map[string]string{},
	}
	if in.Internal {
		req.Headers = append(req.Headers, traffic.Header{Name: "x-envoy-internal", Value: "true"})
	}
	for _, h := range in.RequestHeaders {
		req.Headers = append(req.Headers, traffic.Header{Name: lowerASCII(h.Name), Value: h.Value})
	}
	for _, h := range in.ResponseHeaders {
		req.ResponseHeaders = append(req.ResponseHeaders, traffic.Header{Name: lowerASCII(h.Name), Value: h.Value})
	}
	// The tool's runtime mock: only the test's runtime key, and only within its fraction.
	active := in.Runtime
	req.Runtime = func(key string, f *typev3.FractionalPercent, random uint64) bool {
		return active != "" && key == active && traffic.FractionEnabled(f, random)
	}
	return req
}

// dynamicMetadata applies set_metadata entries as RouterCheckTool::applyDynamicMetadata does:
// a namespace's value is inserted when absent, merged only with allow_overwrite.
func dynamicMetadata(entries []*setmetadatav3.Metadata) *corev3.Metadata {
	md := &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{}}
	for _, e := range entries {
		ns := e.GetMetadataNamespace()
		switch {
		case e.GetValue() != nil:
			cur, ok := md.FilterMetadata[ns]
			if !ok {
				md.FilterMetadata[ns] = proto.Clone(e.GetValue()).(*structpb.Struct)
			} else if e.GetAllowOverwrite() {
				mergeStruct(cur, e.GetValue())
			}
		case e.GetTypedValue() != nil:
			if md.TypedFilterMetadata == nil {
				md.TypedFilterMetadata = map[string]*anyType{}
			}
			if _, ok := md.TypedFilterMetadata[ns]; !ok || e.GetAllowOverwrite() {
				md.TypedFilterMetadata[ns] = e.GetTypedValue()
			}
		}
	}
	return md
}

// mergeStruct is StructUtil::update: fields of src replace dst's, structs merged recursively,
// lists appended.
func mergeStruct(dst, src *structpb.Struct) {
	if dst.Fields == nil {
		dst.Fields = map[string]*structpb.Value{}
	}
	for k, v := range src.GetFields() {
		cur, ok := dst.Fields[k]
		switch {
		case ok && cur.GetStructValue() != nil && v.GetStructValue() != nil:
			mergeStruct(cur.GetStructValue(), v.GetStructValue())
		case ok && cur.GetListValue() != nil && v.GetListValue() != nil:
			l := cur.GetListValue()
			for _, e := range v.GetListValue().GetValues() {
				l.Values = append(l.Values, proto.Clone(e).(*structpb.Value))
			}
		default:
			dst.Fields[k] = proto.Clone(v).(*structpb.Value)
		}
	}
}

func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// run runs one test: the route, then each check in router_check_tool's order.
func (c *Checker) run(t *Test) *Result {
	res := c.router.Route(request(t.Input))
	r := &Result{Name: t.Name, Failure: &Failure{}}
	v := t.Validate
	fwd, direct := res.Forwarding(), res.DirectResponse()
	cov := c.coverage
	str := func(field string, want *string, actual string, has bool, mark func(*routeCoverage)) {
		if want == nil {
			return
		}
		if actual != *want {
			r.Lines = append(r.Lines, failureLine(*want, actual, field, true))
			r.Failure.Strings = append(r.Failure.Strings, FieldFailure{field, *want, actual})
			return
		}
		if has {
			mark(cov.entry(res))
		}
	}
	first := func(h traffic.Headers, name string) string { v, _ := h.First(name); return v }
	var cluster, vcluster, vhost, pathRW, hostRW string
	if fwd {
		cluster = res.Action.Cluster
		vcluster = c.router.VirtualCluster(res.VirtualHostIndex, res.RequestHeaders)
		vhost = res.VirtualHost.GetName()
		pathRW = first(res.RequestHeaders, ":path")
		hostRW = first(res.RequestHeaders, ":authority")
	}
	str("cluster_name", v.ClusterName, cluster, fwd, func(e *routeCoverage) { e.cluster = true })
	str("virtual_cluster_name", v.VirtualClusterName, vcluster, fwd, func(e *routeCoverage) { e.virtualCluster = true })
	str("virtual_host_name", v.VirtualHostName, vhost, fwd, func(e *routeCoverage) { e.virtualHost = true })
	str("path_rewrite", v.PathRewrite, pathRW, fwd, func(e *routeCoverage) { e.pathRewrite = true })
	str("host_rewrite", v.HostRewrite, hostRW, fwd, func(e *routeCoverage) { e.hostRewrite = true })
	var redirect string
	var code uint32
	if direct {
		switch {
		case res.Action.Redirect != nil:
			redirect, code = res.Action.Redirect.Location, res.Action.Redirect.Code
		default:
			redirect, code = traffic.RequestURI(res.RequestHeaders), res.Action.Status
		}
	}
	str("path_redirect", v.PathRedirect, redirect, direct, func(e *routeCoverage) { e.redirectPath = true })
	if v.CodeRedirect != nil {
		if code != *v.CodeRedirect {
			r.Lines = append(r.Lines, failureLine(strconv.FormatUint(uint64(*v.CodeRedirect), 10), strconv.FormatUint(uint64(code), 10), "code_redirect", true))
			r.Failure.Code = &[2]uint32{*v.CodeRedirect, code}
		} else if direct {
			cov.entry(res).redirectCode = true
		}
	}
	if v.Timeout != nil {
		var actual time.Duration
		if fwd {
			actual = res.Action.Timeout
		}
		if actual.Milliseconds() != v.Timeout.Milliseconds() {
			r.Lines = append(r.Lines, failureLine(strconv.FormatInt(v.Timeout.Milliseconds(), 10), strconv.FormatInt(actual.Milliseconds(), 10), "timeout", true))
			r.Failure.Timeout = &[2]time.Duration{*v.Timeout, actual}
		}
	}
	for _, m := range v.RouteMetadata {
		var actual string
		if res.Route != nil {
			actual = metadataString(res.Route.GetMetadata(), m.Namespace, m.Key)
		}
		if actual != m.Value {
			r.Lines = append(r.Lines, failureLine(m.Value, actual, "route_metadata", true))
		}
	}
	r.Failure.Request = c.headerChecks(r, res.RequestHeaders, v.RequestHeaderMatches, v.RequestHeaderFields, "request")
	r.Failure.Response = c.headerChecks(r, res.ResponseHeaders, v.ResponseHeaderMatches, v.ResponseHeaderFields, "response")
	r.Passed = len(r.Lines) == 0
	if r.Passed {
		r.Failure = nil
	}
	return r
}

// metadataString is filter_metadata[ns][key] as text ("" when absent): a string as it is,
// another value as JSON.
func metadataString(md *corev3.Metadata, ns, key string) string {
	v, ok := md.GetFilterMetadata()[ns].GetFields()[key]
	if !ok {
		return ""
	}
	if s, ok := v.GetKind().(*structpb.Value_StringValue); ok {
		return s.StringValue
	}
	b, _ := v.MarshalJSON()
	return string(b)
}

// headerChecks runs the header matchers, then the deprecated exact header fields.
func (c *Checker) headerChecks(r *Result, h traffic.Headers, matchers []*routev3.HeaderMatcher, fields []*corev3.HeaderValue, side string) []HeaderFailure {
	var failures []HeaderFailure
	for _, m := range matchers {
		hm, err := traffic.NewHeaderMatcher(m)
		if err == nil && hm.Match(h) {
			continue
		}
		actual, present := h.First(lowerASCII(m.GetName()))
		failures = append(failures, HeaderFailure{Matcher: m, Actual: actual})
		r.Lines = append(r.Lines, headerFailureLine(m, actual, present, side+"_header_matches"))
	}
	for _, f := range fields {
		actual, _ := h.First(lowerASCII(f.GetKey()))
		if actual != f.GetValue() {
			r.Lines = append(r.Lines, failureLine(f.GetValue(), actual, side+"_header_fields", true))
		}
	}
	return failures
}

// failureLine is router_check_tool's reportFailure.
func failureLine(expected, actual, testType string, expectMatch bool) string {
	not := ""
	if !expectMatch {
		not = "NOT "
	}
	return "expected: [" + expected + "], actual: " + not + "[" + actual + "], test type: " + testType
}

// headerFailureLine is matchHeaderField's report of a failed header matcher.
func headerFailureLine(m *routev3.HeaderMatcher, actual string, present bool, testType string) string {
	value := actual
	if !present {
		value = "NULL"
	}
	kind := matcherKind(m)
	t := testType + "." + kind
	switch m.GetHeaderMatchSpecifier().(type) {
	case *routev3.HeaderMatcher_PresentMatch, nil:
		exp, act := "true", "false"
		if m.GetInvertMatch() {
			exp, act = "false", "true"
		}
		return failureLine("has("+m.GetName()+"):"+exp, "has("+m.GetName()+"):"+act, t, true)
	case *routev3.HeaderMatcher_StringMatch:
		if e, ok := m.GetStringMatch().GetMatchPattern().(*matcherExact); ok {
			return failureLine(m.GetName()+": "+e.Exact, m.GetName()+": "+value, t, !m.GetInvertMatch())
		}
	}
	return "actual: [" + m.GetName() + ": " + value + "], test type: " + t
}

// matcherKind names a header matcher as router_check_tool's failure lines do.
func matcherKind(m *routev3.HeaderMatcher) string {
	switch s := m.GetHeaderMatchSpecifier().(type) {
	case *routev3.HeaderMatcher_ExactMatch:
		return "exact_match"
	case *routev3.HeaderMatcher_SafeRegexMatch:
		return "safe_regex_match"
	case *routev3.HeaderMatcher_RangeMatch:
		return "range_match"
	case *routev3.HeaderMatcher_PresentMatch, nil:
		return "present_match"
	case *routev3.HeaderMatcher_PrefixMatch:
		return "prefix_match"
	case *routev3.HeaderMatcher_SuffixMatch:
		return "suffix_match"
	case *routev3.HeaderMatcher_ContainsMatch:
		return "contains_match"
	case *routev3.HeaderMatcher_StringMatch:
		return "string_match." + stringMatchKind(s.StringMatch)
	}
	return "present_match"
}

// FormatFloat prints a float as C++'s ostream << does by default: 6 significant digits, no
// trailing zeros ("100", "66.6667", "7.44863").
func FormatFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	return strconv.FormatFloat(f, 'g', 6, 64)
}
