package formatter

import (
	"bytes"
	"encoding/json"
	"math/rand"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/proxyctl/proxyctl/configdump"
	"github.com/proxyctl/proxyctl/internal/testutil"
)

// compareYAML checks that fastJSONToYAML writes doc as jsonToYAML does (or leaves it to it).
func compareYAML(t *testing.T, name string, doc []byte) bool {
	t.Helper()
	want, werr := jsonToYAML(doc)
	got, err := fastJSONToYAML(doc)
	switch {
	case err == errYAMLFallback:
		return false
	case err != nil && werr == nil:
		t.Errorf("%s: %v, though yaml.v2 writes it", name, err)
	case err == nil && werr != nil:
		t.Errorf("%s: written, though yaml.v2 fails: %v", name, werr)
	case err == nil && !bytes.Equal(got, want) && !yamlV2Unstable(doc):
		i := 0
		for i < len(got) && i < len(want) && got[i] == want[i] {
			i++
		}
		t.Errorf("%s: written differently at byte %d:\ngot  ...%q\nwant ...%q", name, i, got[max(0, i-120):min(len(got), i+120)], want[max(0, i-120):min(len(want), i+120)])
	}
	return err == nil
}

// yamlV2Unstable reports whether yaml.v2 writes doc differently from one run to the next: its
// order of keys such as "a9", "a09" and "a10" is not a total order, and a map is sorted from
// a random order.
func yamlV2Unstable(doc []byte) bool {
	first, _ := jsonToYAML(doc)
	for i := 0; i < 50; i++ {
		if again, _ := jsonToYAML(doc); !bytes.Equal(again, first) {
			return true
		}
	}
	return false
}

// TestFastYAMLMatchesYAMLv2: every resource and section of the shared dumps, the fixtures and
// a generated dump, as -o yaml converts them, and the documents whole.
func TestFastYAMLMatchesYAMLv2(t *testing.T) {
	var files []string
	for _, pattern := range []string{"../testdata/sample/*.json", "../testdata/dumps/*.json", "../testdata/istiod/configdump/*.json", "../../shared/conformance/dumps/*.json"} {
		m, _ := filepath.Glob(pattern)
		files = append(files, m...)
	}
	docs := map[string][]byte{"generated": testutil.GeneratedDump(t, 30)}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs[filepath.Base(f)] = data
	}
	written := 0
	for name, data := range docs {
		if !json.Valid(data) {
			continue
		}
		if compareYAML(t, name, data) {
			written++
		}
		d, err := configdump.Parse(data)
		if err != nil {
			continue
		}
		var encoded [][]byte
		collect := func(compact bool, f func(b []byte)) {
			if res, err := d.ClusterResources(); err == nil {
				configdump.EachJSON(res, nil, 0, compact, func(j []byte) ([]byte, error) { return bytes.Clone(j), nil }, func(b []byte) error { f(b); return nil })
			}
			if res, err := d.ListenerResources(); err == nil {
				configdump.EachJSON(res, nil, 0, compact, func(j []byte) ([]byte, error) { return bytes.Clone(j), nil }, func(b []byte) error { f(b); return nil })
			}
			if res, err := d.RouteConfigResources(); err == nil {
				configdump.EachJSON(res, nil, 0, compact, func(j []byte) ([]byte, error) { return bytes.Clone(j), nil }, func(b []byte) error { f(b); return nil })
			}
			if res, err := d.LoadAssignmentResources(); err == nil {
				configdump.EachJSON(res, nil, 0, compact, func(j []byte) ([]byte, error) { return bytes.Clone(j), nil }, func(b []byte) error { f(b); return nil })
			}
		}
		collect(false, func(b []byte) { encoded = append(encoded, b) })
		collect(true, func(b []byte) { encoded = append(encoded, b) })
		for _, b := range encoded {
			if compareYAML(t, name+" resource", b) {
				written++
			}
		}
	}
	if written < 200 {
		t.Errorf("only %d documents written without yaml.v2", written)
	}
}

