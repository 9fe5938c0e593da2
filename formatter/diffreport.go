package formatter

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/pmezard/go-difflib/difflib"
	yamlv2 "go.yaml.in/yaml/v2"

	"github.com/proxyctl/proxyctl/internal/diff"
)

// DiffFormat is an output format of pc diff: Short, JSON, YAML, or DiffOnly (the unified diffs
// alone).
const DiffOnly Format = "diff"

// DiffContext is the number of unchanged lines around each change of pc diff's unified diffs,
// as diff -u shows.
const DiffContext = 3

// maxFieldsShown is how many field paths a row of the summary table lists.
const maxFieldsShown = 3

// maxValueShown bounds a value printed on one line (in runes).
const maxValueShown = 120

// DiffSides name the two sides of a comparison in headers ("file a.json", "pod web-1 in
// namespace shop").
type DiffSides struct {
	From, To string
}

// DiffTable writes the summary table of a comparison: TYPE, NAME, CHANGE, FIELDS (the first
// changed field paths), one row per resource that differs; or one line saying that nothing
// does.
func DiffTable(w io.Writer, r *diff.Result) error {
	if r.Same() {
		_, err := fmt.Fprintf(w, "No differences (%s compared).\n", comparedSummary(r))
		return err
	}
	rows := make([]string, 0, len(r.Resources))
	for _, res := range r.Resources {
		fields := ""
		if res.Change == diff.Changed {
			var paths []string
			for i, f := range res.Fields {
				if i == maxFieldsShown {
					paths = append(paths, fmt.Sprintf("(+%d more)", len(res.Fields)-maxFieldsShown))
					break
				}
				paths = append(paths, oneLineText(f.Path))
			}
			fields = strings.Join(paths, ", ")
		}
		rows = append(rows, strings.Join([]string{string(res.Kind), oneLineText(res.Name), string(res.Change), fields}, "\t"))
	}
	return writeTable(w, 3, "TYPE\tNAME\tCHANGE\tFIELDS", rows)
}

// comparedSummary is "1 bootstrap, 10 clusters, ..." of what was compared.
func comparedSummary(r *diff.Result) string {
	var parts []string
	for _, k := range diff.Kinds {
		n, ok := r.Compared[k]
		if !ok {
			continue
		}
		name := string(k)
		if n != 1 && k != diff.Bootstrap {
			name += "s"
		}
		parts = append(parts, fmt.Sprintf("%d %s", n, name))
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, ", ")
}

// DiffDetails writes, for each resource that differs, its changed fields with their old and
// new values (changed ones only), then a unified diff of the resource as YAML (fields sorted).
// Resources need their documents (diff.Options.Documents).
func DiffDetails(w io.Writer, r *diff.Result, sides DiffSides, withFields bool) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	for _, res := range r.Resources {
		if withFields {
			bw.WriteByte('\n')
			fmt.Fprintf(bw, "%s %s: %s\n", res.Kind, oneLineText(res.Name), res.Change)
			for _, f := range res.Fields {
				fmt.Fprintf(bw, "  %s: %s\n", oneLineText(f.Path), changeText(f))
			}
		}
		text, err := unifiedResourceDiff(res, sides)
		if err != nil {
			return err
		}
		bw.WriteString(text)
	}
	return bw.Flush()
}

// changeText is "OLD -> NEW", "added: NEW" or "removed: OLD".
func changeText(f diff.FieldChange) string {
	switch {
	case !f.HasOld:
		return "added " + valueText(f.New)
	case !f.HasNew:
		return "removed " + valueText(f.Old)
	}
	return valueText(f.Old) + " -> " + valueText(f.New)
}

// valueText prints a value on one line, as JSON, shortened when long.
func valueText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	s := string(b)
	if utf8.RuneCountInString(s) > maxValueShown {
		r := []rune(s)
		s = string(r[:maxValueShown]) + fmt.Sprintf("... (%d bytes)", len(b))
	}
	return s
}

// oneLineText makes a name from a dump safe to print in a table: control characters (a tab,
// a newline, an escape sequence) are shown escaped, never printed.
func oneLineText(s string) string {
	for _, r := range s {
		if unicode.IsControl(r) || r == utf8.RuneError {
			q := strconv.Quote(s)
			return q[1 : len(q)-1]
		}
	}
	return s
}

// unifiedResourceDiff is the unified diff of a resource's YAML on the two sides.
func unifiedResourceDiff(res diff.Resource, sides DiffSides) (string, error) {
	a, err := resourceYAML(res.Old)
	if err != nil {
		return "", err
	}
	b, err := resourceYAML(res.New)
	if err != nil {
		return "", err
	}
	title := string(res.Kind) + " " + oneLineText(res.Name)
	return unifiedLines(a, b, title+" ("+oneLineText(sides.From)+")", title+" ("+oneLineText(sides.To)+")", DiffContext), nil
}

