package configdump

import (
	"bytes"
	"fmt"
	"github.com/proxyctl/proxyctl/internal/safetext"
	"strconv"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/proxyctl/proxyctl/internal/parallel"
)

// The checker walks JSON along a message's descriptor without building anything: it finds the
// errors the decoder would find (a value of the wrong JSON type, a number out of range, an
// invalid duration...) and finds them in typed configs (Any) too, as the encoder would on
// printing them. It is what makes a view fail the same way in every output format: a table
// decodes a few fields of each resource and checks the rest, -o json decodes it all, and
// either way, when something is wrong, the error reported is the checker's, the first in the
// document's order. The same walk notes the unknown types met (for the note on stderr) and, for
// pc all -o json, the secret values to redact.

// checkField checks the value of field f; sensitive marks a value under a field annotated
// (udpa.annotations.sensitive).
func (d *decoder) checkField(f *fieldInfo, sensitive bool, depth int) error {
	fd := f.fd
	if d.skipWS() == 'n' && !isValueMessage(fd) {
		_, err := d.readLiteral()
		return err
	}
	switch f.shape {
	case shapeMap:
		if d.skipWS() != '{' {
			return d.wrongValue("an object")
		}
		return d.checkMap(f, sensitive, depth)
	case shapeList:
		if d.skipWS() != '[' {
			return d.wrongValue("a list")
		}
		return d.checkList(f, sensitive, depth)
	}
	return d.checkSingle(f, fd, sensitive, depth)
}

func (d *decoder) checkList(f *fieldInfo, sensitive bool, depth int) error {
	d.skipWS()
	start := d.pos
	if err := d.expect('['); err != nil {
		return err
	}
	fd := f.fd
	if depth == 0 && d.lists != nil && fd.Message() != nil {
		if ls, ok := d.lists.listSpan(int64(d.base + start)); ok && ls.objects >= minParallelList {
			return d.checkListParallel(f, ls, sensitive, depth)
		}
	}
	isValue := isValueMessage(fd)
	i := 0
	for first := true; ; first = false {
		more, err := d.more(']', first)
		if err != nil || !more {
			return err
		}
		if !isValue && d.skipWS() == 'n' {
			if _, err := d.readLiteral(); err != nil {
				return err
			}
			i++
			continue
		}
		if err := d.checkSingle(f, fd, sensitive, depth); err != nil {
			return atPath(err, "["+strconv.Itoa(i)+"]")
		}
		i++
	}
}

// checkListParallel checks the elements of a section's list of objects the index found (ls)
// on all cores, as checkList does one after the other: the first wrong element's error, the
// secrets in the document's order.
func (d *decoder) checkListParallel(f *fieldInfo, ls listSpan, sensitive bool, depth int) error {
	dump := d.lists
	elems := dump.elems[ls.first : ls.first+ls.objects]
	type checked struct {
		secrets []Replacement
		end     int64
	}
	err := parallel.Ordered(len(elems), func(k int) (checked, error) {
		e := elems[k]
		sub := newDecoder(dump.src[e.start:e.end], int(e.start), dump.src, d.unknown)
		var secrets []Replacement
		if d.secrets != nil {
			sub.secrets = &secrets
		}
		if err := sub.checkSingle(f, f.fd, sensitive, depth); err != nil {
			return checked{}, atPath(err, "["+strconv.Itoa(k)+"]")
		}
		return checked{secrets, e.end}, nil
	}, func(c checked) error {
		if d.secrets != nil {
			*d.secrets = append(*d.secrets, c.secrets...)
		}
		dump.rel.upTo(int(c.end)) // in a pass over the whole document (see walk)
		return nil
	})
	if err != nil {
		return err
	}
	d.pos = int(ls.end) - d.base
	return nil
}

