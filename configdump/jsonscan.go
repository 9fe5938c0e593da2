package configdump

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// maxDepth bounds the nesting of JSON values the decoder follows, so that hostile input fails
// with an error instead of exhausting the stack.
const maxDepth = 1000

// scanner reads JSON tokens from a byte slice that it never modifies: strings without escapes
// are returned as views into the input, which must therefore stay unchanged while any decoded
// value is alive.
type scanner struct {
	data []byte
	pos  int
	// base is the offset of data within the whole document, doc, for error positions.
	base int
	doc  []byte
	// valid says data is part of a document the indexer accepted: valid JSON, whose values
	// skipValue can skip without checking them again.
	valid bool
}

// SyntaxError reports malformed JSON with its byte offset in the document (and its line and
// column once Locate has seen it).
type SyntaxError struct {
	Offset       int
	Line, Column int
	Msg          string
}

func (e *SyntaxError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("invalid JSON at line %d, column %d: %s", e.Line, e.Column, e.Msg)
	}
	return fmt.Sprintf("invalid JSON at byte %d: %s", e.Offset, e.Msg)
}

// Locate fills in the line and column of a SyntaxError within err, from the document it was
// found in, and returns err.
// Errors from this package are located already; Locate is for errors built elsewhere.
func Locate(err error, doc []byte) error {
	var se *SyntaxError
	if errors.As(err, &se) {
		locate(se, doc)
	}
	return err
}

func locate(se *SyntaxError, doc []byte) {
	if se.Line == 0 && len(doc) > 0 && se.Offset >= 0 && se.Offset <= len(doc) {
		se.Line = 1 + bytes.Count(doc[:se.Offset], []byte{'\n'})
		se.Column = se.Offset - bytes.LastIndexByte(doc[:se.Offset], '\n')
	}
}

func (s *scanner) errorf(format string, args ...any) error {
	err := &SyntaxError{Offset: s.base + s.pos, Msg: fmt.Sprintf(format, args...)}
	locate(err, s.doc)
	return err
}

// skipWS advances past JSON whitespace and returns the next byte (0 at the end). Runs of
// spaces, the indentation of pretty-printed dumps, are skipped eight bytes at a time.
func (s *scanner) skipWS() byte {
	// Inlined: most calls find a token where they are.
	if uint(s.pos) < uint(len(s.data)) && s.data[s.pos] > ' ' {
		return s.data[s.pos]
	}
	return s.skipSpaces()
}

func (s *scanner) skipSpaces() byte {
	data, i := s.data, s.pos
	for i < len(data) {
		c := data[i]
		if c > ' ' {
			s.pos = i
			return c
		}
		if c != ' ' && c != '\n' && c != '\r' && c != '\t' {
			s.pos = i
			return c
		}
		i++
		// The spaces that follow, eight at a time: the first byte that is not a space ends
		// the run.
		for i+8 <= len(data) {
			if x := binary.LittleEndian.Uint64(data[i:]) ^ 0x2020202020202020; x != 0 {
				i += bits.TrailingZeros64(x) >> 3
				break
			}
			i += 8
		}
	}
	s.pos = i
	return 0
}

// expect consumes byte c after optional whitespace.
func (s *scanner) expect(c byte) error {
	if got := s.skipWS(); got != c || s.pos >= len(s.data) {
		if s.pos >= len(s.data) {
			return s.errorf("unexpected end of input, want %q", c)
		}
		return s.errorf("unexpected %s, want %q", describeByte(got), c)
	}
	s.pos++
	return nil
}

func describeByte(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return strconv.QuoteRune(rune(c))
	}
	return fmt.Sprintf("byte 0x%02x", c)
}

// more reports whether another member or element follows inside an object or array, consuming
// the separating comma; it consumes the closing byte when the container ends.
func (s *scanner) more(closing byte, first bool) (bool, error) {
	c := s.skipWS()
	if c == closing {
		s.pos++
		return false, nil
	}
	if first {
		if s.pos >= len(s.data) {
			return false, s.errorf("unexpected end of input")
		}
		return true, nil
	}
	if c != ',' {
		if s.pos >= len(s.data) {
			return false, s.errorf("unexpected end of input, want ',' or %q", closing)
		}
		return false, s.errorf("unexpected %s, want ',' or %q", describeByte(c), closing)
	}
	s.pos++
	return true, nil
}

