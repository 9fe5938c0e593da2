// Package formatter writes every byte proxyctl prints: the tables of each view, laid out
// exactly as istioctl lays them out, and the JSON and YAML forms of the resources.
package formatter

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"

	"github.com/proxyctl/proxyctl/configdump"
	"github.com/proxyctl/proxyctl/internal/parallel"
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

// newTable returns a tab writer laid out as istioctl's tables: columns separated by at least
// padding spaces. Tables with a header go through writeTable, which honours TableOptions.
func newTable(w io.Writer, padding int) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 8, padding, ' ', 0)
}

// writeTable writes a header and rows (cells separated by tabs) aligned as istioctl's tables:
// byte for byte what text/tabwriter writes with newTable's settings, several times faster on
// the tables of large dumps (tens of thousands of rows).
// With TableOptions.NoHeaders (see WithTableOptions) the header is left out.
func writeTable(w io.Writer, padding int, header string, rows []string) error {
	lines := append([]string{header}, rows...)
	if TableOptionsOf(w).NoHeaders {
		lines = rows
	}
	if len(lines) == 0 {
		return nil
	}
	widths, ok := columnWidths(lines, padding)
	if !ok {
		// Lines with different numbers of cells, or text tabwriter treats specially.
		t := newTable(w, padding)
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
	y, err := jsonToYAML(enc.Bytes())
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
	out := append(enc.Bytes(), '\n')
	if f == YAML {
		y, err := jsonToYAML(out)
		if err != nil {
			return err
		}
		out = y
	}
	_, err := w.Write(out)
	return err
}

// Raw writes a JSON document as it is but for the replacements (see configdump.Redactions),
// or converted to YAML.
func Raw(w io.Writer, data []byte, replace []configdump.Replacement, f Format) error {
	if f == YAML {
		return writeYAML(w, data, replace)
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	if err := writeReplaced(bw, data, replace); err != nil {
		return err
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

func writeReplaced(w io.Writer, data []byte, replace []configdump.Replacement) error {
	at := 0
	for _, r := range replace {
		if _, err := w.Write(data[at:r.Start]); err != nil {
			return err
		}
		if _, err := io.WriteString(w, r.Text); err != nil {
			return err
		}
		at = r.End
	}
	_, err := w.Write(data[at:])
	return err
}

// yamlItem turns a YAML document into an item of a YAML sequence.
func yamlItem(doc []byte) []byte {
	var b bytes.Buffer
	for i, l := range strings.SplitAfter(string(doc), "\n") {
		if l == "" {
			continue
		}
		if i == 0 {
			b.WriteString("- ")
		} else {
			b.WriteString("  ")
		}
		b.WriteString(l)
	}
	return b.Bytes()
}
