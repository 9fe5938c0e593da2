package formatter

import (
	"bytes"
	"io"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"

	"github.com/proxyctl/proxyctl/configdump"
	"github.com/proxyctl/proxyctl/internal/testutil"
)

// The writers' benchmarks start from decoded resources of a generated dump of about 12 MB, so
// that they measure formatting, not parsing (see configdump's benchmarks for that).
const benchServices = 1000

type benchInput struct {
	d         *configdump.Dump
	clusters  []*clusterv3.Cluster
	listeners []*listenerv3.Listener
	routes    []*routev3.RouteConfiguration
}

func loadBench(b *testing.B) benchInput {
	b.Helper()
	d, err := configdump.Parse(testutil.GeneratedDump(b, benchServices))
	if err != nil {
		b.Fatal(err)
	}
	in := benchInput{d: d}
	cr, err := d.ClusterResources()
	if err == nil {
		in.clusters, err = cr.Decode()
	}
	if err != nil {
		b.Fatal(err)
	}
	lr, err := d.ListenerResources()
	if err == nil {
		in.listeners, err = lr.Decode()
	}
	if err != nil {
		b.Fatal(err)
	}
	rr, err := d.RouteConfigResources()
	if err == nil {
		in.routes, err = rr.Decode()
	}
	if err != nil {
		b.Fatal(err)
	}
	return in
}

// countingDiscard counts what a writer prints.
type countingDiscard struct{ n int64 }

func (c *countingDiscard) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}

// benchWrite runs write once to size its output, then b.N times.
func benchWrite(b *testing.B, write func(io.Writer) error) {
	var c countingDiscard
	if err := write(&c); err != nil {
		b.Fatal(err)
	}
	if c.n == 0 {
		b.Fatal("nothing written")
	}
	b.SetBytes(c.n)
	for b.Loop() {
		if err := write(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTables: the rows and the aligned table of the short views.
func BenchmarkTables(b *testing.B) {
	in := loadBench(b)
	b.Run("cluster", func(b *testing.B) {
		benchWrite(b, func(w io.Writer) error {
			rows := make([]string, len(in.clusters))
			for i, c := range in.clusters {
				rows[i] = ClusterRow(c, false)
			}
			return ClusterTable(w, rows, false)
		})
	})
	b.Run("listener", func(b *testing.B) {
		benchWrite(b, func(w io.Writer) error {
			var rows []string
			for _, l := range in.listeners {
				rows = append(rows, ListenerRows(in.d, l, true, false)...)
			}
			return ListenerTable(w, rows, true, false)
		})
	})
	b.Run("route", func(b *testing.B) {
		benchWrite(b, func(w io.Writer) error {
			var rows []string
			for _, r := range in.routes {
				rows = append(rows, RouteRows(r, true, false)...)
			}
			return RouteTable(w, rows, true)
		})
	})
}

// BenchmarkResources: -o json and -o yaml of the cluster view.
func BenchmarkResources(b *testing.B) {
	in := loadBench(b)
	for _, f := range []Format{JSON, YAML} {
		b.Run(string(f), func(b *testing.B) {
			benchWrite(b, func(w io.Writer) error { return Resources(w, in.d, in.clusters, f) })
		})
	}
}

// BenchmarkProxyDiff: proxy-status's diff of a dump against an identical one.
func BenchmarkProxyDiff(b *testing.B) {
	in := loadBench(b)
	other, err := configdump.Parse(in.d.Source())
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(in.d.Source())))
	for b.Loop() {
		differs, err := ProxyDiff(io.Discard, in.d, other, time.UTC)
		if err != nil || differs {
			b.Fatalf("differs %v, %v", differs, err)
		}
	}
}

// benchDocs runs bench on a generated dump and a real-shaped one (see configdump's benchmarks).
func benchDocs(b *testing.B, bench func(b *testing.B, d *configdump.Dump)) {
	for _, in := range testutil.BenchInputs() {
		b.Run(in.Name, func(b *testing.B) {
			d, err := configdump.Parse(in.Data(b))
			if err != nil {
				b.Fatal(err)
			}
			bench(b, d)
		})
	}
}

// BenchmarkYAML converts the clusters' and listeners' JSON to YAML as -o yaml does, with the
// fast writer and with yaml.v2 ("yaml.v2": JSON read into maps, then yaml.v2).
func BenchmarkYAML(b *testing.B) {
	benchDocs(b, func(b *testing.B, d *configdump.Dump) {
		var docs [][]byte
		var size int64
		collect := func(j []byte) ([]byte, error) { return bytes.Clone(j), nil }
		keep := func(j []byte) error { docs = append(docs, j); size += int64(len(j)); return nil }
		if r, err := d.ClusterResources(); err == nil {
			configdump.EachJSON(r, nil, 0, true, collect, keep)
		}
		if r, err := d.ListenerResources(); err == nil {
			configdump.EachJSON(r, nil, 0, true, collect, keep)
		}
		for _, conv := range []struct {
			name string
			f    func([]byte) ([]byte, error)
		}{{"fast", yamlConvert}, {"yaml.v2", jsonToYAML}} {
			b.Run(conv.name, func(b *testing.B) {
				b.SetBytes(size)
				for b.Loop() {
					for _, doc := range docs {
						if _, err := conv.f(doc); err != nil {
							b.Fatal(err)
						}
					}
				}
			})
		}
	})
}

// BenchmarkWriteYAML writes the whole dump as YAML, as pc all -o yaml does.
func BenchmarkWriteYAML(b *testing.B) {
	benchDocs(b, func(b *testing.B, d *configdump.Dump) {
		benchWrite(b, func(w io.Writer) error { return Raw(w, d.Source(), nil, YAML) })
	})
}

// BenchmarkProxyDiffSums: proxy-status's diff of a dump against itself and against a copy
// with a few values changed, resource by resource from the sums of their text.
func BenchmarkProxyDiffSums(b *testing.B) {
	benchDocs(b, func(b *testing.B, d *configdump.Dump) {
		changed := bytes.Replace(d.Source(), []byte(`"initial_fetch_timeout": "0s"`), []byte(`"initial_fetch_timeout": "1s"`), 5)
		for _, c := range []struct {
			name  string
			other []byte
		}{{"identical", d.Source()}, {"changed", changed}} {
			b.Run(c.name, func(b *testing.B) {
				other, err := configdump.Parse(c.other)
				if err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(len(c.other)))
				for b.Loop() {
					if _, err := ProxyDiff(io.Discard, d, other, time.UTC); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	})
}

// BenchmarkRaw: pc all -o json's writing of the document as it is, redactions applied (the
// characters a terminal acts on escaped), on the generated and the real-shaped dump.
func BenchmarkRaw(b *testing.B) {
	for _, in := range testutil.BenchInputs() {
		b.Run(in.Name, func(b *testing.B) {
			data := in.Data(b)
			d, err := configdump.Parse(data)
			if err != nil {
				b.Fatal(err)
			}
			redactions, err := d.Redactions()
			if err != nil {
				b.Fatal(err)
			}
			b.Run("checked", func(b *testing.B) {
				benchWrite(b, func(w io.Writer) error { return Raw(w, data, redactions, JSON) })
			})
			// As pc all -o json writes a document the indexer found to be ASCII.
			b.Run("ascii", func(b *testing.B) {
				if !d.ASCII() {
					b.Skip("the dump is not ASCII")
				}
				benchWrite(b, func(w io.Writer) error { return RawReleasing(w, data, true, redactions, JSON, nil) })
			})
		})
	}
}
