package configdump

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/proxyctl/proxyctl/internal/parallel"
)

// The decoder turns JSON into typed protobuf messages the way protojson does (proto or JSON
// field names, int64 as numbers or strings, the well-known types' JSON forms), with these
// differences that make it fit for real config dumps:
//
//   - google.protobuf.Any is decoded lazily: its Value holds the raw JSON object (a view into the
//     input), decoded on demand by UnmarshalAny into whatever message the caller asks for. Types
//     unknown to this binary are therefore kept, not dropped, and v2 resources can be read as their
//     v3 equivalents.
//   - a bytes field whose string is not base64 (Envoy's "[redacted]") keeps its raw text, a view
//     into the input, which the encoder prints back unchanged.
//   - nothing is dropped: a member the message's type does not know, or a value it cannot hold
//     (an unknown enum name), is kept as raw JSON in the message (see extras.go) and printed
//     back by the encoder, where protojson fails or, told to discard unknown fields, drops it;
//   - with check set (a view's first pass), the fields a projection leaves out, and typed
//     configs, are checked without being built (see check.go), so that a table fails on the
//     values -o json would fail on.
//
// Strings without escapes share memory with the input, which must not change afterwards.
type decoder struct {
	scanner
	// unknown collects the type URLs of typed configs the checker met that this binary does
	// not know (nil: none are noted).
	unknown *typeSet
	// proj selects the fields of the message being decoded (nil: all of them).
	proj Projection
	// check: check what is not decoded (fields left out by proj, typed configs).
	check bool
	// secrets, when set, collects the secret values the checker met (see Redactions).
	secrets *[]Replacement
	// anyURLs are the "@type"s of the typed config being checked, lastAnyURLs those of the
	// last one checked (see moreAnySecrets).
	anyURLs, lastAnyURLs []string
	// lists, when set, is the dump whose section this decoder reads: the lists of objects at
	// the section's root that its index found are decoded on all cores.
	lists *Dump
	// anys are where the typed configs of that section's resources end, as its index found
	// them (see anySpan): the decoder skips to there rather than look for the end.
	anys []anySpan
}

// minParallelList is the shortest list decoded on all cores.
const minParallelList = 64

// listSpan returns the list of objects the index found at offset at, if any.
func (d *Dump) listSpan(at int64) (listSpan, bool) {
	i := sort.Search(len(d.lists), func(i int) bool { return d.lists[i].start >= at })
	if i < len(d.lists) && d.lists[i].start == at {
		return d.lists[i], true
	}
	return listSpan{}, false
}

// parallelList decodes the elements of a list of objects the index found (ls) into list, on
// all cores, and moves past the list.
func (d *decoder) parallelList(list protoreflect.List, ls listSpan, depth int) error {
	dump := d.lists
	elems := dump.elems[ls.first : ls.first+ls.objects]
	var rel *releaser
	if dump.release != nil {
		rel = &releaser{release: dump.release, src: dump.src, from: int(ls.start)}
	}
	err := parallel.Ordered(len(elems), func(k int) (released[protoreflect.Value], error) {
		e := elems[k]
		sub := newDecoder(dump.src[e.start:e.end], int(e.start), dump.src, d.unknown)
		sub.proj, sub.anys = d.proj, d.anys
		elem := list.NewElement()
		if err := sub.messageValue(elem.Message(), depth+1); err != nil {
			return released[protoreflect.Value]{}, err
		}
		return released[protoreflect.Value]{elem, int(e.end)}, nil
	}, func(v released[protoreflect.Value]) error {
		list.Append(v.out)
		rel.upTo(v.end)
		return nil
	})
	if err != nil {
		return err
	}
	d.pos = int(ls.end) - d.base
	return nil
}

// Projection selects fields to decode, by proto name, with sub-projections for the fields of
// message fields (nil: the whole field). The others are skipped: a view that needs a few
// fields of large resources decodes much less, and still gets typed messages.
type Projection map[string]Projection

// Fields builds a projection from dotted paths of proto field names, such as
// "host_statuses.address".
func Fields(paths ...string) Projection {
	p := Projection{}
	for _, path := range paths {
		p.add(strings.Split(path, "."))
	}
	return p
}

