package configdump

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/proxyctl/proxyctl/internal/testutil"
)

// indexResult is what a Dump keeps of an indexer, or its error.
type indexResult struct {
	Kind  Kind
	Spans []sectionSpan
	Lists []listSpan
	Elems []elemSpan
	Anys  []anySpan
	ASCII bool
	Err   string
}

func resultOf(ix *indexer, err error) indexResult {
	if err == nil {
		var kind Kind
		var spans []sectionSpan
		kind, spans, err = ix.finish()
		if err == nil {
			return indexResult{Kind: kind, Spans: spans, Lists: ix.lists, Elems: ix.elems, Anys: ix.anys, ASCII: ix.high&0x80 == 0}
		}
	}
	return indexResult{Err: err.Error()}
}

// serialIndex is one indexer over the whole document, in chunks as Parse fed it before.
func serialIndex(data []byte) indexResult {
	ix := &indexer{}
	return resultOf(ix, feedChunks(ix, data, nil, nil))
}

func partsIndex(data []byte, cuts []int) indexResult {
	ix, err := indexParts(data, cuts, nil)
	return resultOf(ix, err)
}

// splitDocs are documents of every shape the join must get right: sections before, inside and
// after lists, "@type" before and after a list, lists that are not all objects, several
// lists in an entry, nested lists, a /clusters document, and broken ones.
func splitDocs(t *testing.T) map[string][]byte {
	t.Helper()
	sample, err := os.ReadFile("../testdata/sample/config_dump.json")
	if err != nil {
		t.Fatal(err)
	}
	var oneSpace bytes.Buffer
	if err := json.Indent(&oneSpace, sample, "", " "); err != nil {
		t.Fatal(err)
	}
	docs := map[string][]byte{
		"type first": []byte(`{
 "configs": [
  {
   "@type": "type.googleapis.com/envoy.admin.v3.ClustersConfigDump",
   "dynamic_active_clusters": [
    {
     "cluster": {"name": "aé"}
    },
    {
     "cluster": {"name": "b\u00e9"}
    },
    {
     "cluster": {"name": "c"}
    }
   ],
   "static_clusters": [
    {
     "x": [1, 2]
    },
    {
     "y": {}
    }
   ]
  },
  {
   "@type": "type.googleapis.com/envoy.admin.v3.ListenersConfigDump",
   "dynamic_listeners": [
    {
     "name": "l1"
    },
    {
     "name": "l2"
    }
   ]
  }
 ],
 "after": [
  {
   "k": [
    {
     "z": 1
    },
    {
     "z": 2
    }
   ]
  }
 ]
}`),
		"type last": []byte(`{
 "configs": [
  {
   "dynamic_active_clusters": [
    {
     "cluster": {"name": "a"}
    },
    {
     "cluster": {"name": "b"}
    }
   ],
   "mixed": [
    {
     "a": 1
    },
    2,
    {
     "b": 3
    }
   ],
   "@type": "type.googleapis.com/envoy.admin.v3.ClustersConfigDump",
   "static_clusters": [
    {
     "cluster": {"name": "s"}
    },
    {
     "cluster": {"name": "t"}
    }
   ]
  }
 ]
}`),
		"type twice": []byte(`{
 "configs": [
  {
   "@type": "type.googleapis.com/envoy.admin.v3.RoutesConfigDump",
   "dynamic_route_configs": [
    {
     "r": 1
    },
    {
     "r": 2
    }
   ],
   "@type": "type.googleapis.com/envoy.admin.v3.ClustersConfigDump"
  }
 ],
 "configs": 3
}`),
		"cluster statuses": []byte(`{
 "cluster_statuses": [
  {
   "name": "a",
   "host_statuses": [
    {
     "address": {}
    },
    {
     "address": {}
    }
   ]
  }
 ]
}`),
		"sample":           sample,
		"sample one space": oneSpace.Bytes(),
	}
	for name, doc := range map[string][]byte{"type first": docs["type first"], "sample one space": docs["sample one space"]} {
		docs[name+" truncated"] = doc[:len(doc)*2/3]
		bad := bytes.Clone(doc)
		bad[len(bad)/2] = '\x01'
		docs[name+" control byte"] = bad
		unclosed := bytes.Clone(doc)
		if i := bytes.LastIndex(unclosed[:len(unclosed)/2], []byte(`"`)); i > 0 {
			unclosed[i] = ' '
		}
		docs[name+" quote missing"] = unclosed
	}
	return docs
}

