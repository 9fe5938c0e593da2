package configdump

import (
	"reflect"
	"strconv"
	"strings"
	"unsafe"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/anypb"
)

// Stores into generated messages without protobuf reflection.
//
// protobuf-go's reflective Set boxes every value into an interface and converts it through
// package reflect, and a list's Append allocates a slice header per element: on a large dump
// that is a third of the decoder's allocations. For the message types linked into the binary,
// whose Go structs protoc-gen-go generated, the decoder stores plain fields (scalars without
// presence, outside oneofs; repeated strings; repeated messages; message fields outside
// oneofs) straight into the struct, at the offsets the Go type gives for the field numbers in
// its protobuf struct tags. Everything else (oneofs, scalars with presence, maps, dynamic
// messages built from the embedded descriptors) goes through protoreflect as before. A layout the checks below do not
// recognise turns the fast path off for that type, never on.

// fastKind says how a field is stored directly (fastNone: through protoreflect). The scalars
// stored by fieldInfo.store run from fastString to fastDouble (see isScalarStore).
type fastKind uint8

const (
	fastNone fastKind = iota
	fastString
	fastBytes
	fastBool
	fastInt32 // int32, sint32, sfixed32
	fastEnum  // a named int32
	fastUint32
	fastInt64
	fastUint64
	fastFloat
	fastDouble
	fastStringList
	fastMessageList
	fastMessage // a message field outside oneofs: a pointer to its struct
)

// msgStateItab is the interface table of the protoreflect.Message that a generated message's
// ProtoReflect returns (protobuf-go's message state, at the start of the struct). A message
// whose protoreflect.Message has another one is not stored into directly.
var msgStateItab = ifaceWords((&anypb.Any{}).ProtoReflect())[0]

// ifaceWords returns the two words of v, an interface value: its type (or itab) and its data.
func ifaceWords[I any](v I) [2]unsafe.Pointer {
	return *(*[2]unsafe.Pointer)(unsafe.Pointer(&v))
}

// fastBase returns the address of m's Go struct when its fields may be stored directly: m is
// a generated message of info's type. nil otherwise.
func (info *msgInfo) fastBase(m protoreflect.Message) unsafe.Pointer {
	if !info.fast || disableFastStores {
		return nil
	}
	w := ifaceWords(m)
	if w[0] != msgStateItab || m.Type() != info.mt {
		return nil
	}
	return w[1]
}

// disableFastStores turns the fast path off, for tests that compare both paths.
var disableFastStores bool

// setFastLayout finds, for the Go type linked for info's message, the fields that can be
// stored directly and their offsets.
func (info *msgInfo) setFastLayout() {
	mt, err := protoregistry.GlobalTypes.FindMessageByName(info.md.FullName())
	if err != nil || mt.Descriptor() != info.md {
		return // a dynamic type, or a descriptor other than the linked one
	}
	x := mt.New()
	w := ifaceWords(x)
	pm := x.Interface()
	rt := reflect.TypeOf(pm)
	if w[0] != msgStateItab || rt.Kind() != reflect.Pointer || rt.Elem().Kind() != reflect.Struct ||
		ifaceWords(pm)[1] != w[1] {
		return // not the layout protoc-gen-go's open struct API generates
	}
	st := rt.Elem()
	if st.NumField() > 0 && strings.HasPrefix(st.Field(0).Tag.Get("protogen"), "opaque.") {
		return // the opaque API, as protobuf-go recognises it: presence bits, lazy fields
	}
	type fast struct {
		f    *fieldInfo
		kind fastKind
		off  uintptr
		elem reflect.Type
	}
	var found []fast
	for i := 0; i < st.NumField(); i++ {
		sf := st.Field(i)
		if strings.HasPrefix(sf.Name, "XXX_") || strings.HasPrefix(sf.Name, "xxx_hidden_") {
			return // presence bits, weak or hidden fields: leave the type to protoreflect
		}
		tag := sf.Tag.Get("protobuf")
		if tag == "" {
			continue
		}
		parts := strings.Split(tag, ",")
		if len(parts) < 2 {
			continue
		}
		num, err := strconv.Atoi(parts[1])
		if err != nil {
			continue
		}
		fd := info.md.Fields().ByNumber(protoreflect.FieldNumber(num))
		if fd == nil {
			continue
		}
		if k, elem := fastKindOf(fd, sf.Type); k != fastNone {
			found = append(found, fast{&info.fields[fd.Index()], k, sf.Offset, elem})
		}
	}
	// Only a layout read to its end is used.
	for _, x := range found {
		x.f.fast, x.f.off, x.f.elem = x.kind, x.off, x.elem
	}
	info.fast, info.mt = len(found) > 0, mt
}

var protoMessageType = reflect.TypeOf((*protoreflect.ProtoMessage)(nil)).Elem()

