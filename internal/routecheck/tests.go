package routecheck

import (
	"fmt"
	"time"
	"unicode/utf8"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	setmetadatav3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/set_metadata/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/proxyctl/proxyctl/internal/traffic"
)

// Suite is a tests file: router_check_tool's envoy.RouterCheckToolSchema.Validation.
type Suite struct {
	Tests []*Test
}

// Test is one test: a request and what to expect of its route.
type Test struct {
	Name     string
	Input    Input
	Validate Validate
}

// Input is the request of a test (ValidationInput).
type Input struct {
	Authority, Path, Method string
	RandomValue             uint64
	SSL, Internal           bool
	// Runtime is the one runtime key the test enables.
	Runtime         string
	RequestHeaders  []traffic.Header
	ResponseHeaders []traffic.Header
	DynamicMetadata []*setmetadatav3.Metadata
}

// Validate is what a test checks (ValidationAssert): a nil pointer or empty list is not
// checked; "" is a real expectation.
type Validate struct {
	ClusterName, VirtualClusterName, VirtualHostName *string
	HostRewrite, PathRewrite, PathRedirect           *string
	CodeRedirect                                     *uint32
	Timeout                                          *time.Duration
	RequestHeaderMatches, ResponseHeaderMatches      []*routev3.HeaderMatcher
	RequestHeaderFields, ResponseHeaderFields        []*corev3.HeaderValue
	RouteMetadata                                    []RouteMetadata
}

// RouteMetadata expects the route's metadata filter_metadata[Namespace][Key] to be Value.
type RouteMetadata struct{ Namespace, Key, Value string }

// LoadSuite parses a tests file (JSON, YAML or protobuf text, by its name) and checks it as
// router_check_tool does (validation.proto's rules).
func LoadSuite(name string, data []byte) (*Suite, error) {
	m := newMessage("Validation")
	if err := load(name, data, m); err != nil {
		return nil, err
	}
	s, err := suiteFrom(m)
	if err != nil {
		if le, ok := err.(*LoadError); ok {
			le.File = name
		}
		return nil, err
	}
	return s, nil
}

// msgReader reads a dynamic message of the schema by field name.
type msgReader struct{ m protoreflect.Message }

func (r msgReader) fd(name string) protoreflect.FieldDescriptor {
	fd := r.m.Descriptor().Fields().ByName(protoreflect.Name(name))
	if fd == nil {
		panic("routecheck: no field " + name + " in " + string(r.m.Descriptor().FullName()))
	}
	return fd
}

func (r msgReader) has(name string) bool   { return r.m.Has(r.fd(name)) }
func (r msgReader) str(name string) string { return r.m.Get(r.fd(name)).String() }
func (r msgReader) boolean(name string) bool {
	return r.m.Get(r.fd(name)).Bool()
}
func (r msgReader) uint(name string) uint64 { return r.m.Get(r.fd(name)).Uint() }
func (r msgReader) msg(name string) msgReader {
	return msgReader{r.m.Get(r.fd(name)).Message()}
}

// wrapper reads a google.protobuf wrapper field: nil when unset.
func (r msgReader) wrappedString(name string) *string {
	if !r.has(name) {
		return nil
	}
	v := r.msg(name).str("value")
	return &v
}

func (r msgReader) list(name string) protoreflect.List { return r.m.Get(r.fd(name)).List() }

