package configdump

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"github.com/proxyctl/proxyctl/internal/safetext"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Redacted replaces secret material in output, as Envoy itself does in its config dumps.
const Redacted = "[redacted]"

// Encoder prints messages as protojson does (JSON field names, int64 as strings, enums by name,
// fields in declaration order, default values left out, map keys sorted), indented by four
// spaces, with these additions:
//
//   - a lazily decoded Any (see decoder) is printed from its JSON: decoded into its type when this
//     binary knows the type, else printed back unchanged, so unknown extensions survive;
//   - bytes kept as raw text by the decoder (Envoy's "[redacted]") are printed back unchanged;
//   - members and values the decoder kept as raw JSON (see extras.go) are printed back: an
//     unknown member after the known fields, with its key as it was; a value a field could not
//     hold in the field's place;
//   - every string and bytes value under a field annotated (udpa.annotations.sensitive), such as
//     a TLS private key, is replaced by "[redacted]", as Envoy does.
type Encoder struct {
	buf []byte
	// jsonpb prints empty objects over two lines, as golang/protobuf's jsonpb does, whose
	// output istioctl's proxy-status diff shows.
	jsonpb bool
	// src is the document decoded values may point into (see decodeBytes).
	src     []byte
	unknown *typeSet
	depth   int
	// dropUnknown: leave out what the decoder kept as raw JSON (see Dump.DropUnknownFields).
	dropUnknown bool
	// compact leaves out line breaks and indentation: for JSON only read again (converted
	// to YAML), never printed.
	compact bool
	// keepBinary prints the binary payload of an Any of an unknown type as {"@type": URL,
	// "value": BASE64} instead of failing: for protobuf from a server rather than a document.
	keepBinary bool
}

// NewEncoder returns an encoder for messages decoded from src.
func newEncoder(src []byte, unknown *typeSet) *Encoder {
	return &Encoder{src: src, unknown: unknown}
}

// JSONPBStyle makes the encoder print empty objects as golang/protobuf's jsonpb does.
func (e *Encoder) JSONPBStyle() { e.jsonpb = true }

// Bytes returns what has been encoded so far.
func (e *Encoder) Bytes() []byte { return e.buf }

// Reset empties the buffer, keeping its memory.
func (e *Encoder) Reset() { e.buf = e.buf[:0] }

// SetDepth sets the indentation level the next value starts at.
func (e *Encoder) SetDepth(depth int) { e.depth = depth }

// Message appends m's JSON.
func (e *Encoder) Message(m proto.Message) error {
	return e.message(m.ProtoReflect(), false)
}

// indentation is a newline followed by enough spaces for deep nesting.
var indentation = "\n" + strings.Repeat(" ", 4*64)

func (e *Encoder) newline() {
	if e.compact {
		return
	}
	if n := 1 + 4*e.depth; n <= len(indentation) {
		e.buf = append(e.buf, indentation[:n]...)
		return
	}
	e.buf = append(e.buf, '\n')
	for i := 0; i < e.depth; i++ {
		e.buf = append(e.buf, "    "...)
	}
}

func (e *Encoder) message(m protoreflect.Message, redact bool) error {
	info := infoFor(m.Descriptor())
	switch info.wkt {
	case wktAny:
		return e.anyMessage(m, redact, nil)
	case wktDuration:
		return e.duration(m)
	case wktTimestamp:
		return e.timestamp(m)
	case wktStruct:
		return e.mapValue(m.Get(info.fields[0].fd).Map(), info.fields[0].fd, redact)
	case wktListValue:
		return e.listValue(m.Get(info.fields[0].fd).List(), info.fields[0].fd, redact)
	case wktValue:
		return e.valueMessage(m, redact)
	case wktFieldMask:
		return e.fieldMask(m)
	case wktWrapper:
		fd := info.fields[0].fd
		return e.singular(m.Get(fd), fd, redact)
	}
	return e.objectRedacted(m, info, redact, nil)
}

// objectRedacted prints a message as object does; a TypedStruct's value, printed as a Struct,
// is then redacted as the message its type_url names, as Envoy redacts it.
func (e *Encoder) objectRedacted(m protoreflect.Message, info *msgInfo, redact bool, typeURL *string) error {
	if !isTypedStruct(m.Descriptor().FullName()) {
		return e.object(m, info, redact, typeURL)
	}
	start := len(e.buf)
	if err := e.object(m, info, redact, typeURL); err != nil {
		return err
	}
	out := redactJSONAs(e.buf[start:], m.Descriptor(), redact)
	e.buf = append(e.buf[:start], out...)
	return nil
}

