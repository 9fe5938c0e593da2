package formatter

import (
	"fmt"
	"hash/maphash"
	"io"
	"slices"
	"sort"
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
var exactDiffLines = 20000 // a variable for the tests

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
		text, err := unifiedDiff(&a, &b, "Istiod "+title, "Envoy "+title)
		if err != nil {
			return differs, err
		}
		if text == "" {
			fmt.Fprintf(w, "%s Match%s\n", title, suffix)
			continue
		}
		differs = true
		fmt.Fprintf(w, "%s Don't Match%s\n%s\n", title, suffix, text)
	}
	return differs, nil
}

// rendered is one side of a compared section: its lines (each ending with "\n") when it is
// small or an error, or else what is needed to diff it resource by resource without holding
// its text: the lines around the resources, and per resource its name, its lines' place and a
// sum of its text, its text rendered again when a diff shows it.
type rendered struct {
	title string
	// lines are all the lines, when kept (see exactDiffLines).
	lines []string
	// head and tail are the lines before and after the resources' blocks, n the count of
	// all lines.
	head, tail []string
	blocks     []block
	n          int
	// render returns block i's lines.
	render func(i int) ([]string, error)
	cache  map[int][]string
}

type block struct {
	name       string
	start, end int
	sum        textSum
}

// textSum identifies a block's text: its length and two 64-bit hashes with different seeds.
type textSum struct {
	n    int
	h, k uint64
}

var sumSeeds = [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}

func sumText(text string) textSum {
	return textSum{len(text), maphash.String(sumSeeds[0], text), maphash.String(sumSeeds[1], text)}
}

// lineCount is how many lines splitLines makes of text.
func lineCount(text string) int {
	n := strings.Count(text, "\n")
	if !strings.HasSuffix(text, "\n") {
		n++
	}
	return n
}

// releaseEvery: rendering drops the pages of a section's bytes from memory every so many bytes
// of resources rendered (they are read again if needed): resources are rendered in the order
// of their names, which is not the document's, and the kernel maps 64 kB of a file around each
// page a read faults in, so every resource rendered brings back that much: 8 MB between
// releases let whole sections come back (ps POD --file on 50 MB: 169 MB peak RSS, 1 MB 136-149
// MB, at the same CPU time).
const releaseEvery = 1 << 20

// renderCompared prints a section as istioctl's diff does: the section's message as indented
// JSON in jsonpb's style. A section that cannot be read is shown as its error.
func renderCompared(d *configdump.Dump, get func(*configdump.Dump) (configdump.ComparedSection, error)) (rendered, error) {
	s, err := get(d)
	r := rendered{title: s.Title}
	if err != nil {
		r.lines = splitLines(err.Error())
		r.n = len(r.lines)
		return r, nil
	}
	if len(s.Entries) == 0 {
		r.lines = []string{"{\n", "\n", "}\n"}
		r.n = len(r.lines)
		return r, nil
	}
	release := func() {
		for _, b := range d.SectionData(s.Section) {
			d.Release(b)
		}
	}
	release() // read for the resources' names: read again, in another order, to render them
	r.head = []string{"{\n", fmt.Sprintf("    %q: [\n", s.Field)}
	r.tail = []string{"    ]\n", "}\n"}
	r.render = func(i int) ([]string, error) {
		text, err := renderEntry(d, s, i)
		if err != nil {
			return nil, err
		}
		return splitLines(text), nil
	}
	// The text of the resources is kept only while the section is small enough to be diffed
	// whole; the rest is summed.
	var kept []string
	keep := true
	line, rendered := len(r.head), 0
	err = parallel.Ordered(len(s.Entries), func(i int) (string, error) { return renderEntry(d, s, i) }, func(text string) error {
		i := len(r.blocks)
		n := lineCount(text)
		// The name is copied: it points into the document, whose pages are given back.
		r.blocks = append(r.blocks, block{strings.Clone(s.Entries[i].Name), line, line + n, sumText(text)})
		line += n
		if keep = keep && line <= exactDiffLines; keep {
			kept = append(kept, splitLines(text)...)
		} else {
			kept = nil
		}
		if rendered += len(text); rendered >= releaseEvery {
			release()
			rendered = 0
		}
		return nil
	})
	if err != nil {
		return r, err
	}
	r.n = line + len(r.tail)
	if keep {
		r.lines = append(append(append([]string(nil), r.head...), kept...), r.tail...)
	}
	return r, nil
}

