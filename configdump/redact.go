package configdump

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"sort"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// Replacement is a piece of the document to print differently: bytes [Start, End) become Text.
type Replacement struct {
	Start, End int
	Text       string
}

// redactedBase64 is "[redacted]" as a bytes field prints it.
var redactedBase64 = base64.StdEncoding.EncodeToString([]byte(Redacted))

// Redactions finds the secret material a config dump holds in the clear: every string and bytes
// value under a field Envoy's API marks sensitive (TLS private keys and passwords, session
// ticket keys, generic secrets, credentials...), as Envoy finds them when it redacts its own
// dumps. Printing the document with these replacements applied is printing it redacted. It
// walks the whole document; values Envoy redacted already need no replacement.
func (d *Dump) Redactions() ([]Replacement, error) { return d.RedactionsWith(nil) }

// RedactionsWith is Redactions calling done, when set, with each part of the document it has
// walked, in order: a caller that mapped the document can drop those pages from memory.
func (d *Dump) RedactionsWith(done func(part []byte)) ([]Replacement, error) {
	var out []Replacement
	for _, sp := range d.spans {
		if mt := resolveType(sp.typeURL); mt != nil {
			w := &redactor{decoder: *newDecoder(d.src[sp.start:sp.end], int(sp.start), d.src, nil)}
			if err := w.message(mt.Descriptor(), false, 0); err != nil {
				return nil, err
			}
			out = append(out, w.found...)
		}
		if done != nil {
			done(d.src[sp.start:sp.end])
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Start < out[j].Start })
	return out, nil
}

// RedactionsOf finds the secret material in the clear in a whole admin document of the message
// type name (an envoy.admin.v3.ServerInfo for /server_info, say), by the rules of Redactions. An
// unknown type, a document that is not that message's JSON, or anything after it, is an error:
// a document that cannot be walked cannot be said to hold no secret.
func RedactionsOf(doc []byte, name protoreflect.FullName) ([]Replacement, error) {
	mt := resolveType(string(name))
	if mt == nil {
		return nil, fmt.Errorf("configdump: unknown message type %s", name)
	}
	w := &redactor{decoder: *newDecoder(doc, 0, doc, nil)}
	if w.skipWS() != '{' {
		return nil, w.errorf("the document is not a JSON object")
	}
	if err := w.message(mt.Descriptor(), false, 0); err != nil {
		return nil, err
	}
	if w.skipWS(); w.pos != len(doc) {
		return nil, w.errorf("unexpected data after the document")
	}
	sort.Slice(w.found, func(i, j int) bool { return w.found[i].Start < w.found[j].Start })
	return w.found, nil
}

// RedactedSize is the size of a document of size n once the replacements are applied.
func RedactedSize(n int64, replace []Replacement) int64 {
	for _, r := range replace {
		n += int64(len(r.Text)) - int64(r.End-r.Start)
	}
	return n
}

// NewRedactedReader reads doc with the replacements (sorted, not overlapping) applied.
func NewRedactedReader(doc []byte, replace []Replacement) *RedactedReader {
	return &RedactedReader{doc: doc, replace: replace}
}

// RedactedReader reads a document with replacements applied.
type RedactedReader struct {
	doc     []byte
	replace []Replacement
	at      int    // next byte of doc
	pending string // the rest of a replacement's text
}

// Offset is how much of the document has been read (a replacement counts once passed).
func (r *RedactedReader) Offset() int { return r.at }

func (r *RedactedReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if r.pending != "" {
			c := copy(p[n:], r.pending)
			r.pending = r.pending[c:]
			n += c
			continue
		}
		end := len(r.doc)
		if len(r.replace) > 0 {
			end = r.replace[0].Start
		}
		if r.at < end {
			c := copy(p[n:], r.doc[r.at:end])
			r.at += c
			n += c
			continue
		}
		if len(r.replace) == 0 {
			break
		}
		r.pending, r.at = r.replace[0].Text, r.replace[0].End
		r.replace = r.replace[1:]
	}
	if n == 0 && len(p) > 0 {
		return 0, io.EOF
	}
	return n, nil
}

// redactor walks a document along its descriptors, noting sensitive values.
type redactor struct {
	decoder
	found []Replacement
}

func (w *redactor) message(md protoreflect.MessageDescriptor, redact bool, depth int) error {
	if depth > maxDepth {
		return w.errorf("nesting deeper than %d levels", maxDepth)
	}
	info := infoFor(md)
	switch info.wkt {
	case wktAny:
		return w.any(redact, depth)
	case wktStruct, wktValue, wktListValue:
		return w.rawValue(redact)
	case wktNone:
	default: // Duration, Timestamp, FieldMask, wrappers: strings are not secrets...
		if info.wkt == wktWrapper && redact {
			return w.rawValue(redact) // ...but a StringValue under a sensitive field is.
		}
		return w.skipValue()
	}
	if w.skipWS() == 'n' {
		_, err := w.readLiteral()
		return err
	}
	if err := w.expect('{'); err != nil {
		return err
	}
	for first := true; ; first = false {
		more, err := w.more('}', first)
		if err != nil || !more {
			return err
		}
		key, err := w.readKey()
		if err != nil {
			return err
		}
		fd := info.byKey[key]
		if fd == nil {
			if err := w.skipValue(); err != nil {
				return err
			}
			continue
		}
		sensitive := redact || info.fields[fd.Index()].sensitive
		if err := w.field(fd, sensitive, depth); err != nil {
			return err
		}
	}
}

