package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestAllSectionsInOrder: `all` reads its sections at once (allAtOnce) but prints them as one
// after the other would: the same bytes, banners and note, and on a failing section, what comes
// before it and nothing after.
func TestAllSectionsInOrder(t *testing.T) {
	sample, err := os.ReadFile(sampleDump)
	if err != nil {
		t.Fatal(err)
	}
	// The same dump with a route whose domains are not a list: the route table fails.
	var doc map[string]any
	if err := json.Unmarshal(sample, &doc); err != nil {
		t.Fatal(err)
	}
	for _, c := range doc["configs"].([]any) {
		c := c.(map[string]any)
		if c["@type"] == "type.googleapis.com/envoy.admin.v3.RoutesConfigDump" {
			rc := c["dynamic_route_configs"].([]any)[0].(map[string]any)["route_config"].(map[string]any)
			rc["virtual_hosts"].([]any)[0].(map[string]any)["domains"] = 7
		}
	}
	broken, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	brokenPath := filepath.Join(t.TempDir(), "broken.json")
	if err := os.WriteFile(brokenPath, broken, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		args      []string
		code      int
		contains  []string
		lacks     []string
		errSubstr string
	}{
		{"tables", []string{"pc", "all", "-f", sampleDump, "--with-headers"}, ExitOK,
			[]string{"------ BOOTSTRAP INFO ------", "------ ENDPOINTS INFO ------"}, nil, ""},
		{"names", []string{"pc", "all", "-f", sampleDump, "-o", "name"}, ExitOK, []string{"cluster/", "listener/"}, nil, ""},
		{"a section fails", []string{"pc", "all", "-f", brokenPath, "--with-headers"}, ExitRuntime,
			[]string{"------ CLUSTER INFO ------", "------ LISTENER INFO ------"}, []string{"ROUTE INFO", "SECRET INFO", "ENDPOINTS INFO"}, "routes section"},
		{"a section fails, names", []string{"pc", "all", "-f", brokenPath, "-o", "name"}, ExitRuntime,
			[]string{"cluster/", "listener/"}, []string{"route/", "secret/"}, "routes section"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// One section at a time is the order of reference.
			old := runtime.GOMAXPROCS(1)
			code1, out1, err1 := run(t, "", tc.args...)
			runtime.GOMAXPROCS(max(old, allAtOnce))
			code, out, errOut := run(t, "", tc.args...)
			runtime.GOMAXPROCS(old)
			if code != tc.code || code1 != tc.code {
				t.Fatalf("exit %d (one at a time: %d), want %d; stderr %q", code, code1, tc.code, errOut)
			}
			if out != out1 || errOut != err1 {
				t.Errorf("read at once, the output differs from one section at a time:\n%s\n---\n%s\nstderr %q / %q", out, out1, errOut, err1)
			}
			for _, w := range tc.contains {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tc.lacks {
				if strings.Contains(out, w) {
					t.Errorf("stdout has %q, printed after the failing section:\n%s", w, out)
				}
			}
			if !strings.Contains(errOut, tc.errSubstr) {
				t.Errorf("stderr %q, want it to contain %q", errOut, tc.errSubstr)
			}
		})
	}
}

// TestSectionOut: what a section writes before its turn is kept, then written first, and what
// it writes after goes straight to the output.
func TestSectionOut(t *testing.T) {
	var s sectionOut
	s.Write([]byte("before "))
	var out strings.Builder
	if err := s.print(&out); err != nil {
		t.Fatal(err)
	}
	if out.String() != "before " {
		t.Errorf("after print: %q, want the buffered %q", out.String(), "before ")
	}
	s.Write([]byte("after"))
	if out.String() != "before after" || s.buf.Len() != 0 {
		t.Errorf("output %q (buffer %d bytes), want %q and an empty buffer", out.String(), s.buf.Len(), "before after")
	}
}
