package formatter

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/pmezard/go-difflib/difflib"

	"github.com/proxyctl/proxyctl/configdump"
	"github.com/proxyctl/proxyctl/internal/parallel"
)

// diffContext is the number of unchanged lines shown around each change, as istioctl shows.
const diffContext = 7

// exactDiffLines: below this many lines in all, the two sides are diffed whole, exactly as
// istioctl's difflib does; above, resource by resource (see sectionOpCodes), which keeps the
// diff of large dumps near-linear.
const exactDiffLines = 20000

// ProxyDiff writes how a proxy's clusters, listeners and routes differ between istiod (what it
// would send) and Envoy (what it holds): "X Match", or "X Don't Match" and a unified diff of
// the two rendered as JSON, as istioctl's proxy-status does. It reports whether anything
// differs. Times are shown in loc.
func ProxyDiff(w io.Writer, istiod, envoy *configdump.Dump, loc *time.Location) (bool, error) {
	differs := false
	for _, get := range []func(*configdump.Dump) (configdump.ComparedSection, error){
		(*configdump.Dump).DynamicClusters, (*configdump.Dump).DynamicListeners, (*configdump.Dump).DynamicRoutes,
	} {
		a, err := renderCompared(istiod, get)
		if err != nil {
			return differs, err
		}
		b, err := renderCompared(envoy, get)
		if err != nil {
			return differs, err
		}
		title := a.title
		suffix := ""
		if title == "Routes" {
			if t, ok := envoy.LastRouteUpdate(); ok {
				suffix = fmt.Sprintf(" (RDS last loaded at %s)", t.In(loc).Format(time.RFC1123))
			}
		}
		text := unifiedDiff(a, b, "Istiod "+title, "Envoy "+title)
		if text == "" {
			fmt.Fprintf(w, "%s Match%s\n", title, suffix)
			continue
		}
		differs = true
		fmt.Fprintf(w, "%s Don't Match%s\n%s\n", title, suffix, text)
	}
	return differs, nil
}

// rendered is one side of a compared section as lines (each ending with "\n"), and where each
// resource's lines are.
type rendered struct {
	title  string
	lines  []string
	blocks []block
}

type block struct {
	name       string
	start, end int
}

// renderCompared prints a section as istioctl's diff does: the section's message as indented
// JSON in jsonpb's style. A section that cannot be read is shown as its error.
func renderCompared(d *configdump.Dump, get func(*configdump.Dump) (configdump.ComparedSection, error)) (rendered, error) {
	s, err := get(d)
	r := rendered{title: s.Title}
	if err != nil {
		r.lines = splitLines(err.Error())
		return r, nil
	}
	if len(s.Entries) == 0 {
		r.lines = []string{"{\n", "\n", "}\n"}
		return r, nil
	}
	r.lines = []string{"{\n", fmt.Sprintf("    %q: [\n", s.Field)}
	err = parallel.Ordered(len(s.Entries), func(i int) (string, error) {
		enc := d.NewEncoder()
		enc.JSONPBStyle()
		enc.SetDepth(2)
		if err := enc.Message(s.Entries[i].Entry); err != nil {
			return "", fmt.Errorf("%s %s: %w", strings.ToLower(s.Title), s.Entries[i].Name, err)
		}
		return "        " + string(enc.Bytes()), nil
	}, func(text string) error {
		i := len(r.blocks)
		if i < len(s.Entries)-1 {
			text += ","
		}
		start := len(r.lines)
		r.lines = append(r.lines, splitLines(text)...)
		r.blocks = append(r.blocks, block{s.Entries[i].Name, start, len(r.lines)})
		return nil
	})
	if err != nil {
		return r, err
	}
	r.lines = append(r.lines, "    ]\n", "}\n")
	return r, nil
}

// splitLines splits text into lines that each end with "\n", as difflib.SplitLines does.
func splitLines(text string) []string {
	lines := strings.SplitAfter(text, "\n")
	if lines[len(lines)-1] == "" {
		return lines[:len(lines)-1]
	}
	lines[len(lines)-1] += "\n"
	return lines
}

// unifiedDiff returns the unified diff of two rendered sections, or "" when they are equal.
func unifiedDiff(a, b rendered, from, to string) string {
	if slices.Equal(a.lines, b.lines) {
		return ""
	}
	var codes []difflib.OpCode
	if len(a.lines)+len(b.lines) <= exactDiffLines || len(a.blocks) == 0 || len(b.blocks) == 0 {
		codes = difflib.NewMatcher(a.lines, b.lines).GetOpCodes()
	} else {
		codes = sectionOpCodes(a, b)
	}
	return writeUnified(a, b, codes, diffContext, from, to)
}

// writeUnified writes the hunks of opcodes between two texts with n lines of context, as
// difflib's unified diff does.
func writeUnified(a, b rendered, codes []difflib.OpCode, n int, from, to string) string {
	var out strings.Builder
	for i, group := range groupOpCodes(codes, n) {
		if i == 0 {
			fmt.Fprintf(&out, "--- %s\n+++ %s\n", from, to)
		}
		first, last := group[0], group[len(group)-1]
		fmt.Fprintf(&out, "@@ -%s +%s @@\n", unifiedRange(first.I1, last.I2), unifiedRange(first.J1, last.J2))
		for _, c := range group {
			if c.Tag == 'e' {
				for _, l := range a.lines[c.I1:c.I2] {
					out.WriteString(" " + l)
				}
				continue
			}
			if c.Tag == 'r' || c.Tag == 'd' {
				for _, l := range a.lines[c.I1:c.I2] {
					out.WriteString("-" + l)
				}
			}
			if c.Tag == 'r' || c.Tag == 'i' {
				for _, l := range b.lines[c.J1:c.J2] {
					out.WriteString("+" + l)
				}
			}
		}
	}
	return out.String()
}