// field walks one field's value: a list, a map, a message or a scalar.
func (w *redactor) field(fd protoreflect.FieldDescriptor, redact bool, depth int) error {
	if w.skipWS() == 'n' {
		_, err := w.readLiteral()
		return err
	}
	switch {
	case fd.IsList():
		if err := w.expect('['); err != nil {
			return err
		}
		for first := true; ; first = false {
			more, err := w.more(']', first)
			if err != nil || !more {
				return err
			}
			if err := w.single(fd, redact, depth); err != nil {
				return err
			}
		}
	case fd.IsMap():
		if err := w.expect('{'); err != nil {
			return err
		}
		for first := true; ; first = false {
			more, err := w.more('}', first)
			if err != nil || !more {
				return err
			}
			if _, err := w.readKey(); err != nil {
				return err
			}
			if err := w.single(fd.MapValue(), redact, depth); err != nil {
				return err
			}
		}
	}
	return w.single(fd, redact, depth)
}

// single walks one value of a field's type.
func (w *redactor) single(fd protoreflect.FieldDescriptor, redact bool, depth int) error {
	if fd.Message() != nil {
		return w.message(fd.Message(), redact, depth+1)
	}
	if redact && (fd.Kind() == protoreflect.StringKind || fd.Kind() == protoreflect.BytesKind) && w.skipWS() == '"' {
		return w.secretString(fd.Kind() == protoreflect.BytesKind)
	}
	return w.skipValue()
}

// secretString notes a string value to replace, unless it is empty or redacted already.
func (w *redactor) secretString(isBytes bool) error {
	start := w.pos
	raw, escaped, err := w.readRawString()
	if err != nil {
		return err
	}
	switch {
	case len(raw) == 0, string(raw) == Redacted:
		return nil
	case isBytes:
		if !escaped && string(raw) == redactedBase64 {
			return nil
		}
		w.note(start, `"`+redactedBase64+`"`)
	default:
		w.note(start, `"`+Redacted+`"`)
	}
	return nil
}

func (w *redactor) note(start int, text string) {
	w.found = append(w.found, Replacement{Start: w.base + start, End: w.base + w.pos, Text: text})
}

// any walks a typed config: as its type when known; otherwise, under a sensitive field, every
// string in it but its "@type" is secret.
func (w *redactor) any(redact bool, depth int) error {
	w.skipWS()
	start := w.pos
	obj, err := w.captureValue()
	if err != nil || len(obj) == 0 || obj[0] != '{' {
		return err
	}
	inner := &redactor{decoder: *newDecoder(obj, w.base+start, w.doc, nil)}
	url, err := inner.typeURL()
	if err != nil {
		return err
	}
	inner.pos = 0
	if mt := resolveType(url); mt != nil {
		err = inner.message(mt.Descriptor(), redact, depth+1)
	} else {
		err = inner.rawValue(redact)
	}
	w.found = append(w.found, inner.found...)
	return err
}

// typeURL reads the "@type" of the object at the start of the input.
func (w *redactor) typeURL() (string, error) {
	if err := w.expect('{'); err != nil {
		return "", err
	}
	for first := true; ; first = false {
		more, err := w.more('}', first)
		if err != nil || !more {
			return "", err
		}
		key, err := w.readKey()
		if err != nil {
			return "", err
		}
		if key == "@type" && w.skipWS() == '"' {
			return w.readString()
		}
		if err := w.skipValue(); err != nil {
			return "", err
		}
	}
}

// rawValue walks a JSON value of no known type (Struct, an unknown typed config): under a
// sensitive field, every string in it, keys and "@type" apart, is secret.
func (w *redactor) rawValue(redact bool) error {
	if !redact {
		return w.skipValue()
	}
	return w.rawSecrets(0)
}

func (w *redactor) rawSecrets(depth int) error {
	if depth > maxDepth {
		return w.errorf("nesting deeper than %d levels", maxDepth)
	}
	switch w.skipWS() {
	case '"':
		return w.secretString(false)
	case '[':
		w.pos++
		for first := true; ; first = false {
			more, err := w.more(']', first)
			if err != nil || !more {
				return err
			}
			if err := w.rawSecrets(depth + 1); err != nil {
				return err
			}
		}
	case '{':
		w.pos++
		for first := true; ; first = false {
			more, err := w.more('}', first)
			if err != nil || !more {
				return err
			}
			key, err := w.readKey()
			if err != nil {
				return err
			}
			if key == "@type" {
				if err := w.skipValue(); err != nil {
					return err
				}
				continue
			}
			if err := w.rawSecrets(depth + 1); err != nil {
				return err
			}
		}
	}
	return w.skipValue()
}

// redactRaw returns a JSON value of no known type with every string in it (keys and "@type"
// apart) redacted.
func redactRaw(raw []byte) ([]byte, error) {
	w := &redactor{decoder: *newDecoder(raw, 0, raw, nil)}
	if err := w.rawSecrets(0); err != nil {
		return nil, err
	}
	if len(w.found) == 0 {
		return raw, nil
	}
	var b bytes.Buffer
	at := 0
	for _, r := range w.found {
		b.Write(raw[at:r.Start])
		b.WriteString(r.Text)
		at = r.End
	}
	b.Write(raw[at:])
	return b.Bytes(), nil
}
