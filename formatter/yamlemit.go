package formatter

import (
	"bytes"
	"encoding/json"
	"errors"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
	"unsafe"
)

// fastJSONToYAML converts a JSON document to YAML byte for byte as jsonToYAML does (JSON read
// into maps, written by yaml.v2), without the maps and the reflection: it reads the JSON into
// a flat tree and writes it with yaml.v2's rules for the YAML this needs (block mappings and
// sequences of scalars, empty ones in flow style): keys in yaml.v2's natural order, the scalar
// styles yaml.v2 picks (plain, single- or double-quoted, literal), its line folding at column
// 80 and its indentation. It returns errYAMLFallback for what it leaves to yaml.v2: a key
// longer than 128 bytes or on several lines (written in yaml.v2's "? key" form), an object with
// a key twice, a document that is not an object or an array.
func fastJSONToYAML(doc []byte) ([]byte, error) {
	nodes := yamlNodes.Get().(*[]yNode)
	defer func() { yamlNodes.Put(nodes) }()
	p := yamlParser{data: doc, nodes: (*nodes)[:0]}
	defer func() { *nodes = p.nodes }()
	root, err := p.value(0)
	if err != nil {
		return nil, err
	}
	if k := p.nodes[root].kind; k != yObject && k != yArray {
		return nil, errYAMLFallback
	}
	w := yamlWriter{nodes: p.nodes, data: doc, indent: -1, whitespace: true, indention: true}
	w.out = make([]byte, 0, len(doc)+len(doc)/4)
	if err := w.node(root, true, false, false, false); err != nil {
		return nil, err
	}
	w.writeIndent() // the document's end
	return w.out, nil
}

// yamlNodes keeps the trees of fastJSONToYAML between documents.
var yamlNodes = sync.Pool{New: func() any { return new([]yNode) }}

// errYAMLFallback says the document is to be written by yaml.v2 itself.
var errYAMLFallback = errors.New("formatter: yaml: left to yaml.v2")

// yamlConvert is jsonToYAML, the fast way when it can be.
func yamlConvert(doc []byte) ([]byte, error) {
	y, err := fastJSONToYAML(doc)
	if err == errYAMLFallback {
		return jsonToYAML(doc)
	}
	return y, err
}

type yKind uint8

const (
	yNull yKind = iota
	yBool
	yNumber
	yString
	yObject
	yArray
)

// yNode is a JSON value: a scalar's text (raw: a string's between its quotes, escapes and all),
// or a container's children, linked through next (an object's are its members' values, each
// with its key).
type yNode struct {
	kind       yKind
	escaped    bool // a string with escapes
	keyEscaped bool
	start, end int // the scalar's text, or the member's key, in the document
	keyStart   int
	keyEnd     int
	first      int32 // the first child, or -1
	next       int32 // the next sibling, or -1
	n          int32 // the number of children
}

// yamlParser reads a valid JSON document into yNodes.
type yamlParser struct {
	data  []byte
	pos   int
	nodes []yNode
}

func (p *yamlParser) ws() byte {
	for p.pos < len(p.data) {
		switch c := p.data[p.pos]; c {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return c
		}
	}
	return 0
}

var errYAMLInput = errors.New("yaml: invalid JSON")

// str reads a string at the position; it returns its raw content's bounds.
func (p *yamlParser) str() (start, end int, escaped bool, err error) {
	if p.ws() != '"' {
		return 0, 0, false, errYAMLInput
	}
	start = p.pos + 1
	for i := start; ; {
		q := bytes.IndexByte(p.data[i:], '"')
		if q < 0 {
			return 0, 0, false, errYAMLInput
		}
		if b := bytes.IndexByte(p.data[i:i+q], '\\'); b >= 0 {
			escaped = true
			i += b + 2 // past the backslash and the byte it escapes
			if i > len(p.data) {
				return 0, 0, false, errYAMLInput
			}
			continue
		}
		p.pos = i + q + 1
		return start, i + q, escaped, nil
	}
}

