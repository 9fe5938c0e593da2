package configdump

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"strings"
)

// An indexer finds the sections of an admin document in one pass over its bytes, fed in
// chunks, without keeping them: it records where each entry of "configs" starts and ends, and
// its "@type" (or, in a /clusters document, each entry of "cluster_statuses"). It checks that
// the document is JSON (its grammar, escapes, numbers and literals) but not what the values
// mean, which is checked when a section is decoded: a view only pays for the sections it reads.
type indexer struct {
	off   int64  // bytes fed so far
	stack []byte // open containers: '{' or '['
	state state  // what may come next, outside strings

	inString  bool
	isKey     bool // the current string is a key
	escape    bool // the previous byte in the string was a backslash
	hexLeft   int  // hex digits still due in a \u escape
	capturing bool
	str       []byte // the current string, when captured

	word   []byte // the number or literal being read, outside strings
	inWord bool   // word is being read
	wordAt int64

	topKey     string // the last key of the top-level object
	sawConfigs bool   // the top-level object has a "configs" key
	configKey  string // the last key of the current config entry
	inConfigs  bool   // inside the top-level "configs" (or "cluster_statuses") array
	kind       Kind
	kindSet    bool
	cur        sectionSpan
	spans      []sectionSpan
	// The lists of objects that are members of config entries (dynamic_active_clusters...),
	// and their elements: their resources can be decoded on all cores (see decoder.listField).
	inList bool
	list   listSpan
	lists  []listSpan
	elems  []elemSpan
	// elemsFull is set once the elements outnumber what real resources could fill (see
	// maxElems): the lists after are decoded one element after the other.
	elemsFull bool
	started   bool // the document's first byte, '{', was seen
	// high has its top bit set when a string may hold a byte of 0x80 or more (outside strings
	// there can be none): a document without is ASCII.
	high byte

	// The typed configs of the elements (see anySpan), and those being watched: cand[k] is
	// the object open k+5 levels deep, the elements' members and theirs.
	anys     []anySpan
	anysFull bool
	cand     [2]anyCand
	candKey  int // 1+k while the key being read belongs to cand[k] (captured)

	// Which of the last top-level and config-entry keys this indexer read itself (see join).
	topKeySet, configKeySet bool
	// An indexer resumed inside a list of a config entry (see resumeInList) keeps what it read
	// of that list and of that entry apart, to be joined to what the part before it read.
	resumed       bool
	headList      listSpan // the list it started in, once closed: its own elements only
	headListDone  bool
	headEntry     sectionSpan // the entry it started in, once closed
	headEntryDone bool
	headTypeSet   bool // that entry's "@type" came in this part
}

// state is what the JSON grammar allows next.
type state uint8

const (
	stKeyOrClose   state = iota // after '{'
	stKey                       // after ',' in an object
	stColon                     // after a key
	stValue                     // after ':', or ',' in an array
	stValueOrClose              // after '['
	stAfterValue                // ',' or the container's end
	stEnd                       // after the top-level value
)

func (st state) want(top byte) string {
	switch st {
	case stKeyOrClose:
		return "a key or '}'"
	case stKey:
		return "a key"
	case stColon:
		return "':'"
	case stValue:
		return "a value"
	case stValueOrClose:
		return "a value or ']'"
	}
	if top == '[' {
		return "',' or ']'"
	}
	return "',' or '}'"
}

// firstWord is the start of some text, for messages.
func firstWord(p []byte) []byte {
	p = p[:min(len(p), 24)]
	if i := bytes.IndexAny(p, " \t\r\n"); i > 0 {
		p = p[:i]
	}
	return p
}

// listSpan is a list that is a member of an entry of "configs", all of whose elements are
// objects: elems[first:first+objects] of the index.
type listSpan struct {
	start, end      int64
	first           int32
	objects, commas int32
}

// elemSpan is an element of a listSpan.
type elemSpan struct{ start, end int64 }