// object prints a message's populated fields; typeURL, when set, is printed first as "@type".
func (e *Encoder) object(m protoreflect.Message, info *msgInfo, redact bool, typeURL *string) error {
	if raw := m.GetUnknown(); len(raw) > 0 && !e.dropUnknown {
		if x := parseExtras(raw); len(x.members) > 0 || len(x.overrides) > 0 {
			return e.objectWithExtras(m, info, redact, typeURL, &x)
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
	for i := range info.fields {
		f := &info.fields[i]
		if !m.Has(f.fd) {
			continue
		}
		if n > 0 {
			e.buf = append(e.buf, ',')
		}
		n++
		e.newline()
		e.buf = append(e.buf, f.key...)
		if err := e.fieldValue(m.Get(f.fd), f.fd, redact || f.sensitive); err != nil {
			return err
		}
	}
	return e.closeObject(n)
}

func (e *Encoder) closeObject(n int) error {
	e.depth--
	if n > 0 || e.jsonpb {
		if n == 0 {
			e.buf = append(e.buf, '\n')
		}
		e.newline()
	}
	e.buf = append(e.buf, '}')
	return nil
}

// objectWithExtras is object for a message that holds raw JSON the decoder kept: a field's
// raw value replaces what the message holds for it, and unknown members follow the known
// fields in the order they came in.
func (e *Encoder) objectWithExtras(m protoreflect.Message, info *msgInfo, redact bool, typeURL *string, x *extras) error {
	e.buf = append(e.buf, '{')
	e.depth++
	n := 0
	next := func() {
		if n > 0 {
			e.buf = append(e.buf, ',')
		}
		n++
		e.newline()
	}
	if typeURL != nil {
		next()
		e.buf = append(e.buf, `"@type": `...)
		e.buf = appendString(e.buf, *typeURL)
	}
	for i := range info.fields {
		f := &info.fields[i]
		if raw, ok := x.override(f.fd.Number()); ok {
			next()
			e.buf = append(e.buf, f.key...)
			if err := e.rawValue(raw.text, redact || f.sensitive); err != nil {
				return err
			}
			continue
		}
		if !m.Has(f.fd) {
			continue
		}
		next()
		e.buf = append(e.buf, f.key...)
		if err := e.fieldValue(m.Get(f.fd), f.fd, redact || f.sensitive); err != nil {
			return err
		}
	}
	for _, mem := range x.members {
		key, value, ok := splitMember(mem.text)
		if !ok {
			continue
		}
		next()
		e.buf = append(e.buf, '"')
		e.buf = append(e.buf, key...)
		e.buf = append(e.buf, `": `...)
		if err := e.rawValue(value, redact); err != nil {
			return err
		}
	}
	return e.closeObject(n)
}

// rawValue prints JSON kept as it was, re-indented; under a sensitive field, with every string
// in it redacted, elsewhere with the values under keys named like a sensitive field (no type
// says what it holds: see the secret walker). The unknown types of the typed configs in it are
// noted.
func (e *Encoder) rawValue(value []byte, redact bool) error {
	noteRawTypes(value, e.unknown)
	if redact {
		redacted, err := redactRaw(value)
		if err != nil {
			return err
		}
		value = redacted
	} else {
		value = redactNamed(value)
	}
	return e.rawJSON(value)
}

func (e *Encoder) fieldValue(v protoreflect.Value, fd protoreflect.FieldDescriptor, redact bool) error {
	switch {
	case fd.IsMap():
		return e.mapValue(v.Map(), fd, redact)
	case fd.IsList():
		return e.listValue(v.List(), fd, redact)
	}
	return e.singular(v, fd, redact)
}

func (e *Encoder) listValue(list protoreflect.List, fd protoreflect.FieldDescriptor, redact bool) error {
	if list.Len() == 0 {
		e.buf = append(e.buf, "[]"...)
		return nil
	}
	e.buf = append(e.buf, '[')
	e.depth++
	for i := 0; i < list.Len(); i++ {
		if i > 0 {
			e.buf = append(e.buf, ',')
		}
		e.newline()
		if err := e.singular(list.Get(i), fd, redact); err != nil {
			return err
		}
	}
	e.depth--
	e.newline()
	e.buf = append(e.buf, ']')
	return nil
}

func (e *Encoder) mapValue(mp protoreflect.Map, fd protoreflect.FieldDescriptor, redact bool) error {
	if mp.Len() == 0 {
		if e.jsonpb { // jsonpb breaks the line even in an empty object
			e.buf = append(e.buf, '{')
			e.newline()
			e.buf = append(e.buf, '}')
			return nil
		}
		e.buf = append(e.buf, "{}"...)
		return nil
	}
	keys := make([]protoreflect.MapKey, 0, mp.Len())
	mp.Range(func(k protoreflect.MapKey, _ protoreflect.Value) bool {
		keys = append(keys, k)
		return true
	})
	sortMapKeys(keys)
	vd := fd.MapValue()
	e.buf = append(e.buf, '{')
	e.depth++
	for i, k := range keys {
		if i > 0 {
			e.buf = append(e.buf, ',')
		}
		e.newline()
		e.buf = appendString(e.buf, k.String())
		e.buf = append(e.buf, ": "...)
		if err := e.singular(mp.Get(k), vd, redact); err != nil {
			return err
		}
	}
	e.depth--
	e.newline()
	e.buf = append(e.buf, '}')
	return nil
}

func sortMapKeys(keys []protoreflect.MapKey) {
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i].Interface(), keys[j].Interface()
		switch a := a.(type) {
		case bool:
			return !a && b.(bool)
		case int32:
			return a < b.(int32)
		case int64:
			return a < b.(int64)
		case uint32:
			return a < b.(uint32)
		case uint64:
			return a < b.(uint64)
		case string:
			return a < b.(string)
		}
		return false
	})
}