func (d *decoder) checkMap(f *fieldInfo, sensitive bool, depth int) error {
	if err := d.expect('{'); err != nil {
		return err
	}
	kd, vd := f.fd.MapKey(), f.fd.MapValue()
	valueMsg := vd.Message() != nil
	nullable := valueMsg && !isValueMessage(vd)
	for first := true; ; first = false {
		more, err := d.more('}', first)
		if err != nil || !more {
			return err
		}
		keyPos := d.pos
		key, err := d.readKey()
		if err != nil {
			return err
		}
		if kd.Kind() != protoreflect.StringKind {
			if _, err := mapKey(kd, key); err != nil {
				d.pos = keyPos
				return d.errorf("map key %q: %v", key, err)
			}
		}
		if nullable && d.skipWS() == 'n' {
			if _, err := d.readLiteral(); err != nil {
				return err
			}
			continue
		}
		if err := d.checkSingle(f, vd, sensitive, depth); err != nil {
			return atPath(err, "["+strconv.Quote(key)+"]")
		}
	}
}

// checkSingle checks one value of fd's type: f's, or for a map field f, its values' (fd).
func (d *decoder) checkSingle(f *fieldInfo, fd protoreflect.FieldDescriptor, sensitive bool, depth int) error {
	if md := fd.Message(); md != nil {
		info := f.message()
		if d.secrets != nil && info.wkt == wktAny {
			d.skipWS()
			start := d.pos
			if err := d.checkMessageInfo(info, sensitive, depth+1); err != nil {
				return err
			}
			d.moreAnySecrets(start, sensitive, expectedAnyType(fd))
			return nil
		}
		return d.checkMessageInfo(info, sensitive, depth+1)
	}
	return d.checkScalar(fd, sensitive)
}

// checkScalar checks a non-message value as scalar does, noting it when it is secret.
func (d *decoder) checkScalar(fd protoreflect.FieldDescriptor, sensitive bool) error {
	kind := fd.Kind()
	c := d.skipWS()
	if kind == protoreflect.StringKind || kind == protoreflect.BytesKind {
		if c != '"' {
			return d.wrongValue(scalarWant(fd))
		}
		if sensitive && d.secrets != nil {
			return d.secretString(kind == protoreflect.BytesKind)
		}
		_, _, err := d.readRawString()
		return err
	}
	at := d.pos
	if _, _, err := d.scalar(fd); err != nil {
		d.pos = at
		return d.wrongValue(scalarWant(fd))
	}
	return nil
}

// scalarWant says what JSON a non-message field takes.
func scalarWant(fd protoreflect.FieldDescriptor) string {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return "true or false"
	case protoreflect.StringKind:
		return "a string"
	case protoreflect.BytesKind:
		return "a base64 string"
	case protoreflect.EnumKind:
		return "an enum name or number"
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return "a 32-bit integer"
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return "a 64-bit integer"
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return "an unsigned 32-bit integer"
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return "an unsigned 64-bit integer"
	}
	return "a number"
}

// wrongValue reports that the value at the current position is not what its field takes: a
// ValueError, located, that quotes the value.
func (d *decoder) wrongValue(want string) error {
	d.skipWS()
	at := d.pos
	got := "the end of the input"
	switch c := byte(0); {
	case at < len(d.data):
		c = d.data[at]
		switch {
		case c == '{':
			got = "an object"
		case c == '[':
			got = "a list"
		default:
			if v, err := d.captureValue(); err == nil {
				// A value in the wrong field may be a secret (a PEM in connect_timeout): a
				// long one is quoted by its start and its length, never whole.
				got = string(v)
				if len(got) > 2*safetext.MaxValue {
					got = strings.ToValidUTF8(safetext.Clip(got, safetext.MaxValue), "") + fmt.Sprintf(" (%d bytes)", len(v))
				}
			}
		}
	}
	err := &ValueError{Offset: d.base + at, Msg: fmt.Sprintf("want %s, got %s", want, got)}
	err.locate(d.doc)
	return err
}

// ValueError is a value of the wrong JSON type, or out of its field's range, in a document
// that is valid JSON, located as a SyntaxError is.
type ValueError struct {
	Offset       int
	Line, Column int
	Msg          string
}

