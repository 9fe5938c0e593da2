package configdump

import (
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"
)

// The transcoder prints a resource's JSON as the Encoder prints the message the decoder builds
// from it, without building the message: -o json of a large dump spent most of its time
// allocating messages only to print them. It walks the JSON along the message's fields, as
// the checker does, and writes each value as the Encoder writes it (the decoder's scalar
// parsing and the Encoder's scalar printing are shared): fields in declaration order, default
// values left out, map keys sorted, typed configs printed as their types.
//
// What it does not handle itself it hands back to the decoder and the Encoder, for the value
// at hand only: an object with a key twice, or two members of a oneof (where the decoder merges
// or overrides), the well-known types, and anything the Encoder prints from what the decoder
// kept as raw JSON (unknown members and enum names, unless the encoder leaves them out). So
// every object is printed exactly as the Encoder would print it, whichever way. On an error it
// gives up: the caller decodes and encodes the whole resource, which reports the error as the
// views always have (see EachJSON).
type transcoder struct {
	d *decoder
	e *Encoder
	// segs is scratch space for the members or map entries of the objects being written.
	segs []segment
	// scratch holds an object's members while they are put in order.
	scratch []byte
}

// segment is a member of an object (or an entry of a map) written at e.buf[start:end], the
// separating comma excluded; order is what it sorts by: the field's index, or the entry's
// position among the map's keys.
type segment struct {
	order      int
	key        string // a map entry's key, for sorting
	start, end int
}

// errRestart tells an object to hand itself to the decoder and the Encoder.
var errRestart = errors.New("configdump: transcoder: restart the object")

// errTypeAgain tells a typed config read from its first "@type" that it has another one.
var errTypeAgain = errors.New("configdump: transcoder: a second @type")

// transcode writes the JSON value at the decoder's position, a message of info's type, as the
// Encoder writes the decoded message.
// fd is the field the message is a value of (nil for a resource): a typed config's place may
// imply its type (see expectedAnyType).
func (t *transcoder) message(info *msgInfo, redact bool, depth int, fd protoreflect.FieldDescriptor) error {
	if depth > maxDepth {
		return t.d.errorf("nesting deeper than %d levels", maxDepth)
	}
	d, e := t.d, t.e
	switch info.wkt {
	case wktNone:
		if isTypedStruct(info.md.FullName()) {
			// Printed, then redacted as the message its type_url names (see objectRedacted).
			return t.byEncoder(info, redact, nil, depth)
		}
		return t.object(info, redact, nil, depth)
	case wktAny:
		return t.any(info, redact, depth, fd)
	case wktDuration:
		secs, nanos, err := d.readDuration()
		if err != nil {
			return err
		}
		e.buf, err = appendDuration(e.buf, secs, int64(nanos))
		return err
	case wktTimestamp:
		secs, nanos, err := d.readTimestamp()
		if err != nil {
			return err
		}
		e.buf, err = appendTimestamp(e.buf, secs, int64(nanos))
		return err
	case wktWrapper:
		fd := info.fields[0].fd
		v, ok, err := d.scalar(fd)
		if err != nil {
			return err
		}
		if !ok {
			v = fd.Default() // what the message holds when the decoder does not set it
		}
		return e.singular(v, fd, redact)
	case wktStruct:
		// A map of Values, printed even when empty.
		at := len(e.buf)
		wrote, err := t.mapEntries(&info.fields[0], redact, depth)
		if err != nil || wrote {
			return err
		}
		e.buf = e.buf[:at]
		if e.jsonpb {
			e.buf = append(e.buf, '{')
			e.newline()
			e.buf = append(e.buf, '}')
		} else {
			e.buf = append(e.buf, "{}"...)
		}
		return nil
	case wktListValue:
		at := len(e.buf)
		wrote, err := t.list(&info.fields[0], redact, depth)
		if err != nil || wrote {
			return err
		}
		e.buf = append(e.buf[:at], "[]"...)
		return nil
	case wktValue:
		return t.value(info, redact, depth)
	}
	return t.byEncoder(info, redact, nil, depth)
}