func (p Projection) add(parts []string) {
	child, seen := p[parts[0]]
	switch {
	case len(parts) == 1:
		p[parts[0]] = nil // the whole field, whatever was asked of its parts
	case seen && child == nil:
		// The whole field is selected already.
	default:
		if !seen {
			child = Projection{}
			p[parts[0]] = child
		}
		child.add(parts[1:])
	}
}

// newDecoder decodes data, found at offset base of the document doc. doc, when not nil, is a
// document the indexer accepted (a Dump's, or part of one): valid JSON.
func newDecoder(data []byte, base int, doc []byte, unknown *typeSet) *decoder {
	valid := doc != nil && len(data) > 0 && within(doc, data)
	return &decoder{scanner: scanner{data: data, base: base, doc: doc, valid: valid}, unknown: unknown}
}

// within reports whether sub is part of doc.
func within(doc, sub []byte) bool {
	if len(doc) == 0 {
		return false
	}
	start := uintptr(unsafe.Pointer(unsafe.SliceData(doc)))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(sub)))
	return p >= start && p+uintptr(len(sub)) <= start+uintptr(len(doc))
}

func (d *decoder) messageValue(m protoreflect.Message, depth int) error {
	return d.messageValueInfo(m, nil, depth)
}

// messageValueInfo is messageValue for a message of info's type (nil: looked up).
func (d *decoder) messageValueInfo(m protoreflect.Message, info *msgInfo, depth int) error {
	if depth > maxDepth {
		return d.errorf("nesting deeper than %d levels", maxDepth)
	}
	if info == nil {
		info = infoFor(m.Descriptor())
	}
	switch info.wkt {
	case wktAny:
		return d.anyValue(m)
	case wktDuration:
		return d.durationValue(m)
	case wktTimestamp:
		return d.timestampValue(m)
	case wktStruct:
		return d.mapField(m, info.fields[0].fd, &info.fields[0], depth)
	case wktValue:
		return d.valueValue(m, info, depth)
	case wktListValue:
		return d.listField(m, nil, info.fields[0].fd, &info.fields[0], depth)
	case wktFieldMask:
		return d.fieldMaskValue(m)
	case wktWrapper:
		fd := m.Descriptor().Fields().ByNumber(1)
		v, ok, err := d.scalar(fd)
		if err == nil && ok {
			m.Set(fd, v)
		}
		return err
	}
	return d.object(m, info, depth)
}

// readKey reads an object key; the result is only valid until the next read.
func (d *decoder) readKey() (string, error) {
	raw, escaped, err := d.readRawString()
	if err != nil {
		return "", err
	}
	if escaped {
		out, err := unescape(raw)
		if err != nil {
			return "", d.errorf("%v", err)
		}
		raw = out
	}
	if err := d.expect(':'); err != nil {
		return "", err
	}
	return bytesToString(raw), nil
}

func (d *decoder) object(m protoreflect.Message, info *msgInfo, depth int) error {
	if err := d.expect('{'); err != nil {
		return err
	}
	proj := d.proj
	defer func() { d.proj = proj }()
	base := info.fastBase(m)
	prev := -1
	for first := true; ; first = false {
		more, err := d.more('}', first)
		if err != nil {
			return err
		}
		if !more {
			return nil
		}
		keyAt := d.pos
		key, err := d.readKey()
		if err != nil {
			return err
		}
		var fd protoreflect.FieldDescriptor
		f := info.lookup(prev, key)
		if f != nil {
			fd, prev = f.fd, f.index
		}
		var child Projection
		if fd != nil && proj != nil {
			var selected bool
			child, selected = proj[f.name]
			if !selected {
				if d.check {
					err = d.checkField(f, false, depth)
				} else {
					err = d.skipValue()
				}
				if err != nil {
					return err
				}
				continue
			}
		}
		if fd == nil {
			if d.check && d.unknown != nil && !(depth == 0 && key == "@type") {
				err = d.skipNotingTypes()
			} else {
				err = d.skipValue()
			}
			if err != nil {
				return err
			}
			// At the root of a typed config, "@type" is the Any's. A projected message is only
			// read, never printed: it need not keep what it does not know.
			if proj == nil && !(depth == 0 && key == "@type") {
				keepMember(m, d.base+keyAt, d.data[keyAt:d.pos])
			}
			continue
		}
		d.proj = child
		if d.skipWS() == 'n' && !isValueMessage(fd) {
			// null means the default value.
			if _, err := d.readLiteral(); err != nil {
				return err
			}
			continue
		}
		switch f.shape {
		case shapeMap:
			err = d.mapField(m, fd, f, depth)
		case shapeList:
			err = d.listField(m, base, fd, f, depth)
		case shapeMessage:
			var sub protoreflect.Message
			if base != nil && f.fast == fastMessage {
				sub = f.mutable(base)
			} else {
				sub = m.Mutable(fd).Message()
			}
			err = d.messageValueInfo(sub, f.message(), depth+1)
		default:
			valueAt := d.pos
			var v protoreflect.Value
			var ok bool
			v, ok, err = d.scalar(fd)
			switch {
			case err != nil:
			case ok && base != nil && f.isScalarStore():
				f.store(base, v)
			case ok:
				m.Set(fd, v)
			default:
				keepOverride(m, fd, d.base+valueAt, d.data[valueAt:d.pos])
			}
		}
		if err != nil {
			return err
		}
	}
}