// isMessageOf says t, a pointer to a struct, is a generated message of md's type.
func isMessageOf(t reflect.Type, md protoreflect.MessageDescriptor) bool {
	if t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct || !t.Implements(protoMessageType) {
		return false
	}
	return reflect.Zero(t).Interface().(protoreflect.ProtoMessage).ProtoReflect().Descriptor() == md
}

var (
	stringType  = reflect.TypeOf("")
	bytesType   = reflect.TypeOf([]byte(nil))
	stringsType = reflect.TypeOf([]string(nil))
)

// fastKindOf says how a field of Go type t is stored directly, and for a message or a list of
// messages the Go type of the message (a pointer to a struct).
func fastKindOf(fd protoreflect.FieldDescriptor, t reflect.Type) (fastKind, reflect.Type) {
	if fd.IsMap() || fd.ContainingOneof() != nil {
		return fastNone, nil
	}
	if fd.IsList() {
		switch {
		case fd.Kind() == protoreflect.StringKind && t == stringsType:
			return fastStringList, nil
		case fd.Message() != nil && t.Kind() == reflect.Slice && isMessageOf(t.Elem(), fd.Message()):
			return fastMessageList, t.Elem()
		}
		return fastNone, nil
	}
	if fd.Message() != nil {
		if isMessageOf(t, fd.Message()) {
			return fastMessage, t
		}
		return fastNone, nil
	}
	if fd.HasPresence() {
		return fastNone, nil
	}
	want, k := reflect.Kind(0), fastNone
	switch fd.Kind() {
	case protoreflect.StringKind:
		if t == stringType {
			return fastString, nil
		}
		return fastNone, nil
	case protoreflect.BytesKind:
		if t == bytesType {
			return fastBytes, nil
		}
		return fastNone, nil
	case protoreflect.BoolKind:
		want, k = reflect.Bool, fastBool
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		want, k = reflect.Int32, fastInt32
	case protoreflect.EnumKind:
		want, k = reflect.Int32, fastEnum
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		want, k = reflect.Uint32, fastUint32
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		want, k = reflect.Int64, fastInt64
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		want, k = reflect.Uint64, fastUint64
	case protoreflect.FloatKind:
		want, k = reflect.Float32, fastFloat
	case protoreflect.DoubleKind:
		want, k = reflect.Float64, fastDouble
	default:
		return fastNone, nil
	}
	if t.Kind() != want {
		return fastNone, nil
	}
	return k, nil
}

// store stores v, a scalar of f's kind, into the struct at base (see fastBase).
func (f *fieldInfo) store(base unsafe.Pointer, v protoreflect.Value) {
	p := unsafe.Add(base, f.off)
	switch f.fast {
	case fastString:
		*(*string)(p) = v.String()
	case fastBytes:
		// As protoreflect's Set: an empty value is stored as nil.
		if b := v.Bytes(); len(b) > 0 {
			*(*[]byte)(p) = b
		} else {
			*(*[]byte)(p) = nil
		}
	case fastBool:
		*(*bool)(p) = v.Bool()
	case fastInt32:
		*(*int32)(p) = int32(v.Int())
	case fastEnum:
		*(*int32)(p) = int32(v.Enum())
	case fastUint32:
		*(*uint32)(p) = uint32(v.Uint())
	case fastInt64:
		*(*int64)(p) = v.Int()
	case fastUint64:
		*(*uint64)(p) = v.Uint()
	case fastFloat:
		*(*float32)(p) = float32(v.Float())
	case fastDouble:
		*(*float64)(p) = v.Float()
	case fastStringList:
		s := (*[]string)(p)
		*s = append(*s, v.String())
	}
}

// isScalarStore says f's values are stored with store.
func (f *fieldInfo) isScalarStore() bool {
	return f.fast >= fastString && f.fast <= fastDouble
}

// mutable is protoreflect's Mutable for a message field stored directly: the message the
// struct at base points to, set to a new one first when there is none.
func (f *fieldInfo) mutable(base unsafe.Pointer) protoreflect.Message {
	p := (*unsafe.Pointer)(unsafe.Add(base, f.off))
	var v reflect.Value
	if *p == nil {
		v = reflect.New(f.elem.Elem())
		*p = v.UnsafePointer()
	} else {
		v = reflect.NewAt(f.elem.Elem(), *p)
	}
	return v.Interface().(protoreflect.ProtoMessage).ProtoReflect()
}

// newElement returns a new element of a list of messages stored directly, and its address
// (f.elem is the pointer type of the list's elements).
func (f *fieldInfo) newElement() (protoreflect.Message, unsafe.Pointer) {
	v := reflect.New(f.elem.Elem())
	return v.Interface().(protoreflect.ProtoMessage).ProtoReflect(), v.UnsafePointer()
}

// appendElement appends an element newElement made to the list at base.
func (f *fieldInfo) appendElement(base, elem unsafe.Pointer) {
	// A []*T has the layout of a []unsafe.Pointer.
	s := (*[]unsafe.Pointer)(unsafe.Add(base, f.off))
	*s = append(*s, elem)
}