// value writes a google.protobuf.Value: any JSON, its numbers as doubles.
func (t *transcoder) value(info *msgInfo, redact bool, depth int) error {
	d, e := t.d, t.e
	switch c := d.skipWS(); {
	case c == 'n':
		if _, err := d.readLiteral(); err != nil {
			return err
		}
		e.buf = append(e.buf, "null"...)
	case c == 't' || c == 'f':
		lit, err := d.readLiteral()
		if err != nil {
			return err
		}
		e.buf = strconv.AppendBool(e.buf, lit == "true")
	case c == '"':
		s, err := d.readString()
		if err != nil {
			return err
		}
		if redact && s != "" {
			s = Redacted
		}
		e.buf = appendString(e.buf, s)
	case c == '{', c == '[':
		name := "struct_value"
		if c == '[' {
			name = "list_value"
		}
		f := &info.fields[info.byKey[name].Index()]
		return t.message(f.message(), redact, depth+1, f.fd)
	default:
		b, err := d.readNumber()
		if err != nil {
			return err
		}
		f, err := strconv.ParseFloat(bytesToString(b), 64)
		if err != nil {
			return d.errorf("invalid number %s", b)
		}
		e.buf = appendFloat(e.buf, f, 64)
	}
	return nil
}

// byEncoder decodes the message at the decoder's position and prints it with the Encoder.
func (t *transcoder) byEncoder(info *msgInfo, redact bool, typeURL *string, depth int) error {
	m := info.newMessage()
	if err := t.d.messageValue(m, depth); err != nil {
		return err
	}
	if typeURL != nil {
		return t.e.object(m, info, redact, typeURL)
	}
	return t.e.message(m, redact)
}

// object writes a message's members; typeURL, when set, is printed first as "@type" (a typed
// config: depth is then 0, where "@type" is not a member).
func (t *transcoder) object(info *msgInfo, redact bool, typeURL *string, depth int) error {
	d, e := t.d, t.e
	d.skipWS()
	inAt, outAt, outDepth := d.pos, len(e.buf), e.depth
	err := t.members(info, redact, typeURL, depth, false)
	if err == errRestart {
		d.pos, e.buf, e.depth = inAt, e.buf[:outAt], outDepth
		return t.byEncoder(info, redact, typeURL, depth)
	}
	return err
}

// members writes an object's members; resumed says the object's '{', and its "@type" (a typed
// config's, typeURL), were read already (see any).
func (t *transcoder) members(info *msgInfo, redact bool, typeURL *string, depth int, resumed bool) error {
	d, e := t.d, t.e
	if !resumed {
		if err := d.expect('{'); err != nil {
			return err
		}
	}
	e.buf = append(e.buf, '{')
	e.depth++
	n := 0
	if typeURL != nil {
		e.newline()
		e.buf = append(e.buf, `"@type": `...)
		e.buf = appendString(e.buf, *typeURL)
		n++
	}
	segBase := len(t.segs)
	defer func() { t.segs = t.segs[:segBase] }()
	regionAt := len(e.buf) // where the members start
	var seen, oneofs bitset
	prev, last, ordered := -1, -1, true
	for first := !resumed; ; first = false {
		more, err := d.more('}', first)
		if err != nil {
			return err
		}
		if !more {
			break
		}
		key, err := d.readKey()
		if err != nil {
			return err
		}
		f := info.lookup(prev, key)
		if f == nil && resumed && key == "@type" {
			return errTypeAgain // the last "@type" is the typed config's
		}
		if f == nil {
			// An unknown member (or, at the root of a typed config, its "@type"): the decoder
			// keeps it for an Encoder that prints it.
			if !e.dropUnknown && !(depth == 0 && key == "@type") {
				return errRestart
			}
			if err := d.skipValue(); err != nil {
				return err
			}
			continue
		}
		prev = f.index
		if !seen.add(f.index) {
			return errRestart // the decoder merges, or overrides, a member given twice
		}
		if o := f.fd.ContainingOneof(); o != nil && !oneofs.add(o.Index()) {
			return errRestart // the last member of a oneof set wins
		}
		if d.skipWS() == 'n' && !isValueMessage(f.fd) {
			if _, err := d.readLiteral(); err != nil { // null: the default value
				return err
			}
			continue
		}
		segAt := len(e.buf)
		if n > 0 {
			e.buf = append(e.buf, ',')
		}
		start := len(e.buf)
		e.newline()
		e.buf = append(e.buf, f.key...)
		wrote, err := t.field(f, redact || f.sensitive, depth)
		if err != nil {
			return err
		}
		if !wrote {
			e.buf = e.buf[:segAt]
			continue
		}
		t.segs = append(t.segs, segment{order: f.index, start: start, end: len(e.buf)})
		n++
		if f.index < last {
			ordered = false
		}
		last = max(last, f.index)
	}
	if !ordered {
		t.reorder(segBase, regionAt, typeURL != nil)
	}
	return e.closeObject(n)
}