func isValueMessage(fd protoreflect.FieldDescriptor) bool {
	return fd.Message() != nil && fd.Message().FullName() == "google.protobuf.Value"
}

// listField decodes a list field; f, when not nil, is its fieldInfo.
// base, when not nil, is the address of m's Go struct (see msgInfo.fastBase).
func (d *decoder) listField(m protoreflect.Message, base unsafe.Pointer, fd protoreflect.FieldDescriptor, f *fieldInfo, depth int) error {
	d.skipWS()
	start := d.pos
	if err := d.expect('['); err != nil {
		return err
	}
	isMsg := fd.Message() != nil
	if isMsg && depth == 0 && d.lists != nil && !d.check && d.secrets == nil {
		if ls, ok := d.lists.listSpan(int64(d.base + start)); ok && ls.objects >= minParallelList {
			return d.parallelList(m.Mutable(fd).List(), ls, depth)
		}
	}
	// The list is appended to in place (see fastset.go), else through protoreflect.
	if base == nil || f == nil || (f.fast != fastStringList && f.fast != fastMessageList) {
		base = nil
	}
	var list protoreflect.List
	if base == nil {
		list = m.Mutable(fd).List()
	}
	var sub *msgInfo
	if isMsg && f != nil {
		sub = f.message()
	}
	lossy := false // an element the list cannot hold
	for first := true; ; first = false {
		more, err := d.more(']', first)
		if err != nil {
			return err
		}
		if !more {
			break
		}
		if d.skipWS() == 'n' && !isValueMessage(fd) {
			if _, err := d.readLiteral(); err != nil {
				return err
			}
			lossy = true
			continue
		}
		if isMsg && base != nil {
			elem, at := f.newElement()
			if err := d.messageValueInfo(elem, sub, depth+1); err != nil {
				return err
			}
			f.appendElement(base, at)
			continue
		}
		if isMsg {
			elem := list.NewElement()
			if err := d.messageValueInfo(elem.Message(), sub, depth+1); err != nil {
				return err
			}
			list.Append(elem)
			continue
		}
		v, ok, err := d.scalar(fd)
		switch {
		case err != nil:
			return err
		case ok && base != nil:
			f.store(base, v)
		case ok:
			list.Append(v)
		default:
			lossy = true
		}
	}
	if lossy && m.Descriptor().FullName() != "google.protobuf.ListValue" {
		keepOverride(m, fd, d.base+start, d.data[start:d.pos])
	}
	return nil
}

