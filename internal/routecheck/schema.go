package routecheck

import (
	"fmt"
	"sync"

	// The messages validation.proto refers to, registered for the descriptor below.
	_ "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/set_metadata/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
	_ "google.golang.org/protobuf/types/known/durationpb"
	_ "google.golang.org/protobuf/types/known/structpb"
	_ "google.golang.org/protobuf/types/known/wrapperspb"
)

// router_check_tool's schema, envoy.RouterCheckToolSchema (Envoy's
// test/tools/router_check/validation.proto). No Go package generates it (go-control-plane does
// not ship Envoy's test tools), and generating code would need protoc, which the build does
// not have: the file is described here, field by field, and built at run time with protodesc.
// Its messages are dynamicpb messages, which protojson, prototext and proto read and write:
// one schema for the JSON, YAML and text test files and the binary --output-path result.
//
// Field numbers are validation.proto's (envoyproxy/envoy @ 08ca2b14). Two later additions,
// whose proto was not available: ValidationAssert.timeout is field 14 (envoyproxy/envoy PR
// #46019); route_metadata (15), ValidationFailure.expected_timeout/actual_timeout (17, 18) and
// RouteMetadataMatch are numbered here after them. They only matter in --output-path files.

const schemaPackage = "envoy.RouterCheckToolSchema"

var (
	schemaOnce sync.Once
	schemaFile protoreflect.FileDescriptor
	schemaErr  error
)

type fieldSpec struct {
	name     string
	num      int32
	typ      descriptorpb.FieldDescriptorProto_Type
	msg      string // fully qualified message type, with a leading dot
	repeated bool
}

func msgField(name string, num int32, msg string) fieldSpec {
	return fieldSpec{name: name, num: num, typ: descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, msg: msg}
}

func listField(name string, num int32, msg string) fieldSpec {
	f := msgField(name, num, msg)
	f.repeated = true
	return f
}

func scalar(name string, num int32, typ descriptorpb.FieldDescriptorProto_Type) fieldSpec {
	return fieldSpec{name: name, num: num, typ: typ}
}

const (
	tString = descriptorpb.FieldDescriptorProto_TYPE_STRING
	tBool   = descriptorpb.FieldDescriptorProto_TYPE_BOOL
	tUint64 = descriptorpb.FieldDescriptorProto_TYPE_UINT64

	strValue    = ".google.protobuf.StringValue"
	u32Value    = ".google.protobuf.UInt32Value"
	durationMsg = ".google.protobuf.Duration"
	headerValue = ".envoy.config.core.v3.HeaderValue"
	headerMatch = ".envoy.config.route.v3.HeaderMatcher"
)

func local(name string) string { return "." + schemaPackage + "." + name }