// reorder puts the segments from segBase on, written from regionAt on, in order; comma says
// whether the first needs a comma before it.
func (t *transcoder) reorder(segBase, regionAt int, comma bool) {
	segs := t.segs[segBase:]
	slices.SortStableFunc(segs, func(a, b segment) int {
		if a.order != b.order {
			return a.order - b.order
		}
		return strings.Compare(a.key, b.key)
	})
	e := t.e
	t.scratch = append(t.scratch[:0], e.buf[regionAt:]...)
	e.buf = e.buf[:regionAt]
	for i, s := range segs {
		if i > 0 || comma {
			e.buf = append(e.buf, ',')
		}
		e.buf = append(e.buf, t.scratch[s.start-regionAt:s.end-regionAt]...)
	}
}

// field writes the value of field f, its key written; wrote is false when the Encoder would
// leave the field out (a default value, an empty list or map).
func (t *transcoder) field(f *fieldInfo, redact bool, depth int) (bool, error) {
	d, e := t.d, t.e
	fd := f.fd
	switch f.shape {
	case shapeList:
		return t.list(f, redact, depth)
	case shapeMap:
		return t.mapEntries(f, redact, depth)
	case shapeMessage:
		return true, t.message(f.message(), redact, depth+1, fd)
	}
	v, ok, err := d.scalar(fd)
	if err != nil {
		return false, err
	}
	if !ok { // an enum name this binary does not know: kept for an Encoder that prints it
		if !e.dropUnknown {
			return false, errRestart
		}
		return false, nil
	}
	if !fd.HasPresence() && isZero(fd, v) {
		return false, nil
	}
	return true, e.singular(v, fd, redact)
}

// isZero reports whether a field without presence holds its default value, which the message
// does not count as set (see protobuf's Has).
func isZero(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return !v.Bool()
	case protoreflect.EnumKind:
		return v.Enum() == 0
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed32Kind, protoreflect.Sfixed64Kind:
		return v.Int() == 0
	case protoreflect.Uint32Kind, protoreflect.Uint64Kind, protoreflect.Fixed32Kind, protoreflect.Fixed64Kind:
		return v.Uint() == 0
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return v.Float() == 0 && !math.Signbit(v.Float())
	case protoreflect.StringKind:
		return v.String() == ""
	case protoreflect.BytesKind:
		return len(v.Bytes()) == 0
	}
	return false
}