func (p *yamlParser) value(depth int) (int32, error) {
	if depth > 10000 {
		return 0, errYAMLFallback
	}
	at := int32(len(p.nodes))
	p.nodes = append(p.nodes, yNode{first: -1, next: -1})
	switch c := p.ws(); {
	case c == '{' || c == '[':
		p.pos++
		kind, closing := yObject, byte('}')
		if c == '[' {
			kind, closing = yArray, ']'
		}
		p.nodes[at].kind = kind
		prev := int32(-1)
		for n := 0; ; n++ {
			if p.ws() == closing {
				p.pos++
				break
			}
			if n > 0 {
				if p.ws() != ',' {
					return 0, errYAMLInput
				}
				p.pos++
			}
			var ks, ke int
			var kesc bool
			if kind == yObject {
				var err error
				if ks, ke, kesc, err = p.str(); err != nil {
					return 0, err
				}
				if p.ws() != ':' {
					return 0, errYAMLInput
				}
				p.pos++
			}
			child, err := p.value(depth + 1)
			if err != nil {
				return 0, err
			}
			ch := &p.nodes[child]
			ch.keyStart, ch.keyEnd, ch.keyEscaped = ks, ke, kesc
			if prev < 0 {
				p.nodes[at].first = child
			} else {
				p.nodes[prev].next = child
			}
			prev = child
			p.nodes[at].n++
		}
	case c == '"':
		s, e, esc, err := p.str()
		if err != nil {
			return 0, err
		}
		p.nodes[at].kind, p.nodes[at].start, p.nodes[at].end, p.nodes[at].escaped = yString, s, e, esc
	default:
		start := p.pos
		for p.pos < len(p.data) {
			c := p.data[p.pos]
			if c == ',' || c == '}' || c == ']' || c == ' ' || c == '\n' || c == '\r' || c == '\t' {
				break
			}
			p.pos++
		}
		text := string(p.data[start:p.pos])
		n := &p.nodes[at]
		n.start, n.end = start, p.pos
		switch text {
		case "null":
			n.kind = yNull
		case "true", "false":
			n.kind = yBool
		default:
			if text == "" {
				return 0, errYAMLInput
			}
			n.kind = yNumber
		}
	}
	return at, nil
}

// yamlWriter writes yNodes as yaml.v2's emitter does: column, whitespace and indention are its
// state of the same names.
type yamlWriter struct {
	nodes []yNode
	data  []byte
	out   []byte

	column     int
	indent     int
	indents    []int
	whitespace bool
	indention  bool
	// mappingContext is set for a value of a mapping (see yaml.v2's emit_node).
	mappingContext bool
	members        []yMember
}

const (
	yamlBestIndent = 2
	yamlBestWidth  = 80
)

func (w *yamlWriter) increaseIndent(flow, indentless bool) {
	w.indents = append(w.indents, w.indent)
	switch {
	case w.indent < 0 && flow:
		w.indent = yamlBestIndent
	case w.indent < 0:
		w.indent = 0
	case !indentless:
		w.indent += yamlBestIndent
	}
}

func (w *yamlWriter) popIndent() {
	w.indent = w.indents[len(w.indents)-1]
	w.indents = w.indents[:len(w.indents)-1]
}

func (w *yamlWriter) putBreak() {
	w.out = append(w.out, '\n')
	w.column = 0
}

func (w *yamlWriter) writeIndent() {
	indent := max(w.indent, 0)
	if !w.indention || w.column > indent || (w.column == indent && !w.whitespace) {
		w.putBreak()
	}
	for w.column < indent {
		w.out = append(w.out, ' ')
		w.column++
	}
	w.whitespace, w.indention = true, true
}

func (w *yamlWriter) writeIndicator(ind string, needWhitespace, isWhitespace, isIndention bool) {
	if needWhitespace && !w.whitespace {
		w.out = append(w.out, ' ')
		w.column++
	}
	w.out = append(w.out, ind...)
	w.column += utf8.RuneCountInString(ind)
	w.whitespace = isWhitespace
	w.indention = w.indention && isIndention
}

