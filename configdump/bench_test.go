package configdump

import (
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	"google.golang.org/protobuf/proto"

	"github.com/proxyctl/proxyctl/internal/testutil"
)

// benchInputs runs bench on each of testutil.BenchInputs, parsed.
func benchInputs(b *testing.B, bench func(b *testing.B, data []byte, d *Dump)) {
	for _, in := range testutil.BenchInputs() {
		b.Run(in.Name, func(b *testing.B) {
			data := in.Data(b)
			d, err := Parse(data)
			if err != nil {
				b.Fatal(err)
			}
			bench(b, data, d)
		})
	}
}

// BenchmarkParse indexes the whole dump: what every view pays before it reads a section.
func BenchmarkParse(b *testing.B) {
	benchInputs(b, func(b *testing.B, data []byte, _ *Dump) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, err := Parse(data); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkSection decodes the clusters and listeners sections (their resources left raw), the
// long lists on all cores: what every view of the section pays first.
func BenchmarkSection(b *testing.B) {
	benchInputs(b, func(b *testing.B, _ []byte, d *Dump) {
		for _, s := range []Section{ClustersSection, ListenersSection} {
			b.Run(s.Short(), func(b *testing.B) {
				value := d.sectionValues(s)[0]
				mt := resolveType("type.googleapis.com/" + string(s))
				b.SetBytes(int64(len(value)))
				for b.Loop() {
					if err := d.decodeSection(value, mt.New().Interface()); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	})
}

// BenchmarkDecode decodes every resource of a section, on all cores: whole (as -o json did
// before transcoding), or as the tables do (the fields they read decoded, the rest checked).
func BenchmarkDecode(b *testing.B) {
	benchInputs(b, func(b *testing.B, _ []byte, d *Dump) {
		b.Run("clusters", func(b *testing.B) { benchDecode(b, d, ClustersSection, d.ClusterResources, nil, false) })
		// The cluster table's fields (see internal/cli's clusterList), and before a projection
		// could name map keys: the whole metadata.
		table := Fields("name", "type", "metadata.filter_metadata.istio.config")
		b.Run("clusters-projected", func(b *testing.B) { benchDecode(b, d, ClustersSection, d.ClusterResources, table, false) })
		b.Run("clusters-table", func(b *testing.B) { benchDecode(b, d, ClustersSection, d.ClusterResources, table, true) })
		b.Run("clusters-table-metadata", func(b *testing.B) {
			benchDecode(b, d, ClustersSection, d.ClusterResources, Fields("name", "type", "metadata"), true)
		})
		b.Run("listeners", func(b *testing.B) { benchDecode(b, d, ListenersSection, d.ListenerResources, nil, false) })
		b.Run("listeners-table", func(b *testing.B) {
			benchDecode(b, d, ListenersSection, d.ListenerResources, Fields("name", "address", "additional_addresses", "internal_listener",
				"filter_chains.filter_chain_match", "filter_chains.filters", "default_filter_chain.filter_chain_match", "default_filter_chain.filters"), true)
		})
		b.Run("routes", func(b *testing.B) { benchDecode(b, d, RoutesSection, d.RouteConfigResources, nil, false) })
		b.Run("endpoints", func(b *testing.B) { benchDecode(b, d, EndpointsSection, d.LoadAssignmentResources, nil, false) })
	})
}

func benchDecode[T proto.Message](b *testing.B, d *Dump, s Section, resources func() (Resources[T], error), p Projection, checked bool) {
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
		r = r.Select(p)
		if checked {
			r = r.Checked()
		}
		n := 0
		err = Each(r, nil, func(m T) (int, error) { return 1, nil }, func(k int) error {
			n += k
			return nil
		})
		if err != nil || n == 0 {
			b.Fatalf("decoded %d resources: %v", n, err)
		}
	}
}

// BenchmarkEncode prints decoded clusters and listeners as JSON (the Encoder alone).
func BenchmarkEncode(b *testing.B) {
	benchInputs(b, func(b *testing.B, _ []byte, d *Dump) {
		b.Run("clusters", func(b *testing.B) { benchEncode(b, d, d.ClusterResources) })
		b.Run("listeners", func(b *testing.B) { benchEncode(b, d, d.ListenerResources) })
	})
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

// BenchmarkJSON prints every cluster and listener as -o json does: transcoded from the dump's
// JSON on all cores (EachJSON), against decoding and encoding them ("decode+encode").
func BenchmarkJSON(b *testing.B) {
	benchInputs(b, func(b *testing.B, _ []byte, d *Dump) {
		b.Run("clusters", func(b *testing.B) { benchJSON(b, d, ClustersSection, d.ClusterResources, false) })
		b.Run("clusters-decode+encode", func(b *testing.B) { benchJSON(b, d, ClustersSection, d.ClusterResources, true) })
		b.Run("listeners", func(b *testing.B) { benchJSON(b, d, ListenersSection, d.ListenerResources, false) })
		b.Run("listeners-decode+encode", func(b *testing.B) { benchJSON(b, d, ListenersSection, d.ListenerResources, true) })
	})
}

func benchJSON[T proto.Message](b *testing.B, d *Dump, s Section, resources func() (Resources[T], error), decode bool) {
	size := 0
	for _, v := range d.SectionData(s) {
		size += len(v)
	}
	b.SetBytes(int64(size))
	r, err := resources()
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		n := 0
		if decode {
			err = Each(r, nil, func(m T) (int, error) {
				e := d.NewEncoder()
				e.SetDepth(1)
				return len(e.Bytes()), e.Message(m)
			}, func(int) error { n++; return nil })
		} else {
			err = EachJSON(r, nil, 1, false, func(j []byte) (int, error) { return len(j), nil }, func(int) error { n++; return nil })
		}
		if err != nil || n != r.Len() {
			b.Fatalf("printed %d of %d: %v", n, r.Len(), err)
		}
	}
}

// BenchmarkRedactions walks the whole dump for wrong values and secrets, as pc all -o json
// does (the sections' long lists on all cores).
func BenchmarkRedactions(b *testing.B) {
	benchInputs(b, func(b *testing.B, data []byte, d *Dump) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, err := d.Redactions(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkChainTarget finds where each filter chain of each listener sends traffic, as the
// listener table does (of a chain's HTTP connection manager, only the route is decoded).
func BenchmarkChainTarget(b *testing.B) {
	benchInputs(b, func(b *testing.B, _ []byte, d *Dump) {
		r, err := d.ListenerResources()
		if err != nil {
			b.Fatal(err)
		}
		ls, err := r.Decode()
		if err != nil {
			b.Fatal(err)
		}
		chains := 0
		for _, l := range ls {
			chains += len(FilterChains(l))
		}
		b.ReportMetric(float64(chains), "chains")
		for b.Loop() {
			for _, l := range ls {
				for _, fc := range FilterChains(l) {
					if t := d.ChainTarget(fc.GetFilters()); t.Kind == TargetError {
						b.Fatal(t.Err)
					}
				}
			}
		}
	})
}

// BenchmarkLookup finds one cluster by name on the section's bytes, as pc explain does: one
// the dump has (decoded), and one it lacks (sure from the byte search alone).
func BenchmarkLookup(b *testing.B) {
	q := QuickLookup{Section: ClustersSection, Key: "name", Exclude: []string{"dynamic_warming_clusters"},
		TypeURLs: []string{"type.googleapis.com/envoy.config.cluster.v3.Cluster", "type.googleapis.com/envoy.api.v2.Cluster"}}
	benchInputs(b, func(b *testing.B, _ []byte, d *Dump) {
		r, err := d.ClusterResources()
		if err != nil {
			b.Fatal(err)
		}
		names, err := r.Select(Fields("name")).Decode()
		if err != nil || len(names) == 0 {
			b.Fatal(err)
		}
		present := names[len(names)/2].GetName()
		for _, tc := range []struct{ name, value string }{{"present", present}, {"absent", present + "-absent"}} {
			b.Run(tc.name, func(b *testing.B) {
				b.SetBytes(int64(len(d.sectionValues(ClustersSection)[0])))
				for b.Loop() {
					if _, sure, err := d.Lookup(q, tc.value, &clusterv3.Cluster{}); err != nil || !sure {
						b.Fatalf("sure %v, %v", sure, err)
					}
				}
			})
		}
	})
}
