package formatter

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"

	yamlv2 "go.yaml.in/yaml/v2"

	"github.com/proxyctl/proxyctl/configdump"
	"github.com/proxyctl/proxyctl/internal/parallel"
)

// jsonToYAML converts a JSON document to YAML exactly as sigs.k8s.io/yaml's JSONToYAML does
// (the output istioctl prints: yaml.v2, keys sorted, integers kept as integers), several times
// faster: the JSON is read by encoding/json rather than by the YAML parser.
func jsonToYAML(doc []byte) ([]byte, error) {
	doc, long := stashLongStrings(doc)
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	out, err := yamlv2.Marshal(yamlValue(v))
	if err != nil || len(long) == 0 {
		return out, err
	}
	return restoreLongStrings(out, long)
}

// longString: a string longer than this is not given to encoding/json and yaml.v2, which hold
// several copies of it (a 100 MB cluster name took 800 MB): a placeholder takes its place, and
// the JSON string itself is written in its place afterwards, a double-quoted YAML scalar of the
// same value (YAML's double-quoted escapes include JSON's), on one line where yaml.v2 would
// fold it.
const longString = 64 << 10

// longPlaceholder marks where a long string goes; the nonce keeps a dump's own text from
// looking like one.
var longPlaceholder = fmt.Sprintf("proxyctl-long-string-%x-", rand.Uint64())

// stashLongStrings returns doc with each string value longer than longString replaced by a
// placeholder string, and the tokens, quotes included. A token with a \u escape of a surrogate
// (which YAML does not pair) is left in place.
func stashLongStrings(doc []byte) ([]byte, [][]byte) {
	if len(doc) <= longString {
		return doc, nil
	}
	var out []byte
	var long [][]byte
	at := 0
	for i := 0; i < len(doc); {
		q := bytes.IndexByte(doc[i:], '"')
		if q < 0 {
			break
		}
		start := i + q
		end := start + 1
		for end < len(doc) && doc[end] != '"' {
			if doc[end] == '\\' {
				end++
			}
			end++
		}
		if end >= len(doc) {
			break
		}
		end++ // past the closing quote
		tok := doc[start:end]
		k := end
		for k < len(doc) && (doc[k] == ' ' || doc[k] == '\n' || doc[k] == '\r' || doc[k] == '\t') {
			k++
		}
		isKey := k < len(doc) && doc[k] == ':' // a long key needs YAML's "? key" form: yaml.v2 writes it
		if !isKey && len(tok) > longString && !bytes.Contains(tok, []byte(`\ud8`)) && !bytes.Contains(tok, []byte(`\ud9`)) &&
			!bytes.Contains(tok, []byte(`\uda`)) && !bytes.Contains(tok, []byte(`\udb`)) && !bytes.Contains(tok, []byte(`\udc`)) &&
			!bytes.Contains(tok, []byte(`\udd`)) && !bytes.Contains(tok, []byte(`\ude`)) && !bytes.Contains(tok, []byte(`\udf`)) {
			out = append(out, doc[at:start]...)
			out = append(out, '"')
			out = append(out, longPlaceholder...)
			out = strconv.AppendInt(out, int64(len(long)), 10)
			out = append(out, '"')
			long = append(long, tok)
			at = end
		}
		i = end
	}
	if long == nil {
		return doc, nil
	}
	return append(out, doc[at:]...), long
}

