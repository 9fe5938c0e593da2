//go:build unix

package cli

import (
	"os"
	"syscall"
)

// mapFile maps a regular file read-only into memory, so that a large dump is not copied onto
// the Go heap (where it would also inflate the garbage collector's target). The mapping lives
// until the process exits: decoded strings point into it.
func mapFile(f *os.File, size int64) ([]byte, bool) {
	if size <= 0 || int64(int(size)) != size {
		return nil, false
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_PRIVATE)
	if err != nil {
		return nil, false
	}
	return data, true
}