// node writes node i; the flags are yaml.v2's contexts.
func (w *yamlWriter) node(i int32, root, sequence, mapping, simpleKey bool) error {
	n := &w.nodes[i]
	w.mappingContext = mapping
	switch n.kind {
	case yObject:
		if n.n == 0 {
			w.emptyFlow("{", "}")
			return nil
		}
		return w.mappingNode(n)
	case yArray:
		if n.n == 0 {
			w.emptyFlow("[", "]")
			return nil
		}
		w.increaseIndent(false, w.mappingContext && !w.indention)
		for c := n.first; c >= 0; c = w.nodes[c].next {
			w.writeIndent()
			w.writeIndicator("-", true, false, true)
			if err := w.node(c, false, true, false, false); err != nil {
				return err
			}
		}
		w.popIndent()
		return nil
	}
	text, style := w.scalarText(n)
	return w.scalar(text, style, root, simpleKey)
}

func (w *yamlWriter) emptyFlow(open, close string) {
	w.writeIndicator(open, true, true, false)
	w.increaseIndent(true, false)
	w.popIndent()
	w.writeIndicator(close, false, false, false)
}

type yMember struct {
	key  string
	node int32
}

func (w *yamlWriter) mappingNode(n *yNode) error {
	// The members are sorted in scratch space shared by the nested mappings, each after its
	// parent's.
	base := len(w.members)
	defer func() { w.members = w.members[:base] }()
	for c := n.first; c >= 0; c = w.nodes[c].next {
		ch := &w.nodes[c]
		key, err := w.text(ch.keyStart, ch.keyEnd, ch.keyEscaped)
		if err != nil {
			return err
		}
		w.members = append(w.members, yMember{key, c})
	}
	members := w.members[base:]
	if !sort.SliceIsSorted(members, func(a, b int) bool { return yamlKeyLess(members[a].key, members[b].key) }) {
		sort.Slice(members, func(a, b int) bool { return yamlKeyLess(members[a].key, members[b].key) })
	}
	for k := 1; k < len(members); k++ {
		if members[k].key == members[k-1].key {
			return errYAMLFallback // a key twice: the map keeps the last
		}
	}
	w.increaseIndent(false, false)
	for k := base; k < base+len(members); k++ {
		m := w.members[k] // w.members may grow, and move, under the children

		w.writeIndent()
		// A simple key: on one line, at most 128 bytes (else yaml.v2 writes "? key").
		if len(m.key) > 128 || hasYAMLBreak(m.key) {
			return errYAMLFallback
		}
		if err := w.scalar(m.key, stringStyle(m.key), false, true); err != nil {
			return err
		}
		w.writeIndicator(":", false, false, false)
		if err := w.node(m.node, false, false, true, false); err != nil {
			return err
		}
	}
	w.popIndent()
	return nil
}

// text is a JSON string's value, as encoding/json decodes it.
func (w *yamlWriter) text(start, end int, escaped bool) (string, error) {
	raw := w.data[start:end]
	if !escaped && utf8.Valid(raw) {
		// Sharing the document's memory: the text is only used while writing it.
		return unsafe.String(unsafe.SliceData(raw), len(raw)), nil
	}
	var s string
	if err := jsonUnmarshalString(w.data[start-1:end+1], &s); err != nil {
		return "", err
	}
	return s, nil
}

// The scalar styles of yaml.v2.
type yStyle uint8

const (
	yPlain yStyle = iota
	ySingle
	yDouble
	yLiteral
)

