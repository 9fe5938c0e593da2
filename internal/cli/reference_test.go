package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/proxyctl/proxyctl/internal/testutil"
)

// TestReferenceIsCurrent fails when docs/reference no longer matches the commands and flags:
// run `make docs`.
func TestReferenceIsCurrent(t *testing.T) {
	dir := t.TempDir()
	if err := WriteReference(dir); err != nil {
		t.Fatal(err)
	}
	fresh, _ := filepath.Glob(filepath.Join(dir, "*.md"))
	committed, _ := filepath.Glob(testutil.Path("docs", "reference", "*.md"))
	if len(fresh) != len(committed) {
		t.Fatalf("docs/reference has %d pages, the commands make %d: run make docs", len(committed), len(fresh))
	}
	for _, f := range fresh {
		want, _ := os.ReadFile(f)
		got, err := os.ReadFile(testutil.Path("docs", "reference", filepath.Base(f)))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("docs/reference/%s is out of date: run make docs", filepath.Base(f))
		}
	}
}