// mapField decodes a map field; f, when not nil, is its fieldInfo.
func (d *decoder) mapField(m protoreflect.Message, fd protoreflect.FieldDescriptor, f *fieldInfo, depth int) error {
	d.skipWS()
	start := d.pos
	if err := d.expect('{'); err != nil {
		return err
	}
	mp := m.Mutable(fd).Map()
	kd, vd := fd.MapKey(), fd.MapValue()
	lossy := false // a value the map cannot hold
	// A projection of a map (or of a Struct) names its keys; the others are checked or
	// skipped, as fields a projection leaves out are.
	proj := d.proj
	defer func() { d.proj = proj }()
	for first := true; ; first = false {
		more, err := d.more('}', first)
		if err != nil {
			return err
		}
		if !more {
			break
		}
		keyPos := d.pos
		key, err := d.readKey()
		if err != nil {
			return err
		}
		mk, err := mapKey(kd, key)
		if err != nil {
			d.pos = keyPos
			return d.errorf("map key %q: %v", key, err)
		}
		if proj != nil && f != nil {
			child, selected := proj[key]
			if !selected {
				if err := d.skipMapValue(f, vd, key, depth); err != nil {
					return err
				}
				continue
			}
			d.proj = child
		}
		if vd.Message() != nil {
			if d.skipWS() == 'n' && !isValueMessage(vd) {
				if _, err := d.readLiteral(); err != nil {
					return err
				}
				lossy = true
				continue
			}
			var sub *msgInfo
			if f != nil {
				sub = f.message()
			}
			val := mp.NewValue()
			if err := d.messageValueInfo(val.Message(), sub, depth+1); err != nil {
				return err
			}
			mp.Set(mk, val)
			continue
		}
		v, ok, err := d.scalar(vd)
		if err != nil {
			return err
		}
		if ok {
			mp.Set(mk, v)
		} else {
			lossy = true
		}
	}
	if lossy && m.Descriptor().FullName() != "google.protobuf.Struct" {
		keepOverride(m, fd, d.base+start, d.data[start:d.pos])
	}
	return nil
}

// skipMapValue moves past the value of a map's key that a projection leaves out, checking it
// as checkMap does when the decoder checks.
func (d *decoder) skipMapValue(f *fieldInfo, vd protoreflect.FieldDescriptor, key string, depth int) error {
	if !d.check {
		return d.skipValue()
	}
	if vd.Message() != nil && !isValueMessage(vd) && d.skipWS() == 'n' {
		_, err := d.readLiteral()
		return err
	}
	if err := d.checkSingle(f, vd, false, depth); err != nil {
		return atPath(err, "["+strconv.Quote(key)+"]")
	}
	return nil
}

func mapKey(kd protoreflect.FieldDescriptor, key string) (protoreflect.MapKey, error) {
	switch kd.Kind() {
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(key).MapKey(), nil
	case protoreflect.BoolKind:
		switch key {
		case "true":
			return protoreflect.ValueOfBool(true).MapKey(), nil
		case "false":
			return protoreflect.ValueOfBool(false).MapKey(), nil
		}
		return protoreflect.MapKey{}, fmt.Errorf("not a bool")
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		n, err := strconv.ParseInt(key, 10, 32)
		return protoreflect.ValueOfInt32(int32(n)).MapKey(), err
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		n, err := strconv.ParseInt(key, 10, 64)
		return protoreflect.ValueOfInt64(n).MapKey(), err
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		n, err := strconv.ParseUint(key, 10, 32)
		return protoreflect.ValueOfUint32(uint32(n)).MapKey(), err
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		n, err := strconv.ParseUint(key, 10, 64)
		return protoreflect.ValueOfUint64(n).MapKey(), err
	}
	return protoreflect.MapKey{}, fmt.Errorf("unsupported map key kind %v", kd.Kind())
}