// scalarText gives a scalar's text and the style yaml.v2's encoder asks for.
func (w *yamlWriter) scalarText(n *yNode) (string, yStyle) {
	// Shares the document's memory, as text does: a name may be megabytes long.
	raw := unsafe.String(unsafe.SliceData(w.data[n.start:n.end]), n.end-n.start)
	switch n.kind {
	case yNull:
		return "null", yPlain
	case yBool:
		return raw, yPlain
	case yNumber:
		// As yamlValue types encoding/json's numbers, then as yaml.v2 prints those types.
		if i, err := strconv.ParseInt(raw, 10, 64); err == nil {
			return strconv.FormatInt(i, 10), yPlain
		}
		if u, err := strconv.ParseUint(raw, 10, 64); err == nil {
			return strconv.FormatUint(u, 10), yPlain
		}
		if f, err := strconv.ParseFloat(raw, 64); err == nil {
			s := strconv.FormatFloat(f, 'g', -1, 64)
			switch s {
			case "+Inf":
				s = ".inf"
			case "-Inf":
				s = "-.inf"
			case "NaN":
				s = ".nan"
			}
			return s, yPlain
		}
		return raw, stringStyle(raw)
	}
	s, err := w.text(n.start, n.end, n.escaped)
	if err != nil {
		s = raw
	}
	return s, stringStyle(s)
}

// stringStyle is the style yaml.v2's encoder asks for a string: literal when it has a line
// feed, plain when it reads back as a string, else double-quoted.
func stringStyle(s string) yStyle {
	switch {
	case strings.Contains(s, "\n"):
		return yLiteral
	case yamlResolvesToString(s) && !yamlBase60Float(s):
		return yPlain
	}
	return yDouble
}

// yamlResolvesToString reports whether yaml.v2 reads s, unquoted, as a string (and not a
// bool, null, number or timestamp).
func yamlResolvesToString(s string) bool {
	if s == "" {
		return false // null
	}
	switch c := s[0]; {
	case c == '+' || c == '-' || c >= '0' && c <= '9':
		if _, ok := yamlResolveMap[s]; ok {
			return false
		}
		if yamlTimestamp(s) {
			return false
		}
		plain := s
		if strings.IndexByte(s, '_') >= 0 {
			plain = strings.ReplaceAll(s, "_", "")
		}
		if _, err := strconv.ParseInt(plain, 0, 64); err == nil {
			return false
		}
		if _, err := strconv.ParseUint(plain, 0, 64); err == nil {
			return false
		}
		if yamlFloatSyntax(plain) {
			if _, err := strconv.ParseFloat(plain, 64); err == nil {
				return false
			}
		}
		if strings.HasPrefix(plain, "0b") {
			if _, err := strconv.ParseInt(plain[2:], 2, 64); err == nil {
				return false
			}
			if _, err := strconv.ParseUint(plain[2:], 2, 64); err == nil {
				return false
			}
		} else if strings.HasPrefix(plain, "-0b") {
			if _, err := strconv.ParseInt("-"+plain[3:], 2, 64); err == nil {
				return false
			}
		}
		return true
	case c == '.':
		if _, ok := yamlResolveMap[s]; ok {
			return false
		}
		_, err := strconv.ParseFloat(s, 64)
		return err != nil
	case strings.IndexByte("yYnNtTfFoO~", c) >= 0:
		_, ok := yamlResolveMap[s]
		return !ok
	}
	return true
}

// yamlResolveMap holds the words yaml.v2 reads as something other than a string.
var yamlResolveMap = func() map[string]struct{} {
	m := map[string]struct{}{}
	for _, s := range []string{"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON",
		"n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF",
		"~", "null", "Null", "NULL", ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF",
		"+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", "<<"} {
		m[s] = struct{}{}
	}
	return m
}()

// yamlFloatSyntax reports whether s matches yaml.v2's float syntax,
// ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$.
func yamlFloatSyntax(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	} else {
		if digits() == 0 {
			return false
		}
		if i < len(s) && s[i] == '.' {
			i++
			digits()
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '-' || s[i] == '+') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}