// list writes a list field's elements.
func (t *transcoder) list(f *fieldInfo, redact bool, depth int) (bool, error) {
	d, e := t.d, t.e
	fd := f.fd
	if err := d.expect('['); err != nil {
		return false, err
	}
	var sub *msgInfo
	if f.fd.Message() != nil {
		sub = f.message()
	}
	e.buf = append(e.buf, '[')
	e.depth++
	n := 0
	for first := true; ; first = false {
		more, err := d.more(']', first)
		if err != nil {
			return false, err
		}
		if !more {
			break
		}
		if d.skipWS() == 'n' && !isValueMessage(fd) {
			// An element the list cannot hold: left out, kept for an Encoder that prints it.
			if !e.dropUnknown {
				return false, errRestart
			}
			if _, err := d.readLiteral(); err != nil {
				return false, err
			}
			continue
		}
		at := len(e.buf)
		if n > 0 {
			e.buf = append(e.buf, ',')
		}
		e.newline()
		if sub != nil {
			if err := t.message(sub, redact, depth+1, fd); err != nil {
				return false, err
			}
			n++
			continue
		}
		v, ok, err := d.scalar(fd)
		if err != nil {
			return false, err
		}
		if !ok {
			if !e.dropUnknown {
				return false, errRestart
			}
			e.buf = e.buf[:at]
			continue
		}
		if err := e.singular(v, fd, redact); err != nil {
			return false, err
		}
		n++
	}
	e.depth--
	if n == 0 {
		return false, nil
	}
	e.newline()
	e.buf = append(e.buf, ']')
	return true, nil
}

// mapEntries writes a map field's entries, ordered by key as the Encoder orders them.
func (t *transcoder) mapEntries(f *fieldInfo, redact bool, depth int) (bool, error) {
	d, e := t.d, t.e
	kd, vd := f.fd.MapKey(), f.fd.MapValue()
	if err := d.expect('{'); err != nil {
		return false, err
	}
	if kd.Kind() != protoreflect.StringKind {
		return false, errRestart // integer and bool keys, rare: the Encoder orders them
	}
	var sub *msgInfo
	if vd.Message() != nil {
		sub = f.message()
	}
	e.buf = append(e.buf, '{')
	e.depth++
	segBase := len(t.segs)
	defer func() { t.segs = t.segs[:segBase] }()
	regionAt := len(e.buf)
	n := 0
	for first := true; ; first = false {
		more, err := d.more('}', first)
		if err != nil {
			return false, err
		}
		if !more {
			break
		}
		key, err := d.readKey()
		if err != nil {
			return false, err
		}
		if sub != nil && d.skipWS() == 'n' && !isValueMessage(vd) {
			if !e.dropUnknown {
				return false, errRestart
			}
			if _, err := d.readLiteral(); err != nil {
				return false, err
			}
			continue
		}
		at := len(e.buf)
		if n > 0 {
			e.buf = append(e.buf, ',')
		}
		start := len(e.buf)
		e.newline()
		e.buf = appendString(e.buf, key)
		e.buf = append(e.buf, ": "...)
		if sub != nil {
			if err := t.message(sub, redact, depth+1, vd); err != nil {
				return false, err
			}
		} else {
			v, ok, err := d.scalar(vd)
			if err != nil {
				return false, err
			}
			if !ok {
				if !e.dropUnknown {
					return false, errRestart
				}
				e.buf = e.buf[:at]
				continue
			}
			if err := e.singular(v, vd, redact); err != nil {
				return false, err
			}
		}
		t.segs = append(t.segs, segment{key: key, start: start, end: len(e.buf)})
		n++
	}
	e.depth--
	if n == 0 {
		return false, nil
	}
	segs := t.segs[segBase:]
	sorted := true
	for i := 1; i < len(segs); i++ {
		switch {
		case segs[i-1].key == segs[i].key:
			return false, errRestart // a key given twice: the last value wins
		case segs[i-1].key > segs[i].key:
			sorted = false
		}
	}
	if !sorted {
		t.reorder(segBase, regionAt, false)
		for i := 1; i < len(segs); i++ {
			if segs[i-1].key == segs[i].key {
				return false, errRestart
			}
		}
	}
	e.newline()
	e.buf = append(e.buf, '}')
	return true, nil
}