// anySpan is an object of an element of a listSpan, one or two levels in (a resource's typed
// config: the "cluster" of dynamic_active_clusters[i], the "listener" of its "active_state"),
// whose first member is "@type" and no other member's key starts with '@' or has an escape:
// the decoder, which needs the "@type" and where the object ends, then reads no further.
type anySpan struct{ start, end int64 }

// anyCand is an object the indexer watches to record it as an anySpan.
type anyCand struct {
	start int64
	state uint8
}

const (
	candNone  uint8 = iota
	candFirst       // opened: its first key decides
	candOpen        // its first key was "@type"
)

// sectionSpan is one entry of "configs".
type sectionSpan struct {
	typeURL    string
	start, end int64
}

// Byte classes outside strings.
const (
	clWord byte = iota // part of a number or literal
	clSpace
	clStructural
)

var class = func() (t [256]byte) {
	for _, c := range []byte(" \t\r\n") {
		t[c] = clSpace
	}
	for _, c := range []byte(`"{}[],:`) {
		t[c] = clStructural
	}
	return
}()

// maxWord bounds a number or literal; JSON numbers in Envoy's documents are far shorter.
const maxWord = 1 << 10

func (ix *indexer) errorf(at int64, format string, args ...any) error {
	return &SyntaxError{Offset: int(at), Msg: fmt.Sprintf(format, args...)}
}

// feed indexes the next chunk of the document.
func (ix *indexer) feed(p []byte) error {
	base := ix.off
	i := 0
	if !ix.started {
		// The document must be an object: refuse anything else from its first byte.
		for i < len(p) && isSpace(p[i]) {
			i++
		}
		if i == len(p) {
			ix.off += int64(len(p))
			return nil
		}
		switch c := p[i]; c {
		case '{':
			ix.started, ix.state = true, stValue
		case '[':
			return errors.New("the document is a JSON array, not an Envoy config dump (an object with \"configs\")")
		default:
			return fmt.Errorf("the document is not JSON: it starts with %q", firstWord(p[i:]))
		}
	}
	for i < len(p) {
		if ix.inString {
			n, err := ix.scanString(p[i:], base+int64(i))
			if err != nil {
				return err
			}
			i += n
			continue
		}
		switch class[p[i]] {
		case clSpace:
			if ix.inWord {
				if err := ix.endWord(); err != nil {
					return err
				}
			}
			// The indentation of pretty-printed documents, eight spaces at a time.
			for i++; i < len(p) && isSpace(p[i]); i++ {
				for i+8 <= len(p) {
					if x := binary.LittleEndian.Uint64(p[i:]) ^ 0x2020202020202020; x != 0 {
						i += bits.TrailingZeros64(x) >> 3
						break
					}
					i += 8
				}
				if i == len(p) || !isSpace(p[i]) {
					break
				}
			}
		case clStructural:
			if ix.inWord {
				if err := ix.endWord(); err != nil {
					return err
				}
			}
			if err := ix.structuralByte(p[i], base+int64(i)); err != nil {
				return err
			}
			i++
		default:
			start := i
			for i < len(p) && class[p[i]] == clWord {
				i++
			}
			if !ix.inWord {
				if ix.state == stEnd {
					return ix.errorf(base+int64(start), "unexpected data after the top-level value")
				}
				if ix.state != stValue && ix.state != stValueOrClose {
					return ix.errorf(base+int64(start), "unexpected %q, want %s", firstWord(p[start:i]), ix.want())
				}
				ix.inWord, ix.word, ix.wordAt = true, ix.word[:0], base+int64(start)
			}
			if len(ix.word)+i-start > maxWord {
				return ix.errorf(ix.wordAt, "a number or literal longer than %d bytes", maxWord)
			}
			ix.word = append(ix.word, p[start:i]...)
		}
	}
	ix.off += int64(len(p))
	return nil
}

func (ix *indexer) want() string {
	top := byte(0)
	if len(ix.stack) > 0 {
		top = ix.stack[len(ix.stack)-1]
	}
	return ix.state.want(top)
}