// readRawString consumes a string and returns its raw content (between the quotes, escapes
// untouched) and whether it holds escapes.
func (s *scanner) readRawString() ([]byte, bool, error) {
	if s.skipWS() != '"' {
		if s.pos >= len(s.data) {
			return nil, false, s.errorf("unexpected end of input, want a string")
		}
		return nil, false, s.errorf("unexpected %s, want a string", describeByte(s.data[s.pos]))
	}
	start := s.pos + 1
	data := s.data
	i := start
	escaped := false
	for {
		// Straight to the first quote, backslash or control character.
		i += firstSpecial(data[i:])
		if i >= len(data) {
			s.pos = len(data)
			return nil, false, s.errorf("unterminated string")
		}
		c := data[i]
		switch {
		case c == '"':
			raw := data[start:i]
			s.pos = i + 1
			return raw, escaped, nil
		case c == '\\':
			escaped = true
			if i+1 >= len(data) {
				s.pos = len(data)
				return nil, false, s.errorf("unterminated string")
			}
			switch data[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if _, ok := hex4(data[i+2:]); !ok {
					s.pos = i
					return nil, false, s.errorf("invalid \\u escape in a string")
				}
			default:
				s.pos = i
				return nil, false, s.errorf("invalid escape %s in a string", describeEscape(data[i+1]))
			}
			i += 2
		case c < 0x20:
			s.pos = i
			return nil, false, s.errorf("control character in string")
		default:
			i++
		}
	}
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// specialInWord returns a mask of the bytes of v (little-endian) that are '"', '\\' or below
// 0x20, each as its high bit: zero when none is. Bytes above the first match may show as
// matches that are not (a borrow runs on), the first one never.
func specialInWord(v uint64) uint64 {
	quote := v ^ (lsb * '"')
	backslash := v ^ (lsb * '\\')
	zeroQuote := (quote - lsb) &^ quote
	zeroBackslash := (backslash - lsb) &^ backslash
	control := (v - lsb*0x20) &^ v
	return (zeroQuote | zeroBackslash | control) & msb
}

// readString consumes a string and returns its value. Without escapes the result shares memory
// with the input.
func (s *scanner) readString() (string, error) {
	raw, escaped, err := s.readRawString()
	if err != nil {
		return "", err
	}
	if !escaped {
		return bytesToString(raw), nil
	}
	out, err := unescape(raw)
	if err != nil {
		return "", s.errorf("%v", err)
	}
	return bytesToString(out), nil
}

// bytesToString returns a string sharing memory with b, which must never change afterwards.
func bytesToString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// unescape decodes JSON string escapes; invalid UTF-8 and lone surrogates become U+FFFD, as in
// encoding/json.
func unescape(raw []byte) ([]byte, error) {
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			if c < utf8.RuneSelf {
				out = append(out, c)
				i++
				continue
			}
			r, size := utf8.DecodeRune(raw[i:])
			out = utf8.AppendRune(out, r)
			i += size
			continue
		}
		if i+1 >= len(raw) {
			return nil, errors.New("truncated escape")
		}
		switch e := raw[i+1]; e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := hex4(raw[i+2:])
			if !ok {
				return nil, errors.New("invalid \\u escape")
			}
			i += 6
			if utf16.IsSurrogate(r) {
				// A lone surrogate may end the string: look for its pair only if six bytes remain.
				if i+6 <= len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
					r2, ok := hex4(raw[i+2:])
					if dec := utf16.DecodeRune(r, r2); ok && dec != utf8.RuneError {
						out = utf8.AppendRune(out, dec)
						i += 6
						continue
					}
				}
				r = utf8.RuneError
			}
			out = utf8.AppendRune(out, r)
			continue
		default:
			return nil, fmt.Errorf("invalid escape %q", "\\"+string(e))
		}
		i += 2
	}
	return out, nil
}

