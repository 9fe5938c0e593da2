package formatter

import (
	"bytes"
	"math/rand"
	"strings"
	"testing"
)

// TestWriteTableMatchesTabwriter: writeTable lays tables out exactly as text/tabwriter does,
// on random tables, including multi-byte text, empty cells and ragged lines.
func TestWriteTableMatchesTabwriter(t *testing.T) {
	words := []string{"", "a", "outbound|9080||reviews.default.svc.cluster.local", "HEALTHY", "-", "10.0.0.1:9080", "é", "日本語", "x y", "  "}
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 2000; i++ {
		cols := 1 + rng.Intn(6)
		var lines []string
		for n := rng.Intn(8); n >= 0; n-- {
			c := cols
			if rng.Intn(10) == 0 {
				c = 1 + rng.Intn(6) // a ragged line: the fallback must handle it
			}
			cells := make([]string, c)
			for j := range cells {
				cells[j] = words[rng.Intn(len(words))]
			}
			lines = append(lines, strings.Join(cells, "\t"))
		}
		padding := 1 + rng.Intn(5)
		var got, want bytes.Buffer
		if err := writeTable(&got, padding, lines[0], lines[1:]); err != nil {
			t.Fatal(err)
		}
		tw := newTable(&want, padding)
		for _, l := range lines {
			tw.Write([]byte(l + "\n"))
		}
		tw.Flush()
		if got.String() != want.String() {
			t.Fatalf("padding %d, lines %q:\n got %q\nwant %q", padding, lines, got.String(), want.String())
		}
	}
}
