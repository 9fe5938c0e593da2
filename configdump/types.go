package configdump

import (
	"reflect"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

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

// fieldInfo is what the codec needs of a field, computed once per message type.
type fieldInfo struct {
	fd protoreflect.FieldDescriptor
	// key is the field's JSON name, quoted and followed by ": ".
	key string
	// name and json are the field's proto and JSON names, the keys it is read by.
	name, json string
	// sensitive marks fields annotated (udpa.annotations.sensitive): secret material.
	sensitive bool
	// shape says how the field's values are written (see fieldShape).
	shape fieldShape
	// index is the field's index in its message's fields.
	index int
	// sub is the msgInfo of a message field's message (of a map field's values), set on
	// first use.
	sub atomic.Pointer[msgInfo]
	// next is 1 + the index of the field whose key came after this one's the last time an
	// object of this type was read (0: none yet): documents written by a program list the
	// same fields in the same order in every object, so that the next key is found with a
	// comparison instead of a map look-up (see msgInfo.lookup).
	next atomic.Int32
	// fast says how the field is stored straight into a generated struct, at offset off (see
	// fastset.go); elem is the Go type of a list's message elements.
	fast fastKind
	off  uintptr
	elem reflect.Type
}

// fieldShape is the JSON shape of a field's values.
type fieldShape uint8

const (
	shapeScalar fieldShape = iota
	shapeMessage
	shapeList
	shapeMap
)

// msgInfo caches, per message type, the lookups the codec does for every message.
type msgInfo struct {
	md  protoreflect.MessageDescriptor
	wkt wktKind
	// byKey finds a field by its proto name or its JSON name.
	byKey map[string]protoreflect.FieldDescriptor
	// fields in declaration order, as protojson prints them.
	fields []fieldInfo
	// first is 1 + the index of the field whose key came first the last time (see next).
	first atomic.Int32
	// fast: some fields of the message's linked Go type, mt, are stored directly (see
	// fastBase).
	fast bool
	mt   protoreflect.MessageType
}

var msgInfos sync.Map // protoreflect.MessageDescriptor -> *msgInfo

func infoFor(md protoreflect.MessageDescriptor) *msgInfo {
	if v, ok := msgInfos.Load(md); ok {
		return v.(*msgInfo)
	}
	fds := md.Fields()
	info := &msgInfo{
		md:     md,
		wkt:    wktByName[md.FullName()],
		byKey:  make(map[string]protoreflect.FieldDescriptor, 2*fds.Len()),
		fields: make([]fieldInfo, fds.Len()),
	}
	for i := 0; i < fds.Len(); i++ {
		fd := fds.Get(i)
		info.byKey[string(fd.Name())] = fd
		info.byKey[fd.JSONName()] = fd
		f := &info.fields[i]
		f.fd, f.key, f.sensitive, f.index = fd, `"`+fd.JSONName()+`": `, isSensitive(fd), i
		f.name, f.json = string(fd.Name()), fd.JSONName()
		switch {
		case fd.IsMap():
			f.shape = shapeMap
		case fd.IsList():
			f.shape = shapeList
		case fd.Message() != nil:
			f.shape = shapeMessage
		}
	}
	info.setFastLayout()
	v, _ := msgInfos.LoadOrStore(md, info)
	return v.(*msgInfo)
}

// lookup finds the field of a key read after the field at index prev (-1 for the first key
// of an object), or nil.
func (info *msgInfo) lookup(prev int, key string) *fieldInfo {
	hint := &info.first
	if prev >= 0 {
		hint = &info.fields[prev].next
	}
	if h := hint.Load(); h > 0 {
		if f := &info.fields[h-1]; f.name == key || f.json == key {
			return f
		}
	}
	fd := info.byKey[key]
	if fd == nil {
		return nil
	}
	f := &info.fields[fd.Index()]
	hint.Store(int32(f.index + 1))
	return f
}

// message returns the msgInfo of a message field's message (a map field's value message, a
// list's element message).
func (f *fieldInfo) message() *msgInfo {
	if sub := f.sub.Load(); sub != nil {
		return sub
	}
	md := f.fd.Message()
	if f.shape == shapeMap {
		md = f.fd.MapValue().Message()
	}
	sub := infoFor(md)
	f.sub.Store(sub)
	return sub
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

// typeByURL is what resolveTypeInfo found for a URL.
type typeByURL struct {
	mt   protoreflect.MessageType
	info *msgInfo
}

// typesByURL caches resolveTypeInfo in a map that is copied to grow: a dump names few types,
// each thousands of times, and a plain map answers faster than resolved does.
var (
	typesByURL   atomic.Pointer[map[string]typeByURL]
	typesByURLMu sync.Mutex
)

// maxTypesByURL bounds typesByURL (a hostile document may name any number of types).
const maxTypesByURL = 512

// resolveTypeInfo is resolveType, with the type's msgInfo (nil for an unknown type).
func resolveTypeInfo(url string) (protoreflect.MessageType, *msgInfo) {
	if m := typesByURL.Load(); m != nil {
		if t, ok := (*m)[url]; ok {
			return t.mt, t.info
		}
	}
	t := typeByURL{mt: resolveType(url)}
	if t.mt != nil {
		t.info = infoFor(t.mt.Descriptor())
	}
	typesByURLMu.Lock()
	defer typesByURLMu.Unlock()
	old := typesByURL.Load()
	if old != nil && len(*old) >= maxTypesByURL {
		return t.mt, t.info
	}
	grown := make(map[string]typeByURL, 1+len(ptrMap(old)))
	for k, v := range ptrMap(old) {
		grown[k] = v
	}
	grown[strings.Clone(url)] = t
	typesByURL.Store(&grown)
	return t.mt, t.info
}

func ptrMap(m *map[string]typeByURL) map[string]typeByURL {
	if m == nil {
		return nil
	}
	return *m
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
