package cli

import (
	"os"
	"runtime/debug"
)

// Heap limits of the views that stream a dump (every proxy-config view but -o jsonpath, which
// decodes the whole -o json value). Go lets the heap grow to twice what is live before it
// collects; a view that decodes a few resources at a time holds little, so most of that is
// garbage the peak RSS pays for. The limit is a soft one (runtime/debug.SetMemoryLimit): the
// collector runs more often near it, never fails an allocation, and gives up at half the CPU
// when more than the limit is live.
const (
	heapLimitShare = 0.75     // of the dump's size
	heapLimitFloor = 32 << 20 // bytes: below, the binary's own memory is most of the figure
)

// limitHeap sets the soft heap limit for a view of a dump of size bytes, unless GOMEMLIMIT
// sets one, and returns what restores the limit before.
func limitHeap(size int) (restore func()) {
	if _, set := os.LookupEnv("GOMEMLIMIT"); set {
		return func() {}
	}
	limit := max(int64(float64(size)*heapLimitShare), heapLimitFloor)
	before := debug.SetMemoryLimit(limit)
	return func() { debug.SetMemoryLimit(before) }
}
