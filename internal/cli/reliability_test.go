package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/proxyctl/proxyctl/internal/testutil"
)

// TestReliabilityDoc: every test docs/reliability.md names as holding a case exists, and every
// row of its table names one.
func TestReliabilityDoc(t *testing.T) {
	doc, err := os.ReadFile(testutil.Path("docs", "reliability.md"))
	if err != nil {
		t.Fatal(err)
	}
	var sources strings.Builder
	err = filepath.WalkDir(testutil.Root(), func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if strings.HasSuffix(path, "_test.go") {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			sources.Write(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	rows, named := 0, 0
	inCases := false
	for _, line := range strings.Split(string(doc), "\n") {
		if strings.HasPrefix(line, "## ") {
			inCases = line == "## The cases"
			continue
		}
		if !inCases || !strings.HasPrefix(line, "| ") || strings.HasPrefix(line, "| Hostile case") || strings.HasPrefix(line, "|---") {
			continue
		}
		rows++
		cells := strings.Split(line, " | ")
		tests := regexp.MustCompile("`((?:Test|Fuzz)[A-Za-z0-9]+)`").FindAllStringSubmatch(cells[len(cells)-1], -1)
		if len(tests) == 0 && !strings.Contains(line, "hack/fuzz.sh") {
			t.Errorf("a row names no test: %s", line)
		}
		for _, m := range tests {
			named++
			if !regexp.MustCompile(`func ` + m[1] + `\(`).MatchString(sources.String()) {
				t.Errorf("docs/reliability.md names %s, which no test file defines", m[1])
			}
		}
	}
	if rows < 20 || named < rows {
		t.Errorf("%d rows naming %d tests: the table is not read", rows, named)
	}
}