var (
	yamlBase60      = regexp.MustCompile(`^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$`)
	yamlTimeFormats = []string{"2006-1-2T15:4:5.999999999Z07:00", "2006-1-2t15:4:5.999999999Z07:00", "2006-1-2 15:4:5.999999999", "2006-1-2"}
)

func yamlBase60Float(s string) bool {
	if s == "" {
		return false
	}
	c := s[0]
	if !(c == '+' || c == '-' || c >= '0' && c <= '9') || strings.IndexByte(s, ':') < 0 {
		return false
	}
	return yamlBase60.MatchString(s)
}

// yamlTimestamp reports whether yaml.v2 reads s as a timestamp.
func yamlTimestamp(s string) bool {
	i := 0
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
	}
	if i != 4 || i == len(s) || s[i] != '-' {
		return false
	}
	for _, f := range yamlTimeFormats {
		if _, err := time.Parse(f, s); err == nil {
			return true
		}
	}
	return false
}

// yamlKeyLess orders map keys as yaml.v2 does: letters by code point, runs of digits by their
// value ("a9" before "a10").
func yamlKeyLess(a, b string) bool {
	if isASCIIKey(a) && isASCIIKey(b) {
		return yamlKeyLessRunes(a, b, len(a), len(b), func(s string, i int) rune { return rune(s[i]) })
	}
	ar, br := []rune(a), []rune(b)
	return yamlKeyLessRunes(ar, br, len(ar), len(br), func(s []rune, i int) rune { return s[i] })
}

func isASCIIKey(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func yamlKeyLessRunes[S any](a, b S, na, nb int, at func(S, int) rune) bool {
	for i := 0; i < na && i < nb; i++ {
		ai, bi := at(a, i), at(b, i)
		if ai == bi {
			continue
		}
		al, bl := unicode.IsLetter(ai), unicode.IsLetter(bi)
		if al && bl {
			return ai < bi
		}
		if al || bl {
			return bl
		}
		var an, bn int64
		if ai == '0' || bi == '0' {
			for j := i - 1; j >= 0 && unicode.IsDigit(at(a, j)); j-- {
				if at(a, j) != '0' {
					an, bn = 1, 1
					break
				}
			}
		}
		var ae, be int
		for ae = i; ae < na && unicode.IsDigit(at(a, ae)); ae++ {
			an = an*10 + int64(at(a, ae)-'0')
		}
		for be = i; be < nb && unicode.IsDigit(at(b, be)); be++ {
			bn = bn*10 + int64(at(b, be)-'0')
		}
		if an != bn {
			return an < bn
		}
		if ae != be {
			return ae < be
		}
		return ai < bi
	}
	return na < nb
}

// yamlScalarInfo is yaml.v2's analysis of a scalar (in block context).
type yamlScalarInfo struct {
	multiline, blockPlain, single, block bool
}

func analyzeYAMLScalar(s string) yamlScalarInfo {
	if len(s) == 0 {
		return yamlScalarInfo{blockPlain: true, single: true}
	}
	if visibleASCII(s) {
		// No space, line break or special character: only the first bytes and the last
		// matter (a '#' further on is never after whitespace, a ':' is only before the end).
		info := yamlScalarInfo{blockPlain: true, single: true, block: true}
		switch s[0] {
		case '#', ',', '[', ']', '{', '}', '&', '*', '!', '|', '>', '\'', '"', '%', '@', '`':
			info.blockPlain = false
		case '?', ':', '-':
			info.blockPlain = len(s) > 1
		}
		if strings.HasPrefix(s, "---") || strings.HasPrefix(s, "...") || s[len(s)-1] == ':' {
			info.blockPlain = false
		}
		return info
	}
	v := []byte(s)
	var blockIndicators, lineBreaks, special, leadingSpace, leadingBreak, trailingSpace, trailingBreak, breakSpace, spaceBreak bool
	var previousSpace, previousBreak bool
	if len(v) >= 3 && (v[0] == '-' && v[1] == '-' && v[2] == '-' || v[0] == '.' && v[1] == '.' && v[2] == '.') {
		blockIndicators = true
	}
	precededByWhitespace := true
	for i, wd := 0, 0; i < len(v); i += wd {
		wd = yamlWidth(v[i])
		followedByWhitespace := i+wd >= len(v) || v[i+wd] == ' ' || v[i+wd] == '\t'
		if i == 0 {
			switch v[i] {
			case '#', ',', '[', ']', '{', '}', '&', '*', '!', '|', '>', '\'', '"', '%', '@', '`':
				blockIndicators = true
			case '?', ':':
				if followedByWhitespace {
					blockIndicators = true
				}
			case '-':
				if followedByWhitespace {
					blockIndicators = true
				}
			}
		} else {
			switch v[i] {
			case ':':
				if followedByWhitespace {
					blockIndicators = true
				}
			case '#':
				if precededByWhitespace {
					blockIndicators = true
				}
			}
		}
		if !yamlPrintable(v, i) {
			special = true
		}
		switch {
		case v[i] == ' ':
			if i == 0 {
				leadingSpace = true
			}
			if i+wd == len(v) {
				trailingSpace = true
			}
			if previousBreak {
				breakSpace = true
			}
			previousSpace, previousBreak = true, false
		case yamlBreak(v, i):
			lineBreaks = true
			if i == 0 {
				leadingBreak = true
			}
			if i+wd == len(v) {
				trailingBreak = true
			}
			if previousSpace {
				spaceBreak = true
			}
			previousSpace, previousBreak = false, true
		default:
			previousSpace, previousBreak = false, false
		}
		precededByWhitespace = yamlBlankz(v, i)
	}
	info := yamlScalarInfo{multiline: lineBreaks, blockPlain: true, single: true, block: true}
	if leadingSpace || leadingBreak || trailingSpace || trailingBreak {
		info.blockPlain = false
	}
	if trailingSpace {
		info.block = false
	}
	if breakSpace {
		info.blockPlain, info.single = false, false
	}
	if spaceBreak || special {
		info.blockPlain, info.single, info.block = false, false, false
	}
	if lineBreaks || blockIndicators {
		info.blockPlain = false
	}
	return info
}

// visibleASCII reports whether s has only bytes 0x21 to 0x7E.
func visibleASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7F {
			return false
		}
	}
	return true
}