// restoreLongStrings writes the stashed strings in place of their placeholders.
func restoreLongStrings(out []byte, long [][]byte) ([]byte, error) {
	var b bytes.Buffer
	size := len(out)
	for _, l := range long {
		size += len(l) + 16
	}
	b.Grow(size)
	mark := []byte(longPlaceholder)
	seen := 0
	for {
		at := bytes.Index(out, mark)
		if at < 0 {
			break
		}
		b.Write(out[:at])
		out = out[at+len(mark):]
		n := 0
		for n < len(out) && out[n] >= '0' && out[n] <= '9' {
			n++
		}
		i, err := strconv.Atoi(string(out[:n]))
		if err != nil || i >= len(long) {
			return nil, fmt.Errorf("yaml: a long string's place is lost")
		}
		out = out[n:]
		// JSON's "\/" is YAML 1.2's, not 1.1's: write "/".
		tok := long[i]
		if bytes.Contains(tok, []byte(`\/`)) {
			tok = bytes.ReplaceAll(tok, []byte(`\/`), []byte("/"))
		}
		if _, err := (jsonSafeWriter{&b}).Write(tok); err != nil {
			return nil, err
		}
		seen++
	}
	if seen != len(long) {
		return nil, fmt.Errorf("yaml: %d long strings placed of %d", seen, len(long))
	}
	b.Write(out)
	return b.Bytes(), nil
}

// yamlValue turns encoding/json's numbers into the types the YAML parser would have picked.
func yamlValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = yamlValue(e)
		}
	case []any:
		for i, e := range v {
			v[i] = yamlValue(e)
		}
	case json.Number:
		s := string(v)
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			if i >= math.MinInt && i <= math.MaxInt {
				return int(i)
			}
			return i
		}
		if u, err := strconv.ParseUint(s, 10, 64); err == nil {
			return u
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return f
		}
		return s
	}
	return v
}

// yamlSplitAbove: containers larger than this are written member by member, so that converting
// a large document takes memory in proportion to its largest small part, not to its size.
var yamlSplitAbove = 256 << 10 // a variable for the tests

// writeYAML writes a JSON document as YAML, with the replacements applied first (see
// configdump.Redactions). Large objects and arrays are split into their members, which are
// converted on all cores and written in order: the output is jsonToYAML's when nothing is
// split, and otherwise the same value (yaml.v2 folds long strings at a column counted from the
// start of each part, and indents a block scalar in a list by the part's own indentation).
func writeYAML(w io.Writer, doc []byte, replace []configdump.Replacement, release func([]byte)) error {
	doc = bytes.TrimSpace(doc)
	var plan []yamlPart
	parts, err := outlineJSON(doc, release)
	if err != nil {
		return err
	}
	if err := parts.plan(&plan, doc, 0, "", ""); err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	type rendered struct {
		out []byte
		end int // where the part ends in the document (0 for literal text)
	}
	released := 0
	err = parallel.Ordered(len(plan), func(i int) (rendered, error) {
		out, err := plan[i].render(doc, replace)
		return rendered{out, plan[i].end}, err
	}, func(r rendered) error {
		if _, err := bw.Write(r.out); err != nil {
			return err
		}
		// The document's bytes written, a few megabytes at a time, dropped from memory.
		if release != nil && r.end-released >= 4<<20 {
			release(doc[released:r.end])
			released = r.end
		}
		return nil
	})
	if err != nil {
		return err
	}
	return bw.Flush()
}

// yamlPart is a piece of the output: literal text, or a value of the document (doc[start:end])
// to convert, its first line prefixed by first and the others by rest.
type yamlPart struct {
	text        string
	start, end  int
	first, rest string
	// key, when set, is the member's key: the value is converted as {key: value}, so that
	// quoting and block scalars come out as the YAML library writes them.
	key    string
	hasKey bool
}

// planYAML lays out the value doc[at:at+len(v)] (v) as parts.
func planYAML(plan *[]yamlPart, v []byte, at int, first, rest string) error {
	return outline(nil).plan(plan, v, at, first, rest)
}

