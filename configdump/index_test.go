package configdump

import (
	"fmt"
	"math/rand"
	"testing"
)

// TestControlByte: the eight-bytes-at-a-time search finds the first byte below 0x20 where a
// byte-by-byte loop does, whatever its position and neighbours (0x20, 0x7f, 0x80 and up).
func TestControlByte(t *testing.T) {
	naive := func(b []byte) int {
		for i, c := range b {
			if c < 0x20 {
				return i
			}
		}
		return -1
	}
	rng := rand.New(rand.NewSource(1))
	alphabet := []byte{0x00, 0x01, 0x09, 0x0a, 0x1f, 0x20, 0x21, 'a', 0x7f, 0x80, 0x9f, 0xa0, 0xdf, 0xe0, 0xff}
	for n := 0; n < 40; n++ {
		for trial := 0; trial < 300; trial++ {
			b := make([]byte, n)
			for i := range b {
				b[i] = 'a' + byte(rng.Intn(26))
				if rng.Intn(8) == 0 {
					b[i] = alphabet[rng.Intn(len(alphabet))]
				}
			}
			if got, want := controlByte(b), naive(b); got != want {
				t.Fatalf("controlByte(%q) = %d, want %d", b, got, want)
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
