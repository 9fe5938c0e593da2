package formatter

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// CaptureRow is one proxy of the summary `proxyctl capture` prints.
type CaptureRow struct {
	Proxy string
	// Status is ok, partial or failed.
	Status string
	// Documents is how many documents were archived, of Total fetched.
	Documents, Total int
	// Size is the bytes archived for the proxy (before compression).
	Size  int64
	Envoy string
	// Missing lists the documents not archived and why: "memory (404)", "stats (error)".
	Missing []string
}

// CaptureSummary writes the table of the proxies captured, then where the bundle is.
func CaptureSummary(w io.Writer, rows []CaptureRow, bundle string, bundleSize int64) error {
	t := newTable(w, 3)
	fmt.Fprintln(t, "PROXY\tSTATUS\tDOCUMENTS\tSIZE\tENVOY\tMISSING")
	failed := 0
	for _, r := range rows {
		if r.Status == "failed" {
			failed++
		}
		missing := "-"
		if len(r.Missing) > 0 {
			missing = strings.Join(r.Missing, ", ")
		}
		envoy := r.Envoy
		if envoy == "" {
			envoy = "-"
		}
		fmt.Fprintf(t, "%s\t%s\t%d/%d\t%s\t%s\t%s\n", Printable(r.Proxy), r.Status, r.Documents, r.Total, Size(r.Size), Printable(envoy), Printable(missing))
	}
	if err := t.Flush(); err != nil {
		return err
	}
	what := fmt.Sprintf("%d proxies", len(rows))
	if len(rows) == 1 {
		what = "1 proxy"
	}
	if failed > 0 {
		what += fmt.Sprintf(", %d failed", failed)
	}
	_, err := fmt.Fprintf(w, "\nWrote %s (%s, %s)\n", Printable(bundle), what, Size(bundleSize))
	return err
}

// CaptureProgress is where a capture stands.
type CaptureProgress struct {
	Done, Failed, Total int
	// Bytes are the bytes archived so far.
	Bytes int64
}

// WriteCaptureProgress redraws the progress line of a capture on a terminal width columns
// wide: a carriage return, then the line, padded to erase the previous one.
func WriteCaptureProgress(w io.Writer, p CaptureProgress, width int) error {
	width = max(width, 40) - 1 // never the last column: some terminals wrap there
	text := fmt.Sprintf("capturing %d/%d proxies", p.Done, p.Total)
	tail := " " + Size(p.Bytes)
	if p.Failed > 0 {
		tail = fmt.Sprintf(" %d failed,%s", p.Failed, tail)
	}
	bar := width - len(text) - len(tail) - 3
	if bar >= 10 {
		bar = min(bar, 40)
		filled := bar * p.Done / max(p.Total, 1)
		text += " [" + strings.Repeat("=", filled) + strings.Repeat(" ", bar-filled) + "]"
	}
	text += tail
	if len(text) > width {
		text = text[:width]
	}
	_, err := fmt.Fprintf(w, "\r%-*s", width, text)
	return err
}

// ClearCaptureProgress erases the progress line.
func ClearCaptureProgress(w io.Writer, width int) error {
	width = max(width, 40) - 1
	_, err := fmt.Fprintf(w, "\r%s\r", strings.Repeat(" ", width))
	return err
}

// Size writes a byte count as people read it: 0B, 812B, 12.4kB, 3.1MB, 1.2GB (powers of 1000,
// as the rest of proxyctl's figures).
func Size(n int64) string {
	switch {
	case n < 1000:
		return strconv.FormatInt(n, 10) + "B"
	case n < 1e6:
		return strconv.FormatFloat(float64(n)/1e3, 'f', 1, 64) + "kB"
	case n < 1e9:
		return strconv.FormatFloat(float64(n)/1e6, 'f', 1, 64) + "MB"
	}
	return strconv.FormatFloat(float64(n)/1e9, 'f', 1, 64) + "GB"
}

// Printable escapes the control characters of text from a proxy or a file (an error a server
// wrote, say), so that it cannot move the cursor or forge a line of a terminal.
func Printable(s string) string {
	clean := true
	for _, c := range s {
		if c < ' ' || c == 0x7f || c >= 0x80 && c < 0xa0 {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for _, c := range s {
		if c < ' ' || c == 0x7f || c >= 0x80 && c < 0xa0 {
			q := strconv.QuoteRune(c)
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}
