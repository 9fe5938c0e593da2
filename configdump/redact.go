package configdump

import (
	"bytes"
	"encoding/base64"
	"fmt"
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
func (d *Dump) Redactions() ([]Replacement, error) { return d.walk(true) }

// walk checks every section of a known type, noting unknown types and, with redact, secrets.
func (d *Dump) walk(redact bool) ([]Replacement, error) {
	var out []Replacement
	for i, sp := range d.spans {
		url := sp.typeURL
		if d.kind == KindClusterStatus {
			url = "type.googleapis.com/envoy.admin.v3.ClusterStatus"
		}
		if url == "" {
			continue
		}
		mt := resolveType(url)
		if mt == nil {
			d.unknown.add(url)
			continue
		}
		dec := newDecoder(d.src[sp.start:sp.end], int(sp.start), d.src, d.unknown)
		if redact {
			dec.secrets = &out
		}
		if err := dec.checkObject(infoFor(mt.Descriptor()), false, 0); err != nil {
			if d.kind == KindClusterStatus {
				return nil, resource{field: "cluster_statuses", index: i}.at("", err)
			}
			return nil, fmt.Errorf("%s section: %w", Section(canonicalName(url)).Short(), err)
		}
	}
	return sortReplacements(out), nil
}

// secretString notes a string value to replace, unless it is empty or redacted already.
func (d *decoder) secretString(isBytes bool) error {
	start := d.pos
	raw, escaped, err := d.readRawString()
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
		d.note(start, `"`+redactedBase64+`"`)
	default:
		d.note(start, `"`+Redacted+`"`)
	}
	return nil
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
	if depth > maxDepth {
		return d.errorf("nesting deeper than %d levels", maxDepth)
	}
	switch d.skipWS() {
	case '"':
		return d.secretString(false)
	case '[':
		d.pos++
		for first := true; ; first = false {
			more, err := d.more(']', first)
			if err != nil || !more {
				return err
			}
			if err := d.rawSecrets(depth + 1); err != nil {
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
			if key == "@type" {
				if err := d.skipValue(); err != nil {
					return err
				}
				continue
			}
			if err := d.rawSecrets(depth + 1); err != nil {
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