// TestIndexPartsAnyCut: indexing a document in parts, cut anywhere (inside strings, words,
// escapes, lists, entries, after the end), gives what one indexer gives, errors included: a
// part is joined only when its assumption held, and re-read otherwise.
func TestIndexPartsAnyCut(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for name, doc := range splitDocs(t) {
		want := serialIndex(doc)
		offsets := make([]int, 0, len(doc)+1)
		step := max(1, len(doc)/4000) // every offset of the small ones
		for i := 0; i <= len(doc); i += step {
			offsets = append(offsets, i)
		}
		for _, cut := range offsets {
			if got := partsIndex(doc, []int{cut}); !reflect.DeepEqual(got, want) {
				t.Fatalf("%s cut at %d (%q|%q):\n got %+v\nwant %+v", name, cut, doc[max(0, cut-10):cut], doc[cut:min(len(doc), cut+10)], got, want)
			}
		}
		// The cuts where the part after is joined: every pair of them, so that a part joins a
		// part that was itself joined.
		var good []int
		for _, cut := range offsets {
			if joinsAt(doc, cut) {
				good = append(good, cut)
			}
		}
		if len(good) == 0 && bytes.Contains(doc, []byte("configs")) && !strings.Contains(name, " ") {
			t.Errorf("%s: no cut is joined", name)
		}
		for i, c1 := range good[:min(len(good), 60)] {
			for _, c2 := range good[i+1 : min(len(good), i+60)] {
				if got := partsIndex(doc, []int{c1, c2}); !reflect.DeepEqual(got, want) {
					t.Fatalf("%s cut at %d and %d:\n got %+v\nwant %+v", name, c1, c2, got, want)
				}
			}
		}
		for trial := 0; trial < 300; trial++ {
			cuts := []int{rng.Intn(len(doc) + 1), rng.Intn(len(doc) + 1), rng.Intn(len(doc) + 1)}
			cuts = sortedInts(cuts)
			if got := partsIndex(doc, cuts); !reflect.DeepEqual(got, want) {
				t.Fatalf("%s cut at %v:\n got %+v\nwant %+v", name, cuts, got, want)
			}
		}
	}
}

// joinsAt reports whether the part of doc after cut is joined to the part before.
func joinsAt(doc []byte, cut int) bool {
	a, b := &indexer{}, resumeInList(int64(cut))
	if feedChunks(a, doc[:cut], nil, nil) != nil || feedChunks(b, doc[cut:], nil, nil) != nil {
		return false
	}
	return a.join(b)
}

func sortedInts(v []int) []int {
	for i := range v {
		for j := i + 1; j < len(v); j++ {
			if v[j] < v[i] {
				v[i], v[j] = v[j], v[i]
			}
		}
	}
	return v
}

// TestIndexPartsJoin: at the cuts splitPoints picks, the parts are joined rather than read
// again (the point of cutting), on the project's generated dumps (two spaces of indentation)
// and the real-shaped one (one, as Envoy writes it); the result is one indexer's.
func TestIndexPartsJoin(t *testing.T) {
	for _, in := range testutil.BenchInputs() {
		t.Run(in.Name, func(t *testing.T) {
			data := in.Data(t)
			for _, parts := range []int{2, 3, 4} {
				cuts := splitPoints(data, parts)
				if len(cuts) != parts-1 {
					t.Fatalf("%d parts: cuts %v", parts, cuts)
				}
				ix := &indexer{}
				if err := feedChunks(ix, data[:cuts[0]], nil, nil); err != nil {
					t.Fatal(err)
				}
				for k, cut := range cuts {
					end := len(data)
					if k+1 < len(cuts) {
						end = cuts[k+1]
					}
					b := resumeInList(int64(cut))
					if err := feedChunks(b, data[cut:end], nil, nil); err != nil {
						t.Fatal(err)
					}
					if !ix.join(b) {
						t.Fatalf("%d parts: part %d (from %d) not joined", parts, k+1, cut)
					}
				}
				if got, want := resultOf(ix, nil), serialIndex(data); !reflect.DeepEqual(got, want) {
					t.Fatalf("%d parts: joined index differs from one indexer's", parts)
				}
			}
		})
	}
}