var schemaMessages = []struct {
	name   string
	fields []fieldSpec
}{
	{"Validation", []fieldSpec{
		listField("tests", 1, local("ValidationItem")),
		msgField("runtime", 2, ".google.protobuf.Struct"),
	}},
	{"ValidationItem", []fieldSpec{
		scalar("test_name", 1, tString),
		msgField("input", 2, local("ValidationInput")),
		msgField("validate", 3, local("ValidationAssert")),
	}},
	{"ValidationInput", []fieldSpec{
		scalar("authority", 1, tString),
		scalar("path", 2, tString),
		scalar("method", 4, tString),
		scalar("random_value", 5, tUint64),
		scalar("ssl", 6, tBool),
		scalar("internal", 7, tBool),
		scalar("runtime", 9, tString),
		listField("additional_request_headers", 10, headerValue),
		listField("additional_response_headers", 11, headerValue),
		listField("dynamic_metadata", 12, ".envoy.extensions.filters.http.set_metadata.v3.Metadata"),
	}},
	{"ValidationAssert", []fieldSpec{
		msgField("cluster_name", 1, strValue),
		msgField("virtual_cluster_name", 2, strValue),
		msgField("virtual_host_name", 3, strValue),
		msgField("host_rewrite", 4, strValue),
		msgField("path_rewrite", 5, strValue),
		msgField("path_redirect", 6, strValue),
		listField("request_header_fields", 9, headerValue),
		listField("response_header_fields", 10, headerValue),
		listField("request_header_matches", 11, headerMatch),
		listField("response_header_matches", 12, headerMatch),
		msgField("code_redirect", 13, u32Value),
		msgField("timeout", 14, durationMsg),
		listField("route_metadata", 15, local("RouteMetadataMatch")),
	}},
	{"RouteMetadataMatch", []fieldSpec{
		scalar("namespace", 1, tString),
		scalar("key", 2, tString),
		scalar("value", 3, tString),
	}},
	{"ValidationResult", []fieldSpec{
		listField("test_results", 1, local("ValidationItemResult")),
	}},
	{"ValidationItemResult", []fieldSpec{
		scalar("test_name", 1, tString),
		scalar("test_passed", 2, tBool),
		msgField("failure", 3, local("ValidationFailure")),
	}},
	{"ValidationFailure", []fieldSpec{
		msgField("expected_cluster_name", 1, strValue),
		msgField("actual_cluster_name", 2, strValue),
		msgField("expected_virtual_cluster_name", 3, strValue),
		msgField("actual_virtual_cluster_name", 4, strValue),
		msgField("expected_virtual_host_name", 5, strValue),
		msgField("actual_virtual_host_name", 6, strValue),
		msgField("expected_host_rewrite", 7, strValue),
		msgField("actual_host_rewrite", 8, strValue),
		msgField("expected_path_rewrite", 9, strValue),
		msgField("actual_path_rewrite", 10, strValue),
		msgField("expected_path_redirect", 11, strValue),
		msgField("actual_path_redirect", 12, strValue),
		msgField("expected_code_redirect", 13, u32Value),
		msgField("actual_code_redirect", 14, u32Value),
		listField("request_header_match_failures", 15, local("HeaderMatchFailure")),
		listField("response_header_match_failures", 16, local("HeaderMatchFailure")),
		msgField("expected_timeout", 17, durationMsg),
		msgField("actual_timeout", 18, durationMsg),
	}},
	{"HeaderMatchFailure", []fieldSpec{
		msgField("header_matcher", 1, headerMatch),
		msgField("actual_header_value", 2, strValue),
	}},
}

func buildSchema() (protoreflect.FileDescriptor, error) {
	fd := &descriptorpb.FileDescriptorProto{
		Name:    proto.String("test/tools/router_check/validation.proto"),
		Package: proto.String(schemaPackage),
		Syntax:  proto.String("proto3"),
		Dependency: []string{
			"envoy/config/core/v3/base.proto",
			"envoy/config/route/v3/route_components.proto",
			"envoy/extensions/filters/http/set_metadata/v3/set_metadata.proto",
			"google/protobuf/wrappers.proto",
			"google/protobuf/struct.proto",
			"google/protobuf/duration.proto",
		},
	}
	for _, m := range schemaMessages {
		mp := &descriptorpb.DescriptorProto{Name: proto.String(m.name)}
		for _, f := range m.fields {
			label := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL
			if f.repeated {
				label = descriptorpb.FieldDescriptorProto_LABEL_REPEATED
			}
			fp := &descriptorpb.FieldDescriptorProto{
				Name:   proto.String(f.name),
				Number: proto.Int32(f.num),
				Label:  label.Enum(),
				Type:   f.typ.Enum(),
			}
			if f.msg != "" {
				fp.TypeName = proto.String(f.msg)
			}
			mp.Field = append(mp.Field, fp)
		}
		fd.MessageType = append(fd.MessageType, mp)
	}
	return protodesc.NewFile(fd, protoregistry.GlobalFiles)
}

// schema returns the file descriptor, built once.
func schema() protoreflect.FileDescriptor {
	schemaOnce.Do(func() { schemaFile, schemaErr = buildSchema() })
	if schemaErr != nil {
		// The descriptor is a constant of this package: a test builds it.
		panic(fmt.Sprintf("routecheck: building validation.proto: %v", schemaErr))
	}
	return schemaFile
}

// newMessage returns an empty message of the schema, by its short name ("Validation").
func newMessage(name string) *dynamicpb.Message {
	md := schema().Messages().ByName(protoreflect.Name(name))
	return dynamicpb.NewMessage(md)
}