// describeEscape names the escape of c, for messages.
func describeEscape(c byte) string {
	if c > ' ' && c < 0x7f {
		return `\` + string(rune(c))
	}
	return fmt.Sprintf(`\ followed by byte 0x%02x`, c)
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// readNumber consumes a JSON number and returns its text.
func (s *scanner) readNumber() ([]byte, error) {
	s.skipWS()
	start := s.pos
	i := s.pos
	if i < len(s.data) && s.data[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(s.data) && s.data[i] >= '0' && s.data[i] <= '9' {
			i++
			n++
		}
		return n
	}
	switch {
	case i < len(s.data) && s.data[i] == '0':
		// JSON has no leading zeros: 0, 0.5 and 0e1, never 00 or 01.
		i++
		if i < len(s.data) && s.data[i] >= '0' && s.data[i] <= '9' {
			s.pos = i
			return nil, s.errorf("invalid number (a leading zero)")
		}
	case digits() == 0:
		return nil, s.errorf("invalid number")
	}
	if i < len(s.data) && s.data[i] == '.' {
		i++
		if digits() == 0 {
			s.pos = i
			return nil, s.errorf("invalid number")
		}
	}
	if i < len(s.data) && (s.data[i] == 'e' || s.data[i] == 'E') {
		i++
		if i < len(s.data) && (s.data[i] == '+' || s.data[i] == '-') {
			i++
		}
		if digits() == 0 {
			s.pos = i
			return nil, s.errorf("invalid number")
		}
	}
	s.pos = i
	return s.data[start:i], nil
}

// readLiteral consumes one of true, false or null.
func (s *scanner) readLiteral() (string, error) {
	s.skipWS()
	for _, lit := range [...]string{"true", "false", "null"} {
		if bytes.HasPrefix(s.data[s.pos:], []byte(lit)) {
			s.pos += len(lit)
			return lit, nil
		}
	}
	if s.pos >= len(s.data) {
		return "", s.errorf("unexpected end of input, want a value")
	}
	return "", s.errorf("unexpected %s, want a value", describeByte(s.data[s.pos]))
}

// skipValue consumes one JSON value of any kind, checking its syntax (unless the document is
// known to be valid), without recursion.
func (s *scanner) skipValue() error {
	if s.valid {
		if c := s.skipWS(); c == '{' || c == '[' || c == '"' {
			s.skipValid()
			return nil
		}
	}
	var open []byte // the containers entered and not yet closed
	for {
		c := s.skipWS()
		switch {
		case c == '{' || c == '[':
			s.pos++
			if len(open) >= maxDepth {
				return s.errorf("nesting deeper than %d levels", maxDepth)
			}
			open = append(open, c)
			closing := byte('}')
			if c == '[' {
				closing = ']'
			}
			if s.skipWS() == closing {
				s.pos++
				open = open[:len(open)-1]
				break
			}
			if c == '{' {
				if err := s.skipKey(); err != nil {
					return err
				}
			}
			continue
		case c == '"':
			if _, _, err := s.readRawString(); err != nil {
				return err
			}
		case c == '-' || (c >= '0' && c <= '9'):
			if _, err := s.readNumber(); err != nil {
				return err
			}
		default:
			if _, err := s.readLiteral(); err != nil {
				return err
			}
		}
		// After a complete value: close containers or move to the next member.
		for {
			if len(open) == 0 {
				return nil
			}
			top := open[len(open)-1]
			closing := byte('}')
			if top == '[' {
				closing = ']'
			}
			next, err := s.more(closing, false)
			if err != nil {
				return err
			}
			if !next {
				open = open[:len(open)-1]
				continue
			}
			if top == '{' {
				if err := s.skipKey(); err != nil {
					return err
				}
			}
			break
		}
	}
}

// skipValid consumes the object, array or string at the position, in a valid document: it
// finds the end by matching brackets outside strings, eight bytes at a time where it can.
func (s *scanner) skipValid() {
	data, i := s.data, s.pos
	if data[i] == '"' {
		s.pos = stringEnd(data, i+1)
		return
	}
	depth := 0
	for {
		i = nextStructural(data, i, false)
		if i >= len(data) {
			s.pos = len(data)
			return
		}
		switch data[i] {
		case '"':
			i = stringEnd(data, i+1)
		case '{', '[':
			depth++
			i++
		default: // '}', ']'
			depth--
			i++
			if depth == 0 {
				s.pos = i
				return
			}
		}
	}
}

// nextStructural returns the index of the first '"', '{', '}', '[' or ']' (or, with comma, ',')
// of data from i on, or len(data): eight bytes at a time.
func nextStructural(data []byte, i int, comma bool) int {
	const quotes, brackets, commas = lsb * '"', lsb * 0x20, lsb * ','
	for ; i+8 <= len(data); i += 8 {
		x := binary.LittleEndian.Uint64(data[i:])
		// '[' and ']' are '{' and '}' without 0x20.
		q, open, closing := x^quotes, (x|brackets)^(lsb*'{'), (x|brackets)^(lsb*'}')
		m := (q - lsb) &^ q
		m |= (open - lsb) &^ open
		m |= (closing - lsb) &^ closing
		if comma {
			c := x ^ commas
			m |= (c - lsb) &^ c
		}
		if m &= msb; m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
	}
	for ; i < len(data); i++ {
		switch data[i] {
		case '"', '{', '}', '[', ']':
			return i
		case ',':
			if comma {
				return i
			}
		}
	}
	return i
}

// stringEnd returns the index after the closing quote of the string of a valid document whose
// content starts at data[i].
func stringEnd(data []byte, i int) int {
	for {
		i += firstSpecial(data[i:])
		if i >= len(data) {
			return len(data)
		}
		if data[i] == '"' {
			return i + 1
		}
		i += 2 // a backslash and the byte it escapes
		if i >= len(data) {
			return len(data) // a document cut after the backslash
		}
	}
}

func (s *scanner) skipKey() error {
	if _, _, err := s.readRawString(); err != nil {
		return err
	}
	return s.expect(':')
}

// captureValue consumes one value and returns its bytes.
func (s *scanner) captureValue() ([]byte, error) {
	s.skipWS()
	start := s.pos
	if err := s.skipValue(); err != nil {
		return nil, err
	}
	return s.data[start:s.pos], nil
}