// typed converts the messages of a list field into their Go type.
func typed[T proto.Message](r msgReader, name string, newT func() T) ([]T, error) {
	l := r.list(name)
	out := make([]T, 0, l.Len())
	for i := 0; i < l.Len(); i++ {
		b, err := proto.Marshal(l.Get(i).Message().Interface())
		if err != nil {
			return nil, err
		}
		t := newT()
		if err := proto.Unmarshal(b, t); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

func suiteFrom(m protoreflect.Message) (*Suite, error) {
	v := msgReader{m}
	tests := v.list("tests")
	if tests.Len() == 0 {
		return nil, &LoadError{Field: "tests", Err: fmt.Errorf("the file has no test (at least one is required)")}
	}
	s := &Suite{}
	for i := 0; i < tests.Len(); i++ {
		item := msgReader{tests.Get(i).Message()}
		where := fmt.Sprintf("tests[%d]", i)
		t := &Test{Name: item.str("test_name")}
		if t.Name == "" {
			return nil, &LoadError{Field: where + ".test_name", Err: fmt.Errorf("must not be empty")}
		}
		where += fmt.Sprintf(" (%s)", t.Name)
		bad := func(field, format string, args ...any) error {
			return &LoadError{Field: where + "." + field, Err: fmt.Errorf(format, args...)}
		}
		if !item.has("input") {
			return nil, bad("input", "is required")
		}
		if !item.has("validate") {
			return nil, bad("validate", "is required")
		}
		in, val := item.msg("input"), item.msg("validate")
		t.Input = Input{
			Authority: in.str("authority"), Path: in.str("path"), Method: in.str("method"),
			RandomValue: in.uint("random_value"), SSL: in.boolean("ssl"), Internal: in.boolean("internal"),
			Runtime: in.str("runtime"),
		}
		switch {
		case t.Input.Authority == "":
			return nil, bad("input.authority", "must not be empty")
		case t.Input.Path == "":
			return nil, bad("input.path", "must not be empty")
		case utf8.RuneCountInString(t.Input.Method) < 3:
			return nil, bad("input.method", "must have at least 3 characters, got %q", t.Input.Method)
		}
		for _, f := range []struct {
			name string
			dst  *[]traffic.Header
		}{{"additional_request_headers", &t.Input.RequestHeaders}, {"additional_response_headers", &t.Input.ResponseHeaders}} {
			hs, err := typed(in, f.name, func() *corev3.HeaderValue { return &corev3.HeaderValue{} })
			if err != nil {
				return nil, bad("input."+f.name, "%v", err)
			}
			for _, h := range hs {
				*f.dst = append(*f.dst, traffic.Header{Name: h.GetKey(), Value: h.GetValue()})
			}
		}
		var err error
		if t.Input.DynamicMetadata, err = typed(in, "dynamic_metadata", func() *setmetadatav3.Metadata { return &setmetadatav3.Metadata{} }); err != nil {
			return nil, bad("input.dynamic_metadata", "%v", err)
		}
		w := &t.Validate
		w.ClusterName = val.wrappedString("cluster_name")
		w.VirtualClusterName = val.wrappedString("virtual_cluster_name")
		w.VirtualHostName = val.wrappedString("virtual_host_name")
		w.HostRewrite = val.wrappedString("host_rewrite")
		w.PathRewrite = val.wrappedString("path_rewrite")
		w.PathRedirect = val.wrappedString("path_redirect")
		if val.has("code_redirect") {
			c := uint32(val.msg("code_redirect").uint("value"))
			w.CodeRedirect = &c
		}
		if val.has("timeout") {
			d := msgReader{val.msg("timeout").m}
			dur := (&durationpb.Duration{Seconds: d.m.Get(d.fd("seconds")).Int(), Nanos: int32(d.m.Get(d.fd("nanos")).Int())}).AsDuration()
			w.Timeout = &dur
		}
		for _, f := range []struct {
			name string
			dst  *[]*routev3.HeaderMatcher
		}{{"request_header_matches", &w.RequestHeaderMatches}, {"response_header_matches", &w.ResponseHeaderMatches}} {
			ms, err := typed(val, f.name, func() *routev3.HeaderMatcher { return &routev3.HeaderMatcher{} })
			if err != nil {
				return nil, bad("validate."+f.name, "%v", err)
			}
			for j, hm := range ms {
				if err := hm.Validate(); err != nil {
					return nil, bad(fmt.Sprintf("validate.%s[%d]", f.name, j), "%v", err)
				}
				if _, err := traffic.NewHeaderMatcher(hm); err != nil {
					return nil, bad(fmt.Sprintf("validate.%s[%d]", f.name, j), "%v", err)
				}
			}
			*f.dst = ms
		}
		if w.RequestHeaderFields, err = typed(val, "request_header_fields", func() *corev3.HeaderValue { return &corev3.HeaderValue{} }); err != nil {
			return nil, bad("validate.request_header_fields", "%v", err)
		}
		if w.ResponseHeaderFields, err = typed(val, "response_header_fields", func() *corev3.HeaderValue { return &corev3.HeaderValue{} }); err != nil {
			return nil, bad("validate.response_header_fields", "%v", err)
		}
		rm := val.list("route_metadata")
		for j := 0; j < rm.Len(); j++ {
			e := msgReader{rm.Get(j).Message()}
			w.RouteMetadata = append(w.RouteMetadata, RouteMetadata{Namespace: e.str("namespace"), Key: e.str("key"), Value: e.str("value")})
		}
		s.Tests = append(s.Tests, t)
	}
	return s, nil
}