func (e *ValueError) Error() string {
	return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Column, e.Msg)
}

func (e *ValueError) locate(doc []byte) {
	se := &SyntaxError{Offset: e.Offset}
	locate(se, doc)
	e.Line, e.Column = se.Line, se.Column
}

func (d *decoder) checkMessage(md protoreflect.MessageDescriptor, sensitive bool, depth int) error {
	return d.checkMessageInfo(infoFor(md), sensitive, depth)
}

func (d *decoder) checkMessageInfo(info *msgInfo, sensitive bool, depth int) error {
	if depth > maxDepth {
		return d.errorf("nesting deeper than %d levels", maxDepth)
	}
	c := d.skipWS()
	at := d.pos
	switch info.wkt {
	case wktAny:
		if c != '{' {
			return d.wrongValue("an object with \"@type\"")
		}
		_, err := d.checkAny(sensitive)
		return err
	case wktDuration:
		if _, _, err := d.readDuration(); err != nil {
			d.pos = at
			return d.wrongValue(`a duration such as "5s"`)
		}
		return nil
	case wktTimestamp:
		if _, _, err := d.readTimestamp(); err != nil {
			d.pos = at
			return d.wrongValue(`a timestamp such as "2024-01-02T03:04:05Z"`)
		}
		return nil
	case wktStruct:
		if c != '{' {
			return d.wrongValue("an object")
		}
		return d.checkStruct(sensitive, depth)
	case wktValue:
		return d.checkValue(sensitive, depth)
	case wktListValue:
		if c != '[' {
			return d.wrongValue("a list")
		}
		return d.checkListValue(sensitive, depth)
	case wktFieldMask:
		if c != '"' {
			return d.wrongValue("a string of field paths")
		}
		_, err := d.readString()
		return err
	case wktWrapper:
		return d.checkScalar(info.fields[0].fd, sensitive)
	}
	if c != '{' {
		return d.wrongValue("an object")
	}
	if d.secrets != nil && isTypedStruct(info.md.FullName()) {
		// A TypedStruct's value is secret as the message its type_url names: reify it, as
		// Envoy's redaction does (the checker sees a Struct).
		if err := d.checkObject(info, sensitive, depth); err != nil {
			return err
		}
		obj := d.data[at:d.pos]
		*d.secrets = append(*d.secrets, lenientWalk(obj, d.base+at, d.doc, func(w *secretWalker) error { return w.typedStruct(sensitive, depth) })...)
		return nil
	}
	return d.checkObject(info, sensitive, depth)
}

// moreAnySecrets notes, in the typed config at d.data[start:d.pos] the checker has walked as the
// type its "@type" names (d.lastAnyURLs are those it met), the secrets that walk cannot see: as
// another type it names (a duplicated "@type"), as the type its place implies (expected) when
// that is another, and by names when no type describes it (see the secret walker). The usual
// typed config, of one known type, is walked once only.
func (d *decoder) moreAnySecrets(start int, sensitive bool, expected protoreflect.MessageDescriptor) {
	obj := d.data[start:d.pos]
	if len(obj) == 0 || obj[0] != '{' {
		return
	}
	urls := d.lastAnyURLs
	one := len(urls) > 0
	for _, u := range urls {
		one = one && u == urls[0]
	}
	if one {
		mt := resolveType(urls[0])
		switch {
		case mt != nil && isTypedStruct(mt.Descriptor().FullName()):
			// Reified below, as Envoy's redaction does.
		case mt != nil && (expected == nil || mt.Descriptor().FullName() == expected.FullName()):
			return
		case mt == nil && sensitive && expected == nil:
			return // every string of it redacted already
		}
	}
	*d.secrets = append(*d.secrets, lenientWalk(obj, d.base+start, d.doc, func(w *secretWalker) error { return w.any(sensitive, 0, expected) })...)
}

