package configdump

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"

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
// walks the whole document with the checker (see CheckAll), so it fails as the views do on a
// value of the wrong type; values Envoy redacted already need no replacement.
func (d *Dump) Redactions() ([]Replacement, error) { return d.walk(true, nil) }

// RedactionsWith is Redactions calling done, when set, with each part of the document it has
// walked, in order: a caller that mapped the document can drop those pages from memory.
func (d *Dump) RedactionsWith(done func(part []byte)) ([]Replacement, error) {
	return d.walk(true, done)
}

// walk checks every section of a known type, noting unknown types and, with redact, secrets;
// done, when set, is given each section once walked (or skipped).
func (d *Dump) walk(redact bool, done func(part []byte)) ([]Replacement, error) {
	var out []Replacement
	// The sections' long lists are walked on all cores; what is walked is dropped as it goes.
	release := done
	if release == nil {
		release = d.release
	}
	d.rel = &releaser{release: release, src: d.src}
	defer func() { d.rel = nil }()
	for i, sp := range d.spans {
		d.rel.upTo(int(sp.start))
		err := d.walkSection(i, sp, redact, &out)
		if done != nil {
			done(d.src[sp.start:sp.end])
		}
		if err != nil {
			return nil, err
		}
	}
	return sortReplacements(out), nil
}

// walkSection checks section i, adding its secrets to out when redact is set.
func (d *Dump) walkSection(i int, sp sectionSpan, redact bool, out *[]Replacement) error {
	url := sp.typeURL
	if d.kind == KindClusterStatus {
		url = "type.googleapis.com/envoy.admin.v3.ClusterStatus"
	}
	if url == "" {
		return nil
	}
	mt := resolveType(url)
	if mt == nil {
		d.unknown.add(url)
		return nil
	}
	dec := newDecoder(d.src[sp.start:sp.end], int(sp.start), d.src, d.unknown)
	dec.lists = d // the section's long lists are checked on all cores
	if redact {
		dec.secrets = out
	}
	if err := dec.checkObject(infoFor(mt.Descriptor()), false, 0); err != nil {
		if d.kind == KindClusterStatus {
			return resource{field: "cluster_statuses", index: i}.at("", err)
		}
		return fmt.Errorf("%s section: %w", Section(canonicalName(url)).Short(), err)
	}
	return nil
}

// RedactionsOf finds the secret material in the clear in a whole admin document of the message
// type name (an envoy.admin.v3.ServerInfo for /server_info, say), by the rules of Redactions,
// with the same checks. An unknown type, a document that is not that message's JSON, or
// anything after it, is an error: a document that cannot be walked cannot be said to hold no
// secret.
func RedactionsOf(doc []byte, name protoreflect.FullName) ([]Replacement, error) {
	mt := resolveType(string(name))
	if mt == nil {
		return nil, fmt.Errorf("configdump: unknown message type %s", name)
	}
	// The decoder takes doc for a document the indexer accepted, whose values it skips by
	// their brackets alone: this one comes straight from a server, so it is checked first
	// (a value that is not JSON could hide a secret from the walk).
	check := scanner{data: doc, doc: doc}
	if check.skipWS() != '{' {
		return nil, check.errorf("the document is not a JSON object")
	}
	if err := check.skipValue(); err != nil {
		return nil, err
	}
	if check.skipWS(); check.pos != len(doc) {
		return nil, check.errorf("unexpected data after the document")
	}
	var out []Replacement
	dec := newDecoder(doc, 0, doc, &typeSet{})
	dec.secrets = &out
	if dec.skipWS() != '{' {
		return nil, dec.errorf("the document is not a JSON object")
	}
	if err := dec.checkObject(infoFor(mt.Descriptor()), false, 0); err != nil {
		return nil, err
	}
	if dec.skipWS(); dec.pos != len(doc) {
		return nil, dec.errorf("unexpected data after the document")
	}
	return sortReplacements(out), nil
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

// secretString notes a string value to replace, unless it is empty or redacted already.
func (d *decoder) secretString(isBytes bool) error {
	start := d.pos
	raw, escaped, err := d.readRawString()
	if err != nil {
		return err
	}
	if text, ok := secretReplacement(raw, escaped, isBytes); ok {
		d.note(start, text)
	}
	return nil
}

// secretReplacement is what replaces a sensitive string value (its raw JSON content): none
// when it is empty or redacted already.
func secretReplacement(raw []byte, escaped, isBytes bool) (string, bool) {
	switch {
	case len(raw) == 0, string(raw) == Redacted:
		return "", false
	case isBytes:
		if !escaped && string(raw) == redactedBase64 {
			return "", false
		}
		return `"` + redactedBase64 + `"`, true
	}
	return `"` + Redacted + `"`, true
}

func (d *decoder) note(start int, text string) {
	if d.secrets != nil {
		*d.secrets = append(*d.secrets, Replacement{Start: d.base + start, End: d.base + d.pos, Text: text})
	}
}

// rawSecrets walks a JSON value of no known type (an unknown typed config, a member this binary
// does not know) under a sensitive field: every string in it, keys and "@type" apart, is
// secret.
func (d *decoder) rawSecrets(depth int) error {
	if d.secrets == nil {
		return d.skipValue()
	}
	return d.stringsBut(depth, "", d.note)
}

// stringsBut passes to note every string of a value, keys and "@type" apart, but those under
// a key named keep (none when ""), with what replaces it (see secretReplacement).
func (d *decoder) stringsBut(depth int, keep string, note func(start int, text string)) error {
	if depth > maxDepth {
		return d.errorf("nesting deeper than %d levels", maxDepth)
	}
	switch d.skipWS() {
	case '"':
		start := d.pos
		raw, escaped, err := d.readRawString()
		if err != nil {
			return err
		}
		if text, ok := secretReplacement(raw, escaped, false); ok {
			note(start, text)
		}
		return nil
	case '[':
		d.pos++
		for first := true; ; first = false {
			more, err := d.more(']', first)
			if err != nil || !more {
				return err
			}
			if err := d.stringsBut(depth+1, keep, note); err != nil {
				return err
			}
		}
	case '{':
		d.pos++
		for first := true; ; first = false {
			more, err := d.more('}', first)
			if err != nil || !more {
				return err
			}
			key, err := d.readKey()
			if err != nil {
				return err
			}
			if key == "@type" || key == keep && keep != "" {
				if err := d.skipValue(); err != nil {
					return err
				}
				continue
			}
			if err := d.stringsBut(depth+1, keep, note); err != nil {
				return err
			}
		}
	}
	return d.skipValue()
}

// redactRaw returns a JSON value of no known type with every string in it (keys and "@type"
// apart) redacted.
func redactRaw(raw []byte) ([]byte, error) {
	var found []Replacement
	dec := newDecoder(raw, 0, raw, nil)
	dec.secrets = &found
	if err := dec.rawSecrets(0); err != nil {
		return nil, err
	}
	if len(found) == 0 {
		return raw, nil
	}
	var b bytes.Buffer
	at := 0
	for _, r := range found {
		b.Write(raw[at:r.Start])
		b.WriteString(r.Text)
		at = r.End
	}
	b.Write(raw[at:])
	return b.Bytes(), nil
}
