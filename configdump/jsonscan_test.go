package configdump

import (
	"encoding/json"
	"testing"
)

// TestUnescape holds unescape to encoding/json's reading of the same string, escapes at the
// very end of the string included (a lone surrogate there once read past the end).
func TestUnescape(t *testing.T) {
	for _, raw := range []string{
		`plain`, `a\"b`, `\\`, `\/`, `\b\f\n\r\t`,
		`\u00e9`, `\u20AC`, `\ud83d\ude00`, `x\ud83d\ude00y`,
		`\ud800`, `\udbff`, `\udc00`, `a\ud800`, `\ud800x`, `\ud800\u0041`, `\ud800\ud800`,
		`\ud800\udc00\ud800`, `\ud83d\ude00\ud83d`, "\xff", "a\xc3", "\u00e9",
	} {
		var want string
		if err := json.Unmarshal([]byte(`"`+raw+`"`), &want); err != nil {
			t.Fatalf("%q: encoding/json: %v", raw, err)
		}
		got, err := unescape([]byte(raw))
		if err != nil {
			t.Errorf("unescape(%q): %v", raw, err)
			continue
		}
		if string(got) != want {
			t.Errorf("unescape(%q) = %q, encoding/json reads %q", raw, got, want)
		}
	}
	for _, raw := range []string{`\`, `\u`, `\u12`, `\u12g4`, `\x`, `\ud800\u12`} {
		if got, err := unescape([]byte(raw)); err == nil {
			t.Errorf("unescape(%q) = %q, want an error", raw, got)
		}
	}
}
