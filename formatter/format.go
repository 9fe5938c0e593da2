// Package formatter writes every byte proxyctl prints: the tables of each view, laid out
// exactly as istioctl lays them out, and the JSON and YAML forms of the resources.
package formatter

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"

	"github.com/proxyctl/proxyctl/configdump"
	"github.com/proxyctl/proxyctl/internal/parallel"
	"github.com/proxyctl/proxyctl/internal/safetext"
)

// Format is an output format.
type Format string

// The output formats of -o/--output.
const (
	Short Format = "short"
	JSON  Format = "json"
	YAML  Format = "yaml"
	// Name lists what a view shows as KIND/NAME lines (cluster/NAME, listener/NAME...), as
	// kubectl -o name does.
	Name Format = "name"
	// JSONPath prints a template (-o jsonpath=TEMPLATE) over the -o json value, with kubectl's
	// engine (see WriteJSONPath).
	JSONPath Format = "jsonpath"
)

// Formats lists the formats -o accepts, in the order help texts name them.
var Formats = []Format{Short, JSON, YAML, Name, JSONPath}

// ParseFormat validates an -o value's format (the part before "=" for jsonpath).
func ParseFormat(s string) (Format, error) {
	for _, f := range Formats {
		if string(f) == s {
			return f, nil
		}
	}
	return "", fmt.Errorf("unknown output format %q: use one of short, json, yaml, name, jsonpath=TEMPLATE", s)
}

// TableOptions say how the table writers lay a table out.
type TableOptions struct {
	// NoHeaders leaves the header line out (--no-headers); columns are as wide as their
	// widest cell among the rows, as kubectl lays them out.
	NoHeaders bool
}

// optionsWriter is a writer carrying TableOptions to the table writers it is handed to.
type optionsWriter struct {
	io.Writer
	opts TableOptions
}

// WithTableOptions returns a writer to w that carries o: every table written to it follows o.
// Views pass it down unchanged, so that a table written anywhere below (a section of pc all,
// a new view) honours --no-headers without knowing about it.
func WithTableOptions(w io.Writer, o TableOptions) io.Writer {
	if ow, ok := w.(*optionsWriter); ok {
		w = ow.Writer
	}
	return &optionsWriter{Writer: w, opts: o}
}

// TableOptionsOf returns the options w carries (none for a plain writer).
func TableOptionsOf(w io.Writer) TableOptions {
	if ow, ok := w.(*optionsWriter); ok {
		return ow.opts
	}
	return TableOptions{}
}

// Every table goes through newTable or writeTable, which escape what a terminal could act on
// (safetext.EscapeCells): a cluster name, a status reason or an istiod's answer cannot rewrite
// the user's terminal, and a "\r\n" in one cannot forge a row. Rows are built with row, which
// also escapes the tabs inside a cell, so that a cell cannot forge a column either.

// row joins a row's cells with tabs, each escaped (see safetext.Escape).
func row(cells ...string) string {
	for i, c := range cells {
		cells[i] = safetext.Escape(c)
	}
	return strings.Join(cells, "\t")
}

// table is a tab writer laid out as istioctl's tables, whose lines are escaped.
type table struct {
	tw      *tabwriter.Writer
	partial []byte
}

// newTable returns a tab writer laid out as istioctl's tables: columns separated by at least
// padding spaces. Write it whole lines (each escaped as it is written), or rows with Row.
func newTable(w io.Writer, padding int) *table {
	return &table{tw: tabwriter.NewWriter(w, 0, 8, padding, ' ', 0)}
}

// Write writes lines of tab-separated cells; each complete line is escaped.
func (t *table) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			t.partial = append(t.partial, p...)
			break
		}
		line := string(append(t.partial, p[:i]...))
		t.partial = t.partial[:0]
		p = p[i+1:]
		if _, err := io.WriteString(t.tw, safetext.EscapeCells(line)+"\n"); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// Row writes one row, its cells escaped, tabs included.
func (t *table) Row(cells ...string) { io.WriteString(t.tw, row(cells...)+"\n") }

// Flush writes the table out.
func (t *table) Flush() error {
	if len(t.partial) > 0 {
		t.Write([]byte("\n"))
	}
	return t.tw.Flush()
}