// scalar reads the value of a non-message field. ok is false when the value is to be left unset
// (an enum name this binary does not know).
func (d *decoder) scalar(fd protoreflect.FieldDescriptor) (protoreflect.Value, bool, error) {
	start := d.pos
	c := d.skipWS()
	bad := func(want string) (protoreflect.Value, bool, error) {
		d.pos = start
		d.skipWS()
		return protoreflect.Value{}, false, d.errorf("field %s: want %s", fd.Name(), want)
	}
	switch fd.Kind() {
	case protoreflect.BoolKind:
		lit, err := d.readLiteral()
		if err != nil || lit == "null" {
			return bad("true or false")
		}
		return protoreflect.ValueOfBool(lit == "true"), true, nil
	case protoreflect.StringKind:
		if c != '"' {
			return bad("a string")
		}
		s, err := d.readString()
		return protoreflect.ValueOfString(s), err == nil, err
	case protoreflect.BytesKind:
		if c != '"' {
			return bad("a base64 string")
		}
		raw, escaped, err := d.readRawString()
		if err != nil {
			return protoreflect.Value{}, false, err
		}
		return protoreflect.ValueOfBytes(decodeBytes(raw, escaped)), true, nil
	case protoreflect.EnumKind:
		if c == '"' {
			name, err := d.readString()
			if err != nil {
				return protoreflect.Value{}, false, err
			}
			ev := fd.Enum().Values().ByName(protoreflect.Name(name))
			if ev == nil {
				return protoreflect.Value{}, false, nil
			}
			return protoreflect.ValueOfEnum(ev.Number()), true, nil
		}
		if c == 'n' && fd.Enum().FullName() == "google.protobuf.NullValue" {
			if _, err := d.readLiteral(); err != nil {
				return protoreflect.Value{}, false, err
			}
			return protoreflect.ValueOfEnum(0), true, nil
		}
		n, err := d.intToken(32)
		if err != nil {
			return bad("an enum name or number")
		}
		return protoreflect.ValueOfEnum(protoreflect.EnumNumber(n)), true, nil
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		n, err := d.intToken(32)
		if err != nil {
			return bad("a 32-bit integer")
		}
		return protoreflect.ValueOfInt32(int32(n)), true, nil
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		n, err := d.intToken(64)
		if err != nil {
			return bad("a 64-bit integer")
		}
		return protoreflect.ValueOfInt64(n), true, nil
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		n, err := d.uintToken(32)
		if err != nil {
			return bad("an unsigned 32-bit integer")
		}
		return protoreflect.ValueOfUint32(uint32(n)), true, nil
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		n, err := d.uintToken(64)
		if err != nil {
			return bad("an unsigned 64-bit integer")
		}
		return protoreflect.ValueOfUint64(n), true, nil
	case protoreflect.FloatKind:
		f, err := d.floatToken(32)
		if err != nil {
			return bad("a number")
		}
		return protoreflect.ValueOfFloat32(float32(f)), true, nil
	case protoreflect.DoubleKind:
		f, err := d.floatToken(64)
		if err != nil {
			return bad("a number")
		}
		return protoreflect.ValueOfFloat64(f), true, nil
	}
	return bad("a supported value")
}

// decodeBytes decodes a base64 string (standard or URL alphabet, padded or not). Text that is not
// base64, such as Envoy's "[redacted]", is kept as is: a view into the input that the encoder
// recognises and prints back unchanged.
func decodeBytes(raw []byte, escaped bool) []byte {
	if !escaped {
		enc := base64.StdEncoding
		if len(raw)%4 != 0 {
			enc = base64.RawStdEncoding
		}
		for _, e := range []*base64.Encoding{enc, base64.URLEncoding, base64.RawURLEncoding} {
			if e == base64.URLEncoding && len(raw)%4 != 0 {
				continue
			}
			if out, err := e.DecodeString(bytesToString(raw)); err == nil {
				return out
			}
		}
	}
	return raw
}

// numberText returns the text of a number, given as a JSON number or a string.
func (d *decoder) numberText() (string, error) {
	if d.skipWS() == '"' {
		return d.readString()
	}
	b, err := d.readNumber()
	return bytesToString(b), err
}

func (d *decoder) intToken(bits int) (int64, error) {
	s, err := d.numberText()
	if err != nil {
		return 0, err
	}
	if n, err := strconv.ParseInt(s, 10, bits); err == nil {
		return n, nil
	}
	// Integers written with a fraction or an exponent (1e3, 5.0) are accepted when integral.
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) || f < -math.Ldexp(1, bits-1) || f >= math.Ldexp(1, bits-1) {
		return 0, fmt.Errorf("not an integer")
	}
	return int64(f), nil
}

func (d *decoder) uintToken(bits int) (uint64, error) {
	s, err := d.numberText()
	if err != nil {
		return 0, err
	}
	if n, err := strconv.ParseUint(s, 10, bits); err == nil {
		return n, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) || f < 0 || f >= math.Ldexp(1, bits) {
		return 0, fmt.Errorf("not an unsigned integer")
	}
	return uint64(f), nil
}

func (d *decoder) floatToken(bits int) (float64, error) {
	s, err := d.numberText()
	if err != nil {
		return 0, err
	}
	switch s {
	case "NaN":
		return math.NaN(), nil
	case "Infinity":
		return math.Inf(1), nil
	case "-Infinity":
		return math.Inf(-1), nil
	}
	f, err := strconv.ParseFloat(s, bits)
	if err != nil {
		return 0, err
	}
	return f, nil
}

