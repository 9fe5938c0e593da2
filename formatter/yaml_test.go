package formatter

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/proxyctl/proxyctl/configdump"
	"github.com/proxyctl/proxyctl/internal/testutil"
)

// yamlCases are documents with what makes YAML conversion hard: keys to quote and to sort
// naturally, repeated keys, nested and empty containers, strings that look like other types,
// long and multi-line strings, big and negative numbers.
var yamlCases = map[string]string{
	"keys":     `{"b": 1, "a10": 2, "a9": 3, "": 4, "yes": 5, "1": 6, "- x": 7, "a: b": 8, "dup": 1, "dup": 2}`,
	"nesting":  `{"a": [[1, [2, []]], {}, {"b": [{"c": {}}]}], "d": {"e": {"f": []}}, "g": [{"h": 1, "i": [1]}]}`,
	"strings":  `{"a": "true", "b": "null", "c": "01", "d": "line1\nline2\n", "e": "", "f": " lead", "g": "tab\there", "h": "é✓", "i": "a \"quoted\" \\ word"}`,
	"long":     `{"s": "` + string(bytes.Repeat([]byte("word "), 60)) + `", "t": ["` + string(bytes.Repeat([]byte("x"), 300)) + `"]}`,
	"numbers":  `{"a": 9007199254740993, "b": -1, "c": 1.5, "d": 1e400, "e": 18446744073709551615, "f": 0.000001, "g": -0.0, "h": 1E2}`,
	"literals": `{"a": true, "b": false, "c": null, "d": [null, true]}`,
	"array":    `[{"b": 1, "a": 2}, [], "x", 3]`,
	// Keys yaml.v2 writes in the explicit "? key" form (over 128 bytes, or with a line break),
	// nested, with values large enough to be split.
	"odd keys": `{"outer": {"` + string(bytes.Repeat([]byte("k"), 200)) + `": {"a": [1, 2], "b": {"c": 3}}, "multi\nline": [{"d": 4}, {"e": 5}], "short": {"f": 6}}}`,
}

// TestJSONToYAML: the fast conversion prints what sigs.k8s.io/yaml prints (istioctl's output).
func TestJSONToYAML(t *testing.T) {
	docs := map[string][]byte{}
	for name, doc := range yamlCases {
		docs[name] = []byte(doc)
	}
	sample, err := os.ReadFile(testutil.Path("testdata", "sample", "config_dump.json"))
	if err != nil {
		t.Fatal(err)
	}
	docs["sample"] = sample
	for name, doc := range docs {
		want, err := yaml.JSONToYAML(doc)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := jsonToYAML(doc)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: %v\ngot:\n%s\nwant:\n%s", name, err, got, want)
		}
	}
}

// TestWriteYAML: a document converted part by part, with small parts to force splitting,
// reads back as the same value as one converted whole, and is the same bytes when nothing is
// split; replacements apply wherever they fall.
func TestWriteYAML(t *testing.T) {
	docs := map[string][]byte{}
	for name, doc := range yamlCases {
		docs[name] = []byte(doc)
	}
	var files []string
	for _, pattern := range []string{"testdata/sample/*.json", "testdata/dumps/*.json", "testdata/istiod/configdump/*.json", "../shared/conformance/dumps/*.json"} {
		m, _ := filepath.Glob(testutil.Path(pattern))
		files = append(files, m...)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if json.Valid(data) {
			docs[filepath.Base(f)] = data
		}
	}
	if len(docs) < 10 {
		t.Fatalf("only %d documents", len(docs))
	}
	for _, split := range []int{1 << 30, 4096, 1} {
		yamlSplitAbove = split
		for name, doc := range docs {
			var got bytes.Buffer
			if err := writeYAML(&got, doc, nil, nil); err != nil {
				t.Fatalf("%s, split above %d: %v", name, split, err)
			}
			want, err := yaml.JSONToYAML(doc)
			if err != nil {
				t.Fatal(err)
			}
			if split == 1<<30 && !bytes.Equal(got.Bytes(), want) {
				t.Errorf("%s: unsplit output differs from JSONToYAML's", name)
			}
			if !sameYAMLValue(t, got.Bytes(), want) {
				t.Errorf("%s, split above %d: the YAML reads back as another value:\n%.3000s", name, split, got.String())
			}
		}
	}
	yamlSplitAbove = 256 << 10

	// Replacements, with splitting.
	doc := []byte(`{"z": {"key": "SECRET1"}, "a": ["SECRET2", {"k": "SECRET3"}]}`)
	var replace []configdump.Replacement
	for _, s := range []string{`"SECRET1"`, `"SECRET2"`, `"SECRET3"`} {
		i := bytes.Index(doc, []byte(s))
		replace = append(replace, configdump.Replacement{Start: i, End: i + len(s), Text: `"[redacted]"`})
	}
	yamlSplitAbove = 1
	defer func() { yamlSplitAbove = 256 << 10 }()
	var got bytes.Buffer
	if err := writeYAML(&got, doc, replace, nil); err != nil {
		t.Fatal(err)
	}
	redacted := doc
	for _, n := range []string{"1", "2", "3"} {
		redacted = bytes.ReplaceAll(redacted, []byte(`"SECRET`+n+`"`), []byte(`"[redacted]"`))
	}
	want, _ := yaml.JSONToYAML(redacted)
	if !sameYAMLValue(t, got.Bytes(), want) || bytes.Contains(got.Bytes(), []byte("SECRET")) {
		t.Errorf("replacements:\n%s\nwant:\n%s", got.Bytes(), want)
	}
}

func sameYAMLValue(t *testing.T, a, b []byte) bool {
	t.Helper()
	ja, err := yaml.YAMLToJSON(a)
	if err != nil {
		t.Errorf("%v:\n%.2000s", err, a)
		return false
	}
	jb, err := yaml.YAMLToJSON(b)
	if err != nil {
		t.Fatal(err)
	}
	var va, vb any
	if json.Unmarshal(ja, &va) != nil || json.Unmarshal(jb, &vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}

// TestLongStringsYAML: strings too long to give to yaml.v2 are written as double-quoted scalars
// of the same value, wherever they are (values, keys, lists, several in one document).
func TestLongStringsYAML(t *testing.T) {
	long := func(c string) string { return string(bytes.Repeat([]byte(c), longString/len(c)+10)) }
	doc := `{"name": "` + long(`a\"b\\c\n\t\u00e9\/✓ `) + `", "list": ["short", "` + long("x") + `"], "` + long("k") + `": {"b": "` + long("y") + `"}, "raw": "` + long("\u202e") + `"}`
	if !json.Valid([]byte(doc)) {
		t.Fatal("invalid test document")
	}
	got, err := jsonToYAML([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	back, err := yaml.YAMLToJSON(got)
	if err != nil {
		t.Fatalf("not YAML: %v\n%.500s", err, got)
	}
	var a, b any
	json.Unmarshal([]byte(doc), &a)
	json.Unmarshal(back, &b)
	if !reflect.DeepEqual(a, b) {
		t.Errorf("another value:\n%.500s", got)
	}
	if bytes.Contains(got, []byte(longPlaceholder)) || bytes.Contains(got, []byte("\u202e")) {
		t.Errorf("a placeholder or a raw bidirectional override is left:\n%.300s", got)
	}
}