// unifiedLines is the unified diff of two texts (lines ending with "\n"), as difflib writes
// it. The lines the two share at their start and end are matched without difflib, which then
// only sees what lies between: a change in a resource of a hundred thousand lines costs
// little more than reading them.
func unifiedLines(a, b []string, from, to string, context int) string {
	if slices.Equal(a, b) {
		return ""
	}
	pre := 0
	for pre < len(a) && pre < len(b) && a[pre] == b[pre] {
		pre++
	}
	suf := 0
	for suf < len(a)-pre && suf < len(b)-pre && a[len(a)-1-suf] == b[len(b)-1-suf] {
		suf++
	}
	var codes []difflib.OpCode
	if pre > 0 {
		codes = append(codes, difflib.OpCode{Tag: 'e', I1: 0, I2: pre, J1: 0, J2: pre})
	}
	ma, mb := a[pre:len(a)-suf], b[pre:len(b)-suf]
	switch {
	case len(ma) == 0:
		codes = append(codes, difflib.OpCode{Tag: 'i', I1: pre, I2: pre, J1: pre, J2: pre + len(mb)})
	case len(mb) == 0:
		codes = append(codes, difflib.OpCode{Tag: 'd', I1: pre, I2: pre + len(ma), J1: pre, J2: pre})
	default:
		for _, c := range difflib.NewMatcher(ma, mb).GetOpCodes() {
			codes = append(codes, difflib.OpCode{Tag: c.Tag, I1: c.I1 + pre, I2: c.I2 + pre, J1: c.J1 + pre, J2: c.J2 + pre})
		}
	}
	if suf > 0 {
		codes = append(codes, difflib.OpCode{Tag: 'e', I1: len(a) - suf, I2: len(a), J1: len(b) - suf, J2: len(b)})
	}
	return writeUnifiedLines(a, b, codes, context, from, to)
}

// resourceYAML prints a canonical resource as YAML lines, keys sorted; nothing for none.
func resourceYAML(doc any) ([]string, error) {
	if doc == nil {
		return nil, nil
	}
	out, err := yamlv2.Marshal(doc)
	if err != nil {
		return nil, err
	}
	return difflib.SplitLines(strings.TrimSuffix(string(out), "\n")), nil
}

// DiffNames are -o name's lines of a comparison: KIND/NAME of each resource that differs.
func DiffNames(r *diff.Result) []string {
	out := make([]string, len(r.Resources))
	for i, res := range r.Resources {
		out[i] = ResourceName(string(res.Kind), oneLineText(res.Name))
	}
	return out
}

// DiffUnified writes only the unified diffs of the resources that differ (-o diff): nothing
// when the two sides are the same.
func DiffUnified(w io.Writer, r *diff.Result, sides DiffSides) error {
	return DiffDetails(w, r, sides, false)
}

// DiffReport is the structured report of pc diff -o json|yaml (docs/diff-report.md).
type DiffReport struct {
	From       string         `json:"from"`
	To         string         `json:"to"`
	Same       bool           `json:"same"`
	Normalised bool           `json:"identityNormalised"`
	Summary    DiffSummary    `json:"summary"`
	Compared   map[string]int `json:"compared"`
	Resources  []DiffResource `json:"resources"`
	Notes      []DiffNote     `json:"notes,omitempty"`
}

// DiffSummary counts the resources that differ.
type DiffSummary struct {
	Added   int `json:"added"`
	Removed int `json:"removed"`
	Changed int `json:"changed"`
}

// DiffResource is one resource that differs.
type DiffResource struct {
	Type   string      `json:"type"`
	Name   string      `json:"name"`
	Change string      `json:"change"`
	Fields []DiffField `json:"fields,omitempty"`
}

// DiffField is one changed field; "old" or "new" is left out where the field is absent.
type DiffField struct {
	Path           string
	Old, New       any
	HasOld, HasNew bool
}

// MarshalJSON writes "old" and "new" whenever the field has a value there, even a null one.
func (f DiffField) MarshalJSON() ([]byte, error) {
	return json.Marshal(f.fields())
}

func (f DiffField) fields() any {
	type withBoth struct {
		Path string `json:"path"`
		Old  any    `json:"old"`
		New  any    `json:"new"`
	}
	type withOld struct {
		Path string `json:"path"`
		Old  any    `json:"old"`
	}
	type withNew struct {
		Path string `json:"path"`
		New  any    `json:"new"`
	}
	switch {
	case f.HasOld && f.HasNew:
		return withBoth{f.Path, f.Old, f.New}
	case f.HasOld:
		return withOld{f.Path, f.Old}
	}
	return withNew{f.Path, f.New}
}