func (e *Encoder) singular(v protoreflect.Value, fd protoreflect.FieldDescriptor, redact bool) error {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		if m := v.Message(); infoFor(m.Descriptor()).wkt == wktAny {
			return e.anyMessage(m, redact, expectedAnyType(fd))
		}
		return e.message(v.Message(), redact)
	case protoreflect.BoolKind:
		e.buf = strconv.AppendBool(e.buf, v.Bool())
	case protoreflect.StringKind:
		if redact && v.String() != "" {
			e.buf = appendString(e.buf, Redacted)
		} else {
			e.buf = appendString(e.buf, v.String())
		}
	case protoreflect.BytesKind:
		e.bytesValue(v.Bytes(), redact)
	case protoreflect.EnumKind:
		if fd.Enum().FullName() == "google.protobuf.NullValue" {
			e.buf = append(e.buf, "null"...)
			break
		}
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			e.buf = appendString(e.buf, string(ev.Name()))
		} else {
			e.buf = strconv.AppendInt(e.buf, int64(v.Enum()), 10)
		}
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		e.buf = strconv.AppendInt(e.buf, v.Int(), 10)
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		e.buf = strconv.AppendUint(e.buf, v.Uint(), 10)
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		e.buf = append(e.buf, '"')
		e.buf = strconv.AppendInt(e.buf, v.Int(), 10)
		e.buf = append(e.buf, '"')
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		e.buf = append(e.buf, '"')
		e.buf = strconv.AppendUint(e.buf, v.Uint(), 10)
		e.buf = append(e.buf, '"')
	case protoreflect.FloatKind:
		e.buf = appendFloat(e.buf, v.Float(), 32)
	case protoreflect.DoubleKind:
		e.buf = appendFloat(e.buf, v.Float(), 64)
	default:
		return fmt.Errorf("field %s: unsupported kind %v", fd.FullName(), fd.Kind())
	}
	return nil
}

// bytesValue prints bytes as base64, or, for raw text the decoder kept (see decodeBytes), as
// that text.
func (e *Encoder) bytesValue(b []byte, redact bool) {
	raw := e.isRawText(b)
	redact = redact && len(b) > 0
	switch {
	case redact && raw:
		e.buf = appendString(e.buf, Redacted)
	case redact:
		e.buf = append(e.buf, '"')
		e.buf = base64.StdEncoding.AppendEncode(e.buf, []byte(Redacted))
		e.buf = append(e.buf, '"')
	case raw:
		e.buf = append(e.buf, '"')
		e.buf = append(e.buf, b...)
		e.buf = append(e.buf, '"')
	default:
		e.buf = append(e.buf, '"')
		e.buf = base64.StdEncoding.AppendEncode(e.buf, b)
		e.buf = append(e.buf, '"')
	}
}

// isRawText reports whether b is a view into the source document: the decoder only leaves such
// views in bytes fields for text that was not base64 (decoded base64 is always a new slice).
func (e *Encoder) isRawText(b []byte) bool {
	if len(b) == 0 || len(e.src) == 0 {
		return false
	}
	start := uintptr(unsafe.Pointer(unsafe.SliceData(e.src)))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	return p >= start && p < start+uintptr(len(e.src))
}

