package testutil

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// FuzzSeeds are the documents the fuzz targets start from: every admin document under testdata/
// (the sample dump, its /clusters document, the hand-written dumps), and each section of each
// config dump as a dump of its own, so that the fuzzer mutates small inputs that reach every
// section's decoder.
func FuzzSeeds(tb testing.TB) [][]byte {
	tb.Helper()
	var paths []string
	for _, pattern := range []string{"testdata/sample/*.json", "testdata/dumps/*.json"} {
		m, err := filepath.Glob(Path(pattern))
		if err != nil {
			tb.Fatal(err)
		}
		paths = append(paths, m...)
	}
	sort.Strings(paths)
	if len(paths) == 0 {
		tb.Fatal("no seed documents under testdata/")
	}
	var seeds [][]byte
	for _, p := range paths {
		doc, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		seeds = append(seeds, doc)
		var dump struct {
			Configs []json.RawMessage `json:"configs"`
		}
		if err := json.Unmarshal(doc, &dump); err != nil {
			tb.Fatalf("%s: %v", p, err)
		}
		for _, c := range dump.Configs {
			one, err := json.Marshal(map[string][]json.RawMessage{"configs": {c}})
			if err != nil {
				tb.Fatal(err)
			}
			seeds = append(seeds, one)
		}
	}
	return append(seeds,
		[]byte(`{"configs": []}`),
		[]byte(`{"cluster_statuses": []}`),
		[]byte("configs:\n- '@type': type.googleapis.com/envoy.admin.v3.ClustersConfigDump\n  static_clusters:\n  - cluster:\n      '@type': type.googleapis.com/envoy.config.cluster.v3.Cluster\n      name: a\n"),
	)
}
