package configdump

import (
	"sort"
	"strings"
	"sync"

	udpa "github.com/cncf/xds/go/udpa/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// wktKind names the well-known types whose JSON form is not a plain object of fields.
type wktKind uint8

const (
	wktNone wktKind = iota
	wktAny
	wktDuration
	wktTimestamp
	wktStruct
	wktValue
	wktListValue
	wktFieldMask
	wktWrapper
)

var wktByName = map[protoreflect.FullName]wktKind{
	"google.protobuf.Any":         wktAny,
	"google.protobuf.Duration":    wktDuration,
	"google.protobuf.Timestamp":   wktTimestamp,
	"google.protobuf.Struct":      wktStruct,
	"google.protobuf.Value":       wktValue,
	"google.protobuf.ListValue":   wktListValue,
	"google.protobuf.FieldMask":   wktFieldMask,
	"google.protobuf.BoolValue":   wktWrapper,
	"google.protobuf.Int32Value":  wktWrapper,
	"google.protobuf.Int64Value":  wktWrapper,
	"google.protobuf.UInt32Value": wktWrapper,
	"google.protobuf.UInt64Value": wktWrapper,
	"google.protobuf.FloatValue":  wktWrapper,
	"google.protobuf.DoubleValue": wktWrapper,
	"google.protobuf.StringValue": wktWrapper,
	"google.protobuf.BytesValue":  wktWrapper,
}

// fieldInfo is what the encoder needs of a field, computed once per message type.
type fieldInfo struct {
	fd protoreflect.FieldDescriptor
	// key is the field's JSON name, quoted and followed by ": ".
	key string
	// sensitive marks fields annotated (udpa.annotations.sensitive): secret material.
	sensitive bool
}

// msgInfo caches, per message type, the lookups the codec does for every message.
type msgInfo struct {
	wkt wktKind
	// byKey finds a field by its proto name or its JSON name.
	byKey map[string]protoreflect.FieldDescriptor
	// fields in declaration order, as protojson prints them.
	fields []fieldInfo
}

var msgInfos sync.Map // protoreflect.MessageDescriptor -> *msgInfo

func infoFor(md protoreflect.MessageDescriptor) *msgInfo {
	if v, ok := msgInfos.Load(md); ok {
		return v.(*msgInfo)
	}
	fds := md.Fields()
	info := &msgInfo{
		wkt:    wktByName[md.FullName()],
		byKey:  make(map[string]protoreflect.FieldDescriptor, 2*fds.Len()),
		fields: make([]fieldInfo, fds.Len()),
	}
	for i := 0; i < fds.Len(); i++ {
		fd := fds.Get(i)
		info.byKey[string(fd.Name())] = fd
		info.byKey[fd.JSONName()] = fd
		info.fields[i] = fieldInfo{fd: fd, key: `"` + fd.JSONName() + `": `, sensitive: isSensitive(fd)}
	}
	v, _ := msgInfos.LoadOrStore(md, info)
	return v.(*msgInfo)
}

func isSensitive(fd protoreflect.FieldDescriptor) bool {
	opts, ok := fd.Options().(*descriptorpb.FieldOptions)
	if !ok || opts == nil {
		return false
	}
	s, _ := proto.GetExtension(opts, udpa.E_Sensitive).(bool)
	return s
}

// resolved caches type URL lookups: URL -> protoreflect.MessageType (nil when unknown).
var resolved sync.Map

// resolveType finds the message type a type URL names: a linked Go type, else a dynamic type
// built from the embedded descriptors (see registry.go). URLs of Envoy's v2 API resolve to the
// v3 message that replaced them, so that old dumps read as new ones where the shapes agree.
func resolveType(url string) protoreflect.MessageType {
	if v, ok := resolved.Load(url); ok {
		mt, _ := v.(protoreflect.MessageType)
		return mt
	}
	mt := findType(messageName(url))
	if mt == nil {
		if next, ok := loadTypeIndex().successor(messageName(url)); ok {
			mt = findType(next)
		}
	}
	// The cache outlives the document url may point into: keep a copy.
	if mt == nil {
		resolved.Store(strings.Clone(url), nil)
		return nil
	}
	resolved.Store(strings.Clone(url), mt)
	return mt
}

func findType(name protoreflect.FullName) protoreflect.MessageType {
	if mt, err := protoregistry.GlobalTypes.FindMessageByName(name); err == nil && !onlyDescriptors {
		return mt
	}
	return dynamic.messageType(name)
}

// knownURL reports whether a type URL names a type this binary can decode, without building
// any type.
func knownURL(url string) bool { return knownName(messageName(url)) }

// messageName is the part of a type URL after its last slash.
func messageName(url string) protoreflect.FullName {
	if i := strings.LastIndexByte(url, '/'); i >= 0 {
		url = url[i+1:]
	}
	return protoreflect.FullName(url)
}

// typeSet collects the type URLs met that no registered message answers to.
type typeSet struct {
	mu   sync.Mutex
	urls map[string]struct{}
}

func (t *typeSet) add(url string) {
	if t == nil {
		return
	}
	t.mu.Lock()
	if t.urls == nil {
		t.urls = make(map[string]struct{})
	}
	if _, ok := t.urls[url]; !ok {
		t.urls[url] = struct{}{}
	}
	t.mu.Unlock()
}

func (t *typeSet) list() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]string, 0, len(t.urls))
	for u := range t.urls {
		out = append(out, u)
	}
	sort.Strings(out)
	return out
}