// checkObject checks a message's members; at depth 0, the root of a typed config, "@type" is
// the Any's, not a member.
func (d *decoder) checkObject(info *msgInfo, sensitive bool, depth int) error {
	if err := d.expect('{'); err != nil {
		return err
	}
	return d.checkMembers(info, sensitive, depth, true)
}

// checkMembers checks members up to the object's end, the '{' consumed (and, unless first, a
// member too).
func (d *decoder) checkMembers(info *msgInfo, sensitive bool, depth int, first bool) error {
	prev := -1
	for ; ; first = false {
		more, err := d.more('}', first)
		if err != nil || !more {
			return err
		}
		key, err := d.readKey()
		if err != nil {
			return err
		}
		f := info.lookup(prev, key)
		if f == nil && depth == 0 && key == "@type" && d.secrets != nil && d.skipWS() == '"' {
			// A typed config's "@type" (a second one, or again on a second pass).
			url, err := d.readString()
			if err != nil {
				return err
			}
			d.anyURLs = append(d.anyURLs, url)
			continue
		}
		if f == nil {
			d.skipWS()
			start := d.pos
			switch {
			case sensitive && !(depth == 0 && key == "@type"):
				err = d.rawSecrets(0)
			case d.unknown != nil && !(depth == 0 && key == "@type"):
				err = d.skipNotingTypes()
			default:
				err = d.skipValue()
			}
			if err == nil && d.secrets != nil && !sensitive && key != "@type" {
				// A key its type lacks (a newer Envoy's field, a value of another type under a
				// wrong "@type"): no descriptor says what it holds.
				val := d.data[start:d.pos]
				*d.secrets = append(*d.secrets, lenientWalk(val, d.base+start, d.doc, func(w *secretWalker) error { return w.named(0) })...)
			}
		} else {
			prev = f.index
			if err = d.checkField(f, sensitive || f.sensitive, depth); err != nil {
				return atPath(err, f.name)
			}
		}
		if err != nil {
			return err
		}
	}
}

// checkAny checks a typed config: as its type when this binary knows it, else (an unknown
// type, noted) as any JSON, every string of it secret under a sensitive field. It returns the
// type URL.
func (d *decoder) checkAny(sensitive bool) (string, error) {
	// The "@type"s met at its top level, for moreAnySecrets (those of typed configs inside are
	// theirs: the outer list is put back after).
	saved := d.anyURLs
	d.anyURLs = nil
	defer func() { d.lastAnyURLs, d.anyURLs = d.anyURLs, saved }()
	start := d.pos
	if err := d.expect('{'); err != nil {
		return "", err
	}
	// Envoy, and sorted keys, put "@type" first: then one pass does.
	if more, err := d.more('}', true); err != nil || !more {
		return "", err
	}
	key, err := d.readKey()
	if err != nil {
		return "", err
	}
	if key == "@type" {
		url, err := d.readString()
		if err != nil {
			return "", err
		}
		d.anyURLs = append(d.anyURLs, url)
		mt, info := d.anyTypeInfo(url)
		if mt != nil && info.wkt == wktNone {
			return url, d.checkMembers(info, sensitive, 0, false)
		}
		return url, d.checkAnyAgain(start, mt, sensitive)
	}
	// "@type" further down: find it, then check from the start.
	if err := d.skipValue(); err != nil {
		return "", err
	}
	var url string
	for {
		more, err := d.more('}', false)
		if err != nil {
			return "", err
		}
		if !more {
			break
		}
		key, err := d.readKey()
		if err != nil {
			return "", err
		}
		if key == "@type" {
			if url, err = d.readString(); err != nil {
				return "", err
			}
			d.anyURLs = append(d.anyURLs, url)
			continue
		}
		if err := d.skipValue(); err != nil {
			return "", err
		}
	}
	return url, d.checkAnyAgain(start, d.anyType(url), sensitive)
}

// anyType resolves a typed config's type, noting the URL when this binary does not know it.
func (d *decoder) anyType(url string) protoreflect.MessageType {
	mt, _ := d.anyTypeInfo(url)
	return mt
}

