package configdump

import (
	"math/rand"
	"slices"
	"sort"
	"testing"
	"unsafe"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"

	"github.com/proxyctl/proxyctl/internal/testutil"
)

// sharesMemory reports whether s's bytes lie inside buf.
func sharesMemory(s string, buf []byte) bool {
	if len(s) == 0 {
		return false
	}
	p, b := uintptr(unsafe.Pointer(unsafe.StringData(s))), uintptr(unsafe.Pointer(&buf[0]))
	return p >= b && p < b+uintptr(len(buf))
}

// TestOrderKeysOwnTheirText: the sort keys of clusters and listeners do not point into the
// document (a view sorts them after giving back the pages of the resources), and keep their
// values.
func TestOrderKeysOwnTheirText(t *testing.T) {
	const cluster, addr, listener = "outbound|9080|v1|reviews.default.svc.cluster.local", "0.0.0.0", "virtualInbound"
	doc := []byte(cluster + addr + listener)
	name := bytesToString(doc[:len(cluster)])
	addrText := bytesToString(doc[len(cluster) : len(cluster)+len(addr)])
	k := ClusterOrder(name)
	if k.Host != "reviews.default.svc.cluster.local" || k.Subset != "v1" || k.Port != 9080 || k.Direction != "outbound" {
		t.Fatalf("ClusterOrder(%q) = %+v", name, k)
	}
	for _, s := range []string{k.Host, k.Subset, k.Direction} {
		if sharesMemory(s, doc) {
			t.Errorf("ClusterOrder's %q shares the document's memory", s)
		}
	}
	if plain := ClusterOrder(addrText); plain.Host != "0.0.0.0" || sharesMemory(plain.Host, doc) {
		t.Errorf("ClusterOrder of a plain name = %+v (shares the document: %v)", plain, sharesMemory(plain.Host, doc))
	}
	l := &listenerv3.Listener{
		Name: bytesToString(doc[len(cluster)+len(addr):]),
		Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
			Address: addrText, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 15006},
		}}},
	}
	lk := ListenerOrder(l)
	if lk.port != 15006 || lk.addr != "0.0.0.0" || lk.name != "virtualInbound" {
		t.Fatalf("ListenerOrder = %+v", lk)
	}
	for _, s := range []string{lk.addr, lk.name, lk.typ} {
		if sharesMemory(s, doc) {
			t.Errorf("ListenerOrder's %q shares the document's memory", s)
		}
	}
}

// TestASCII: the indexer says a document is ASCII only when no byte of it is 0x80 or more,
// wherever the byte is (a key, a short or long string, after an escape, across the pieces a
// stream is fed in).
func TestASCII(t *testing.T) {
	wrap := func(s string) string {
		return `{"configs": [{"@type": "type.googleapis.com/envoy.admin.v3.BootstrapConfigDump", "bootstrap": {"node": {"id": "` + s + `"}}}]}`
	}
	for _, tc := range []struct {
		name, doc string
		ascii     bool
	}{
		{"plain", wrap("sidecar~10.0.0.1~a.b~b.svc.cluster.local"), true},
		{"escapes of non-ASCII", wrap(`caf\u00e9 \u202e \u0085`), true},
		{"short string", wrap("é"), false},
		{"long string, late", wrap("abcdefghijklmnopqrstuvwxyz0123456789\u202e"), false},
		{"long string, early", wrap("\u0085abcdefghijklmnopqrstuvwxyz0123456789"), false},
		{"after an escape", wrap(`\n` + "\u00a0x"), false},
		{"in a key", `{"configs": [], "clé": 1}`, false},
		{"last byte before the quote", wrap("abcdefg\u00e9"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Parse([]byte(tc.doc))
			if err != nil {
				t.Fatal(err)
			}
			if d.ASCII() != tc.ascii {
				t.Errorf("ASCII() = %v, want %v", d.ASCII(), tc.ascii)
			}
			// Fed a byte at a time, as a slow pipe delivers it.
			ix := NewIndexer()
			for i := range len(tc.doc) {
				if err := ix.Feed([]byte(tc.doc[i : i+1])); err != nil {
					t.Fatal(err)
				}
			}
			if d, err = ix.Dump([]byte(tc.doc)); err != nil || d.ASCII() != tc.ascii {
				t.Errorf("fed bytewise: ASCII() = %v (%v), want %v", d != nil && d.ASCII(), err, tc.ascii)
			}
		})
	}
}