// anyValue records the Any's type URL and keeps its JSON object as the Value, undecoded; with
// check set, the object is checked as its type on the way.
func (d *decoder) anyValue(m protoreflect.Message) error {
	d.skipWS()
	start := d.pos
	var url string
	var err error
	if d.check {
		url, err = d.checkAny(false)
	} else {
		url, err = d.anyURL()
	}
	if err != nil {
		return err
	}
	fds := m.Descriptor().Fields()
	m.Set(fds.ByNumber(1), protoreflect.ValueOfString(url))
	m.Set(fds.ByNumber(2), protoreflect.ValueOfBytes(d.data[start:d.pos]))
	return nil
}

// anyURL reads a typed config's object, returning its "@type".
func (d *decoder) anyURL() (string, error) {
	if d.valid {
		if url, ok := d.leadingAnyURL(); ok {
			return url, nil
		}
	}
	if err := d.expect('{'); err != nil {
		return "", err
	}
	var url string
	for first := true; ; first = false {
		more, err := d.more('}', first)
		if err != nil {
			return "", err
		}
		if !more {
			return url, nil
		}
		key, err := d.readKey()
		if err != nil {
			return "", err
		}
		if key == "@type" {
			if url, err = d.readString(); err != nil {
				return "", err
			}
			continue
		}
		if err := d.skipValue(); err != nil {
			return "", err
		}
	}
}

// leadingAnyURL is anyURL for a typed config, in a valid document, whose first member is its
// only "@type": the rest of the object is skipped in one pass. ok is false (and the position
// unchanged) for any other.
func (d *decoder) leadingAnyURL() (url string, ok bool) {
	start := d.pos
	defer func() {
		if !ok {
			d.pos = start
		}
	}()
	if d.skipWS() != '{' {
		return "", false
	}
	objEnd, indexed := d.indexedAnyEnd(int64(d.base + d.pos))
	d.pos++
	if d.skipWS() != '"' {
		return "", false
	}
	key, err := d.readKey()
	if err != nil || key != "@type" || d.skipWS() != '"' {
		return "", false
	}
	if url, err = d.readString(); err != nil {
		return "", false
	}
	if indexed {
		d.pos = int(objEnd) - d.base
		return url, true
	}
	end, again := objectRest(d.data, d.pos)
	if again {
		return "", false
	}
	d.pos = end
	return url, true
}

// indexedAnyEnd returns where the object at offset start of the document ends, if the index
// found it a typed config whose only "@type" is its first member (see anySpan), within what
// this decoder reads.
func (d *decoder) indexedAnyEnd(start int64) (int64, bool) {
	i, ok := slices.BinarySearchFunc(d.anys, start, func(a anySpan, at int64) int { return cmp.Compare(a.start, at) })
	if !ok || d.anys[i].end > int64(d.base+len(d.data)) {
		return 0, false
	}
	return d.anys[i].end, true
}

// objectRest finds the end of an object of a valid document from a position between two of
// its members; again reports a member "@type" after that position (or a key with escapes,
// which might spell it).
func objectRest(data []byte, i int) (end int, again bool) {
	depth, keyNext := 1, false
	for {
		i = nextStructural(data, i, true)
		if i >= len(data) {
			return i, again
		}
		switch data[i] {
		case '"':
			j := stringEnd(data, i+1)
			if keyNext && depth == 1 {
				key := data[i+1 : j-1]
				again = again || string(key) == "@type" || bytes.IndexByte(key, '\\') >= 0
			}
			keyNext = false
			i = j
		case ',':
			keyNext = depth == 1
			i++
		case '{', '[':
			depth++
			i++
		default: // '}', ']'
			depth--
			i++
			if depth == 0 {
				return i, again
			}
		}
	}
}

func (d *decoder) durationValue(m protoreflect.Message) error {
	secs, nanos, err := d.readDuration()
	if err != nil {
		return err
	}
	fds := m.Descriptor().Fields()
	m.Set(fds.ByNumber(1), protoreflect.ValueOfInt64(secs))
	m.Set(fds.ByNumber(2), protoreflect.ValueOfInt32(nanos))
	return nil
}