// anyTypeInfo is anyType with the type's msgInfo.
func (d *decoder) anyTypeInfo(url string) (protoreflect.MessageType, *msgInfo) {
	if url == "" {
		return nil, nil
	}
	mt, info := resolveTypeInfo(url)
	if mt == nil {
		d.unknown.add(url)
	}
	return mt, info
}

// checkAnyAgain checks the typed config at start from its beginning: of a well-known type (its
// JSON under "value"), of an unknown type, or with "@type" after other members.
func (d *decoder) checkAnyAgain(start int, mt protoreflect.MessageType, sensitive bool) error {
	d.pos = start
	var err error
	switch {
	case mt == nil && sensitive:
		err = d.rawSecrets(0)
	case mt == nil && d.unknown != nil:
		err = d.skipNotingTypes()
	case mt == nil:
		err = d.skipValue()
	case infoFor(mt.Descriptor()).wkt == wktNone:
		err = d.checkObject(infoFor(mt.Descriptor()), sensitive, 0)
	default:
		err = d.checkWrappedValue(mt.Descriptor(), sensitive)
	}
	return err
}

// checkWrappedValue checks {"@type": ..., "value": ...}, a typed config of a well-known type.
func (d *decoder) checkWrappedValue(md protoreflect.MessageDescriptor, sensitive bool) error {
	if err := d.expect('{'); err != nil {
		return err
	}
	for first := true; ; first = false {
		more, err := d.more('}', first)
		if err != nil || !more {
			return err
		}
		key, err := d.readKey()
		if err != nil {
			return err
		}
		if key == "value" {
			err = d.checkMessage(md, sensitive, 0)
		} else {
			err = d.skipValue()
		}
		if err != nil {
			return err
		}
	}
}

// checkStruct, checkListValue and checkValue check google.protobuf.Struct, ListValue and
// Value: any JSON, whose numbers must fit a double.
func (d *decoder) checkStruct(sensitive bool, depth int) error {
	if err := d.expect('{'); err != nil {
		return err
	}
	for first := true; ; first = false {
		more, err := d.more('}', first)
		if err != nil || !more {
			return err
		}
		if _, err := d.readKey(); err != nil {
			return err
		}
		if err := d.checkValue(sensitive, depth+1); err != nil {
			return err
		}
	}
}

func (d *decoder) checkListValue(sensitive bool, depth int) error {
	if err := d.expect('['); err != nil {
		return err
	}
	for first := true; ; first = false {
		more, err := d.more(']', first)
		if err != nil || !more {
			return err
		}
		if err := d.checkValue(sensitive, depth+1); err != nil {
			return err
		}
	}
}

func (d *decoder) checkValue(sensitive bool, depth int) error {
	if depth > maxDepth {
		return d.errorf("nesting deeper than %d levels", maxDepth)
	}
	switch c := d.skipWS(); {
	case c == 'n' || c == 't' || c == 'f':
		_, err := d.readLiteral()
		return err
	case c == '"':
		if sensitive && d.secrets != nil {
			return d.secretString(false)
		}
		_, err := d.readString()
		return err
	case c == '{':
		return d.checkStruct(sensitive, depth+1)
	case c == '[':
		return d.checkListValue(sensitive, depth+1)
	}
	at := d.pos
	b, err := d.readNumber()
	if err != nil {
		return err
	}
	if _, err := strconv.ParseFloat(bytesToString(b), 64); err != nil {
		d.pos = at
		return d.wrongValue("a number a double holds")
	}
	return nil
}

// CheckSection checks section s whole, typed configs included, and notes the unknown types in
// it: what a view that prints the section (bootstrap, secrets, ECDS) does first, in every
// format. It checks what the view prints: the last section of the type, or for ECDS every one
// (see Ecds); a missing section is the view's to report.
func (d *Dump) CheckSection(s Section) error {
	if d.kind != KindConfigDump {
		return nil
	}
	values := d.sectionValues(s)
	if s != EcdsSection && len(values) > 1 {
		values = values[len(values)-1:]
	}
	mt := resolveType("type.googleapis.com/" + string(s))
	if mt == nil {
		return nil
	}
	for _, v := range values {
		dec := newDecoder(v, offsetIn(d.src, v), d.src, d.unknown)
		dec.lists = d
		if err := dec.checkObject(infoFor(mt.Descriptor()), false, 0); err != nil {
			return fmt.Errorf("%s section: %w", s.Short(), err)
		}
	}
	return nil
}

