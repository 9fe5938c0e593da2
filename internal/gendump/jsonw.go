package gendump

import (
	"bufio"
	"encoding/base64"
	"strconv"
)

// jw is a small streaming JSON writer that pretty-prints the way Envoy's
// admin handler does (two-space indent, `"key": value`, `{}` and `[]` for
// empty containers). It never builds a document in memory: every token goes
// straight to the buffered writer, whose sticky error is checked at the end.
//
// Values written inside an object must be preceded by key (or use the k*
// helpers); values written inside an array must not.
type jw struct {
	w     *bufio.Writer
	stack []frame
	num   [32]byte
}

type frame struct {
	arr bool
	n   int
}

const spaces = "                                                                                                                                "

func newJW(w *bufio.Writer) *jw { return &jw{w: w, stack: make([]frame, 0, 64)} }

func (j *jw) newline() {
	j.w.WriteByte('\n')
	d := 2 * len(j.stack)
	for d > len(spaces) {
		j.w.WriteString(spaces)
		d -= len(spaces)
	}
	j.w.WriteString(spaces[:d])
}

// pre emits the separator before a value in an array.
func (j *jw) pre() {
	if len(j.stack) == 0 {
		return
	}
	f := &j.stack[len(j.stack)-1]
	if !f.arr {
		return
	}
	if f.n > 0 {
		j.w.WriteByte(',')
	}
	f.n++
	j.newline()
}

func (j *jw) key(k string) {
	f := &j.stack[len(j.stack)-1]
	if f.n > 0 {
		j.w.WriteByte(',')
	}
	f.n++
	j.newline()
	j.quote(k)
	j.w.WriteString(": ")
}

func (j *jw) obj() {
	j.pre()
	j.w.WriteByte('{')
	j.stack = append(j.stack, frame{})
}

// end closes the innermost object or array.
func (j *jw) end() {
	f := j.stack[len(j.stack)-1]
	j.stack = j.stack[:len(j.stack)-1]
	if f.n > 0 {
		j.newline()
	}
	if f.arr {
		j.w.WriteByte(']')
	} else {
		j.w.WriteByte('}')
	}
}

func (j *jw) str(s string) { j.pre(); j.quote(s) }

func (j *jw) int(n int64) {
	j.pre()
	j.w.Write(strconv.AppendInt(j.num[:0], n, 10))
}

func (j *jw) quote(s string) {
	j.w.WriteByte('"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		j.w.WriteString(s[start:i])
		switch c {
		case '"':
			j.w.WriteString(`\"`)
		case '\\':
			j.w.WriteString(`\\`)
		case '\n':
			j.w.WriteString(`\n`)
		case '\t':
			j.w.WriteString(`\t`)
		case '\r':
			j.w.WriteString(`\r`)
		default:
			const hex = "0123456789abcdef"
			j.w.WriteString(`\u00`)
			j.w.WriteByte(hex[c>>4])
			j.w.WriteByte(hex[c&0xf])
		}
		start = i + 1
	}
	j.w.WriteString(s[start:])
	j.w.WriteByte('"')
}

// ks writes "k": "v".
func (j *jw) ks(k, v string) { j.key(k); j.quote(v) }

// kn writes "k": n (a JSON number: Envoy prints 32-bit integers and
// wrapper types this way).
func (j *jw) kn(k string, n int64) {
	j.key(k)
	j.w.Write(strconv.AppendInt(j.num[:0], n, 10))
}

// kn64 writes "k": "n": proto3 JSON prints 64-bit integers as strings.
func (j *jw) kn64(k string, n int64) {
	j.key(k)
	j.w.WriteByte('"')
	j.w.Write(strconv.AppendInt(j.num[:0], n, 10))
	j.w.WriteByte('"')
}

func (j *jw) kb(k string, b bool) {
	j.key(k)
	if b {
		j.w.WriteString("true")
	} else {
		j.w.WriteString("false")
	}
}

// ko opens an object under key k.
func (j *jw) ko(k string) {
	j.key(k)
	j.w.WriteByte('{')
	j.stack = append(j.stack, frame{})
}

// ka opens an array under key k.
func (j *jw) ka(k string) {
	j.key(k)
	j.w.WriteByte('[')
	j.stack = append(j.stack, frame{arr: true})
}

// kempty writes "k": {}.
func (j *jw) kempty(k string) { j.key(k); j.w.WriteString("{}") }

// kstrs writes "k": ["a", "b"].
func (j *jw) kstrs(k string, vs ...string) {
	j.ka(k)
	for _, v := range vs {
		j.str(v)
	}
	j.end()
}

// kbytes writes "k": "<base64>", the proto3 JSON form of a bytes field.
func (j *jw) kbytes(k string, b []byte) {
	j.key(k)
	j.w.WriteByte('"')
	enc := base64.NewEncoder(base64.StdEncoding, j.w)
	enc.Write(b)
	enc.Close()
	j.w.WriteByte('"')
}

// ktype writes the "@type" member of an Any.
func (j *jw) ktype(typeName string) { j.ks("@type", typeURLPrefix+typeName) }

const typeURLPrefix = "type.googleapis.com/"
