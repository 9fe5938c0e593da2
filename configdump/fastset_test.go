package configdump

import (
	"os"
	"path/filepath"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
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
		{&clusterv3.Cluster{}, "lb_policy", fastEnum},
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
		// A section's message, or the error decoding it gave: both paths must agree on both.
		type section struct {
			m   proto.Message
			err string
		}
		decode := func() []section {
			d, err := Parse(data)
			if err != nil {
				return []section{{err: err.Error()}}
			}
			var out []section
			for _, sp := range d.spans {
				mt := resolveType(sp.typeURL)
				if mt == nil {
					continue
				}
				m := mt.New().Interface()
				if err := d.UnmarshalAny(&anypb.Any{TypeUrl: sp.typeURL, Value: d.src[sp.start:sp.end]}, m); err != nil {
					out = append(out, section{err: err.Error()})
					continue
				}
				out = append(out, section{m: m})
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
			switch f, s := fast[i], slow[i]; {
			case f.err != s.err:
				t.Errorf("%s: section %d: error %q with direct stores, %q without", filepath.Base(file), i, f.err, s.err)
			case f.m != nil && !proto.Equal(f.m, s.m):
				t.Errorf("%s: section %d (%s) differs with direct stores", filepath.Base(file), i, f.m.ProtoReflect().Descriptor().FullName())
			case f.m != nil:
				compared++
			}
		}
	}
	if compared < 10 {
		t.Fatalf("compared only %d sections", compared)
	}
	t.Logf("compared %d sections", compared)
}

// TestFastStoresEveryField stores a value into every field of every linked type that is
// stored directly, and the same value through protoreflect into another message: the two
// must be equal, marshal alike, and have no other field set. Unlike the dumps, this reaches
// fields no test dump holds.
func TestFastStoresEveryField(t *testing.T) {
	types, fields := 0, map[fastKind]int{}
	protoregistry.GlobalTypes.RangeMessages(func(mt protoreflect.MessageType) bool {
		info := infoFor(mt.Descriptor())
		if !info.fast {
			return true
		}
		types++
		for i := range info.fields {
			f := &info.fields[i]
			if f.fast == fastNone {
				continue
			}
			fields[f.fast]++
			fd := f.fd
			m := mt.New()
			base := info.fastBase(m)
			if base == nil {
				t.Fatalf("%s: no base", fd.FullName())
			}
			want := mt.New()
			switch f.fast {
			case fastMessage:
				sub := f.mutable(base)
				if sub.Descriptor() != fd.Message() {
					t.Errorf("%s: sub desc", fd.FullName())
				}
				if !m.Has(fd) || m.Get(fd).Message().Interface() != sub.Interface() {
					t.Errorf("%s: message not where protoreflect sees it", fd.FullName())
				}
				want.Mutable(fd)
			case fastMessageList:
				e, at := f.newElement()
				if e.Descriptor() != fd.Message() {
					t.Errorf("%s: elem desc", fd.FullName())
				}
				f.appendElement(base, at)
				f.appendElement(base, at)
				l := m.Get(fd).List()
				if l.Len() != 2 || l.Get(1).Message().Interface() != e.Interface() {
					t.Errorf("%s: list not where protoreflect sees it", fd.FullName())
				}
				want.Mutable(fd).List().Append(protoreflect.ValueOfMessage(e))
				want.Mutable(fd).List().Append(protoreflect.ValueOfMessage(e))
			default:
				var v protoreflect.Value
				switch fd.Kind() {
				case protoreflect.StringKind:
					v = protoreflect.ValueOfString("xyz")
				case protoreflect.BytesKind:
					v = protoreflect.ValueOfBytes([]byte{1, 2})
				case protoreflect.BoolKind:
					v = protoreflect.ValueOfBool(true)
				case protoreflect.EnumKind:
					v = protoreflect.ValueOfEnum(-3)
				case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
					v = protoreflect.ValueOfInt32(-123456)
				case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
					v = protoreflect.ValueOfInt64(-1234567890123)
				case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
					v = protoreflect.ValueOfUint32(4000000000)
				case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
					v = protoreflect.ValueOfUint64(1 << 60)
				case protoreflect.FloatKind:
					v = protoreflect.ValueOfFloat32(1.5)
				case protoreflect.DoubleKind:
					v = protoreflect.ValueOfFloat64(-2.25)
				default:
					t.Fatalf("%s: kind %v", fd.FullName(), fd.Kind())
				}
				f.store(base, v)
				if f.fast == fastStringList {
					f.store(base, v)
					want.Mutable(fd).List().Append(v)
					want.Mutable(fd).List().Append(v)
				} else {
					want.Set(fd, v)
				}
			}
			if !proto.Equal(m.Interface(), want.Interface()) {
				t.Errorf("%s (%v): direct store differs from protoreflect", fd.FullName(), f.fast)
			}
			// Every other field stays unset.
			m.Range(func(o protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
				if o != fd {
					t.Errorf("%s: store set %s too", fd.FullName(), o.FullName())
				}
				return true
			})
			opts := proto.MarshalOptions{AllowPartial: true, Deterministic: true} // proto2 required fields
			b1, err1 := opts.Marshal(m.Interface())
			b2, err2 := opts.Marshal(want.Interface())
			if err1 != nil || err2 != nil || string(b1) != string(b2) {
				t.Errorf("%s: marshal differs %v %v", fd.FullName(), err1, err2)
			}
		}
		return true
	})
	if types < 500 || fields[fastString] == 0 || fields[fastMessageList] == 0 || fields[fastMessage] == 0 {
		t.Fatalf("only %d types stored directly (fields by kind %v)", types, fields)
	}
	t.Logf("%d types, fields by kind %v", types, fields)
}