// any writes a typed config as the Encoder writes the Any (of type anyInfo) the decoder keeps
// of it.
func (t *transcoder) any(anyInfo *msgInfo, redact bool, depth int, fd protoreflect.FieldDescriptor) error {
	d, e := t.d, t.e
	d.skipWS()
	start := d.pos
	// Envoy, and sorted keys, put "@type" first: then the typed config is read once.
	if url, ok := t.leadingType(); ok {
		if mt, info := resolveTypeInfo(url); mt != nil && info.wkt == wktNone && !isTypedStruct(info.md.FullName()) {
			outAt, outDepth := len(e.buf), e.depth
			err := t.members(info, redact, &url, 0, true)
			if err != errRestart && err != errTypeAgain {
				return err
			}
			e.buf, e.depth = e.buf[:outAt], outDepth
		}
	}
	d.pos = start
	url, err := d.anyURL()
	if err != nil {
		return err
	}
	value := d.data[start:d.pos]
	mt, info := resolveTypeInfo(url)
	switch {
	case mt == nil:
		// Printed as it is, redacted as Redactions redacts it (see Encoder.anyMessage).
		if url != "" {
			e.unknown.add(url)
		}
		noteRawTypes(value, e.unknown)
		var expected protoreflect.MessageDescriptor
		if fd != nil {
			expected = expectedAnyType(fd)
		}
		return e.rawJSON(redactAnyJSON(value, redact, expected))
	case info.wkt != wktNone || isTypedStruct(info.md.FullName()):
		d.pos = start
		return t.byEncoder(anyInfo, redact, nil, depth)
	}
	// The typed config is read again, as its type: from the start of its object, "@type" at
	// its root not a member.
	end := d.pos
	d.pos = start
	if err := t.object(info, redact, &url, 0); err != nil {
		return err
	}
	d.pos = end
	return nil
}

// leadingType reads the start of an object whose first member is "@type", a string, and
// returns the string; ok is false otherwise (the position is then anywhere in the object).
func (t *transcoder) leadingType() (url string, ok bool) {
	d := t.d
	if d.expect('{') != nil {
		return "", false
	}
	if more, err := d.more('}', true); err != nil || !more {
		return "", false
	}
	key, err := d.readKey()
	if err != nil || key != "@type" || d.skipWS() != '"' {
		return "", false
	}
	url, err = d.readString()
	return url, err == nil
}

// newMessage returns a new, empty message of info's type: the linked Go type when there is
// one, else a dynamic message.
func (info *msgInfo) newMessage() protoreflect.Message {
	if mt, err := protoregistry.GlobalTypes.FindMessageByName(info.md.FullName()); err == nil && mt.Descriptor() == info.md {
		return mt.New()
	}
	return dynamicpb.NewMessage(info.md)
}

// bitset is a set of small integers.
type bitset struct {
	small uint64
	more  []uint64
}

// add adds i and reports whether it was not in the set.
func (b *bitset) add(i int) bool {
	if i < 64 {
		bit := uint64(1) << i
		if b.small&bit != 0 {
			return false
		}
		b.small |= bit
		return true
	}
	w := i/64 - 1
	for len(b.more) <= w {
		b.more = append(b.more, 0)
	}
	bit := uint64(1) << (i % 64)
	if b.more[w]&bit != 0 {
		return false
	}
	b.more[w] |= bit
	return true
}

// Transcode appends to enc's output the JSON of a message of type md given as JSON (value, a
// part of the dump's document), as enc prints the message the decoder builds from it; ok is
// false when it could not (an error in the value, binary input), and enc's output is then as
// it was.
func transcode(enc *Encoder, value []byte, src []byte, md protoreflect.MessageDescriptor) (ok bool) {
	info := infoFor(md)
	if !isJSONValue(value) || info.wkt != wktNone {
		return false
	}
	at, depth := len(enc.buf), enc.depth
	t := transcoder{d: newDecoder(value, offsetIn(src, value), src, nil), e: enc}
	if err := t.object(info, false, nil, 0); err != nil {
		enc.buf, enc.depth = enc.buf[:at], depth
		return false
	}
	return true
}