// DiffNote is a kind of resource not compared, and why.
type DiffNote struct {
	Type string `json:"type"`
	Note string `json:"note"`
}

// NewDiffReport builds the structured report of a comparison.
func NewDiffReport(r *diff.Result, sides DiffSides) DiffReport {
	rep := DiffReport{From: sides.From, To: sides.To, Same: r.Same(), Normalised: r.Normalised, Compared: map[string]int{}, Resources: []DiffResource{}}
	for k, n := range r.Compared {
		rep.Compared[string(k)] = n
	}
	for _, res := range r.Resources {
		dr := DiffResource{Type: string(res.Kind), Name: res.Name, Change: string(res.Change)}
		switch res.Change {
		case diff.Added:
			rep.Summary.Added++
		case diff.Removed:
			rep.Summary.Removed++
		default:
			rep.Summary.Changed++
		}
		for _, f := range res.Fields {
			dr.Fields = append(dr.Fields, DiffField{f.Path, f.Old, f.New, f.HasOld, f.HasNew})
		}
		rep.Resources = append(rep.Resources, dr)
	}
	for _, n := range r.Notes {
		rep.Notes = append(rep.Notes, DiffNote{string(n.Kind), n.Text})
	}
	return rep
}

// ReplicaGroup is replicas with the same configuration; Diff is the group against the
// reference group (nil for the reference itself).
type ReplicaGroup struct {
	Pods []string
	Diff *diff.Result
}

// ReplicaFailure is a pod that could not be read.
type ReplicaFailure struct {
	Pod   string `json:"pod"`
	Error string `json:"error"`
}

// ReplicaReport is the structured report of pc diff over a workload's replicas.
type ReplicaReport struct {
	Target string              `json:"target"`
	Same   bool                `json:"same"`
	Groups []ReplicaGroupEntry `json:"groups"`
	Failed []ReplicaFailure    `json:"failed,omitempty"`
}

// ReplicaGroupEntry is one group of the report: the reference, or a group and its diff.
type ReplicaGroupEntry struct {
	Pods      []string    `json:"pods"`
	Reference bool        `json:"reference,omitempty"`
	Diff      *DiffReport `json:"diff,omitempty"`
}

// NewReplicaReport builds the structured report of the replicas of target; groups[0] is the
// reference.
func NewReplicaReport(target string, groups []ReplicaGroup, failed []ReplicaFailure) ReplicaReport {
	rep := ReplicaReport{Target: target, Same: len(groups) <= 1, Groups: []ReplicaGroupEntry{}, Failed: failed}
	for i, g := range groups {
		e := ReplicaGroupEntry{Pods: g.Pods, Reference: i == 0}
		if i > 0 && g.Diff != nil {
			d := NewDiffReport(g.Diff, DiffSides{From: groups[0].Pods[0], To: g.Pods[0]})
			e.Diff = &d
		}
		rep.Groups = append(rep.Groups, e)
	}
	return rep
}

// WriteStructured writes a report (DiffReport, ReplicaReport, an explanation) as indented JSON,
// or YAML.
func WriteStructured(w io.Writer, report any, f Format) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(report); err != nil {
		return err
	}
	return writeJSONOrYAML(w, buf.Bytes(), f)
}

// writeJSONOrYAML writes a JSON document as it is, or converted to YAML.
func writeJSONOrYAML(w io.Writer, out []byte, f Format) error {
	if f == YAML {
		y, err := yamlConvert(out)
		if err != nil {
			return err
		}
		out = y
	}
	_, err := w.Write(out)
	return err
}

// ReplicaTable writes the groups of replicas: GROUP, PODS (how many), MEMBERS; the first is
// the reference the others are compared with.
func ReplicaTable(w io.Writer, groups []ReplicaGroup) error {
	rows := make([]string, len(groups))
	for i, g := range groups {
		members := make([]string, len(g.Pods))
		for j, p := range g.Pods {
			members[j] = oneLineText(p)
		}
		ref := ""
		if i == 0 {
			ref = " (reference)"
		}
		rows[i] = fmt.Sprintf("%d\t%d\t%s%s", i+1, len(g.Pods), strings.Join(members, ", "), ref)
	}
	return writeTable(w, 3, "GROUP\tPODS\tMEMBERS", rows)
}

// ReplicaGroupHeader introduces the comparison of a group with the reference.
func ReplicaGroupHeader(w io.Writer, group int, groups []ReplicaGroup) error {
	_, err := fmt.Fprintf(w, "\nGroup %d (%s) against group 1 (%s):\n", group+1,
		oneLineText(strings.Join(groups[group].Pods, ", ")), oneLineText(groups[0].Pods[0]))
	return err
}
