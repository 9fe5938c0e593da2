package formatter

import (
	"bytes"
	"math/rand"
	"strings"
	"testing"
	"unicode/utf8"
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

// TestTablesEscape: whatever a cell holds, a table has one line per row, the columns of its
// header, and no character a terminal acts on.
func TestTablesEscape(t *testing.T) {
	cells := []string{"plain", "a\r\nforged\trow", "\x1b[31mred", "tab\there", "\u202eevil", "bad\xffutf8", "nel\u0085"}
	var rows []string
	for i := range cells {
		rows = append(rows, row(cells[i], cells[(i+1)%len(cells)], "x"))
	}
	rows = append(rows, "raw\r\nrow\x1b[2J\tb\tc") // a row made without row(): the writer escapes it
	var tw, tt bytes.Buffer
	if err := writeTable(&tw, 3, "A\tB\tC", rows); err != nil {
		t.Fatal(err)
	}
	tab := newTable(&tt, 3)
	tab.Write([]byte("A\tB\tC\n"))
	for i := range cells {
		tab.Row(cells[i], cells[(i+1)%len(cells)], "x")
	}
	tab.Write([]byte("raw\rrow\x1b[2J\tb\tc\n"))
	tab.Flush()
	for name, out := range map[string]string{"writeTable": tw.String(), "newTable": tt.String()} {
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		if len(lines) != len(rows)+1 {
			t.Errorf("%s: %d lines for %d rows:\n%s", name, len(lines), len(rows), out)
		}
		for _, r := range out {
			if r < 0x20 && r != '\n' || r == 0x7f || r >= 0x80 && r <= 0x9f || r == 0x202e || r == utf8.RuneError {
				t.Errorf("%s: raw %U in\n%s", name, r, out)
			}
		}
		if !strings.Contains(out, `a\x0d\x0aforged\x09row`) {
			t.Errorf("%s: the cell is not shown escaped:\n%s", name, out)
		}
	}
}