func (d *decoder) readDuration() (int64, int32, error) {
	start := d.pos
	s, err := d.readString()
	if err != nil {
		return 0, 0, err
	}
	secs, nanos, ok := parseDuration(s)
	if !ok {
		d.pos = start
		d.skipWS()
		return 0, 0, d.errorf("invalid duration %q", s)
	}
	return secs, nanos, nil
}

// parseDuration parses protobuf's JSON duration form: "-1.5s", "3s", "0.000000001s".
func parseDuration(s string) (int64, int32, bool) {
	if !strings.HasSuffix(s, "s") {
		return 0, 0, false
	}
	s = s[:len(s)-1]
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	intPart, frac, hasFrac := strings.Cut(s, ".")
	if intPart == "" && !hasFrac || len(frac) > 9 || hasFrac && frac == "" {
		return 0, 0, false
	}
	var secs int64
	if intPart != "" {
		n, err := strconv.ParseUint(intPart, 10, 63)
		if err != nil || n > 315576000000 {
			return 0, 0, false
		}
		secs = int64(n)
	}
	var nanos int32
	if frac != "" {
		n, err := strconv.ParseUint(frac+strings.Repeat("0", 9-len(frac)), 10, 32)
		if err != nil {
			return 0, 0, false
		}
		nanos = int32(n)
	}
	if neg {
		secs, nanos = -secs, -nanos
	}
	return secs, nanos, true
}

// The range of google.protobuf.Timestamp: years 1 to 9999.
const (
	minTimestamp = -62135596800
	maxTimestamp = 253402300799
)

func (d *decoder) timestampValue(m protoreflect.Message) error {
	secs, nanos, err := d.readTimestamp()
	if err != nil {
		return err
	}
	fds := m.Descriptor().Fields()
	m.Set(fds.ByNumber(1), protoreflect.ValueOfInt64(secs))
	m.Set(fds.ByNumber(2), protoreflect.ValueOfInt32(nanos))
	return nil
}

func (d *decoder) readTimestamp() (int64, int32, error) {
	start := d.pos
	s, err := d.readString()
	if err != nil {
		return 0, 0, err
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.Unix() < minTimestamp || t.Unix() > maxTimestamp {
		d.pos = start
		d.skipWS()
		return 0, 0, d.errorf("invalid timestamp %q", s)
	}
	return t.Unix(), int32(t.Nanosecond()), nil
}

func (d *decoder) fieldMaskValue(m protoreflect.Message) error {
	s, err := d.readString()
	if err != nil {
		return err
	}
	if s == "" {
		return nil
	}
	paths := m.Mutable(m.Descriptor().Fields().ByNumber(1)).List()
	for _, p := range strings.Split(s, ",") {
		paths.Append(protoreflect.ValueOfString(camelToSnake(p)))
	}
	return nil
}

func camelToSnake(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 'A' && r <= 'Z' {
			b.WriteByte('_')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// valueValue decodes google.protobuf.Value: any JSON value.
func (d *decoder) valueValue(m protoreflect.Message, info *msgInfo, depth int) error {
	fds := m.Descriptor().Fields()
	field := func(name string) *fieldInfo { return &info.fields[info.byKey[name].Index()] }
	switch c := d.skipWS(); {
	case c == 'n':
		if _, err := d.readLiteral(); err != nil {
			return err
		}
		m.Set(fds.ByName("null_value"), protoreflect.ValueOfEnum(0))
	case c == 't' || c == 'f':
		lit, err := d.readLiteral()
		if err != nil {
			return err
		}
		m.Set(fds.ByName("bool_value"), protoreflect.ValueOfBool(lit == "true"))
	case c == '"':
		s, err := d.readString()
		if err != nil {
			return err
		}
		m.Set(fds.ByName("string_value"), protoreflect.ValueOfString(s))
	case c == '{':
		f := field("struct_value")
		return d.messageValueInfo(m.Mutable(f.fd).Message(), f.message(), depth+1)
	case c == '[':
		f := field("list_value")
		return d.messageValueInfo(m.Mutable(f.fd).Message(), f.message(), depth+1)
	default:
		b, err := d.readNumber()
		if err != nil {
			return err
		}
		f, err := strconv.ParseFloat(bytesToString(b), 64)
		if err != nil {
			return d.errorf("invalid number %s", b)
		}
		m.Set(fds.ByName("number_value"), protoreflect.ValueOfFloat64(f))
	}
	return nil
}
