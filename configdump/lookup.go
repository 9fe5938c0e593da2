package configdump

import (
	"bytes"
	"encoding/json"

	"google.golang.org/protobuf/proto"
)

// QuickLookup describes a look-up of one resource of a section by the value of its first
// field (a cluster's name, an assignment's cluster_name), done on the section's bytes without
// decoding the section: a view that needs one resource of a large section reads it at the
// speed of a byte search.
type QuickLookup struct {
	Section Section
	// TypeURLs are the @type values the resource may have (v3, and v2 if wanted).
	TypeURLs []string
	// Key is the resource's first field, as Envoy writes it right after "@type".
	Key string
	// Exclude lists keys of the section whose resources do not count (dynamic_warming_clusters):
	// when the section has one, the look-up is not sure.
	Exclude []string
}

// Lookup finds the resource whose Key is value and decodes it into m. sure is false when the
// byte search cannot tell for certain (no resource laid out as Envoy lays them out holds the
// value, several do, the value also appears under that key elsewhere, or an excluded list is
// present): the caller then decodes the section as usual. found is false when sure and
// nothing matched: when the value's JSON string appears nowhere in the section, and neither
// it nor the section holds a backslash (no escape could write the same string otherwise), no
// resource of any layout or key spelling has that value.
func (d *Dump) Lookup(q QuickLookup, value string, m proto.Message) (found, sure bool, err error) {
	values := d.sectionValues(q.Section)
	if d.kind != KindConfigDump || len(values) == 0 || value == "" {
		// "": a resource without the key has that value too, and its bytes hold no needle.
		return false, false, nil
	}
	data := values[len(values)-1]
	for _, k := range q.Exclude {
		if bytes.Contains(data, JSONString(k)) {
			return false, false, nil
		}
	}
	needle := JSONString(value)
	key := JSONString(q.Key)
	start, keyed := -1, 0
	for off := 0; ; {
		i := bytes.Index(data[off:], needle)
		if i < 0 && off == 0 && bytes.IndexByte(needle, '\\') < 0 && bytes.IndexByte(data, '\\') < 0 {
			return false, true, nil
		}
		if i < 0 {
			break
		}
		p := off + i
		off = p + len(needle)
		k, ok := keyBefore(data, p, key)
		if !ok {
			continue // the value of another key, or inside a longer string
		}
		keyed++
		if s, ok := resourceStart(data, k, q.TypeURLs); ok {
			if start >= 0 {
				return false, false, nil // two resources with that value
			}
			start = s
		}
	}
	if start < 0 || keyed != 1 {
		return false, false, nil
	}
	if err := unmarshalAnyValue(data[start:], m, d.src, d.unknown, nil); err != nil {
		return false, false, err
	}
	return true, true, nil
}

// JSONString is s as a JSON string, quotes included, written as Envoy writes it (no HTML
// escaping): what to look for in a section's bytes (Lookup, Resources.Containing).
func JSONString(s string) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(s)
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// keyBefore checks that the string at p is the value of key ("key": <p>) and returns where
// the key starts.
func keyBefore(data []byte, p int, key []byte) (int, bool) {
	q := skipSpaceBack(data, p)
	if q == 0 || data[q-1] != ':' {
		return 0, false
	}
	q = skipSpaceBack(data, q-1)
	if q < len(key) || !bytes.Equal(data[q-len(key):q], key) {
		return 0, false
	}
	return q - len(key), true
}

// resourceStart checks that the key at k is the first member after "@type": "<one of urls>"
// of an object, and returns where the object starts.
func resourceStart(data []byte, k int, urls []string) (int, bool) {
	q := skipSpaceBack(data, k)
	if q == 0 || data[q-1] != ',' {
		return 0, false
	}
	q = skipSpaceBack(data, q-1)
	matched := false
	for _, u := range urls {
		qu := JSONString(u)
		if q >= len(qu) && bytes.Equal(data[q-len(qu):q], qu) {
			q -= len(qu)
			matched = true
			break
		}
	}
	if !matched {
		return 0, false
	}
	q = skipSpaceBack(data, q)
	if q == 0 || data[q-1] != ':' {
		return 0, false
	}
	q = skipSpaceBack(data, q-1)
	at := []byte(`"@type"`)
	if q < len(at) || !bytes.Equal(data[q-len(at):q], at) {
		return 0, false
	}
	q = skipSpaceBack(data, q-len(at))
	if q == 0 || data[q-1] != '{' {
		return 0, false
	}
	return q - 1, true
}

func skipSpaceBack(data []byte, q int) int {
	for q > 0 && isSpace(data[q-1]) {
		q--
	}
	return q
}