// TestSplitPoints: cuts fall just after the comma between two elements four levels deep, in
// order, apart by minSplitPart at least; a compact or small document is not cut.
func TestSplitPoints(t *testing.T) {
	elem := strings.Repeat("x", 1000)
	var b strings.Builder
	b.WriteString("{\n  \"configs\": [\n    {\n      \"l\": [\n")
	for i := 0; i < 10000; i++ {
		if i > 0 {
			b.WriteString(",\n")
		}
		fmt.Fprintf(&b, "        {\n          \"v\": %q\n        }", elem)
	}
	b.WriteString("\n      ]\n    }\n  ]\n}")
	doc := []byte(b.String())
	cuts := splitPoints(doc, 4)
	if len(cuts) != 3 {
		t.Fatalf("cuts %v in %d bytes", cuts, len(doc))
	}
	last := 0
	for _, c := range cuts {
		if !bytes.HasSuffix(doc[:c], []byte("\n        },")) || !bytes.HasPrefix(doc[c:], []byte("\n        {")) {
			t.Errorf("cut at %d: %q|%q", c, doc[c-12:c], doc[c:c+12])
		}
		if c-last < minSplitPart {
			t.Errorf("cut at %d is %d bytes after the one before", c, c-last)
		}
		last = c
	}
	if got, want := partsIndex(doc, cuts), serialIndex(doc); !reflect.DeepEqual(got, want) {
		t.Errorf("parts differ from one indexer")
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, doc); err != nil {
		t.Fatal(err)
	}
	for name, d := range map[string][]byte{"compact": compact.Bytes(), "small": doc[:minSplitPart], "one part": doc} {
		parts := 4
		if name == "one part" {
			parts = 1
		}
		if cuts := splitPoints(d, parts); len(cuts) != 0 {
			t.Errorf("%s: cuts %v", name, cuts)
		}
	}
}

// TestIndexPartsBoundsElements: a hostile list of tiny objects cut in parts records no more
// element spans than one indexer does (each part alone is under the bound), since the join
// re-reads the rest where one indexer would have stopped recording.
func TestIndexPartsBoundsElements(t *testing.T) {
	const n = 300000
	elems := strings.Repeat("\n    {},", n-1) + "\n    {}"
	doc := []byte("{\n \"configs\": [\n  {\n   \"@type\": \"type.googleapis.com/envoy.admin.v3.ClustersConfigDump\",\n   \"dynamic_active_clusters\": [" + elems + "\n   ]\n  }\n ]\n}")
	// Objects of 40 bytes: more spans than the bound allows from about 440 kB on, while a part
	// starting at 400 kB stays under it by its own count.
	dense := "\n    {\"a\": \"" + strings.Repeat("x", 25) + "\"},"
	denseDoc := []byte("{\n \"configs\": [\n  {\n   \"@type\": \"type.googleapis.com/envoy.admin.v3.ClustersConfigDump\",\n   \"dynamic_active_clusters\": [" +
		strings.Repeat(dense, 25000) + "\n    {}\n   ]\n  }\n ]\n}")
	if len(dense) != 40 {
		t.Fatalf("dense element of %d bytes", len(dense))
	}
	for name, doc := range map[string][]byte{"tiny": doc, "dense": denseDoc} {
		want := serialIndex(doc)
		for _, cuts := range [][]int{{400000}, {len(doc) / 2}, {len(doc) / 4, len(doc) / 2, len(doc) * 3 / 4}} {
			for i := range cuts {
				cuts[i] += bytes.Index(doc[cuts[i]:], []byte("},")) + 2
			}
			if got := partsIndex(doc, cuts); !reflect.DeepEqual(got, want) {
				t.Fatalf("%s, cuts %v: %d element spans, one indexer %d", name, cuts, len(got.Elems), len(want.Elems))
			}
		}
	}
}

// TestIndexPartsStops: a part stops at its next chunk once an earlier part failed (feedChunks
// asks stop before each), and the error returned is the first part's, as one indexer's.
func TestIndexPartsStops(t *testing.T) {
	doc := []byte("[" + strings.Repeat(" ", 3*indexChunk) + "]")
	ix, err := indexParts(doc, []int{1, indexChunk + 1}, nil)
	if ix != nil || err == nil || err.Error() != serialIndex(doc).Err {
		t.Fatalf("got %v, %v; one indexer: %s", ix, err, serialIndex(doc).Err)
	}
	fed := 0
	asked := 0
	err = feedChunks(resumeInList(0), doc[1:], func(c []byte) { fed += len(c) }, func() bool { asked++; return asked > 1 })
	if err != errStopped || fed != indexChunk {
		t.Errorf("feedChunks: %v after %d bytes, want errStopped after one chunk (%d)", err, fed, indexChunk)
	}
}

