package testutil

import "testing"

// BenchInput is one of the dumps the Go benchmarks run on.
type BenchInput struct {
	Name string
	Data func(testing.TB) []byte
}

// BenchInputs are the benchmarks' two dumps of about 12 MB each, big enough for per-byte costs
// to dominate: one from the project's generator ("gen") and one from the real-shaped generator
// beside the checkout ("real": real Istio listeners with many filter chains, route tables,
// EDS; skipped without Python 3 or ../shared).
func BenchInputs() []BenchInput {
	const (
		services = 1000 // gendump's services for about 12 MB
		realMB   = 12
	)
	return []BenchInput{
		{"gen", func(tb testing.TB) []byte { return GeneratedDump(tb, services) }},
		{"real", func(tb testing.TB) []byte { return RealShapedDump(tb, realMB) }},
	}
}
