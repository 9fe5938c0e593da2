//go:build unix

package main

import (
	"os"
	"runtime"
	"syscall"
	"time"
)

// usage returns a finished process's user and system CPU time and peak RSS in bytes.
func usage(ps *os.ProcessState) (user, sys time.Duration, rss int64) {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok {
		return ps.UserTime(), ps.SystemTime(), 0
	}
	rss = ru.Maxrss * 1024 // kilobytes on Linux and the BSDs
	if runtime.GOOS == "darwin" || runtime.GOOS == "ios" {
		rss = ru.Maxrss // bytes
	}
	return ps.UserTime(), ps.SystemTime(), rss
}

func closeOnExec(f *os.File) { syscall.CloseOnExec(int(f.Fd())) }
