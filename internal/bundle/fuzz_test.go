package bundle

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// FuzzOpen feeds damaged and hostile archives to the reader: opening, finding every proxy and
// reading every document never panics, never reads more than the manifest announces, and
// fails with an error of a known kind on one line.
func FuzzOpen(f *testing.F) {
	var t testing.T
	data, _ := sample(&t, sampleDocs)
	f.Add(data)
	f.Add(data[:len(data)/2])
	f.Add(manifestBundle(&t, `{"kind": "proxyctl-capture", "format_version": 1, "proxies": [{"name": "a", "dir": "a", "status": "ok", "files": [{"name": "x.json", "status": "ok", "size": 3, "offset": 0, "sha256": "`+strings.Repeat("a", 64)+`"}]}], "body_size": 100}`, true))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Open(bytes.NewReader(data), int64(len(data)), "b.tar.gz")
		if err != nil {
			checkKind(t, err)
			return
		}
		for i := range r.Manifest().Proxies {
			p := &r.Manifest().Proxies[i]
			if _, err := r.Find(p.Name, ""); err != nil && !errors.Is(err, ErrAmbiguous) {
				t.Errorf("proxy %q of the manifest not found: %v", p.Name, err)
			}
			for j := range p.Files {
				f := &p.Files[j]
				if f.Status != FileOK {
					continue
				}
				rc, err := r.Open(p, f)
				if err != nil {
					checkKind(t, err)
					continue
				}
				n, err := io.Copy(io.Discard, io.LimitReader(rc, f.Size+1))
				if err == nil && n != f.Size {
					t.Errorf("%s: read %d bytes without error, the manifest says %d", p.Path(f), n, f.Size)
				}
				if err != nil {
					checkKind(t, err)
				}
			}
		}
	})
}

func checkKind(t *testing.T, err error) {
	t.Helper()
	if strings.ContainsAny(err.Error(), "\n\r") {
		t.Errorf("error on several lines: %q", err)
	}
	for _, k := range []error{ErrNotBundle, ErrCorrupt, ErrTruncated, ErrNewerFormat, ErrNoProxy} {
		if errors.Is(err, k) {
			return
		}
	}
	if !strings.Contains(err.Error(), "was not captured") {
		t.Errorf("error of no known kind: %v", err)
	}
}