// renderEntry renders entry i of a section, followed by a comma unless it is the last.
func renderEntry(d *configdump.Dump, s configdump.ComparedSection, i int) (string, error) {
	enc := d.NewEncoder()
	enc.JSONPBStyle()
	enc.SetDepth(2)
	if err := enc.Message(s.Entries[i].Entry); err != nil {
		return "", fmt.Errorf("%s %s: %w", strings.ToLower(s.Title), s.Entries[i].Name, err)
	}
	text := "        " + string(enc.Bytes())
	if i < len(s.Entries)-1 {
		text += ","
	}
	return text, nil
}

// line returns line i of the section, rendering its block again if it is not kept.
func (r *rendered) line(i int) (string, error) {
	if r.lines != nil {
		return r.lines[i], nil
	}
	if i < len(r.head) {
		return r.head[i], nil
	}
	if i >= r.n-len(r.tail) {
		return r.tail[i-(r.n-len(r.tail))], nil
	}
	b := sort.Search(len(r.blocks), func(b int) bool { return r.blocks[b].end > i })
	lines, err := r.blockLines(b)
	if err != nil {
		return "", err
	}
	return lines[i-r.blocks[b].start], nil
}

// blockLines returns block b's lines, from a small cache: a diff shows a few blocks at a time.
func (r *rendered) blockLines(b int) ([]string, error) {
	if r.lines != nil {
		return r.lines[r.blocks[b].start:r.blocks[b].end], nil
	}
	if lines, ok := r.cache[b]; ok {
		return lines, nil
	}
	lines, err := r.render(b)
	if err != nil {
		return nil, err
	}
	if len(lines) != r.blocks[b].end-r.blocks[b].start {
		return nil, fmt.Errorf("%s: %s rendered differently the second time", strings.ToLower(r.title), r.blocks[b].name)
	}
	if r.cache == nil || len(r.cache) >= 8 {
		r.cache = map[int][]string{}
	}
	r.cache[b] = lines
	return lines, nil
}