// writeTable writes a header and rows (cells separated by tabs) aligned as istioctl's tables:
// byte for byte what text/tabwriter writes with newTable's settings, several times faster on
// the tables of large dumps (tens of thousands of rows). Each line is escaped.
// With TableOptions.NoHeaders (see WithTableOptions) the header is left out.
func writeTable(w io.Writer, padding int, header string, rows []string) error {
	lines := make([]string, 0, len(rows)+1)
	if !TableOptionsOf(w).NoHeaders {
		lines = append(lines, safetext.EscapeCells(header))
	}
	for _, r := range rows {
		lines = append(lines, safetext.EscapeCells(r))
	}
	if len(lines) == 0 {
		return nil
	}
	widths, ok := columnWidths(lines, padding)
	if !ok {
		// Lines with different numbers of cells, or text tabwriter treats specially.
		t := tabwriter.NewWriter(w, 0, 8, padding, ' ', 0)
		for _, l := range lines {
			fmt.Fprintln(t, l)
		}
		return t.Flush()
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	for _, l := range lines {
		for c := range widths {
			cell, rest, _ := strings.Cut(l, "\t")
			bw.WriteString(cell)
			for n := widths[c] - utf8.RuneCountInString(cell); n > 0; n-- {
				bw.WriteByte(' ')
			}
			l = rest
		}
		bw.WriteString(l)
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

// columnWidths returns the width of each aligned column (all cells but the last of each line)
// when every line has the same number of cells, as tabwriter computes them: the widest cell,
// in runes, plus padding. ok is false for tables tabwriter would lay out otherwise.
func columnWidths(lines []string, padding int) (widths []int, ok bool) {
	tabs := -1
	for _, l := range lines {
		if strings.ContainsAny(l, "\n\f\v\r") {
			return nil, false
		}
		n := strings.Count(l, "\t")
		if tabs >= 0 && n != tabs {
			return nil, false
		}
		tabs = n
	}
	widths = make([]int, tabs)
	for i := range widths {
		widths[i] = padding
	}
	for _, l := range lines {
		for c := 0; c < tabs; c++ {
			cell, rest, _ := strings.Cut(l, "\t")
			if n := utf8.RuneCountInString(cell) + padding; n > widths[c] {
				widths[c] = n
			}
			l = rest
		}
	}
	return widths, true
}

// ResourceWriter writes a view's resources as a JSON array, or a YAML sequence, as istioctl
// prints them, one encoded resource (see EncodeResource) at a time.
type ResourceWriter struct {
	w      *bufio.Writer
	format Format
	n      int
}

// NewResourceWriter starts a list of resources in format (JSON or YAML).
func NewResourceWriter(w io.Writer, f Format) *ResourceWriter {
	return &ResourceWriter{w: bufio.NewWriterSize(w, 1<<16), format: f}
}

// Write adds one resource encoded by EncodeResource in the same format.
func (rw *ResourceWriter) Write(encoded []byte) error {
	switch {
	case rw.format == YAML:
	case rw.n == 0:
		rw.w.WriteString("[\n    ")
	default:
		rw.w.WriteString(",\n    ")
	}
	rw.n++
	_, err := rw.w.Write(encoded)
	return err
}

// Close ends the list.
func (rw *ResourceWriter) Close() error {
	switch {
	case rw.n == 0:
		rw.w.WriteString("[]\n")
	case rw.format == JSON:
		rw.w.WriteString("\n]\n")
	}
	return rw.w.Flush()
}

// EncodeResource encodes one resource as an element of the JSON array, or YAML sequence, that
// ResourceWriter writes. It may be called from several goroutines at once.
func EncodeResource(d *configdump.Dump, m proto.Message, f Format) ([]byte, error) {
	enc := d.NewEncoder()
	if f == JSON {
		enc.SetDepth(1)
	}
	if err := enc.Message(m); err != nil {
		return nil, err
	}
	if f == JSON {
		return enc.Bytes(), nil
	}
	y, err := yamlConvert(enc.Bytes())
	if err != nil {
		return nil, err
	}
	return yamlItem(y), nil
}

// ResourceDepth is the indentation depth EncodeResource encodes a resource at in format f.
func ResourceDepth(f Format) int {
	if f == JSON {
		return 1
	}
	return 0
}

// EncodedResource is EncodeResource for a resource the Encoder printed already, at
// ResourceDepth(f) (see configdump.EachJSON).
func EncodedResource(json []byte, f Format) ([]byte, error) {
	if f == JSON {
		return json, nil
	}
	y, err := yamlConvert(json)
	if err != nil {
		return nil, err
	}
	return yamlItem(y), nil
}

// Resources writes already decoded resources as a JSON array or YAML sequence, encoding them
// on all cores.
func Resources[T proto.Message](w io.Writer, d *configdump.Dump, msgs []T, f Format) error {
	rw := NewResourceWriter(w, f)
	err := parallel.Ordered(len(msgs), func(i int) ([]byte, error) { return EncodeResource(d, msgs[i], f) }, rw.Write)
	if err != nil {
		return err
	}
	return rw.Close()
}

// Message writes one message as indented JSON, or YAML.
func Message(w io.Writer, d *configdump.Dump, m proto.Message, f Format) error {
	enc := d.NewEncoder()
	if err := enc.Message(m); err != nil {
		return err
	}
	return writeJSONOrYAML(w, append(enc.Bytes(), '\n'), f)
}

// Raw writes a JSON document as it is but for the replacements (see configdump.Redactions),
// or converted to YAML.
func Raw(w io.Writer, data []byte, replace []configdump.Replacement, f Format) error {
	return RawReleasing(w, data, false, replace, f, nil)
}

// RawReleasing is Raw that drops from memory, with release (when not nil), the bytes of data
// it has written: a caller that mapped the document gives back its pages as it goes. ascii
// says data is all ASCII (configdump.Dump.ASCII): then it is written without looking for the
// characters to escape, which only non-ASCII text can hold.
func RawReleasing(w io.Writer, data []byte, ascii bool, replace []configdump.Replacement, f Format, release func([]byte)) error {
	if f == YAML {
		return writeYAML(w, data, replace, release)
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	// A few megabytes at a time, each dropped once written.
	const chunk = 4 << 20
	at := 0
	for at < len(data) {
		end := min(at+chunk, len(data))
		// Never inside a character: jsonSafeWriter escapes characters it sees whole.
		for end < len(data) && data[end] >= utf8.RuneSelf {
			end++
		}
		// The replacements that start in this chunk, the chunk stretched to their end.
		i := sort.Search(len(replace), func(i int) bool { return replace[i].Start >= at })
		j := sort.Search(len(replace), func(j int) bool { return replace[j].Start >= end })
		if j > i && replace[j-1].End > end {
			end = replace[j-1].End
		}
		if err := writeReplaced(bw, data[:end], ascii, replace[i:j], at); err != nil {
			return err
		}
		if release != nil {
			if err := bw.Flush(); err != nil {
				return err
			}
			release(data[at:end])
		}
		at = end
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

// writeReplaced writes data[at:] with the replacements (in order, inside it) applied, the
// characters a terminal acts on escaped (but in data known to be ASCII, which has none).
func writeReplaced(w io.Writer, data []byte, ascii bool, replace []configdump.Replacement, at int) error {
	safe := io.Writer(jsonSafeWriter{w})
	doc := safe
	if ascii {
		doc = w
	}
	for _, r := range replace {
		if _, err := doc.Write(data[at:r.Start]); err != nil {
			return err
		}
		if _, err := io.WriteString(safe, r.Text); err != nil {
			return err
		}
		at = r.End
	}
	_, err := doc.Write(data[at:])
	return err
}

// jsonSafeWriter writes JSON text with the characters a terminal acts on or that reorder text
// (safetext.UnsafeRune: C1 controls, bidirectional overrides...) written as \u escapes: in
// valid JSON they can only be inside strings, where the escape is the same value. Text without
// them (the usual dump is ASCII) is written as it is.
type jsonSafeWriter struct{ w io.Writer }

func (j jsonSafeWriter) Write(p []byte) (int, error) {
	n := len(p)
	at := 0
	for i := 0; i < len(p); {
		// Eight bytes at a time while they are ASCII (the usual dump is).
		for i+8 <= len(p) && binary.LittleEndian.Uint64(p[i:])&0x8080808080808080 == 0 {
			i += 8
		}
		if i >= len(p) {
			break
		}
		if p[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRune(p[i:])
		if !safetext.UnsafeRune(r) {
			i += size
			continue
		}
		if _, err := j.w.Write(p[at:i]); err != nil {
			return 0, err
		}
		if _, err := fmt.Fprintf(j.w, `\u%04x`, r); err != nil {
			return 0, err
		}
		i += size
		at = i
	}
	if _, err := j.w.Write(p[at:]); err != nil {
		return 0, err
	}
	return n, nil
}

// yamlItem turns a YAML document into an item of a YAML sequence.
func yamlItem(doc []byte) []byte {
	var b bytes.Buffer
	b.Grow(len(doc) + bytes.Count(doc, []byte("\n"))*2 + 2)
	for i := 0; len(doc) > 0; i++ {
		line := doc
		if n := bytes.IndexByte(doc, '\n'); n >= 0 {
			line = doc[:n+1]
		}
		doc = doc[len(line):]
		if i == 0 {
			b.WriteString("- ")
		} else {
			b.WriteString("  ")
		}
		b.Write(line)
	}
	return b.Bytes()
}
