package formatter

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/proxyctl/proxyctl/configdump"
	"github.com/proxyctl/proxyctl/internal/istiod"
	"github.com/proxyctl/proxyctl/internal/testutil"
)

// FuzzProxyDiff compares arbitrary dumps as proxy-status does: a dump compared with itself
// matches in every section, and whether two dumps differ does not depend on which is istiod's.
func FuzzProxyDiff(f *testing.F) {
	seeds := testutil.FuzzSeeds(f)
	istiodDump, err := os.ReadFile(filepath.Join(psFixtureDir, "configdump", "reviews-v1.json"))
	if err != nil {
		f.Fatal(err)
	}
	seeds = append(seeds, istiodDump)
	for i, a := range seeds {
		f.Add(a, a)
		f.Add(a, seeds[(i+1)%len(seeds)])
	}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		da, err := configdump.Parse(a)
		if err != nil {
			return
		}
		var out bytes.Buffer
		same, err := configdump.Parse(a)
		if err != nil {
			t.Fatalf("the same document parses once and not twice: %v", err)
		}
		if differs, err := ProxyDiff(&out, da, same, time.UTC); err == nil && differs {
			t.Fatalf("a dump differs from itself:\n%.3000s", out.String())
		}
		db, err := configdump.Parse(b)
		if err != nil {
			return
		}
		ab, errAB := ProxyDiff(&out, da, db, time.UTC)
		ba, errBA := ProxyDiff(&out, db, da, time.UTC)
		if (errAB == nil) != (errBA == nil) || ab != ba {
			t.Fatalf("a against b: differs %v, %v; b against a: differs %v, %v", ab, errAB, ba, errBA)
		}
	})
}

// FuzzProxyStatus reads arbitrary /debug/syncz answers and prints them in every proxy-status
// view: either the answer is refused, or every view prints (JSON and YAML that parse).
func FuzzProxyStatus(f *testing.F) {
	files, err := filepath.Glob(filepath.Join(psFixtureDir, "*", "*.json"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no syncz fixtures: %v", err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := istiod.DecodeSyncz(bytes.NewReader(data))
		if err != nil {
			return
		}
		rows := istiod.Rows("istiod-0", entries)
		istiod.SortRows(rows)
		for _, opts := range []ProxyStatusOptions{{}, {Verbosity: 1, Now: psNow}, {Output: "json"}, {Output: "yaml"}} {
			var out bytes.Buffer
			if err := WriteProxyStatus(&out, rows, opts); err != nil {
				t.Fatalf("%+v: %v", opts, err)
			}
			switch opts.Output {
			case "json":
				if !json.Valid(out.Bytes()) {
					t.Fatalf("invalid JSON:\n%s", out.Bytes())
				}
			case "yaml":
				if _, err := yaml.YAMLToJSON(out.Bytes()); err != nil {
					t.Fatalf("invalid YAML: %v\n%s", err, out.Bytes())
				}
			}
		}
	})
}
