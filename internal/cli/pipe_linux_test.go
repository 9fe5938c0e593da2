package cli

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

const fGetPipeSize = 1032 // F_GETPIPE_SZ

func pipeSizeOf(t *testing.T, f *os.File) int {
	t.Helper()
	n, _, errno := syscall.Syscall(syscall.SYS_FCNTL, f.Fd(), fGetPipeSize, 0)
	if errno != 0 {
		t.Fatalf("F_GETPIPE_SZ: %v", errno)
	}
	return int(n)
}

// TestGrowPipe checks that a pipe on stdout is grown to pipeSize (where the system allows
// it), and that growPipe leaves what is no pipe alone.
func TestGrowPipe(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	before := pipeSizeOf(t, w)
	growPipe(w)
	after := pipeSizeOf(t, w)
	limit := pipeSize
	if b, err := os.ReadFile("/proc/sys/fs/pipe-max-size"); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && n < limit {
			limit = n
		}
	}
	switch {
	case limit < pipeSize && after != before:
		t.Errorf("pipe grown from %d to %d bytes though the system allows only %d", before, after, limit)
	case limit >= pipeSize && after != pipeSize:
		t.Errorf("pipe of %d bytes after growPipe (from %d), want %d", after, before, pipeSize)
	}

	// A regular file is not touched (and growPipe does not fail on it).
	f, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	growPipe(f)
	if _, err := f.WriteString("still writable\n"); err != nil {
		t.Errorf("after growPipe on a file: %v", err)
	}
}