// lineRange returns lines [i, j) of the section.
func (r *rendered) lineRange(i, j int) ([]string, error) {
	if r.lines != nil {
		return r.lines[i:j], nil
	}
	out := make([]string, 0, j-i)
	for k := i; k < j; k++ {
		l, err := r.line(k)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, nil
}

// equal reports whether two rendered sections have the same lines.
func (r *rendered) equal(o *rendered) bool {
	if r.lines != nil && o.lines != nil {
		return slices.Equal(r.lines, o.lines)
	}
	if r.blocks == nil || o.blocks == nil || r.n != o.n || !slices.Equal(r.head, o.head) || !slices.Equal(r.tail, o.tail) || len(r.blocks) != len(o.blocks) {
		return false
	}
	for i := range r.blocks {
		if r.blocks[i].sum != o.blocks[i].sum || r.blocks[i].end != o.blocks[i].end {
			return false
		}
	}
	return true
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
func unifiedDiff(a, b *rendered, from, to string) (string, error) {
	if a.equal(b) {
		return "", nil
	}
	var codes []difflib.OpCode
	if a.lines != nil && b.lines != nil && len(a.lines)+len(b.lines) <= exactDiffLines || len(a.blocks) == 0 || len(b.blocks) == 0 {
		al, err := a.lineRange(0, a.n)
		if err != nil {
			return "", err
		}
		bl, err := b.lineRange(0, b.n)
		if err != nil {
			return "", err
		}
		codes = difflib.NewMatcher(al, bl).GetOpCodes()
	} else {
		var err error
		if codes, err = sectionOpCodes(a, b); err != nil {
			return "", err
		}
	}
	return writeUnified(a, b, codes, diffContext, from, to)
}

// writeUnifiedLines is writeUnified for two texts given as lines.
func writeUnifiedLines(a, b []string, codes []difflib.OpCode, n int, from, to string) string {
	text, _ := writeUnified(&rendered{lines: a, n: len(a)}, &rendered{lines: b, n: len(b)}, codes, n, from, to)
	return text // lines in memory: nothing to render, so no error
}

// writeUnified writes the hunks of opcodes between two texts with n lines of context, as
// difflib's unified diff does.
func writeUnified(a, b *rendered, codes []difflib.OpCode, n int, from, to string) (string, error) {
	var out strings.Builder
	write := func(r *rendered, prefix string, i, j int) error {
		lines, err := r.lineRange(i, j)
		for _, l := range lines {
			out.WriteString(prefix + l)
		}
		return err
	}
	for i, group := range groupOpCodes(codes, n) {
		if i == 0 {
			fmt.Fprintf(&out, "--- %s\n+++ %s\n", from, to)
		}
		first, last := group[0], group[len(group)-1]
		fmt.Fprintf(&out, "@@ -%s +%s @@\n", unifiedRange(first.I1, last.I2), unifiedRange(first.J1, last.J2))
		for _, c := range group {
			var err error
			switch c.Tag {
			case 'e':
				err = write(a, " ", c.I1, c.I2)
			case 'd':
				err = write(a, "-", c.I1, c.I2)
			case 'i':
				err = write(b, "+", c.J1, c.J2)
			case 'r':
				if err = write(a, "-", c.I1, c.I2); err == nil {
					err = write(b, "+", c.J1, c.J2)
				}
			}
			if err != nil {
				return "", err
			}
		}
	}
	return out.String(), nil
}

// sectionOpCodes diffs two large sections resource by resource: resources are ordered by name
// on both sides, so they pair up in one merge; pairs with the same text are equal, others are
// diffed on their own lines, and unpaired ones are deleted or inserted. The cost is linear in
// the size of the sections plus difflib's on each changed resource.
func sectionOpCodes(a, b *rendered) ([]difflib.OpCode, error) {
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
	diffLines := func(al, bl []string, i1, j1 int) {
		for _, c := range difflib.NewMatcher(al, bl).GetOpCodes() {
			add(difflib.OpCode{Tag: c.Tag, I1: c.I1 + i1, I2: c.I2 + i1, J1: c.J1 + j1, J2: c.J2 + j1})
		}
	}
	// diffRange diffs lines [i1, i2) of a with [j1, j2) of b: blocks ia and jb when they are
	// whole blocks (-1 otherwise).
	diffRange := func(i1, i2, j1, j2, ia, jb int) error {
		switch {
		case i1 == i2 && j1 == j2:
			return nil
		case i1 == i2:
			add(difflib.OpCode{Tag: 'i', I1: i1, I2: i2, J1: j1, J2: j2})
		case j1 == j2:
			add(difflib.OpCode{Tag: 'd', I1: i1, I2: i2, J1: j1, J2: j2})
		case ia >= 0 && jb >= 0 && a.blocks[ia].sum == b.blocks[jb].sum && i2-i1 == j2-j1:
			add(difflib.OpCode{Tag: 'e', I1: i1, I2: i2, J1: j1, J2: j2})
		default:
			al, err := a.lineRange(i1, i2)
			if err != nil {
				return err
			}
			bl, err := b.lineRange(j1, j2)
			if err != nil {
				return err
			}
			if slices.Equal(al, bl) {
				add(difflib.OpCode{Tag: 'e', I1: i1, I2: i2, J1: j1, J2: j2})
				return nil
			}
			diffLines(al, bl, i1, j1)
		}
		return nil
	}
	if err := diffRange(0, a.blocks[0].start, 0, b.blocks[0].start, -1, -1); err != nil {
		return nil, err
	}
	i, j := 0, 0
	for i < len(a.blocks) || j < len(b.blocks) {
		var err error
		switch {
		case j == len(b.blocks) || i < len(a.blocks) && a.blocks[i].name < b.blocks[j].name:
			at := b.blocks[min(j, len(b.blocks)-1)].start
			if j == len(b.blocks) {
				at = b.blocks[j-1].end
			}
			err = diffRange(a.blocks[i].start, a.blocks[i].end, at, at, i, -1)
			i++
		case i == len(a.blocks) || b.blocks[j].name < a.blocks[i].name:
			at := a.blocks[min(i, len(a.blocks)-1)].start
			if i == len(a.blocks) {
				at = a.blocks[i-1].end
			}
			err = diffRange(at, at, b.blocks[j].start, b.blocks[j].end, -1, j)
			j++
		default:
			err = diffRange(a.blocks[i].start, a.blocks[i].end, b.blocks[j].start, b.blocks[j].end, i, j)
			i++
			j++
		}
		if err != nil {
			return nil, err
		}
	}
	if err := diffRange(a.blocks[len(a.blocks)-1].end, a.n, b.blocks[len(b.blocks)-1].end, b.n, -1, -1); err != nil {
		return nil, err
	}
	return codes, nil
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