// TestFastYAMLScalars: strings of every kind yaml.v2 treats apart (quoting, folding at column
// 80, block scalars, escapes), at several depths, as keys and values.
func TestFastYAMLScalars(t *testing.T) {
	pieces := []string{"a", "word", "x:", ": ", " #", "#", "- ", "-", "?", "'", "\"", "\\", " ", "  ", "\n", "\n\n", "\t", "\r",
		"\u0085", "\u2028", "\u00a0", "\ufeff", "\x00", "\x07", "\x1b", "é", "日本", "😀", "true", "null", "~", "yes", "1", "1.5", "0x1F",
		"1e3", "2024-01-02", "2024-01-02T03:04:05Z", "1:20", ".inf", "---", "...", "[", "{", "}", ",", "&", "*", "!", "|", ">", "%", "@", "`",
		strings.Repeat("long ", 20), strings.Repeat("x", 90), "<<"}
	for _, s := range []string{"::", "x:", "a:b", ":", "-", "?", "-a", "?a", ":a", "#a", "a#b", "---x", "...x", "--", "..", "a:", "a: b", "a #b", "@x", "x@", "`", "'", "a'b", "a\"b",
		"2024-01-02T03:04:05.840Z", "1_000", "0b101", "-0b1", "0x1f", "0o17", "1e3", ".5", "+.5", "-.inf", "+1", "1:30", "1.2.3", "10.96.9.93", "::1", "[::]:80"} {
		for _, v := range []any{s, map[string]any{"k": s}, map[string]any{s: s}, []any{s}} {
			doc, _ := json.Marshal(v)
			compareYAML(t, string(doc), doc)
		}
	}
	rng := rand.New(rand.NewSource(1))
	str := func() string {
		var b strings.Builder
		for n := rng.Intn(6); n >= 0; n-- {
			b.WriteString(pieces[rng.Intn(len(pieces))])
		}
		return b.String()
	}
	for i := 0; i < 6000; i++ {
		s := str()
		var v any = s
		switch i % 6 {
		case 1:
			v = map[string]any{"key": s, "k": map[string]any{"inner": s, "list": []any{s, s}}}
		case 2:
			v = []any{s, []any{s, map[string]any{"a": s, "b": []any{}}}, map[string]any{}}
		case 3:
			v = map[string]any{s: 1, "z" + s: []any{s}}
		case 4:
			v = map[string]any{"a": map[string]any{"b": map[string]any{"c": map[string]any{"d": map[string]any{"e": s}}}}, "n": 3.25e21, "i": -7, "u": uint64(1 << 63)}
		case 5:
			v = []any{[]any{[]any{s}}, map[string]any{"k": []any{map[string]any{"x": s, "y": s}}}}
		default:
			v = map[string]any{"value": s}
		}
		doc, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		compareYAML(t, string(doc), doc)
	}
}

func TestYAMLFloatSyntax(t *testing.T) {
	re := regexp.MustCompile(`^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`)
	for _, s := range []string{"", "1", "-1", "+", "-", ".", ".5", "5.", "5.5", "1e", "1e5", "1E+5", "1e-", ".e1", "1.e1", "+.5e-3", "1.2.3", "10.96.9.93", "1x", "e5", "--1", "1e5.5", "0x1f", "٣"} {
		if got, want := yamlFloatSyntax(s), re.MatchString(s); got != want {
			t.Errorf("yamlFloatSyntax(%q) = %v, want %v", s, got, want)
		}
	}
}

// TestFastYAMLKeyOrder: keys in yaml.v2's natural order (where it has one: with leading zeros,
// as in "a9", "a09", "a10", it sorts differently from run to run).
func TestFastYAMLKeyOrder(t *testing.T) {
	keys := []string{"a10", "a9", "a", "B", "b", "_x", "1", "10", "2", "a1b", "é", "Z9", "z", "a-b", "a_b", "", "x1y", "x10y", "port80", "port8080", "v1alpha1", "v1beta1", "v1", "v2"}
	m := map[string]any{}
	for _, k := range keys {
		m[k] = k
	}
	doc, _ := json.Marshal(m)
	if !compareYAML(t, "keys", doc) {
		t.Error("left to yaml.v2")
	}
}

// FuzzFastYAML: any JSON document the fast writer writes, it writes as yaml.v2 does.
func FuzzFastYAML(f *testing.F) {
	for _, s := range []string{`{"a": "b"}`, `[1, "x: y", {"k": [], "j": {}}]`, `{"long": "` + strings.Repeat("word ", 30) + `"}`, `{"m": "a\nb\n"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		if !json.Valid(doc) {
			return
		}
		compareYAML(t, "fuzz", doc)
	})
}

// TestOutlineMatchesSplit: the plan of a large document is the same whether its containers'
// members are found in one pass (outlineJSON) or container by container (splitJSON).
func TestOutlineMatchesSplit(t *testing.T) {
	defer func(n int) { yamlSplitAbove = n }(yamlSplitAbove)
	yamlSplitAbove = 512
	docs := [][]byte{testutil.GeneratedDump(t, 10)}
	files, _ := filepath.Glob("../../shared/conformance/dumps/*.json")
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err == nil && json.Valid(data) {
			docs = append(docs, bytes.TrimSpace(data))
		}
	}
	for i, doc := range docs {
		var want, got []yamlPart
		if err := planYAML(&want, doc, 0, "", ""); err != nil {
			t.Fatal(err)
		}
		o, err := outlineJSON(doc, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := o.plan(&got, doc, 0, "", ""); err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("document %d: %d parts, want %d", i, len(got), len(want))
		}
		for k := range got {
			if got[k] != want[k] {
				t.Fatalf("document %d, part %d: %+v, want %+v", i, k, got[k], want[k])
			}
		}
	}
}
