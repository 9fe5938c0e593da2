package configdump

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"
)

// TestFirstSpecial: the eight-bytes-at-a-time search finds the first quote, backslash or byte
// below 0x20 where a byte-by-byte loop does, whatever its position and neighbours (0x20, 0x7f,
// 0x80 and up).
func TestFirstSpecial(t *testing.T) {
	naive := func(b []byte) int {
		for i, c := range b {
			if c < 0x20 || c == '"' || c == '\\' {
				return i
			}
		}
		return len(b)
	}
	rng := rand.New(rand.NewSource(1))
	alphabet := []byte{0x00, 0x01, 0x09, 0x0a, 0x1f, 0x20, 0x21, '"', '\\', '#', ']', 'a', 0x7f, 0x80, 0x9f, 0xa0, 0xdc, 0xdf, 0xe0, 0xff}
	for n := 0; n < 40; n++ {
		for trial := 0; trial < 300; trial++ {
			b := make([]byte, n)
			for i := range b {
				b[i] = 'a' + byte(rng.Intn(26))
				if rng.Intn(8) == 0 {
					b[i] = alphabet[rng.Intn(len(alphabet))]
				}
			}
			if got, want := firstSpecial(b), naive(b); got != want {
				t.Fatalf("firstSpecial(%q) = %d, want %d", b, got, want)
			}
		}
	}
}

// TestNextStructural: the eight-bytes-at-a-time search finds the first quote, bracket (and
// comma) where a byte-by-byte loop does.
func TestNextStructural(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	alphabet := []byte{'"', '{', '}', '[', ']', ',', ';', '[' | 0x80, '{' | 0x80, '}' ^ 0x20, 0x7b ^ 0x20, ' ', 'a', 0xff, 0x00}
	for n := 0; n < 40; n++ {
		for trial := 0; trial < 300; trial++ {
			b := make([]byte, n)
			for i := range b {
				b[i] = 'a' + byte(rng.Intn(26))
				if rng.Intn(8) == 0 {
					b[i] = alphabet[rng.Intn(len(alphabet))]
				}
			}
			for _, comma := range []bool{false, true} {
				want := len(b)
				for i, c := range b {
					if c == '"' || c == '{' || c == '}' || c == '[' || c == ']' || comma && c == ',' {
						want = i
						break
					}
				}
				if got := nextStructural(b, 0, comma); got != want {
					t.Fatalf("nextStructural(%q, %v) = %d, want %d", b, comma, got, want)
				}
			}
		}
	}
}

func TestResourcesContaining(t *testing.T) {
	doc := []byte(`{"configs":[{"@type":"type.googleapis.com/envoy.admin.v3.ClustersConfigDump","dynamic_active_clusters":[
		{"cluster":{"@type":"type.googleapis.com/envoy.config.cluster.v3.Cluster","name":"a|80"}},
		{"cluster":{"@type":"type.googleapis.com/envoy.config.cluster.v3.Cluster","name":"b|80"}},
		{"cluster":{"@type":"type.googleapis.com/envoy.config.cluster.v3.Cluster","name":"a|80x"}}]}]}`)
	d, err := Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	res, err := d.ClusterResources()
	if err != nil {
		t.Fatal(err)
	}
	for needle, want := range map[string]string{`"a|80"`: "[0]", `"b|80"`: "[1]", `a|80`: "[0 2]", `"c"`: "[]"} {
		if got := fmt.Sprint(res.Containing([]byte(needle))); got != want {
			t.Errorf("Containing(%s) = %s, want %s", needle, got, want)
		}
	}
}

// TestElementSpansBounded: a section holding a list of many tiny objects (a hostile dump:
// {},{},...) does not make the indexer record a span per object beyond what real resources
// could fill; the list is then decoded one element after the other, with the same result.
func TestElementSpansBounded(t *testing.T) {
	const n = 300000
	elems := strings.Repeat("{},", n-1) + "{}"
	for _, field := range []string{"zzz_unknown", "dynamic_active_clusters"} {
		doc := []byte(`{"configs": [{"@type": "type.googleapis.com/envoy.admin.v3.ClustersConfigDump", "` + field + `": [` + elems + `]}]}`)
		d, err := Parse(doc)
		if err != nil {
			t.Fatalf("%s: %v", field, err)
		}
		if len(d.elems) > maxElems(int64(len(doc))) {
			t.Errorf("%s: %d element spans for a %d-byte document (at most %d)", field, len(d.elems), len(doc), maxElems(int64(len(doc))))
		}
		if _, err := d.ClusterResources(); err != nil && field == "zzz_unknown" {
			t.Errorf("%s: %v", field, err)
		}
	}
}