func yamlWidth(b byte) int {
	switch {
	case b&0x80 == 0:
		return 1
	case b&0xE0 == 0xC0:
		return 2
	case b&0xF0 == 0xE0:
		return 3
	case b&0xF8 == 0xF0:
		return 4
	}
	return 0
}

// at returns b[i], or 0 past the end (yaml.v2 reads its buffers past a value's end).
func at(b []byte, i int) byte {
	if i < len(b) {
		return b[i]
	}
	return 0
}

func yamlPrintable(b []byte, i int) bool {
	c := b[i]
	return c == 0x0A || c >= 0x20 && c <= 0x7E ||
		c == 0xC2 && at(b, i+1) >= 0xA0 ||
		c > 0xC2 && c < 0xED ||
		c == 0xED && at(b, i+1) < 0xA0 ||
		c == 0xEE ||
		c == 0xEF && !(at(b, i+1) == 0xBB && at(b, i+2) == 0xBF) && !(at(b, i+1) == 0xBF && (at(b, i+2) == 0xBE || at(b, i+2) == 0xBF))
}

func yamlBreak(b []byte, i int) bool {
	c := b[i]
	return c == '\r' || c == '\n' || c == 0xC2 && at(b, i+1) == 0x85 ||
		c == 0xE2 && at(b, i+1) == 0x80 && (at(b, i+2) == 0xA8 || at(b, i+2) == 0xA9)
}

func yamlBlankz(b []byte, i int) bool {
	return b[i] == ' ' || b[i] == '\t' || yamlBreak(b, i) || b[i] == 0
}

