//go:build !unix

package main

import (
	"os"
	"time"
)

// usage returns a finished process's CPU times; peak RSS is not known here (0).
func usage(ps *os.ProcessState) (user, sys time.Duration, rss int64) {
	return ps.UserTime(), ps.SystemTime(), 0
}

func closeOnExec(*os.File) {}