// endWord checks a number or literal that just ended.
func (ix *indexer) endWord() error {
	w := ix.word
	ix.inWord = false
	switch string(w) {
	case "true", "false", "null":
	default:
		if !validNumber(w) {
			return ix.errorf(ix.wordAt, "unexpected %q, want a value", firstWord(w))
		}
	}
	ix.afterValue()
	return nil
}

// validNumber reports whether b is a JSON number.
func validNumber(b []byte) bool {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
			n++
		}
		return n
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case digits() == 0:
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(b)
}

// firstSpecial returns the index of the first byte of b that is '"', '\\' or below 0x20
// (which JSON strings must escape), or len(b). It tests eight bytes at a time: strings are
// most of a dump.
func firstSpecial(b []byte) int {
	i := 0
	for ; i+8 <= len(b); i += 8 {
		if m := specialInWord(binary.LittleEndian.Uint64(b[i:])); m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
	}
	for i < len(b) && b[i] != '"' && b[i] != '\\' && b[i] >= 0x20 {
		i++
	}
	return i
}

// firstSpecialHigh is firstSpecial that also returns the bytes it read ORed together (those
// of b before the index, and maybe a few after it): when its top bit is clear, none of them is
// 0x80 or more.
func firstSpecialHigh(b []byte) (int, byte) {
	var or uint64
	i := 0
	for ; i+8 <= len(b); i += 8 {
		w := binary.LittleEndian.Uint64(b[i:])
		or |= w
		if m := specialInWord(w); m != 0 {
			return i + bits.TrailingZeros64(m)>>3, highOf(or)
		}
	}
	var c byte
	for i < len(b) && b[i] != '"' && b[i] != '\\' && b[i] >= 0x20 {
		c |= b[i]
		i++
	}
	return i, highOf(or) | c
}

// highOf is 0x80 when a byte of w has its top bit set, else 0.
func highOf(w uint64) byte {
	if w&msb != 0 {
		return 0x80
	}
	return 0
}

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' }

func isHex(c byte) bool { return c-'0' < 10 || (c|0x20)-'a' < 6 }

// scanString consumes string bytes up to and including the closing quote, or the whole input;
// at is the offset of p in the document.
func (ix *indexer) scanString(p []byte, at int64) (int, error) {
	i := 0
	for i < len(p) {
		if ix.hexLeft > 0 {
			if !isHex(p[i]) {
				return 0, ix.errorf(at+int64(i), "invalid \\u escape in a string")
			}
			ix.hexLeft--
			if ix.capturing {
				ix.str = append(ix.str, p[i])
			}
			i++
			continue
		}
		if ix.escape {
			switch p[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				ix.hexLeft = 4
			default:
				return 0, ix.errorf(at+int64(i)-1, "invalid escape %s in a string", describeEscape(p[i]))
			}
			ix.escape = false
			if ix.capturing {
				ix.str = append(ix.str, p[i])
			}
			i++
			continue
		}
		n, high := firstSpecialHigh(p[i:])
		stop := i + n
		ix.high |= high
		if stop < len(p) && p[stop] < 0x20 {
			return 0, ix.errorf(at+int64(stop), "control character U+%04X in a string; JSON escapes it", p[stop])
		}
		if ix.capturing {
			ix.str = append(ix.str, p[i:stop]...)
		}
		if stop == len(p) {
			return len(p), nil
		}
		if p[stop] == '\\' {
			if ix.capturing {
				ix.str = append(ix.str, '\\')
			}
			ix.escape = true
			i = stop + 1
			continue
		}
		// The closing quote.
		ix.inString = false
		ix.endString()
		return stop + 1, nil
	}
	return len(p), nil
}