// sectionOpCodes diffs two large sections resource by resource: resources are ordered by name
// on both sides, so they pair up in one merge; equal pairs are equal, others are diffed on
// their own lines, and unpaired ones are deleted or inserted. The cost is linear in the size
// of the sections plus difflib's on each changed resource.
func sectionOpCodes(a, b rendered) []difflib.OpCode {
	var codes []difflib.OpCode
	add := func(c difflib.OpCode) {
		if c.I1 == c.I2 && c.J1 == c.J2 {
			return
		}
		if n := len(codes); n > 0 && codes[n-1].Tag == c.Tag && codes[n-1].I2 == c.I1 && codes[n-1].J2 == c.J1 {
			codes[n-1].I2, codes[n-1].J2 = c.I2, c.J2
			return
		}
		codes = append(codes, c)
	}
	diffRange := func(i1, i2, j1, j2 int) {
		switch {
		case slices.Equal(a.lines[i1:i2], b.lines[j1:j2]):
			add(difflib.OpCode{Tag: 'e', I1: i1, I2: i2, J1: j1, J2: j2})
		case i1 == i2:
			add(difflib.OpCode{Tag: 'i', I1: i1, I2: i2, J1: j1, J2: j2})
		case j1 == j2:
			add(difflib.OpCode{Tag: 'd', I1: i1, I2: i2, J1: j1, J2: j2})
		default:
			for _, c := range difflib.NewMatcher(a.lines[i1:i2], b.lines[j1:j2]).GetOpCodes() {
				add(difflib.OpCode{Tag: c.Tag, I1: c.I1 + i1, I2: c.I2 + i1, J1: c.J1 + j1, J2: c.J2 + j1})
			}
		}
	}
	diffRange(0, a.blocks[0].start, 0, b.blocks[0].start)
	i, j := 0, 0
	for i < len(a.blocks) || j < len(b.blocks) {
		switch {
		case j == len(b.blocks) || i < len(a.blocks) && a.blocks[i].name < b.blocks[j].name:
			diffRange(a.blocks[i].start, a.blocks[i].end, b.blocks[min(j, len(b.blocks)-1)].start, b.blocks[min(j, len(b.blocks)-1)].start)
			if j == len(b.blocks) {
				codes[len(codes)-1].J1, codes[len(codes)-1].J2 = b.blocks[j-1].end, b.blocks[j-1].end
			}
			i++
		case i == len(a.blocks) || b.blocks[j].name < a.blocks[i].name:
			at := a.blocks[min(i, len(a.blocks)-1)].start
			if i == len(a.blocks) {
				at = a.blocks[i-1].end
			}
			diffRange(at, at, b.blocks[j].start, b.blocks[j].end)
			j++
		default:
			diffRange(a.blocks[i].start, a.blocks[i].end, b.blocks[j].start, b.blocks[j].end)
			i++
			j++
		}
	}
	diffRange(a.blocks[len(a.blocks)-1].end, len(a.lines), b.blocks[len(b.blocks)-1].end, len(b.lines))
	return codes
}

// groupOpCodes splits opcodes into hunks with n lines of context, as difflib does.
func groupOpCodes(codes []difflib.OpCode, n int) [][]difflib.OpCode {
	if len(codes) == 0 {
		codes = []difflib.OpCode{{Tag: 'e', I1: 0, I2: 1, J1: 0, J2: 1}}
	}
	codes = append([]difflib.OpCode(nil), codes...)
	if c := &codes[0]; c.Tag == 'e' {
		c.I1, c.J1 = max(c.I1, c.I2-n), max(c.J1, c.J2-n)
	}
	if c := &codes[len(codes)-1]; c.Tag == 'e' {
		c.I2, c.J2 = min(c.I2, c.I1+n), min(c.J2, c.J1+n)
	}
	var groups [][]difflib.OpCode
	var group []difflib.OpCode
	for _, c := range codes {
		if c.Tag == 'e' && c.I2-c.I1 > 2*n {
			group = append(group, difflib.OpCode{Tag: 'e', I1: c.I1, I2: min(c.I2, c.I1+n), J1: c.J1, J2: min(c.J2, c.J1+n)})
			groups = append(groups, group)
			group = nil
			c.I1, c.J1 = max(c.I1, c.I2-n), max(c.J1, c.J2-n)
		}
		group = append(group, c)
	}
	if len(group) > 0 && !(len(group) == 1 && group[0].Tag == 'e') {
		groups = append(groups, group)
	}
	return groups
}

// unifiedRange formats a hunk's line range as difflib does.
func unifiedRange(start, stop int) string {
	begin, length := start+1, stop-start
	if length == 1 {
		return fmt.Sprint(begin)
	}
	if length == 0 {
		begin--
	}
	return fmt.Sprintf("%d,%d", begin, length)
}
