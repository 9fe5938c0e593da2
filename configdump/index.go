package configdump

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// An indexer finds the sections of an admin document in one pass over its bytes, fed in
// chunks, without keeping them: it records where each entry of "configs" starts and ends, and
// its "@type" (or, in a /clusters document, each entry of "cluster_statuses"). It checks the structure (strings, nesting), not the values, which are checked
// when a section is decoded: a view only pays for the sections it reads.
type indexer struct {
	off   int64  // bytes fed so far
	stack []byte // open containers: '{' or '['

	inString  bool
	escape    bool // the previous byte in the string was a backslash
	keyNext   bool // in an object, the next string is a key
	isKey     bool // the current string is a key
	capturing bool
	str       []byte // the current string, when captured

	topKey     string // the last key of the top-level object
	sawConfigs bool   // the top-level object has a "configs" key
	configKey  string // the last key of the current config entry
	inConfigs  bool   // inside the top-level "configs" (or "cluster_statuses") array
	kind       Kind
	kindSet    bool
	ended      bool // the top-level value is complete
	cur        sectionSpan
	spans      []sectionSpan
	started    bool // the document's first byte, '{', was seen
}

// firstWord is the start of some text, for messages.
func firstWord(p []byte) []byte {
	p = p[:min(len(p), 24)]
	if i := bytes.IndexAny(p, " \t\r\n"); i > 0 {
		p = p[:i]
	}
	return p
}

// sectionSpan is one entry of "configs".
type sectionSpan struct {
	typeURL    string
	start, end int64
}

var structural = func() (t [256]bool) {
	for _, c := range []byte(`"{}[],:`) {
		t[c] = true
	}
	return
}()

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
			ix.started = true
		case '[':
			return errors.New("the document is a JSON array, not an Envoy config dump (an object with \"configs\")")
		default:
			return fmt.Errorf("the document is not JSON: it starts with %q", firstWord(p[i:]))
		}
	}
	for i < len(p) {
		if ix.inString {
			n, err := ix.scanString(p[i:])
			if err != nil {
				return ix.errorf(base+int64(i), "%v", err)
			}
			i += n
			continue
		}
		// Outside strings: skip to the next structural byte.
		for i < len(p) && !structural[p[i]] {
			if ix.ended && !isSpace(p[i]) {
				return ix.errorf(base+int64(i), "unexpected data after the top-level value")
			}
			i++
		}
		if i == len(p) {
			break
		}
		if err := ix.structuralByte(p[i], base+int64(i)); err != nil {
			return err
		}
		i++
	}
	ix.off += int64(len(p))
	return nil
}

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' }

// scanString consumes string bytes up to and including the closing quote, or the whole input.
func (ix *indexer) scanString(p []byte) (int, error) {
	i := 0
	for i < len(p) {
		if ix.escape {
			ix.escape = false
			i++
			continue
		}
		q := bytes.IndexByte(p[i:], '"')
		stop := len(p)
		if q >= 0 {
			stop = i + q
		}
		if b := bytes.IndexByte(p[i:stop], '\\'); b >= 0 {
			stop = i + b
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
	if !ix.capturing {
		return
	}
	ix.capturing = false
	s := string(ix.str)
	ix.str = ix.str[:0]
	depth := len(ix.stack)
	switch {
	case ix.isKey && depth == 1:
		ix.topKey = s
		ix.sawConfigs = ix.sawConfigs || s == "configs"
	case ix.isKey && depth == 3 && ix.inConfigs:
		ix.configKey = s
	case !ix.isKey && depth == 3 && ix.inConfigs && ix.configKey == "@type":
		if strings.Contains(s, `\`) {
			if u, err := unescape([]byte(s)); err == nil {
				s = string(u)
			}
		}
		ix.cur.typeURL = s
	}
}

func (ix *indexer) structuralByte(c byte, at int64) error {
	if ix.ended {
		return ix.errorf(at, "unexpected data after the top-level value")
	}
	depth := len(ix.stack)
	switch c {
	case '"':
		ix.inString = true
		ix.isKey = ix.keyNext
		ix.keyNext = false
		ix.capturing = (ix.isKey && (depth == 1 || depth == 3 && ix.inConfigs)) ||
			(!ix.isKey && depth == 3 && ix.inConfigs && ix.configKey == "@type")
	case '{', '[':
		if depth >= maxDepth {
			return ix.errorf(at, "nesting deeper than %d levels", maxDepth)
		}
		if depth == 1 && ix.keyNext {
			return ix.errorf(at, "unexpected %q, want a key", c)
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
		ix.stack = append(ix.stack, c)
		ix.keyNext = c == '{'
	case '}', ']':
		open := byte('{')
		if c == ']' {
			open = '['
		}
		if depth == 0 || ix.stack[depth-1] != open {
			return ix.errorf(at, "unexpected %q", c)
		}
		ix.stack = ix.stack[:depth-1]
		ix.keyNext = false
		switch {
		case depth == 3 && ix.inConfigs:
			ix.cur.end = at + 1
			ix.spans = append(ix.spans, ix.cur)
		case depth == 2 && ix.inConfigs:
			ix.inConfigs = false
		case depth == 1:
			ix.ended = true
		}
	case ',':
		if depth == 0 {
			return ix.errorf(at, "unexpected ','")
		}
		ix.keyNext = ix.stack[depth-1] == '{'
	case ':':
		ix.keyNext = false
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
	case !ix.ended:
		return 0, nil, ix.errorf(ix.off, "the document ends with %d unclosed object(s) or array(s): is it truncated?", len(ix.stack))
	case !ix.kindSet && ix.sawConfigs:
		return 0, nil, errors.New(`the document's "configs" is not an array: an Envoy config dump lists its sections in an array`)
	case !ix.kindSet:
		return 0, nil, errors.New(`the document is not an Envoy config dump: it has no "configs" array (nor "cluster_statuses")`)
	}
	return ix.kind, ix.spans, nil
}