// CheckOthers checks every section of a known type but those given, noting nothing: what the
// table of pc all, which prints some sections and checks those as it prints them, does for
// the others, so that it fails where pc all -o json, which prints the whole document, fails.
func (d *Dump) CheckOthers(printed ...Section) error {
	if d.kind != KindConfigDump {
		return nil
	}
	for _, sp := range d.spans {
		s := Section(canonicalName(sp.typeURL))
		skip := sp.typeURL == ""
		for _, p := range printed {
			skip = skip || s == p
		}
		mt := resolveType(sp.typeURL)
		if skip || mt == nil {
			continue
		}
		dec := newDecoder(d.src[sp.start:sp.end], int(sp.start), d.src, nil)
		dec.lists = d
		if err := dec.checkObject(infoFor(mt.Descriptor()), false, 0); err != nil {
			return fmt.Errorf("%s section: %w", s.Short(), err)
		}
	}
	return nil
}

// CheckAll checks every section of the document this binary knows and notes every unknown
// type, sections included: what pc all -o json, which prints the whole document, does first.
func (d *Dump) CheckAll() error {
	_, err := d.walk(false, nil)
	return err
}

// pathError is an error found by the checker, with the path of fields to the wrong value.
type pathError struct {
	path string
	err  error
}

func (e *pathError) Error() string {
	if ve, ok := e.err.(*ValueError); ok {
		return fmt.Sprintf("%s (line %d, column %d): %s", e.path, ve.Line, ve.Column, ve.Msg)
	}
	return e.path + ": " + e.err.Error()
}
func (e *pathError) Unwrap() error { return e.err }

// atPath prefixes an error's path with a field name or an index.
func atPath(err error, seg string) error {
	if pe, ok := err.(*pathError); ok {
		if strings.HasPrefix(pe.path, "[") {
			pe.path = seg + pe.path
		} else {
			pe.path = seg + "." + pe.path
		}
		return pe
	}
	return &pathError{seg, err}
}

// skipNotingTypes skips a value printed as it was (an unknown member, a typed config of an
// unknown type), noting the unknown types of the typed configs in it: they are kept as they
// are too.
func (d *decoder) skipNotingTypes() error {
	start := d.pos
	if err := d.skipValue(); err != nil {
		return err
	}
	noteRawTypes(d.data[start:d.pos], d.unknown)
	return nil
}

// noteRawTypes notes the unknown "@type"s in JSON printed as it was.
func noteRawTypes(raw []byte, unknown *typeSet) {
	if unknown == nil || !bytes.Contains(raw, []byte(`"@type"`)) {
		return
	}
	s := scanner{data: raw}
	var walk func(depth int)
	walk = func(depth int) {
		if depth > maxDepth {
			return
		}
		switch s.skipWS() {
		case '{':
			s.pos++
			for first := true; ; first = false {
				more, err := s.more('}', first)
				if err != nil || !more {
					return
				}
				raw, _, err := s.readRawString()
				if err != nil || s.expect(':') != nil {
					return
				}
				if string(raw) == "@type" && s.skipWS() == '"' {
					if url, err := s.readString(); err == nil {
						if url != "" && !knownURL(url) {
							unknown.add(strings.Clone(url))
						}
					}
					continue
				}
				walk(depth + 1)
			}
		case '[':
			s.pos++
			for first := true; ; first = false {
				more, err := s.more(']', first)
				if err != nil || !more {
					return
				}
				walk(depth + 1)
			}
		default:
			_ = s.skipValue()
		}
	}
	walk(0)
}
