package configdump

import (
	"os"
	"path/filepath"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/structpb"
)

// TestFastKinds: which fields of linked types are stored straight into their structs, and
// which are left to protoreflect (oneofs, maps, presence, dynamic types).
func TestFastKinds(t *testing.T) {
	tests := []struct {
		m     proto.Message
		field protoreflect.Name
		want  fastKind
	}{
		{&clusterv3.Cluster{}, "name", fastString},
		{&clusterv3.Cluster{}, "alt_stat_name", fastString},
		{&clusterv3.Cluster{}, "lb_policy", fastInt32}, // an enum
		{&clusterv3.Cluster{}, "respect_dns_ttl", fastBool},
		{&clusterv3.Cluster{}, "connect_timeout", fastMessage},
		{&clusterv3.Cluster{}, "per_connection_buffer_limit_bytes", fastMessage}, // a wrapper
		{&clusterv3.Cluster{}, "transport_socket_matches", fastMessageList},
		{&clusterv3.Cluster{}, "type", fastNone},                             // in a oneof
		{&clusterv3.Cluster{}, "eds_cluster_config", fastMessage},            // not in one
		{&clusterv3.Cluster{}, "typed_extension_protocol_options", fastNone}, // a map
		{&routev3.RouteConfiguration{}, "response_headers_to_remove", fastStringList},
		{&routev3.RouteConfiguration{}, "virtual_hosts", fastMessageList},
		{&routev3.Route{}, "match", fastMessage},
		{&routev3.Route{}, "route", fastNone}, // the action oneof
		{&anypb.Any{}, "type_url", fastString},
		{&anypb.Any{}, "value", fastBytes},
		{&structpb.Value{}, "string_value", fastNone}, // the kind oneof
	}
	for _, tt := range tests {
		md := tt.m.ProtoReflect().Descriptor()
		fd := md.Fields().ByName(tt.field)
		if fd == nil {
			t.Fatalf("%s has no field %s", md.FullName(), tt.field)
		}
		info := infoFor(md)
		if got := info.fields[fd.Index()].fast; got != tt.want {
			t.Errorf("%s.%s: fast kind %d, want %d", md.FullName(), tt.field, got, tt.want)
		}
		if tt.want == fastNone {
			continue
		}
		if !info.fast {
			t.Errorf("%s: no field stored directly", md.FullName())
		}
		if info.fastBase(tt.m.ProtoReflect()) == nil {
			t.Errorf("%s: a linked message is not stored into directly", md.FullName())
		}
	}
	// A message of a type built from descriptors is never stored into directly.
	useDescriptors(t)
	mt := resolveType("type.googleapis.com/envoy.config.cluster.v3.Cluster")
	if mt == nil {
		t.Fatal("no Cluster type from the descriptors")
	}
	m := mt.New()
	if m.Descriptor() == (&clusterv3.Cluster{}).ProtoReflect().Descriptor() {
		t.Skip("the descriptors' Cluster is the linked one")
	}
	if infoFor(m.Descriptor()).fastBase(m) != nil {
		t.Error("a dynamic Cluster is stored into directly")
	}
	// Nor is a linked message given with another type's info.
	if infoFor((&routev3.Route{}).ProtoReflect().Descriptor()).fastBase((&clusterv3.Cluster{}).ProtoReflect()) != nil {
		t.Error("a Cluster is stored into with a Route's layout")
	}
}

// TestFastStoresAgree decodes every section of the test dumps with the direct stores and
// without, and compares the messages.
func TestFastStoresAgree(t *testing.T) {
	files, _ := filepath.Glob("../testdata/dumps/*.json")
	files = append(files, "../testdata/sample/config_dump.json")
	shared, _ := filepath.Glob("../../shared/conformance/dumps/*.json")
	files = append(files, shared...)
	compared := 0
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			continue
		}
		decode := func() []proto.Message {
			d, err := Parse(data)
			if err != nil {
				return nil
			}
			var out []proto.Message
			for _, sp := range d.spans {
				mt := resolveType(sp.typeURL)
				if mt == nil {
					continue
				}
				m := mt.New().Interface()
				if err := d.UnmarshalAny(&anypb.Any{TypeUrl: sp.typeURL, Value: d.src[sp.start:sp.end]}, m); err != nil {
					continue
				}
				out = append(out, m)
			}
			return out
		}
		fast := decode()
		disableFastStores = true
		slow := decode()
		disableFastStores = false
		if len(fast) != len(slow) {
			t.Fatalf("%s: %d sections decoded with direct stores, %d without", filepath.Base(file), len(fast), len(slow))
		}
		for i := range fast {
			if !proto.Equal(fast[i], slow[i]) {
				t.Errorf("%s: section %d (%s) differs with direct stores", filepath.Base(file), i, fast[i].ProtoReflect().Descriptor().FullName())
			}
			compared++
		}
	}
	if compared < 10 {
		t.Fatalf("compared only %d sections", compared)
	}
	t.Logf("compared %d sections", compared)
}