// appendFloat formats a float as protojson (and encoding/json) do.
func appendFloat(out []byte, n float64, bitSize int) []byte {
	switch {
	case math.IsNaN(n):
		return append(out, `"NaN"`...)
	case math.IsInf(n, +1):
		return append(out, `"Infinity"`...)
	case math.IsInf(n, -1):
		return append(out, `"-Infinity"`...)
	}
	format := byte('f')
	if abs := math.Abs(n); abs != 0 {
		if bitSize == 64 && (abs < 1e-6 || abs >= 1e21) || bitSize == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	out = strconv.AppendFloat(out, n, format, -1, bitSize)
	if format == 'e' {
		// clean up e-09 to e-9
		if n := len(out); n >= 4 && out[n-4] == 'e' && out[n-3] == '-' && out[n-2] == '0' {
			out[n-2] = out[n-1]
			out = out[:n-1]
		}
	}
	return out
}

// appendString appends s as a JSON string, escaping as protojson does (no HTML escaping);
// invalid UTF-8 becomes U+FFFD.
func appendString(out []byte, s string) []byte {
	return appendStringSafe(out, s)
}

// appendRuneEscape appends r as a JSON \u escape.
func appendRuneEscape(out []byte, r rune) []byte {
	const hex = "0123456789abcdef"
	return append(out, '\\', 'u', hex[r>>12&0xf], hex[r>>8&0xf], hex[r>>4&0xf], hex[r&0xf])
}

// appendStringSafe is appendString: a JSON string escaped as protojson escapes it (no HTML
// escaping), and the characters a terminal acts on or that reorder text (C1 controls,
// bidirectional overrides, line separators: safetext.UnsafeRune) as \u escapes; invalid UTF-8
// becomes U+FFFD.
func appendStringSafe(out []byte, s string) []byte {
	out = append(out, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if safetext.UnsafeRune(r) {
				// A C1 control, a bidirectional override: the same value, and nothing a
				// terminal acts on.
				out = append(out, s[start:i]...)
				out = appendRuneEscape(out, r)
				i += size
				start = i
				continue
			}
			if r != utf8.RuneError || size != 1 {
				i += size
				continue
			}
			out = append(out, s[start:i]...)
			out = append(out, "\ufffd"...)
			i++
			start = i
			continue
		}
		out = append(out, s[start:i]...)
		switch c {
		case '"', '\\':
			out = append(out, '\\', c)
		case '\b':
			out = append(out, '\\', 'b')
		case '\f':
			out = append(out, '\\', 'f')
		case '\n':
			out = append(out, '\\', 'n')
		case '\r':
			out = append(out, '\\', 'r')
		case '\t':
			out = append(out, '\\', 't')
		default:
			out = append(out, `\u00`...)
			out = append(out, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&0xf])
		}
		i++
		start = i
	}
	out = append(out, s[start:]...)
	return append(out, '"')
}

func (e *Encoder) duration(m protoreflect.Message) error {
	fds := m.Descriptor().Fields()
	var err error
	e.buf, err = appendDuration(e.buf, m.Get(fds.ByNumber(1)).Int(), m.Get(fds.ByNumber(2)).Int())
	return err
}

// appendDuration appends a google.protobuf.Duration's JSON.
func appendDuration(buf []byte, secs, nanos int64) ([]byte, error) {
	if secs < -315576000000 || secs > 315576000000 || nanos <= -1e9 || nanos >= 1e9 || (secs > 0 && nanos < 0) || (secs < 0 && nanos > 0) {
		return buf, fmt.Errorf("invalid duration %ds %dns", secs, nanos)
	}
	buf = append(buf, '"')
	if secs < 0 || nanos < 0 {
		buf = append(buf, '-')
		secs, nanos = -secs, -nanos
	}
	buf = strconv.AppendInt(buf, secs, 10)
	buf = appendNanos(buf, nanos)
	return append(buf, `s"`...), nil
}

// appendNanos appends a fraction of 0, 3, 6 or 9 digits, as protojson prints durations and times.
func appendNanos(out []byte, nanos int64) []byte {
	if nanos == 0 {
		return out
	}
	frac := strconv.FormatInt(nanos+1e9, 10)[1:] // nine digits
	switch {
	case strings.HasSuffix(frac, "000000"):
		frac = frac[:3]
	case strings.HasSuffix(frac, "000"):
		frac = frac[:6]
	}
	out = append(out, '.')
	return append(out, frac...)
}

func (e *Encoder) timestamp(m protoreflect.Message) error {
	fds := m.Descriptor().Fields()
	var err error
	e.buf, err = appendTimestamp(e.buf, m.Get(fds.ByNumber(1)).Int(), m.Get(fds.ByNumber(2)).Int())
	return err
}

