package formatter

import (
	"bytes"
	"strings"
	"testing"

	"github.com/proxyctl/proxyctl/configdump"
)

// TestRawASCII: a document written as ASCII (unchecked) is written as the checked writer
// writes it, replacements applied, and a replacement's text is still escaped; a document that
// is not ASCII keeps its escapes.
func TestRawASCII(t *testing.T) {
	doc := []byte(`{"configs": [{"a": "secret-value", "b": "plain text"}]}` + strings.Repeat(" ", 5<<20) + "\n")
	at := bytes.Index(doc, []byte(`"secret-value"`))
	replace := []configdump.Replacement{{Start: at, End: at + len(`"secret-value"`), Text: `"[redacted]"`}}
	var checked, ascii bytes.Buffer
	if err := RawReleasing(&checked, doc, false, replace, JSON, nil); err != nil {
		t.Fatal(err)
	}
	if err := RawReleasing(&ascii, doc, true, replace, JSON, nil); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(checked.Bytes(), ascii.Bytes()) || !bytes.Contains(ascii.Bytes(), []byte(`"a": "[redacted]"`)) {
		t.Errorf("ASCII output differs from the checked one, or lacks the replacement:\n%.200s", ascii.String())
	}
	// A replacement's text is escaped even in an ASCII document.
	ascii.Reset()
	replace[0].Text = "\"\u202e\""
	if err := RawReleasing(&ascii, doc, true, replace, JSON, nil); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(ascii.Bytes(), []byte(`"a": "\u202e"`)) {
		t.Errorf("the replacement's text is not escaped:\n%.200s", ascii.String())
	}
	// Not ASCII: escaped.
	var out bytes.Buffer
	if err := RawReleasing(&out, []byte("{\"a\": \"x\u0085y\"}"), false, nil, JSON, nil); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != `{"a": "x\u0085y"}`+"\n" {
		t.Errorf("got %q", got)
	}
}
