package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var realShaped sync.Map // size in MB -> []byte

// RealShapedDump returns a config dump of about mb megabytes made by the shared real-shaped
// generator (../shared/bench/gen_big_dump.py beside the checkout: real Istio resources
// replicated under new names), kept under testdata/bench/real-<mb>MB (ignored by git) like the
// ones of make bench. It skips the test when Python 3 or the shared generator is missing.
func RealShapedDump(tb testing.TB, mb int) []byte {
	tb.Helper()
	if doc, ok := realShaped.Load(mb); ok {
		return doc.([]byte)
	}
	root, err := moduleRoot()
	if err != nil {
		tb.Skip(err)
	}
	gen := filepath.Join(root, "..", "shared", "bench", "gen_big_dump.py")
	if _, err := os.Stat(gen); err != nil {
		tb.Skipf("no real-shaped dump: %v", err)
	}
	dir := filepath.Join(root, "testdata", "bench", fmt.Sprintf("real-%dMB", mb))
	file := filepath.Join(dir, "big.json")
	if _, err := os.Stat(file); err != nil {
		python, err := exec.LookPath("python3")
		if err != nil {
			tb.Skipf("no real-shaped dump: %v", err)
		}
		tmp := dir + ".tmp"
		os.RemoveAll(tmp)
		if out, err := exec.Command(python, gen, "--target-mb", fmt.Sprint(mb), "--out", tmp).CombinedOutput(); err != nil {
			tb.Fatalf("%s: %v\n%s", gen, err, out)
		}
		os.RemoveAll(dir)
		if err := os.Rename(tmp, dir); err != nil {
			tb.Fatal(err)
		}
	}
	doc, err := os.ReadFile(file)
	if err != nil {
		tb.Fatal(err)
	}
	got, _ := realShaped.LoadOrStore(mb, doc)
	return got.([]byte)
}

// moduleRoot is the directory of the go.mod above the working directory.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}
