package safetext

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestEscape(t *testing.T) {
	cases := []struct{ in, want, cells, lines string }{
		{"plain text", "plain text", "plain text", "plain text"},
		{"outbound|9080||reviews.default.svc.cluster.local", "outbound|9080||reviews.default.svc.cluster.local", "", ""},
		{"日本語 é", "日本語 é", "", ""},
		{"a\r\nb", `a\x0d\x0ab`, `a\x0d\x0ab`, "a\\x0d\nb"},
		{"\x1b[2J\x1b]0;owned\a", `\x1b[2J\x1b]0;owned\x07`, "", ""},
		{"a\tb", `a\x09b`, "a\tb", `a\x09b`},
		{"del\x7f", `del\x7f`, "", ""},
		{"nul\x00", `nul\x00`, "", ""},
		{"c1 \u009b31m", `c1 \x9b31m`, "", ""},
		{"lone byte \x9b31m", `lone byte \x9b31m`, "", ""},
		{"bidi \u202eevil\u202c", `bidi \u202eevil\u202c`, "", ""},
		{"isolate \u2066x\u2069", `isolate \u2066x\u2069`, "", ""},
		{"line sep \u2028", `line sep \u2028`, "", ""},
		{"replacement \ufffd kept", "replacement \ufffd kept", "", ""},
		{"bad utf8 \xff\xfe", `bad utf8 \xff\xfe`, "", ""},
	}
	for _, tc := range cases {
		if got := Escape(tc.in); got != tc.want {
			t.Errorf("Escape(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if tc.cells == "" {
			tc.cells = tc.want
		}
		if got := EscapeCells(tc.in); got != tc.cells {
			t.Errorf("EscapeCells(%q) = %q, want %q", tc.in, got, tc.cells)
		}
		if tc.lines == "" {
			tc.lines = tc.want
		}
		if got := EscapeLines(tc.in); got != tc.lines {
			t.Errorf("EscapeLines(%q) = %q, want %q", tc.in, got, tc.lines)
		}
	}
	if s := "nothing to escape"; testing.AllocsPerRun(10, func() { Escape(s) }) != 0 {
		t.Error("Escape allocates for safe text")
	}
}

func TestClipAndQuote(t *testing.T) {
	long := strings.Repeat("é", 1000)
	if c := Clip(long, 201); len(c) > 201+len(Ellipsis) || !utf8.ValidString(c) || !strings.HasSuffix(c, Ellipsis) {
		t.Errorf("Clip: %d bytes, valid %v", len(c), utf8.ValidString(c))
	}
	if Clip("short", 10) != "short" {
		t.Error("Clip changed a short string")
	}
	if q := Quote(strings.Repeat("a", 100<<20)); len(q) > MaxQuote+40 || !strings.HasSuffix(q, "(104857600 bytes)") {
		t.Errorf("Quote of 100 MB: %d bytes: %.300s", len(q), q)
	}
	pem := "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----"
	if v := Value(pem); strings.Contains(v, "MIIE") || strings.Contains(v, "END") || !strings.Contains(v, "(86 bytes)") {
		t.Errorf("Value quotes too much of a PEM: %s", v)
	}
	if v := Value("3x"); v != `"3x"` {
		t.Errorf("Value(3x) = %s", v)
	}
	msg := "reading x: " + strings.Repeat("y", 10000) + "; check the fix"
	if l := Line(msg); len(l) > MaxLine+len(Ellipsis) || !strings.HasPrefix(l, "reading x: ") || !strings.HasSuffix(l, "; check the fix") {
		t.Errorf("Line: %d bytes", len(l))
	}
	if l := Line("two\nlines  and\r\n\x1b[31mred"); l != `two lines and \x1b[31mred` {
		t.Errorf("Line = %q", l)
	}
}

// FuzzEscape: whatever the input, escaped text is UTF-8 with no character a terminal acts on
// (but the separators each form keeps), and needs no escaping again.
func FuzzEscape(f *testing.F) {
	for _, s := range []string{"", "plain", "a\r\nb", "\x1b[31m", "\u202e", "\xff", "tab\tnl\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, form := range []struct {
			name     string
			escape   func(string) string
			keepTab  bool
			keepLine bool
		}{{"Escape", Escape, false, false}, {"EscapeCells", EscapeCells, true, false}, {"EscapeLines", EscapeLines, false, true}, {"Line", Line, false, false}} {
			out := form.escape(s)
			if !utf8.ValidString(out) {
				t.Fatalf("%s(%q) = %q: not UTF-8", form.name, s, out)
			}
			for _, r := range out {
				switch {
				case r == '\t' && form.keepTab, r == '\n' && form.keepLine:
				case r < 0x20, r == 0x7f, unsafeRune(r):
					t.Fatalf("%s(%q) = %q: keeps %U", form.name, s, out, r)
				}
			}
		}
		// What Escape writes needs no escaping: escaping it again changes nothing.
		if e := Escape(s); Escape(e) != e {
			t.Fatalf("Escape(%q) = %q, which Escape changes again", s, e)
		}
	})
}

func TestURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:15000":                     "http://127.0.0.1:15000",
		"http://admin:s3cret@envoy:15000/x":          "http://admin:xxxxx@envoy:15000/x",
		"https://admin:s3cret@envoy:15000?q=1#f":     "https://admin:xxxxx@envoy:15000?q=1#f",
		"http://admin@envoy:15000":                   "http://admin@envoy:15000",
		"admin:s3cret@envoy:15014":                   "admin:xxxxx@envoy:15014",
		"http://admin:s3cret@envoy:15000/a b\x7f%zz": "http://admin:xxxxx@envoy:15000/a b\x7f%zz",
		"name=http://u:p@istiod:15014":               "name=http://u:xxxxx@istiod:15014",
	} {
		if got := URL(in); got != want || strings.Contains(got, "s3cret") {
			t.Errorf("URL(%q) = %q, want %q", in, got, want)
		}
	}
}