// appendTimestamp appends a google.protobuf.Timestamp's JSON.
func appendTimestamp(buf []byte, secs, nanos int64) ([]byte, error) {
	if secs < minTimestamp || secs > maxTimestamp || nanos < 0 || nanos >= 1e9 {
		return buf, fmt.Errorf("invalid timestamp %ds %dns", secs, nanos)
	}
	t := time.Unix(secs, 0).UTC()
	buf = append(buf, '"')
	buf = t.AppendFormat(buf, "2006-01-02T15:04:05")
	buf = appendNanos(buf, nanos)
	return append(buf, `Z"`...), nil
}

func (e *Encoder) fieldMask(m protoreflect.Message) error {
	paths := m.Get(m.Descriptor().Fields().ByNumber(1)).List()
	parts := make([]string, paths.Len())
	for i := range parts {
		parts[i] = snakeToCamel(paths.Get(i).String())
	}
	e.buf = appendString(e.buf, strings.Join(parts, ","))
	return nil
}

func snakeToCamel(s string) string {
	var b strings.Builder
	upper := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_':
			upper = true
		case upper && c >= 'a' && c <= 'z':
			b.WriteByte(c - 'a' + 'A')
			upper = false
		default:
			b.WriteByte(c)
			upper = false
		}
	}
	return b.String()
}

func (e *Encoder) valueMessage(m protoreflect.Message, redact bool) error {
	fd := m.WhichOneof(m.Descriptor().Oneofs().ByName("kind"))
	if fd == nil {
		e.buf = append(e.buf, "null"...)
		return nil
	}
	return e.singular(m.Get(fd), fd, redact)
}

// anyMessage prints an Any from the JSON the decoder kept (or, for an Any built in memory, from
// its binary value). Any of a dynamic message is handled like the Go type. One of a type this
// binary does not know (or without "@type") is printed as it is, redacted as Redactions
// redacts it: expected is the type its place implies, nil when none.
func (e *Encoder) anyMessage(m protoreflect.Message, redact bool, expected protoreflect.MessageDescriptor) error {
	fds := m.Descriptor().Fields()
	url, value := m.Get(fds.ByNumber(1)).String(), m.Get(fds.ByNumber(2)).Bytes()
	if url == "" && len(value) == 0 {
		e.buf = append(e.buf, "{}"...)
		return nil
	}
	mt := resolveType(url)
	if mt == nil {
		if url != "" {
			e.unknown.add(url)
		}
		if isJSONValue(value) {
			noteRawTypes(value, e.unknown)
			return e.rawJSON(redactAnyJSON(value, redact, expected))
		}
		if e.keepBinary {
			e.buf = append(e.buf, `{"@type": `...)
			e.buf = appendString(e.buf, url)
			e.buf = append(e.buf, `, "value": `...)
			e.buf = appendString(e.buf, base64.StdEncoding.EncodeToString(value))
			e.buf = append(e.buf, '}')
			return nil
		}
		return fmt.Errorf("cannot print binary payload of unknown type %s", url)
	}
	inner := mt.New()
	if err := unmarshalAnyValue(value, inner.Interface(), e.src, e.unknown, nil); err != nil {
		return fmt.Errorf("%s: %w", url, err)
	}
	info := infoFor(inner.Descriptor())
	if info.wkt != wktNone {
		// Well-known types with their own JSON form are wrapped as {"@type": ..., "value": ...}.
		e.buf = append(e.buf, '{')
		e.depth++
		e.newline()
		e.buf = append(e.buf, `"@type": `...)
		e.buf = appendString(e.buf, url)
		e.buf = append(e.buf, ',')
		e.newline()
		e.buf = append(e.buf, `"value": `...)
		if err := e.message(inner, redact); err != nil {
			return err
		}
		e.depth--
		e.newline()
		e.buf = append(e.buf, '}')
		return nil
	}
	return e.objectRedacted(inner, info, redact, &url)
}

// rawJSON appends a JSON value verbatim apart from indentation.
func (e *Encoder) rawJSON(raw []byte) error {
	var out bytes.Buffer
	prefix := strings.Repeat("    ", e.depth)
	if err := json.Indent(&out, raw, prefix, "    "); err != nil {
		return err
	}
	e.buf = append(e.buf, out.Bytes()...)
	return nil
}

// isJSONValue reports whether an Any's value holds the JSON the decoder kept rather than binary.
func isJSONValue(v []byte) bool { return len(v) > 0 && v[0] == '{' }
