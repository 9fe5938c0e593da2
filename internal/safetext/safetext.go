// Package safetext makes text from proxies, istiod and dumps safe to print: control characters
// escaped before they reach a terminal, and what messages quote bounded. proxyctl runs with the
// user's cluster credentials against the most broken proxies in the mesh; a cluster name, an
// error body or a status reason must not rewrite the user's terminal (an escape sequence), forge
// a line of output (a "\r\n"), or fill the screen (a 100 MB name in an error).
//
// The rules are applied in few places, so that every command inherits them: formatter's table
// writer escapes every cell, cli's error reporter and its note and warning lines escape and
// clip every message, and the codecs quote values with Quote and Value.
package safetext

import (
	"io"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxQuote is how much of a name or type URL a message quotes: a few hundred bytes.
const MaxQuote = 200

// MaxValue is how much of an invalid value a message quotes: a value in the wrong field may be a
// secret (a PEM in connect_timeout), so only its start is shown, with its length.
const MaxValue = 16

// MaxLine bounds one line of stderr (an error, a note, a warning): its start and its end (the
// fix) are kept, the middle elided.
const MaxLine = 2048

// Ellipsis marks text left out.
const Ellipsis = "…"

// Clip returns s cut to at most n bytes, on a rune boundary, with an ellipsis when anything was
// left out.
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + Ellipsis
}

// ClipMiddle returns s cut to about n bytes by leaving out its middle, so that both the start
// (what failed) and the end (the fix) of a message stay.
func ClipMiddle(s string, n int) string {
	if len(s) <= n {
		return s
	}
	head, tail := n*2/3, n/3
	for head > 0 && !utf8.RuneStart(s[head]) {
		head--
	}
	t := len(s) - tail
	for t < len(s) && !utf8.RuneStart(s[t]) {
		t++
	}
	return s[:head] + Ellipsis + s[t:]
}

// Quote quotes a name or a type URL for a message, Go-style, cut to MaxQuote bytes.
func Quote(s string) string {
	if len(s) <= MaxQuote {
		return strconv.Quote(s)
	}
	return strconv.Quote(Clip(s, MaxQuote)) + " (" + strconv.Itoa(len(s)) + " bytes)"
}

// Name is a name or a type URL as a message shows it unquoted: cut to MaxQuote bytes.
func Name(s string) string { return Clip(s, MaxQuote) }

// Value quotes an invalid value for an error message: whole when short and on one line, else
// its first bytes and its length, never the whole of it.
func Value(s string) string {
	if len(s) <= MaxValue && !strings.ContainsAny(s, "\r\n") {
		return strconv.Quote(s)
	}
	return strconv.Quote(Clip(s, MaxValue)) + " (" + strconv.Itoa(len(s)) + " bytes)"
}

// Escape returns s with every character that a terminal could act on written as an escape
// (\x1b, \x0a, \u202e):
// the C0 controls (tab included), DEL, the C1 controls, Unicode's bidirectional overrides and
// line separators, and bytes that are not UTF-8 (a lone 0x9b is CSI to some terminals). Text
// without them is returned as it is, without allocating.
func Escape(s string) string { return escape(s, false, false) }

// EscapeCells is Escape for a line of table cells: tabs, which separate the cells, are kept.
func EscapeCells(s string) string { return escape(s, true, false) }

// EscapeLines is Escape for text of several lines: newlines are kept (a "\r" is not).
func EscapeLines(s string) string { return escape(s, false, true) }

// Line makes a message fit one line of stderr: line breaks and runs of spaces become one space,
// control characters are escaped, and a message longer than MaxLine loses its middle.
func Line(s string) string {
	if strings.ContainsAny(s, "\n\r\t\v\f") || strings.Contains(s, "  ") {
		s = strings.Join(strings.Fields(s), " ")
	}
	return ClipMiddle(Escape(s), MaxLine)
}

// escapeKeeping is escape keeping the ASCII control characters in keep.
func escapeKeeping(s, keep string) string {
	var out strings.Builder
	for {
		i := strings.IndexAny(s, keep)
		if i < 0 {
			out.WriteString(escape(s, false, false))
			return out.String()
		}
		out.WriteString(escape(s[:i], false, false))
		out.WriteByte(s[i])
		s = s[i+1:]
	}
}

