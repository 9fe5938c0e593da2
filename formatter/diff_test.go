package formatter

import (
	"bytes"
	"strings"
	"testing"

	"github.com/proxyctl/proxyctl/configdump"
	"github.com/proxyctl/proxyctl/internal/testutil"
)

// diffSections diffs two dumps' clusters, listeners and routes as ProxyDiff does, keeping the
// sections' lines when keep.
func diffSections(t *testing.T, a, b *configdump.Dump, keep bool, exact int) string {
	t.Helper()
	defer func(n int) { exactDiffLines = n }(exactDiffLines)
	var out strings.Builder
	for _, get := range []func(*configdump.Dump) (configdump.ComparedSection, error){
		(*configdump.Dump).DynamicClusters, (*configdump.Dump).DynamicListeners, (*configdump.Dump).DynamicRoutes,
	} {
		exactDiffLines = 0
		if keep {
			exactDiffLines = 1 << 30
		}
		ra, err := renderCompared(a, get)
		if err != nil {
			t.Fatal(err)
		}
		rb, err := renderCompared(b, get)
		if err != nil {
			t.Fatal(err)
		}
		if keep != (ra.lines != nil) {
			t.Fatalf("lines kept: %v, want %v", ra.lines != nil, keep)
		}
		exactDiffLines = exact
		text, err := unifiedDiff(&ra, &rb, "a", "b")
		if err != nil {
			t.Fatal(err)
		}
		out.WriteString(text)
	}
	return out.String()
}

// TestProxyDiffBySums: a large section diffed resource by resource from the sums of their text,
// rendering only what the diff shows, gives the diff made from all of their lines.
func TestProxyDiffBySums(t *testing.T) {
	data := testutil.GeneratedDump(t, 60)
	changed := bytes.Replace(data, []byte(`"initial_fetch_timeout": "0s"`), []byte(`"initial_fetch_timeout": "1s"`), 3)
	changed = bytes.Replace(changed, []byte(`"stat_prefix": "outbound_0.0.0.0_`), []byte(`"stat_prefix": "outbound_0.0.0.1_`), 2)
	// A cluster renamed: one left out, one added.
	changed = bytes.Replace(changed, []byte(`"name": "outbound|9080||reviews`), []byte(`"name": "outbound|9080||reviewz`), 1)
	if bytes.Equal(changed, data) {
		t.Fatal("nothing changed")
	}
	a, err := configdump.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	b, err := configdump.Parse(changed)
	if err != nil {
		t.Fatal(err)
	}
	if got := diffSections(t, a, a, false, 0); got != "" {
		t.Errorf("a dump differs from itself:\n%.2000s", got)
	}
	want := diffSections(t, a, b, true, 0) // resource by resource, from the lines
	got := diffSections(t, a, b, false, 0) // resource by resource, from the sums
	if want == "" || got != want {
		t.Errorf("diff from the sums:\n%.3000s\nwant, from the lines:\n%.3000s", got, want)
	}
	if n := strings.Count(got, "\n@@ "); n < 4 {
		t.Errorf("%d hunks, want the changes' (at least 4):\n%.3000s", n, got)
	}
}