// plan is planYAML, with the members of the large containers found already.
func (o outline) plan(plan *[]yamlPart, v []byte, at int, first, rest string) error {
	if !splitYAML(v) {
		*plan = append(*plan, yamlPart{start: at, end: at + len(v), first: first, rest: rest})
		return nil
	}
	if v[0] == '[' {
		items, ok := o[at]
		var err error
		if !ok {
			items, err = jsonElements(v)
		}
		if err != nil {
			return err
		}
		for i, it := range items {
			p := rest + "- "
			if i == 0 {
				p = first + "- "
			}
			if err := o.plan(plan, v[it.start:it.end], at+it.start, p, rest+"  "); err != nil {
				return err
			}
		}
		return nil
	}
	members, ok := o[at]
	var err error
	if !ok {
		members, err = jsonMembers(v)
	}
	if err != nil {
		return err
	}
	members, err = yamlKeyOrder(members)
	if err != nil {
		return err
	}
	for i, m := range members {
		p := rest
		if i == 0 {
			p = first
		}
		val := v[m.start:m.end]
		var k []byte
		if splitYAML(val) {
			var err error
			if k, err = yamlv2.Marshal(map[string]any{m.key: nil}); err != nil { // "key: null\n", the key quoted as needed
				return err
			}
			if bytes.Count(k, []byte("\n")) != 1 || bytes.HasPrefix(k, []byte("? ")) {
				k = nil // a key written on several lines ("? key" form): convert the member whole
			}
		}
		if k == nil {
			*plan = append(*plan, yamlPart{start: at + m.start, end: at + m.end, first: p, rest: rest, key: m.key, hasKey: true})
			continue
		}
		*plan = append(*plan, yamlPart{text: p + strings.TrimSuffix(string(k), " null\n") + "\n"})
		nested := rest + "  "
		if val[0] == '[' {
			nested = rest // yaml.v2 does not indent a sequence under its key
		}
		if err := o.plan(plan, val, at+m.start, nested, nested); err != nil {
			return err
		}
	}
	return nil
}

// yamlKeyOrder orders an object's members as yaml.v2 orders a map's keys (its own "natural"
// order, in which "a9" comes before "a10"), keeping the last of members with the same key as
// decoding into a map does.
func yamlKeyOrder(members []span) ([]span, error) {
	byKey := make(map[string]span, len(members))
	keys := make(map[string]any, len(members))
	for _, m := range members {
		byKey[m.key] = m
		keys[m.key] = nil
	}
	out, err := yamlv2.Marshal(keys)
	if err != nil {
		return nil, err
	}
	var order yamlv2.MapSlice
	if err := yamlv2.Unmarshal(out, &order); err != nil {
		return nil, err
	}
	sorted := make([]span, 0, len(order))
	for _, item := range order {
		k, ok := item.Key.(string)
		m, found := byKey[k]
		if !ok || !found {
			return nil, fmt.Errorf("yaml: key %v lost in ordering", item.Key)
		}
		sorted = append(sorted, m)
	}
	if len(sorted) != len(byKey) {
		return nil, fmt.Errorf("yaml: %d keys ordered, %d expected", len(sorted), len(byKey))
	}
	return sorted, nil
}

// splitYAML reports whether a value is a container to write member by member: a large one,
// and not empty (yaml.v2 writes an empty one inline).
func splitYAML(v []byte) bool {
	return len(v) > yamlSplitAbove && (v[0] == '{' || v[0] == '[') && len(bytes.TrimSpace(v[1:len(v)-1])) > 0
}

func (p yamlPart) render(doc []byte, replace []configdump.Replacement) ([]byte, error) {
	if p.text != "" {
		return []byte(p.text), nil
	}
	v := replaced(doc, p.start, p.end, replace)
	if p.hasKey {
		k, err := json.Marshal(p.key)
		if err != nil {
			return nil, err
		}
		v = append(append(append(append([]byte{'{'}, k...), ':'), v...), '}')
	}
	y, err := yamlConvert(v)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.Grow(len(y) + len(p.first) + bytes.Count(y, []byte("\n"))*len(p.rest))
	for i := 0; len(y) > 0; i++ {
		line := y
		if n := bytes.IndexByte(y, '\n'); n >= 0 {
			line = y[:n+1]
		}
		y = y[len(line):]
		if i == 0 {
			b.WriteString(p.first)
		} else {
			b.WriteString(p.rest)
		}
		b.Write(line)
	}
	return b.Bytes(), nil
}

