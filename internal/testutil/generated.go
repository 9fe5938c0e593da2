package testutil

import (
	"bytes"
	"sync"
	"testing"

	"github.com/proxyctl/proxyctl/internal/gendump"
)

var generated sync.Map // services -> []byte

// GeneratedDump returns the config dump internal/gendump writes for a mesh of that many
// services (about 12 KB each), generated once per test binary; benchmarks share it.
func GeneratedDump(tb testing.TB, services int) []byte {
	tb.Helper()
	if doc, ok := generated.Load(services); ok {
		return doc.([]byte)
	}
	var buf bytes.Buffer
	if err := gendump.Write(&buf, gendump.Options{Services: services, Seed: 1}); err != nil {
		tb.Fatal(err)
	}
	doc, _ := generated.LoadOrStore(services, buf.Bytes())
	return doc.([]byte)
}
