// Command floor is the baseline make bench compares proxyctl with: it reads
// a file whole and checks that it is valid JSON, the least any reader of a
// config dump has to do. With -targz it reads files and writes them into a
// .tar.gz it throws away, as fast as Go's gzip goes: the least a capture of
// those documents into a bundle has to do.
package main

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
)

func main() {
	if len(os.Args) > 2 && os.Args[1] == "-targz" {
		if err := targz(os.Args[2:]); err != nil {
			fmt.Fprintf(os.Stderr, "floor: %v\n", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: floor FILE | floor -targz FILE...")
		os.Exit(2)
	}
	data, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintf(os.Stderr, "floor: %v\n", err)
		os.Exit(1)
	}
	if !json.Valid(data) {
		fmt.Fprintf(os.Stderr, "floor: %s is not valid JSON\n", os.Args[1])
		os.Exit(1)
	}
}

// targz archives files, streaming, at gzip's fastest level (proxyctl capture's).
func targz(files []string) error {
	zw, _ := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed)
	tw := tar.NewWriter(zw)
	for i, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		fi, err := f.Stat()
		if err == nil {
			hdr := &tar.Header{Name: strconv.Itoa(i) + "/" + filepath.Base(name), Mode: 0o644, Size: fi.Size(), Typeflag: tar.TypeReg}
			if err = tw.WriteHeader(hdr); err == nil {
				_, err = io.Copy(tw, f)
			}
		}
		f.Close()
		if err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return zw.Close()
}
