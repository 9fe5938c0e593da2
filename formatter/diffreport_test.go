package formatter

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/pmezard/go-difflib/difflib"
)

// TestUnifiedLines checks the unified diffs written after trimming the shared start and end:
// on texts of distinct lines, exactly what difflib writes of the whole texts; on texts with
// repeated lines (where several diffs are right), a patch that turns the first into the second.
func TestUnifiedLines(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	text := func(n int, repeated bool) []string {
		var out []string
		for i := 0; i < n; i++ {
			if repeated {
				out = append(out, fmt.Sprintf("line %d\n", r.IntN(3)))
			} else {
				out = append(out, fmt.Sprintf("line %d\n", i))
			}
		}
		return out
	}
	for i := 0; i < 600; i++ {
		repeated := i%2 == 1
		a := text(r.IntN(40), repeated)
		b := append([]string(nil), a...)
		for k := r.IntN(4); k >= 0; k-- {
			switch op := r.IntN(3); {
			case op == 0 && len(b) > 0:
				j := r.IntN(len(b))
				b = append(b[:j], b[j+1:]...)
			case op == 1:
				j := r.IntN(len(b) + 1)
				b = append(b[:j], append([]string{fmt.Sprintf("new %d\n", r.IntN(1000))}, b[j:]...)...)
			case len(b) > 0:
				b[r.IntN(len(b))] = "changed\n"
			}
		}
		want, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{A: a, B: b, FromFile: "a", ToFile: "b", Context: 3})
		if err != nil {
			t.Fatal(err)
		}
		got := unifiedLines(a, b, "a", "b", 3)
		if !repeated && got != want {
			t.Fatalf("case %d: got\n%s\nwant\n%s\na:\n%s\nb:\n%s", i, got, want, strings.Join(a, ""), strings.Join(b, ""))
		}
		if patched, err := applyUnified(a, got); err != nil || strings.Join(patched, "") != strings.Join(b, "") {
			t.Fatalf("case %d: the diff does not turn a into b (%v):\n%s\na:\n%s\nb:\n%s", i, err, got, strings.Join(a, ""), strings.Join(b, ""))
		}
	}
}

// applyUnified applies a unified diff to a.
func applyUnified(a []string, diff string) ([]string, error) {
	var out []string
	at := 0 // next line of a to copy
	lines := difflib.SplitLines(diff)
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		switch {
		case strings.HasPrefix(l, "--- ") || strings.HasPrefix(l, "+++ ") || l == "\n":
		case strings.HasPrefix(l, "@@ -"):
			var start int
			if _, err := fmt.Sscanf(l, "@@ -%d", &start); err != nil {
				return nil, err
			}
			if strings.HasPrefix(l, "@@ -"+fmt.Sprint(start)+",0 ") {
				start++ // an empty range names the line before
			}
			for ; at < start-1; at++ {
				out = append(out, a[at])
			}
		case l[0] == ' ':
			if at >= len(a) || a[at] != l[1:] {
				return nil, fmt.Errorf("context %q does not match line %d", l, at+1)
			}
			out = append(out, a[at])
			at++
		case l[0] == '-':
			if at >= len(a) || a[at] != l[1:] {
				return nil, fmt.Errorf("removed %q does not match line %d", l, at+1)
			}
			at++
		case l[0] == '+':
			out = append(out, l[1:])
		default:
			return nil, fmt.Errorf("unexpected line %q", l)
		}
	}
	return append(out, a[at:]...), nil
}
