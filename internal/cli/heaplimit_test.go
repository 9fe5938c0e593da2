package cli

import (
	"os"
	"runtime/debug"
	"testing"
)

// TestLimitHeap: a view's soft heap limit is three quarters of its dump (32 MiB at least),
// restored after it, and left to GOMEMLIMIT when the user sets one.
func TestLimitHeap(t *testing.T) {
	if v, set := os.LookupEnv("GOMEMLIMIT"); set {
		t.Skipf("GOMEMLIMIT=%s is set for the tests", v)
	}
	before := debug.SetMemoryLimit(-1)
	for _, tc := range []struct {
		size int
		want int64
	}{
		{0, 32 << 20},
		{10 << 20, 32 << 20},
		{64 << 20, 48 << 20},
		{200 << 20, 150 << 20},
	} {
		restore := limitHeap(tc.size)
		if got := debug.SetMemoryLimit(-1); got != tc.want {
			t.Errorf("limit for a %d MiB dump: %d MiB, want %d MiB", tc.size>>20, got>>20, tc.want>>20)
		}
		restore()
		if got := debug.SetMemoryLimit(-1); got != before {
			t.Errorf("after restore: %d, want the limit before (%d)", got, before)
		}
	}

	t.Setenv("GOMEMLIMIT", "1GiB")
	restore := limitHeap(200 << 20)
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Errorf("with GOMEMLIMIT set, the limit became %d, want it left at %d", got, before)
	}
	restore()
}