// replaced returns doc[start:end] with the replacements that fall inside it applied.
func replaced(doc []byte, start, end int, replace []configdump.Replacement) []byte {
	i := sort.Search(len(replace), func(i int) bool { return replace[i].End > start })
	if i == len(replace) || replace[i].Start >= end {
		return doc[start:end]
	}
	var b []byte
	at := start
	for ; i < len(replace) && replace[i].Start < end; i++ {
		r := replace[i]
		b = append(b, doc[at:r.Start]...)
		b = append(b, r.Text...)
		at = r.End
	}
	return append(b, doc[at:end]...)
}

// outline holds the members (or elements) of a document's containers larger than
// yamlSplitAbove, by the container's offset: found in one pass over the document rather than
// one pass per level of nesting.
type outline map[int][]span

// outlineMaxDepth bounds the nesting of the containers outlineJSON records (deeper ones, if
// large, are split when planned).
const outlineMaxDepth = 6

// outlineJSON finds the members of the large containers of a valid JSON document, dropping
// its bytes from memory behind it with release (when not nil).
func outlineJSON(doc []byte, release func([]byte)) (outline, error) {
	released := 0
	type frame struct {
		start, valStart, valEnd, keyStart, keyEnd int
		obj, expectKey                            bool
		children                                  []span
	}
	out := outline{}
	var stack []frame
	flush := func(f *frame) error {
		if f.valStart < 0 {
			return nil
		}
		sp := span{start: f.valStart - f.start, end: f.valEnd - f.start}
		if f.obj {
			sp.keyStart, sp.keyEnd = f.keyStart-f.start, f.keyEnd-f.start
		}
		f.children = append(f.children, sp)
		f.valStart = -1
		return nil
	}
	token := func(start, end int) { // a value at the top of the stack
		if n := len(stack); n > 0 {
			if f := &stack[n-1]; f.valStart < 0 {
				f.valStart = start
			}
			stack[n-1].valEnd = end
		}
	}
	for i := 0; i < len(doc); {
		if release != nil && i-released >= 4<<20 {
			release(doc[released:i])
			released = i
		}
		switch c := doc[i]; c {
		case ' ', '\t', '\r', '\n':
			i++
		case '"':
			end := stringEnd(doc, i+1)
			if end < 0 {
				return nil, fmt.Errorf("yaml: unterminated JSON string")
			}
			if n := len(stack); n > 0 && stack[n-1].obj && stack[n-1].expectKey {
				stack[n-1].keyStart, stack[n-1].keyEnd = i, end
			} else {
				token(i, end)
			}
			i = end
		case ':':
			if n := len(stack); n > 0 {
				stack[n-1].expectKey = false
			}
			i++
		case ',':
			if n := len(stack); n > 0 {
				flush(&stack[n-1])
				stack[n-1].expectKey = stack[n-1].obj
			}
			i++
		case '{', '[':
			if len(stack) >= outlineMaxDepth {
				end, err := skipContainer(doc, i)
				if err != nil {
					return nil, err
				}
				token(i, end)
				i = end
				continue
			}
			token(i, i+1)
			stack = append(stack, frame{start: i, valStart: -1, obj: c == '{', expectKey: c == '{'})
			i++
		case '}', ']':
			n := len(stack)
			if n == 0 {
				return nil, fmt.Errorf("yaml: unbalanced JSON")
			}
			f := &stack[n-1]
			flush(f)
			if i+1-f.start > yamlSplitAbove {
				for k := range f.children {
					ch := &f.children[k]
					if f.obj {
						if err := json.Unmarshal(doc[f.start+ch.keyStart:f.start+ch.keyEnd], &ch.key); err != nil {
							return nil, fmt.Errorf("yaml: bad key %.40q: %w", doc[f.start+ch.keyStart:f.start+ch.keyEnd], err)
						}
					}
				}
				out[f.start] = f.children
			}
			start := f.start
			stack = stack[:n-1]
			i++
			token(start, i)
		default:
			start := i
			for i < len(doc) && !strings.ContainsRune(" \t\r\n,]}:", rune(doc[i])) {
				i++
			}
			token(start, i)
		}
	}
	return out, nil
}