// FuzzIndexParts: a document cut anywhere, in up to three parts, indexes as it does in one.
func FuzzIndexParts(f *testing.F) {
	for _, seed := range []string{
		"{\n \"configs\": [\n  {\n   \"@type\": \"x\",\n   \"l\": [\n    {\n     \"a\": 1\n    },\n    {\n     \"b\": \"\u00e9\"\n    }\n   ]\n  }\n ]\n}",
		"{\n \"configs\": [\n  {\n   \"l\": [\n    {},\n    {}\n   ],\n   \"@type\": \"y\",\n   \"m\": [\n    {},\n    2\n   ]\n  }\n ],\n \"z\": [{\"q\": [{}, {}]}]\n}",
		"{\n \"cluster_statuses\": [\n  {\n   \"h\": [\n    {},\n    {}\n   ]\n  }\n ]\n}",
		"{\n \"configs\": [\n  {\n   \"l\": [\n    {\"s\": \"a\\\"],\"},\n    {}\n   ]\n  }\n ]\n",
	} {
		f.Add([]byte(seed), uint32(len(seed)/2), uint32(0))
		f.Add([]byte(seed), uint32(len(seed)/3), uint32(len(seed)*2/3))
	}
	f.Fuzz(func(t *testing.T, doc []byte, c1, c2 uint32) {
		want := serialIndex(doc)
		n := uint32(len(doc) + 1)
		cuts := sortedInts([]int{int(c1 % n), int(c2 % n)})
		if got := partsIndex(doc, cuts); !reflect.DeepEqual(got, want) {
			t.Fatalf("cut at %v:\n got %+v\nwant %+v", cuts, got, want)
		}
		// The first cut where the part after is joined, if any, with the second.
		for c := cuts[0]; c < len(doc) && c < cuts[0]+64; c++ {
			if joinsAt(doc, c) {
				if got := partsIndex(doc, sortedInts([]int{c, cuts[1]})); !reflect.DeepEqual(got, want) {
					t.Fatalf("cut at %d and %d:\n got %+v\nwant %+v", c, cuts[1], got, want)
				}
				break
			}
		}
	})
}

// TestAnySpans: the index records the objects one and two levels into a list element whose
// first member is "@type" and no other key starts with '@' or has an escape, and where they
// end; the decoder then reads a section's resources as it does without them.
func TestAnySpans(t *testing.T) {
	doc := `{
 "configs": [
  {
   "@type": "type.googleapis.com/envoy.admin.v3.ClustersConfigDump",
   "dynamic_active_clusters": [
    {"version_info": "1", "cluster": {"@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster", "name": "first", "metadata": {"@type": "x", "y": {"@type": "too deep"}}}, "last_updated": "2024-01-01T00:00:00Z"},
    {"cluster": {"name": "not first", "@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster"}},
    {"cluster": {"@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster", "name": "twice", "@type": "type.googleapis.com/envoy.config.listener.v3.Listener"}},
    {"cluster": {"@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster", "n\u0061me": "escaped"}},
    {"cluster": {"@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster", "@other": 1}},
    {"cluster": {"\u0040type": "type.googleapis.com/envoy.config.cluster.v3.Cluster", "name": "escaped type"}},
    {"cluster": {"@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster", "name": "last"}}
   ],
   "zzz": {"x": {"@type": "not in a list"}}
  }
 ]
}`
	d, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range d.anys {
		got = append(got, doc[a.start:a.end])
	}
	want := []string{
		`{"@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster", "name": "first", "metadata": {"@type": "x", "y": {"@type": "too deep"}}}`,
		`{"@type": "x", "y": {"@type": "too deep"}}`,
		`{"@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster", "name": "last"}`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("typed configs recorded:\n got %q\nwant %q", got, want)
	}
	// The same section read without the index's typed configs.
	plain, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	plain.anys = nil
	for _, dd := range []*Dump{d, plain} {
		res, err := dd.ClusterResources()
		if err != nil {
			t.Fatal(err)
		}
		got = got[:0]
		for i := 0; i < res.Len(); i++ {
			got = append(got, res.list[i].any.GetTypeUrl()+" "+string(res.Raw(i)))
		}
		if dd == d {
			want = slices.Clone(got)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("with the index's typed configs:\n%s\nwithout:\n%s", strings.Join(want, "\n"), strings.Join(got, "\n"))
		}
	}
}
