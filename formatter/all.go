package formatter

import (
	"fmt"
	"io"
)

// AllSection writes one view of `pc all`: a blank line between views, and with headers the
// view's banner above it, as istioctl lays them out. Nothing is written when write fails
// before writing anything (a missing section); the view is written as it comes, never held
// whole in memory (a view of a 100 MB name is hundreds of MB). The writer write gets carries
// w's TableOptions.
func AllSection(w io.Writer, header string, withHeader, notFirst bool, write func(io.Writer) error) error {
	var banner string
	switch {
	case withHeader && notFirst:
		banner = fmt.Sprintf("\n------ %s ------\n\n", header)
	case withHeader:
		banner = fmt.Sprintf("------ %s ------\n\n", header)
	case notFirst:
		banner = "\n"
	}
	return write(WithTableOptions(&bannerWriter{w: w, banner: banner}, TableOptionsOf(w)))
}

// bannerWriter writes banner before the first bytes written to it.
type bannerWriter struct {
	w      io.Writer
	banner string
	wrote  bool
}

func (b *bannerWriter) Write(p []byte) (int, error) {
	if !b.wrote && len(p) > 0 {
		b.wrote = true
		if _, err := io.WriteString(b.w, b.banner); err != nil {
			return 0, err
		}
	}
	return b.w.Write(p)
}
