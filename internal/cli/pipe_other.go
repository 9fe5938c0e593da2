//go:build !linux

package cli

import "os"

// growPipe is a no-op where pipes cannot be enlarged (see pipe_linux.go).
func growPipe(*os.File) {}
