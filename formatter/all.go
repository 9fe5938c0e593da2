package formatter

import (
	"bytes"
	"fmt"
	"io"
)

// AllSection writes one view of `pc all`: a blank line between views, and with headers the
// view's banner above it, as istioctl lays them out. Nothing is written when write fails. The
// writer write gets carries w's TableOptions.
func AllSection(w io.Writer, header string, withHeader, notFirst bool, write func(io.Writer) error) error {
	var buf bytes.Buffer
	if err := write(WithTableOptions(&buf, TableOptionsOf(w))); err != nil {
		return err
	}
	var out bytes.Buffer
	switch {
	case withHeader && notFirst:
		fmt.Fprintf(&out, "\n------ %s ------\n\n", header)
	case withHeader:
		fmt.Fprintf(&out, "------ %s ------\n\n", header)
	case notFirst:
		out.WriteString("\n")
	}
	out.Write(buf.Bytes())
	_, err := w.Write(out.Bytes())
	return err
}