// endString records keys and the "@type" of config entries.
func (ix *indexer) endString() {
	wasKey := ix.isKey
	if wasKey {
		ix.state = stColon
	} else {
		ix.afterValue()
	}
	if !ix.capturing {
		return
	}
	ix.capturing = false
	if ix.candKey != 0 {
		ix.candKeyRead(ix.str)
		ix.candKey, ix.str = 0, ix.str[:0]
		return
	}
	s := string(ix.str)
	ix.str = ix.str[:0]
	if strings.Contains(s, `\`) {
		if u, err := unescape([]byte(s)); err == nil {
			s = string(u)
		}
	}
	depth := len(ix.stack)
	switch {
	case wasKey && depth == 1:
		ix.topKey, ix.topKeySet = s, true
		ix.sawConfigs = ix.sawConfigs || s == "configs"
	case wasKey && depth == 3 && ix.inConfigs:
		ix.configKey, ix.configKeySet = s, true
	case !wasKey && depth == 3 && ix.inConfigs && ix.configKey == "@type":
		ix.cur.typeURL = s
		ix.headTypeSet = ix.headTypeSet || ix.resumed && !ix.headEntryDone
	}
}

// candKeyRead decides on a key of a watched object, raw as the document spells it: its
// first must be "@type", and no other may start with '@' or have an escape.
func (ix *indexer) candKeyRead(raw []byte) {
	c := &ix.cand[ix.candKey-1]
	switch {
	case c.state == candFirst && string(raw) == "@type":
		c.state = candOpen
	case c.state == candFirst, len(raw) > 0 && raw[0] == '@', bytes.IndexByte(raw, '\\') >= 0:
		c.state = candNone
	}
}

// closeCand records the watched object k that ends at at, if it is a typed config.
func (ix *indexer) closeCand(k int, at int64) {
	c := &ix.cand[k]
	if c.state == candOpen && !ix.anysFull {
		if len(ix.anys) >= maxElems(at) {
			ix.anysFull = true // as for elements: never more spans than a quarter of the bytes
		} else {
			ix.anys = append(ix.anys, anySpan{start: c.start, end: at + 1})
		}
	}
	c.state = candNone
}

// maxElems bounds the element spans recorded by offset at of the document: a resource of a
// config dump takes well over 64 bytes (its "@type" alone some 50), so real dumps never reach
// it, and the spans (16 bytes each) stay under a quarter of what was read.
func maxElems(at int64) int { return int(at/64) + 4096 }

// afterValue moves past a complete value.
func (ix *indexer) afterValue() {
	if len(ix.stack) == 0 {
		ix.state = stEnd
	} else {
		ix.state = stAfterValue
	}
}

func (ix *indexer) structuralByte(c byte, at int64) error {
	if ix.state == stEnd {
		return ix.errorf(at, "unexpected data after the top-level value")
	}
	depth := len(ix.stack)
	unexpected := func() error { return ix.errorf(at, "unexpected %s, want %s", describeByte(c), ix.want()) }
	switch c {
	case '"':
		switch ix.state {
		case stKey, stKeyOrClose:
			ix.isKey = true
		case stValue, stValueOrClose:
			ix.isKey = false
		default:
			return unexpected()
		}
		ix.inString = true
		ix.capturing = (ix.isKey && (depth == 1 || depth == 3 && ix.inConfigs)) ||
			(!ix.isKey && depth == 3 && ix.inConfigs && ix.configKey == "@type")
		if ix.isKey && (depth == 6 || depth == 7) && ix.cand[depth-6].state != candNone {
			ix.candKey, ix.capturing = depth-5, true
		}
	case '{', '[':
		if ix.state != stValue && ix.state != stValueOrClose {
			return unexpected()
		}
		if depth >= maxDepth {
			return ix.errorf(at, "nesting deeper than %d levels", maxDepth)
		}
		if depth == 1 {
			ix.startTopValue(c, at)
		}
		if depth == 2 && ix.inConfigs {
			if c != '{' {
				return ix.errorf(at, "an entry of \"configs\" is not an object")
			}
			ix.cur = sectionSpan{start: at}
			ix.configKey = ""
		}
		switch {
		case depth == 3 && c == '[' && ix.inConfigs && ix.kind == KindConfigDump && !ix.elemsFull:
			ix.inList, ix.list = true, listSpan{start: at, first: int32(len(ix.elems))}
		case depth == 4 && c == '{' && ix.inList:
			if len(ix.elems) >= maxElems(at) {
				// A hostile list of tiny objects ({},{},...): the spans would cost several
				// times the document. This list and those after it are not split.
				ix.elems = ix.elems[:ix.list.first]
				ix.inList, ix.elemsFull = false, true
				break
			}
			ix.elems = append(ix.elems, elemSpan{start: at})
			ix.list.objects++
		case (depth == 5 || depth == 6) && c == '{' && ix.inList && !ix.anysFull:
			ix.cand[depth-5] = anyCand{start: at, state: candFirst}
		}
		ix.stack = append(ix.stack, c)
		ix.state = stKeyOrClose
		if c == '[' {
			ix.state = stValueOrClose
		}
	case '}', ']':
		open := byte('{')
		if c == ']' {
			open = '['
		}
		if depth == 0 || ix.stack[depth-1] != open {
			return unexpected()
		}
		if ix.state != stAfterValue && !(c == '}' && ix.state == stKeyOrClose) && !(c == ']' && ix.state == stValueOrClose) {
			return unexpected()
		}
		ix.stack = ix.stack[:depth-1]
		ix.afterValue()
		if (depth == 6 || depth == 7) && c == '}' {
			ix.closeCand(depth-6, at)
		}
		switch {
		case depth == 5 && c == '}' && ix.inList:
			ix.elems[len(ix.elems)-1].end = at + 1
		case depth == 4 && c == ']' && ix.inList:
			ix.list.end = at + 1
			switch {
			case ix.resumed && !ix.headListDone:
				ix.headList, ix.headListDone = ix.list, true // counted with the part before (join)
			case ix.list.objects > 0 && ix.list.commas == ix.list.objects-1:
				ix.lists = append(ix.lists, ix.list) // a list of objects only
			}
			ix.inList = false
		case depth == 3 && ix.inConfigs:
			ix.cur.end = at + 1
			if ix.resumed && !ix.headEntryDone {
				ix.headEntry, ix.headEntryDone = ix.cur, true
				break
			}
			ix.spans = append(ix.spans, ix.cur)
		case depth == 2 && ix.inConfigs:
			ix.inConfigs = false
		}
	case ',':
		if ix.state != stAfterValue {
			return unexpected()
		}
		if depth == 4 && ix.inList {
			ix.list.commas++
		}
		ix.state = stValue
		if ix.stack[depth-1] == '{' {
			ix.state = stKey
		}
	case ':':
		if ix.state != stColon {
			return unexpected()
		}
		ix.state = stValue
	}
	return nil
}

// startTopValue notes what a top-level key holds.
func (ix *indexer) startTopValue(c byte, at int64) {
	switch ix.topKey {
	case "configs":
		if c == '[' && !ix.kindSet {
			ix.kind, ix.kindSet, ix.inConfigs = KindConfigDump, true, true
		}
	case "cluster_statuses", "clusterStatuses":
		if c == '[' && !ix.kindSet {
			ix.kind, ix.kindSet, ix.inConfigs = KindClusterStatus, true, true
		}
	}
}

// finish checks the document is complete and returns its kind and sections.
func (ix *indexer) finish() (Kind, []sectionSpan, error) {
	switch {
	case !ix.started:
		return 0, nil, errors.New("the document is empty")
	case ix.inString:
		return 0, nil, ix.errorf(ix.off, "the document ends inside a string: is it truncated?")
	case ix.state != stEnd:
		return 0, nil, ix.errorf(ix.off, "the document ends with %d unclosed object(s) or array(s): is it truncated?", len(ix.stack))
	case !ix.kindSet && ix.sawConfigs:
		return 0, nil, errors.New(`the document's "configs" is not an array: an Envoy config dump lists its sections in an array`)
	case !ix.kindSet:
		return 0, nil, errors.New(`the document is not an Envoy config dump: it has no "configs" array (nor "cluster_statuses")`)
	}
	return ix.kind, ix.spans, nil
}