func hasYAMLBreak(s string) bool {
	b := []byte(s)
	for i := 0; i < len(b); i++ {
		if yamlBreak(b, i) {
			return true
		}
	}
	return false
}

// scalar writes a scalar as yaml.v2's emitter does, in block context.
func (w *yamlWriter) scalar(s string, style yStyle, root, simpleKey bool) error {
	info := analyzeYAMLScalar(s)
	if simpleKey && info.multiline {
		style = yDouble
	}
	if style == yPlain {
		if !info.blockPlain || len(s) == 0 && simpleKey {
			style = ySingle
		}
	}
	if style == ySingle && !info.single {
		style = yDouble
	}
	if style == yLiteral && (!info.block || simpleKey) {
		style = yDouble
	}
	if root && style == yPlain {
		return errYAMLFallback // a document of one scalar: yaml.v2 ends it with "..."
	}
	w.increaseIndent(true, false)
	v := unsafe.Slice(unsafe.StringData(s), len(s)) // read only
	breaks := !simpleKey
	switch style {
	case yPlain:
		w.plain(v, breaks)
	case ySingle:
		w.singleQuoted(v, breaks)
	case yDouble:
		w.doubleQuoted(v, breaks)
	case yLiteral:
		w.literal(v)
	}
	w.popIndent()
	return nil
}

// put writes one character (a UTF-8 sequence) of v at i and returns its width.
func (w *yamlWriter) put(v []byte, i int) int {
	wd := max(yamlWidth(v[i]), 1)
	w.out = append(w.out, v[i:min(i+wd, len(v))]...)
	w.column++
	return wd
}

func (w *yamlWriter) writeBreak(v []byte, i int) int {
	if v[i] == '\n' {
		w.putBreak()
		return 1
	}
	wd := w.put(v, i)
	w.column = 0
	return wd
}

func (w *yamlWriter) plain(v []byte, allowBreaks bool) {
	if !w.whitespace {
		w.out = append(w.out, ' ')
		w.column++
	}
	if n := utf8.RuneCount(v); !allowBreaks || w.column+n <= yamlBestWidth || bytes.IndexByte(v, ' ') < 0 {
		// No space where a line could be folded (a plain scalar has no line breaks).
		w.out = append(w.out, v...)
		w.column += n
		w.whitespace, w.indention = false, false
		return
	}
	spaces, breaks := false, false
	for i := 0; i < len(v); {
		switch {
		case v[i] == ' ':
			if allowBreaks && !spaces && w.column > yamlBestWidth && at(v, i+1) != ' ' {
				w.writeIndent()
				i++
			} else {
				i += w.put(v, i)
			}
			spaces = true
		case yamlBreak(v, i):
			if !breaks && v[i] == '\n' {
				w.putBreak()
			}
			i += w.writeBreak(v, i)
			w.indention, breaks = true, true
		default:
			if breaks {
				w.writeIndent()
			}
			i += w.put(v, i)
			w.indention, spaces, breaks = false, false, false
		}
	}
	w.whitespace, w.indention = false, false
}

func (w *yamlWriter) singleQuoted(v []byte, allowBreaks bool) {
	w.writeIndicator("'", true, false, false)
	spaces, breaks := false, false
	for i := 0; i < len(v); {
		switch {
		case v[i] == ' ':
			if allowBreaks && !spaces && w.column > yamlBestWidth && i > 0 && i < len(v)-1 && at(v, i+1) != ' ' {
				w.writeIndent()
				i++
			} else {
				i += w.put(v, i)
			}
			spaces = true
		case yamlBreak(v, i):
			if !breaks && v[i] == '\n' {
				w.putBreak()
			}
			i += w.writeBreak(v, i)
			w.indention, breaks = true, true
		default:
			if breaks {
				w.writeIndent()
			}
			if v[i] == '\'' {
				w.out = append(w.out, '\'')
				w.column++
			}
			i += w.put(v, i)
			w.indention, spaces, breaks = false, false, false
		}
	}
	w.writeIndicator("'", false, false, false)
	w.whitespace, w.indention = false, false
}

