//go:build unix

package cli

import (
	"os"
	"syscall"
	"unsafe"
)

// mapFile maps a regular file read-only into memory, so that a large dump is not copied onto
// the Go heap (where it would also inflate the garbage collector's target), and so that the
// pages of what a view does not read can be dropped (see releasePages). The mapping lives until
// the process exits: decoded strings point into it.
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

// releasePages drops the whole pages of b, part of a file mapping, from this process's memory.
// They stay valid: the kernel reads them from the file again if they are touched.
func releasePages(b []byte) {
	page := uintptr(os.Getpagesize())
	if uintptr(len(b)) < page {
		return
	}
	off := (page - uintptr(unsafe.Pointer(unsafe.SliceData(b)))%page) % page
	b = b[off:]
	n := uintptr(len(b)) &^ (page - 1)
	if n > 0 {
		_ = syscall.Madvise(b[:n], syscall.MADV_DONTNEED)
	}
}

// unmapFile ends a mapping of mapFile, for data nothing points into any more (a document a
// capture has archived): its pages, and the disk of an unlinked file, are given back at once.
func unmapFile(data []byte) {
	_ = syscall.Munmap(data)
}