func escape(s string, keepTab, keepNewline bool) string {
	i := 0
	for i < len(s) {
		c := s[i]
		if c >= 0x20 && c < 0x7f || c == '\t' && keepTab || c == '\n' && keepNewline {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r != utf8.RuneError && !unsafeRune(r) || r == utf8.RuneError && size == 3 {
				i += size // U+FFFD itself, written out, is harmless
				continue
			}
		}
		break
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	b.WriteString(s[:i])
	for i < len(s) {
		c := s[i]
		switch {
		case c >= 0x20 && c < 0x7f || c == '\t' && keepTab || c == '\n' && keepNewline:
			b.WriteByte(c)
			i++
			continue
		case c < utf8.RuneSelf:
			writeControl(&b, rune(c))
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteString(`\x`)
			b.WriteString(hex2(c))
		case unsafeRune(r):
			writeControl(&b, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// writeControl writes r escaped: \xHH below U+0100 (\x1b for ESC, \x0d\x0a for a line
// break), \uHHHH above.
func writeControl(b *strings.Builder, r rune) {
	if r < 0x100 {
		b.WriteString(`\x`)
		b.WriteString(hex2(byte(r)))
		return
	}
	b.WriteString(`\u`)
	s := strconv.FormatInt(int64(r), 16)
	b.WriteString(strings.Repeat("0", 4-len(s)))
	b.WriteString(s)
}

func hex2(c byte) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[c>>4], digits[c&0xf]})
}

// UnsafeRune reports whether r, beyond ASCII, is a character a terminal acts on or that
// reorders text (see unsafeRune): JSON output writes those as \u escapes.
func UnsafeRune(r rune) bool { return unsafeRune(r) }

// unsafeRune reports the characters beyond ASCII that a terminal acts on or that reorder text:
// the C1 controls, the bidirectional marks, embeddings, overrides and isolates (the "Trojan
// Source" characters), and the Unicode line and paragraph separators.
func unsafeRune(r rune) bool {
	switch {
	case r >= 0x80 && r <= 0x9f:
		return true
	case r == 0x061c, r == 0x200e, r == 0x200f:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	case r == 0x2028, r == 0x2029:
		return true
	}
	return false
}

// userinfoRE finds the password of a URL that does not parse.
var userinfoRE = regexp.MustCompile(`(^|://)([^/@:]*):[^/@]*@`)

// URL returns a URL for messages: with its password, if any, written xxxxx, as url.URL's
// Redacted and kubectl write it (http://admin:xxxxx@host/...), even when it does not parse.
func URL(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.User != nil {
		return u.Redacted()
	}
	if !strings.Contains(raw, "@") {
		return raw
	}
	return userinfoRE.ReplaceAllString(raw, "${1}${2}:xxxxx@")
}

// Writer escapes what is written to it as EscapeLines does, but for the carriage return (a
// progress bar redraws its line with one) and tabs, holding back the bytes of a character split
// across two writes: a stream that reaches a terminal, such as stderr, whatever writes to it.
// Messages keep to their line by themselves (see Line).
type Writer struct {
	w       io.Writer
	pending []byte
}

// NewWriter returns a Writer to w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// Unwrap returns the writer written to (to tell whether it is a terminal).
func (e *Writer) Unwrap() io.Writer { return e.w }

func (e *Writer) Write(p []byte) (int, error) {
	n := len(p)
	if len(e.pending) > 0 {
		p = append(e.pending, p...)
		e.pending = nil
	}
	// A UTF-8 sequence cut at the end waits for the next write.
	cut := len(p)
	for i := len(p) - 1; i >= 0 && i >= len(p)-utf8.UTFMax; i-- {
		if utf8.RuneStart(p[i]) {
			if !utf8.FullRune(p[i:]) {
				cut = i
			}
			break
		}
	}
	if cut < len(p) {
		e.pending = append([]byte(nil), p[cut:]...)
		p = p[:cut]
	}
	if _, err := io.WriteString(e.w, escapeKeeping(string(p), "\t\n\r")); err != nil {
		return 0, err
	}
	return n, nil
}
