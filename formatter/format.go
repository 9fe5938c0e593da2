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

	"google.golang.org/protobuf/proto"
	"sigs.k8s.io/yaml"

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
)

// Formats lists the formats -o accepts.
var Formats = []Format{Short, JSON, YAML}

// ParseFormat validates an -o value.
func ParseFormat(s string) (Format, error) {
	for _, f := range Formats {
		if string(f) == s {
			return f, nil
		}
	}
	return "", fmt.Errorf("unknown output format %q: use one of short, json, yaml", s)
}

// newTable returns a tab writer laid out as istioctl's tables: columns separated by at least
// padding spaces.
func newTable(w io.Writer, padding int) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 8, padding, ' ', 0)
}

// writeTable writes a header and rows (cells separated by tabs) aligned as istioctl's tables.
func writeTable(w io.Writer, padding int, header string, rows []string) error {
	t := newTable(w, padding)
	fmt.Fprintln(t, header)
	for _, r := range rows {
		fmt.Fprintln(t, r)
	}
	return t.Flush()
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
	y, err := yaml.JSONToYAML(enc.Bytes())
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
		y, err := yaml.JSONToYAML(out)
		if err != nil {
			return err
		}
		out = y
	}
	_, err := w.Write(out)
	return err
}

// Raw writes a JSON document as it is, or converted to YAML.
func Raw(w io.Writer, data []byte, f Format) error {
	if f == YAML {
		y, err := yaml.JSONToYAML(data)
		if err != nil {
			return err
		}
		_, err = w.Write(y)
		return err
	}
	if _, err := w.Write(data); err != nil {
		return err
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		_, err := w.Write([]byte{'\n'})
		return err
	}
	return nil
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
