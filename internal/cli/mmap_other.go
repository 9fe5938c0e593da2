//go:build !unix

package cli

import "os"

func mapFile(*os.File, int64) ([]byte, bool) { return nil, false }

func releasePages([]byte) {}

func unmapFile([]byte) {}