func (w *yamlWriter) doubleQuoted(v []byte, allowBreaks bool) {
	spaces := false
	w.writeIndicator(`"`, true, false, false)
	bom := len(v) >= 3 && v[0] == 0xEF && v[1] == 0xBB && v[2] == 0xBF // yaml.v2 tests the first bytes
	for i := 0; i < len(v); {
		if !yamlPrintable(v, i) || bom || yamlBreak(v, i) || v[i] == '"' || v[i] == '\\' {
			r, wd := utf8.DecodeRune(v[i:])
			if wd == 0 {
				wd = 1
			}
			i += wd
			w.out = append(w.out, '\\')
			w.column++
			var esc byte
			switch r {
			case 0x00:
				esc = '0'
			case 0x07:
				esc = 'a'
			case 0x08:
				esc = 'b'
			case 0x09:
				esc = 't'
			case 0x0A:
				esc = 'n'
			case 0x0B:
				esc = 'v'
			case 0x0C:
				esc = 'f'
			case 0x0D:
				esc = 'r'
			case 0x1B:
				esc = 'e'
			case 0x22:
				esc = '"'
			case 0x5C:
				esc = '\\'
			case 0x85:
				esc = 'N'
			case 0xA0:
				esc = '_'
			case 0x2028:
				esc = 'L'
			case 0x2029:
				esc = 'P'
			}
			if esc != 0 {
				w.out = append(w.out, esc)
				w.column++
			} else {
				digits, letter := 2, byte('x')
				switch {
				case r > 0xFFFF:
					digits, letter = 8, 'U'
				case r > 0xFF:
					digits, letter = 4, 'u'
				}
				w.out = append(w.out, letter)
				w.column++
				for k := (digits - 1) * 4; k >= 0; k -= 4 {
					w.out = append(w.out, "0123456789ABCDEF"[(r>>uint(k))&0xF])
					w.column++
				}
			}
			spaces = false
			continue
		}
		if v[i] == ' ' {
			if allowBreaks && !spaces && w.column > yamlBestWidth && i > 0 && i < len(v)-1 {
				w.writeIndent()
				if at(v, i+1) == ' ' {
					w.out = append(w.out, '\\')
					w.column++
				}
				i++
			} else {
				i += w.put(v, i)
			}
			spaces = true
			continue
		}
		i += w.put(v, i)
		spaces = false
	}
	w.writeIndicator(`"`, false, false, false)
	w.whitespace, w.indention = false, false
}

func (w *yamlWriter) literal(v []byte) {
	w.writeIndicator("|", true, false, false)
	// The block scalar's hints: an indentation indicator when the text starts with a space or
	// a line break, and the chomping of its final line breaks.
	if v[0] == ' ' || yamlBreak(v, 0) {
		w.writeIndicator(strconv.Itoa(yamlBestIndent), false, false, false)
	}
	i := len(v) - 1
	for i > 0 && v[i]&0xC0 == 0x80 {
		i--
	}
	switch {
	case !yamlBreak(v, i):
		w.writeIndicator("-", false, false, false)
	case i == 0:
		w.writeIndicator("+", false, false, false)
	default:
		i--
		for i > 0 && v[i]&0xC0 == 0x80 {
			i--
		}
		if yamlBreak(v, i) {
			w.writeIndicator("+", false, false, false)
		}
	}
	w.putBreak()
	w.indention, w.whitespace = true, true
	breaks := true
	for i := 0; i < len(v); {
		if yamlBreak(v, i) {
			i += w.writeBreak(v, i)
			w.indention, breaks = true, true
			continue
		}
		if breaks {
			w.writeIndent()
		}
		i += w.put(v, i)
		w.indention, breaks = false, false
	}
}

func jsonUnmarshalString(quoted []byte, s *string) error { return json.Unmarshal(quoted, s) }