// TestSortedPassReleases: a pass over the resources in another order than the document's
// gives back the pages of their whole span as it goes (every megabyte handled), and one in
// the document's order what lies behind it; neither changes what is printed.
func TestSortedPassReleases(t *testing.T) {
	d, err := Parse(testutil.GeneratedDump(t, 300))
	if err != nil {
		t.Fatal(err)
	}
	var released [][2]int
	d.ReleaseWith(func(b []byte) {
		at := offsetIn(d.src, b)
		released = append(released, [2]int{at, at + len(b)})
	})
	res, err := d.ClusterResources()
	if err != nil {
		t.Fatal(err)
	}
	n := res.Len()
	lo, hi := len(d.src), 0
	total := 0
	for i := range n {
		lo, hi = min(lo, res.start(i)), max(hi, res.end(i))
		total += res.end(i) - res.start(i)
	}
	if total < 3*releaseChunk {
		t.Fatalf("the dump's clusters are %d bytes: too few for the test", total)
	}
	print := func(indexes []int) map[int]string {
		out := map[int]string{}
		k := 0
		err := EachJSON(res, indexes, 0, true, func(json []byte) (string, error) { return string(json), nil }, func(s string) error {
			i := k
			if indexes != nil {
				i = indexes[k]
			}
			out[i] = s
			k++
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	inOrder := print(nil)
	for _, r := range released {
		if r[0] < lo || r[1] > hi {
			t.Errorf("in order: released %v, outside the resources' span [%d, %d)", r, lo, hi)
		}
	}
	if len(released) == 0 {
		t.Error("in order: nothing released")
	}
	released = nil
	reversed := make([]int, n)
	for k := range reversed {
		reversed[k] = n - 1 - k
	}
	sorted := print(reversed)
	whole := 0
	for _, r := range released {
		if r == [2]int{lo, hi} {
			whole++
		}
	}
	if want := total / releaseChunk; whole < want || whole != len(released) {
		t.Errorf("reversed: released %d times the whole span [%d, %d) of %d releases (%v), want %d", whole, lo, hi, len(released), released[:min(3, len(released))], want)
	}
	for i, s := range inOrder {
		if sorted[i] != s {
			t.Fatalf("resource %d printed differently in another order", i)
		}
	}
}

// TestSortByKeyAsSortSlice: SortByKey orders items, equal keys included, exactly as
// sort.Slice with the same less does (the order istioctl's views print).
func TestSortByKeyAsSortSlice(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	type item struct{ key, id int }
	for _, n := range []int{0, 1, 2, 5, 12, 13, 50, 100, 1000, 5000} {
		for _, keys := range []int{1, 3, n/2 + 1, 4*n + 1} {
			items := make([]item, n)
			for i := range items {
				items[i] = item{rng.Intn(keys), i}
			}
			if n > 50 && keys > n {
				slices.SortFunc(items[:n/2], func(a, b item) int { return a.key - b.key }) // a sorted run
			}
			want := slices.Clone(items)
			sort.Slice(want, func(i, j int) bool { return want[i].key < want[j].key })
			got := slices.Clone(items)
			SortByKey(got, func(it item) int { return it.key }, func(a, b int) bool { return a < b })
			if !slices.Equal(got, want) {
				t.Fatalf("%d items, %d keys: order differs from sort.Slice", n, keys)
			}
		}
	}
}