// skipContainer returns the end of the object or array of a valid document at doc[i].
func skipContainer(doc []byte, i int) (int, error) {
	depth := 0
	for i < len(doc) {
		switch doc[i] {
		case '"':
			end := stringEnd(doc, i+1)
			if end < 0 {
				return 0, fmt.Errorf("yaml: unterminated JSON string")
			}
			i = end
			continue
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return i + 1, nil
			}
		}
		i++
	}
	return 0, fmt.Errorf("yaml: unterminated JSON container")
}

// span is a member or element of a JSON container: its value is v[start:end] of the container.
type span struct {
	key        string
	start, end int
	// keyStart and keyEnd bound a member's key, quotes included (see outlineJSON).
	keyStart, keyEnd int
}

// jsonMembers splits a JSON object (valid JSON) into its members.
func jsonMembers(obj []byte) ([]span, error) {
	var out []span
	err := splitJSON(obj, func(key []byte, start, end int) error {
		var k string
		if err := json.Unmarshal(key, &k); err != nil {
			return fmt.Errorf("yaml: bad key %.40q: %w", key, err)
		}
		out = append(out, span{key: k, start: start, end: end})
		return nil
	})
	return out, err
}

// jsonElements splits a JSON array (valid JSON) into its elements.
func jsonElements(arr []byte) ([]span, error) {
	var out []span
	err := splitJSON(arr, func(_ []byte, start, end int) error {
		out = append(out, span{start: start, end: end})
		return nil
	})
	return out, err
}

// splitJSON calls fn for each member of an object (with its raw key) or element of an array,
// with the bounds of its value. The container must be valid JSON, as a parsed dump is.
func splitJSON(c []byte, fn func(key []byte, start, end int) error) error {
	isObj := c[0] == '{'
	depth := 0
	keyStart, keyEnd, valStart := -1, -1, -1
	expectKey := isObj
	flush := func(end int) error {
		if valStart < 0 {
			return nil
		}
		v := bytes.TrimRight(c[valStart:end], " \t\r\n")
		var key []byte
		if isObj {
			key = c[keyStart:keyEnd]
		}
		err := fn(key, valStart, valStart+len(v))
		valStart = -1
		return err
	}
	for i := 1; i < len(c); i++ {
		ch := c[i]
		switch ch {
		case ' ', '\t', '\r', '\n':
			continue
		case '"':
			end := stringEnd(c, i+1)
			if end < 0 {
				return fmt.Errorf("yaml: unterminated JSON string")
			}
			if depth == 0 && expectKey {
				keyStart, keyEnd = i, end
				i = end - 1
				continue
			}
			if valStart < 0 && !(depth == 0 && expectKey) {
				valStart = i
			}
			i = end - 1
			continue
		case ':':
			if depth == 0 {
				expectKey = false
				continue
			}
		case ',':
			if depth == 0 {
				if err := flush(i); err != nil {
					return err
				}
				expectKey = isObj
				continue
			}
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return flush(i)
			}
			depth--
		}
		if depth >= 0 && valStart < 0 && !(depth == 0 && expectKey) {
			valStart = i
		}
	}
	return fmt.Errorf("yaml: unterminated JSON container")
}

// stringEnd returns the index after the closing quote of the JSON string whose content starts
// at c[i], or -1.
func stringEnd(c []byte, i int) int {
	for {
		q := bytes.IndexByte(c[i:], '"')
		if q < 0 {
			return -1
		}
		if b := bytes.IndexByte(c[i:i+q], '\\'); b >= 0 {
			i += b + 2
			if i > len(c) {
				return -1
			}
			continue
		}
		return i + q + 1
	}
}
