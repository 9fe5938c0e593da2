package configdump

import (
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"

	"google.golang.org/protobuf/proto"

	"github.com/proxyctl/proxyctl/internal/testutil"
)

// benchServices makes a dump of about 12 MB: big enough for per-byte costs to dominate.
const benchServices = 1000

func benchDump(b *testing.B) ([]byte, *Dump) {
	b.Helper()
	data := testutil.GeneratedDump(b, benchServices)
	d, err := Parse(data)
	if err != nil {
		b.Fatal(err)
	}
	return data, d
}

// BenchmarkParse indexes the whole dump: what every view pays before it reads a section.
func BenchmarkParse(b *testing.B) {
	data, _ := benchDump(b)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecode decodes every resource of a section, on all cores, as -o json does.
func BenchmarkDecode(b *testing.B) {
	_, d := benchDump(b)
	b.Run("clusters", func(b *testing.B) { benchDecode(b, d, ClustersSection, d.ClusterResources, nil) })
	b.Run("clusters-projected", func(b *testing.B) {
		// The fields the cluster table reads.
		benchDecode(b, d, ClustersSection, d.ClusterResources, Fields("name", "type", "metadata"))
	})
	b.Run("clusters-table", func(b *testing.B) {
		// What the cluster table does: those fields decoded, the rest checked (see Checked).
		benchDecode(b, d, ClustersSection, func() (Resources[*clusterv3.Cluster], error) {
			r, err := d.ClusterResources()
			return r.Checked(), err
		}, Fields("name", "type", "metadata"))
	})
	b.Run("listeners", func(b *testing.B) { benchDecode(b, d, ListenersSection, d.ListenerResources, nil) })
	b.Run("routes", func(b *testing.B) { benchDecode(b, d, RoutesSection, d.RouteConfigResources, nil) })
	b.Run("endpoints", func(b *testing.B) { benchDecode(b, d, EndpointsSection, d.LoadAssignmentResources, nil) })
}

func benchDecode[T proto.Message](b *testing.B, d *Dump, s Section, resources func() (Resources[T], error), p Projection) {
	size := 0
	for _, v := range d.SectionData(s) {
		size += len(v)
	}
	b.SetBytes(int64(size))
	for b.Loop() {
		r, err := resources()
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		err = Each(r.Select(p), nil, func(m T) (int, error) { return 1, nil }, func(k int) error {
			n += k
			return nil
		})
		if err != nil || n == 0 {
			b.Fatalf("decoded %d resources: %v", n, err)
		}
	}
}

// BenchmarkEncode prints decoded clusters and listeners as JSON.
func BenchmarkEncode(b *testing.B) {
	_, d := benchDump(b)
	b.Run("clusters", func(b *testing.B) { benchEncode(b, d, d.ClusterResources) })
	b.Run("listeners", func(b *testing.B) { benchEncode(b, d, d.ListenerResources) })
}

func benchEncode[T proto.Message](b *testing.B, d *Dump, resources func() (Resources[T], error)) {
	r, err := resources()
	if err != nil {
		b.Fatal(err)
	}
	msgs, err := r.Decode()
	if err != nil {
		b.Fatal(err)
	}
	enc := d.NewEncoder()
	var size int64
	for _, m := range msgs {
		enc.Reset()
		if err := enc.Message(m); err != nil {
			b.Fatal(err)
		}
		size += int64(len(enc.Bytes()))
	}
	b.SetBytes(size)
	for b.Loop() {
		for _, m := range msgs {
			enc.Reset()
			if err := enc.Message(m); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkRedactions walks the whole dump for secrets, as pc all -o json does.
func BenchmarkRedactions(b *testing.B) {
	data, d := benchDump(b)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := d.Redactions(); err != nil {
			b.Fatal(err)
		}
	}
}
