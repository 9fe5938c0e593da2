package bundle

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// memSpool is a Spool in memory.
type memSpool struct{ b []byte }

func (m *memSpool) Write(p []byte) (int, error) { m.b = append(m.b, p...); return len(p), nil }
func (m *memSpool) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(m.b)) {
		return 0, io.EOF
	}
	n := copy(p, m.b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

var created = time.Date(2025, 6, 2, 8, 14, 5, 0, time.UTC)

type doc struct {
	proxy, name, body string
}

// sample writes a bundle of three proxies (one failed) with the documents given, added in the
// order given, and returns it with its manifest.
func sample(t *testing.T, docs []doc) ([]byte, *Manifest) {
	t.Helper()
	w := NewWriter(&memSpool{}, created)
	m := &Manifest{ProxyctlVersion: "v1.2.3", Created: created}
	proxies := map[string]*Proxy{}
	for _, name := range []string{"web-1.shop", "web-2.shop", "127.0.0.1:15000"} {
		p := Proxy{Name: name, Status: ProxyOK}
		if pod, ns, ok := strings.Cut(name, "."); ok && !strings.Contains(name, ":") {
			p.Pod, p.Namespace, p.Dir = pod, ns, ns+"/"+pod
		} else {
			p.Dir, p.AdminURL = "127.0.0.1_15000", "http://"+name
		}
		m.Proxies = append(m.Proxies, p)
	}
	for i := range m.Proxies {
		proxies[m.Proxies[i].Name] = &m.Proxies[i]
	}
	for _, d := range docs {
		p := proxies[d.proxy]
		f := File{Name: d.name, AdminPath: strings.TrimSuffix(d.name, ".json"), Status: FileOK, Size: int64(len(d.body))}
		off, sum, err := w.Add(p.Dir+"/"+d.name, f.Size, strings.NewReader(d.body))
		if err != nil {
			t.Fatal(err)
		}
		f.Offset, f.SHA256 = off, sum
		p.Files = append(p.Files, f)
	}
	fail := proxies["web-2.shop"]
	fail.Status, fail.Error = ProxyFailed, "nothing answers at 10.0.0.2:15000"
	fail.Files = append(fail.Files, File{Name: "config_dump.json", AdminPath: "config_dump?include_eds=true", Status: FileError, Error: fail.Error})
	var out bytes.Buffer
	if err := w.Finish(&out, m); err != nil {
		t.Fatal(err)
	}
	return out.Bytes(), m
}

var sampleDocs = []doc{
	{"web-1.shop", "config_dump.json", `{"configs": []}` + strings.Repeat(" ", 3000)},
	{"127.0.0.1:15000", "config_dump.json", `{"configs": [{"@type": "x"}]}`},
	{"web-1.shop", "stats.txt", strings.Repeat("cluster.x.upstream_rq: 1\n", 500)},
	{"web-1.shop", "empty.json", ""},
}

func open(t *testing.T, data []byte) *Reader {
	t.Helper()
	r, err := Open(bytes.NewReader(data), int64(len(data)), "b.tar.gz")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func readDoc(r *Reader, proxy, name string) (string, error) {
	p, err := r.Find(proxy, "")
	if err != nil {
		return "", err
	}
	f := p.File(name)
	if f == nil {
		return "", fmt.Errorf("no file %s", name)
	}
	rc, err := r.Open(p, f)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	return string(b), err
}

// TestRoundTrip writes a bundle and reads every document back, by random access.
func TestRoundTrip(t *testing.T) {
	data, _ := sample(t, sampleDocs)
	r := open(t, data)
	m := r.Manifest()
	if m.FormatVersion != FormatVersion || m.Kind != Kind || m.ProxyctlVersion != "v1.2.3" || !m.Created.Equal(created) {
		t.Errorf("manifest header %+v", m)
	}
	if got := []string{m.Proxies[0].Name, m.Proxies[1].Name, m.Proxies[2].Name}; strings.Join(got, ",") != "127.0.0.1:15000,web-1.shop,web-2.shop" {
		t.Errorf("proxies not sorted by name: %v", got)
	}
	for _, d := range sampleDocs {
		got, err := readDoc(r, d.proxy, d.name)
		if err != nil || got != d.body {
			t.Errorf("%s %s: %q, %v", d.proxy, d.name, clip(got), err)
		}
		p, _ := r.Find(d.proxy, "")
		f := p.File(d.name)
		sum := sha256.Sum256([]byte(d.body))
		if f.SHA256 != hex.EncodeToString(sum[:]) || f.Size != int64(len(d.body)) {
			t.Errorf("%s %s: manifest size %d sha %s", d.proxy, d.name, f.Size, f.SHA256)
		}
	}
	p, _ := r.Find("web-2.shop", "")
	if _, err := r.Open(p, p.File("config_dump.json")); err == nil || !strings.Contains(err.Error(), "was not captured") {
		t.Errorf("a failed file opened: %v", err)
	}
}

// TestPlainTarGz: the bundle is an ordinary .tar.gz: one stream of every entry, manifest.json
// first, as Go's reader and the tar tool (when installed) see it.
func TestPlainTarGz(t *testing.T) {
	data, _ := sample(t, sampleDocs)
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	var names []string
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if !hdr.ModTime.Equal(created) || hdr.Mode != 0o644 {
			t.Errorf("%s: mtime %s mode %o", hdr.Name, hdr.ModTime, hdr.Mode)
		}
		names = append(names, hdr.Name)
	}
	want := "manifest.json shop/web-1/config_dump.json 127.0.0.1_15000/config_dump.json shop/web-1/stats.txt shop/web-1/empty.json"
	if strings.Join(names, " ") != want {
		t.Errorf("entries %v, want %s", names, want)
	}
	if _, err := exec.LookPath("tar"); err != nil {
		t.Skip("no tar tool")
	}
	cmd := exec.Command("tar", "tzf", "-")
	cmd.Stdin = bytes.NewReader(data)
	out, err := cmd.CombinedOutput()
	if err != nil || strings.Join(strings.Fields(string(out)), " ") != want {
		t.Errorf("tar tzf: %v\n%s", err, out)
	}
}

// TestRepacked reads a bundle extracted and packed again by another tool: manifest.json is no
// longer first, nor each document in a member of its own; documents are found by a scan and
// still checked.
func TestRepacked(t *testing.T) {
	data, _ := sample(t, sampleDocs)
	gz, _ := gzip.NewReader(bytes.NewReader(data))
	tr := tar.NewReader(gz)
	type entry struct {
		hdr  *tar.Header
		body []byte
	}
	var entries []entry
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		body, _ := io.ReadAll(tr)
		entries = append(entries, entry{hdr, body})
	}
	// Alphabetical, with ./ prefixes, as `tar czf b.tar.gz .` writes.
	entries[0], entries[len(entries)-1] = entries[len(entries)-1], entries[0]
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		e.hdr.Name = "./" + e.hdr.Name
		tw.WriteHeader(e.hdr)
		tw.Write(e.body)
	}
	tw.Close()
	zw.Close()
	r := open(t, buf.Bytes())
	for _, d := range sampleDocs {
		if got, err := readDoc(r, d.proxy, d.name); err != nil || got != d.body {
			t.Errorf("%s %s: %q, %v", d.proxy, d.name, clip(got), err)
		}
	}
}

// TestFind picks proxies by every name form, and explains missing and ambiguous names.
func TestFind(t *testing.T) {
	w := NewWriter(&memSpool{}, created)
	m := &Manifest{Created: created}
	for _, p := range []Proxy{
		{Name: "web-1.shop", Dir: "shop/web-1", Pod: "web-1", Namespace: "shop"},
		{Name: "web-1.prod", Dir: "prod/web-1", Pod: "web-1", Namespace: "prod"},
		{Name: "api.v2.shop", Dir: "shop/api.v2", Pod: "api.v2", Namespace: "shop"},
		{Name: "db-0.data", Dir: "data/db-0", Pod: "db-0", Namespace: "data", Status: ProxyFailed},
		{Name: "10.0.0.9:15000", Dir: "10.0.0.9_15000", AdminURL: "http://10.0.0.9:15000"},
	} {
		if p.Status == "" {
			p.Status = ProxyOK
		}
		m.Proxies = append(m.Proxies, p)
	}
	var out bytes.Buffer
	if err := w.Finish(&out, m); err != nil {
		t.Fatal(err)
	}
	r := open(t, out.Bytes())
	cases := []struct {
		name, ns string
		want     string // the proxy, or the error's kind and text
		kind     error
	}{
		{"web-1.shop", "", "web-1.shop", nil},
		{"pod/web-1.prod", "", "web-1.prod", nil},
		{"web-1", "prod", "web-1.prod", nil},
		{"shop/web-1", "", "web-1.shop", nil},
		{"api.v2.shop", "", "api.v2.shop", nil},
		{"api.v2", "", "api.v2.shop", nil},
		{"api.v2", "shop", "api.v2.shop", nil},
		{"db-0", "", "db-0.data", nil},
		{"10.0.0.9:15000", "", "10.0.0.9:15000", nil},
		{"10.0.0.9_15000", "", "10.0.0.9:15000", nil},
		{"web-1", "", `has 2 proxies named "web-1": web-1.prod, web-1.shop; give POD.NAMESPACE`, ErrAmbiguous},
		{"", "", "holds 5 proxies: name one (POD[.NAMESPACE] or HOST:PORT): 10.0.0.9:15000, api.v2.shop, db-0.data (failed), web-1.prod, web-1.shop", ErrAmbiguous},
		{"web-9.shop", "", `has no proxy "web-9.shop"; it holds: 10.0.0.9:15000, api.v2.shop, db-0.data (failed), web-1.prod, web-1.shop`, ErrNoProxy},
		{"web-1", "dev", `has no proxy "web-1" in namespace dev`, ErrNoProxy},
		{"web-1.shop", "prod", `has no proxy "web-1.shop" in namespace prod`, ErrNoProxy},
	}
	for _, tc := range cases {
		p, err := r.Find(tc.name, tc.ns)
		switch {
		case tc.kind == nil && (err != nil || p.Name != tc.want):
			t.Errorf("Find(%q, %q) = %v, %v; want %s", tc.name, tc.ns, p, err, tc.want)
		case tc.kind != nil && (err == nil || !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("Find(%q, %q) error %v; want %v %q", tc.name, tc.ns, err, tc.kind, tc.want)
		}
	}

	// One proxy captured and one failed: no name picks the captured one.
	m = &Manifest{Created: created, Proxies: []Proxy{
		{Name: "web-1.shop", Dir: "shop/web-1", Pod: "web-1", Namespace: "shop", Status: ProxyFailed},
		{Name: "web-2.shop", Dir: "shop/web-2", Pod: "web-2", Namespace: "shop", Status: ProxyPartial},
	}}
	out.Reset()
	if err := NewWriter(&memSpool{}, created).Finish(&out, m); err != nil {
		t.Fatal(err)
	}
	if p, err := open(t, out.Bytes()).Find("", ""); err != nil || p.Name != "web-2.shop" {
		t.Errorf("Find(\"\") with one proxy captured and one failed = %v, %v; want web-2.shop", p, err)
	}
}

// TestTruncated cuts a bundle at many points: each gives a one-line truncated or corrupt error,
// at Open or when the document is read, never a panic and never wrong bytes.
func TestTruncated(t *testing.T) {
	data, _ := sample(t, sampleDocs)
	for cut := 0; cut < len(data); cut += max(1, len(data)/300) {
		if !checkDamaged(t, fmt.Sprintf("cut at %d", cut), data[:cut]) {
			t.Errorf("cut at %d of %d: no error", cut, len(data))
		}
	}
}

// TestCorrupt flips bytes at many points: reading gives the original bytes, or an error.
func TestCorrupt(t *testing.T) {
	data, _ := sample(t, sampleDocs)
	failed := 0
	for at := 0; at < len(data); at += max(1, len(data)/300) {
		bad := bytes.Clone(data)
		bad[at] ^= 0x5a
		if checkDamaged(t, fmt.Sprintf("byte %d flipped", at), bad) {
			failed++
		}
	}
	// Some bytes are not checked by anything (gzip's header time, a tar header's padding); the
	// others must be caught.
	if failed < 200 {
		t.Errorf("only %d of about 300 damaged bundles gave an error", failed)
	}
}

func checkDamaged(t *testing.T, what string, data []byte) (failed bool) {
	t.Helper()
	r, err := Open(bytes.NewReader(data), int64(len(data)), "b.tar.gz")
	if err != nil {
		checkOneLine(t, what, err)
		return true
	}
	for _, d := range sampleDocs {
		got, err := readDoc(r, d.proxy, d.name)
		if err != nil {
			checkOneLine(t, what, err)
			failed = true
			continue
		}
		if got != d.body {
			t.Errorf("%s: %s %s read back different bytes with no error", what, d.proxy, d.name)
		}
	}
	return failed
}

func checkOneLine(t *testing.T, what string, err error) {
	t.Helper()
	msg := err.Error()
	if strings.ContainsAny(msg, "\n\r") || !strings.HasPrefix(msg, "bundle b.tar.gz ") || len(msg) > 400 {
		t.Errorf("%s: error is not one clear line: %q", what, msg)
	}
	if !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrNotBundle) && !errors.Is(err, ErrNoProxy) {
		t.Errorf("%s: error of no known kind: %v", what, err)
	}
}

// manifestBundle is an archive whose first entry is the manifest given.
func manifestBundle(t *testing.T, manifest string, gzipIt bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w io.Writer = &buf
	zw := gzip.NewWriter(&buf)
	if gzipIt {
		w = zw
	}
	tw := tar.NewWriter(w)
	tw.WriteHeader(&tar.Header{Name: "manifest.json", Mode: 0o644, Size: int64(len(manifest)), Typeflag: tar.TypeReg})
	tw.Write([]byte(manifest))
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

func gzipped(s string) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte(s))
	zw.Close()
	return buf.Bytes()
}

// TestNotABundle: what is not a bundle, or not one this proxyctl reads, is said so in a line.
func TestNotABundle(t *testing.T) {
	newer, _ := json.Marshal(map[string]any{"kind": Kind, "format_version": FormatVersion + 1, "proxyctl_version": "v9.0.0", "shiny": true})
	cases := []struct {
		name string
		data []byte
		kind error
		want string
	}{
		{"JSON", []byte(`{"configs": []}`), ErrNotBundle, "is not a capture bundle (not gzip data)"},
		{"gzipped JSON", gzipped(`{"configs": []}`), ErrNotBundle, "if it is a compressed config dump, gunzip it first"},
		{"gzipped large JSON", gzipped(`{"configs": [` + strings.Repeat(`{"@type": "x"},`, 100) + `{}]}`), ErrNotBundle, "is gzip data but not a capture bundle"},
		{"tar.gz without manifest", func() []byte {
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			tw := tar.NewWriter(zw)
			tw.WriteHeader(&tar.Header{Name: "config_dump.json", Mode: 0o644, Size: 2, Typeflag: tar.TypeReg})
			tw.Write([]byte("{}"))
			tw.Close()
			zw.Close()
			return buf.Bytes()
		}(), ErrNotBundle, "is a tar archive but not a capture bundle: it has no manifest.json"},
		{"newer format", manifestBundle(t, string(newer), true), ErrNewerFormat,
			fmt.Sprintf("cannot be read: it was written by proxyctl v9.0.0 in bundle format %d, and this proxyctl reads formats up to %d; upgrade proxyctl to read it", FormatVersion+1, FormatVersion)},
		{"another kind", manifestBundle(t, `{"kind": "glooctl-snapshot", "format_version": 1}`, true), ErrCorrupt, `is not a proxyctl capture manifest (kind "glooctl-snapshot"`},
		{"manifest not JSON", manifestBundle(t, `{"kind": `, true), ErrCorrupt, "its manifest.json is not valid JSON"},
		{"unsafe folder", manifestBundle(t, `{"kind": "proxyctl-capture", "format_version": 1, "proxies": [{"name": "x", "dir": "../../etc", "status": "ok"}]}`, true), ErrCorrupt, `has an unsafe folder "../../etc"`},
		{"control characters", manifestBundle(t, `{"kind": "proxyctl-capture", "format_version": 1, "proxies": [{"name": "x\u001b[2J", "dir": "x", "status": "ok"}]}`, true), ErrCorrupt, "control characters"},
		{"bad offset", manifestBundle(t, `{"kind": "proxyctl-capture", "format_version": 1, "body_size": 10, "proxies": [{"name": "x", "dir": "x", "status": "ok", "files": [{"name": "a.json", "status": "ok", "size": 1, "offset": 99, "sha256": "`+strings.Repeat("0", 64)+`"}]}]}`, true), ErrCorrupt, "invalid size, offset or sha256"},
		{"body missing", manifestBundle(t, `{"kind": "proxyctl-capture", "format_version": 1, "body_size": 1000, "proxies": []}`, true), ErrTruncated, "is truncated: it has"},
		{"empty", nil, ErrNotBundle, "not gzip data"},
		{"gzip header only", []byte{0x1f, 0x8b}, ErrTruncated, "is truncated"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Open(bytes.NewReader(tc.data), int64(len(tc.data)), "b.tar.gz")
			if err == nil || !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %v, want %v containing %q", err, tc.kind, tc.want)
			}
		})
	}
}

// TestDocumentFor maps the admin paths views ask for to the bundle's documents.
func TestDocumentFor(t *testing.T) {
	cases := map[string]string{
		"config_dump?mask=dynamic_active_clusters,static_clusters": "config_dump.json",
		"config_dump?include_eds=true":                             "config_dump.json",
		"config_dump":                                              "config_dump.json",
		"/config_dump?resource=dynamic_listeners":                  "config_dump.json",
		"clusters?format=json":                                     "clusters.json",
		"certs":                                                    "certs.json",
		"server_info":                                              "server_info.json",
		"stats":                                                    "stats.txt",
		"clusters":                                                 "",
		"stats?format=json":                                        "",
		"logging":                                                  "",
	}
	for path, want := range cases {
		d, ok := DocumentFor(path)
		if d.Name != want || ok != (want != "") {
			t.Errorf("DocumentFor(%q) = %q, %v; want %q", path, d.Name, ok, want)
		}
	}
}

// TestWriterErrors: a document shorter or longer than announced breaks the writer for good.
func TestWriterErrors(t *testing.T) {
	w := NewWriter(&memSpool{}, created)
	if _, _, err := w.Add("a/b.json", 10, strings.NewReader("short")); err == nil || !strings.Contains(err.Error(), "has 5 bytes, not the 10 announced") {
		t.Errorf("short document: %v", err)
	}
	if _, _, err := w.Add("a/c.json", 1, strings.NewReader("x")); err == nil {
		t.Error("the writer goes on after an error")
	}
	w = NewWriter(&memSpool{}, created)
	if _, _, err := w.Add("a/b.json", 2, strings.NewReader("long")); err == nil || !strings.Contains(err.Error(), "more than the 2 bytes announced") {
		t.Errorf("long document: %v", err)
	}
	if err := w.Finish(io.Discard, &Manifest{}); err == nil {
		t.Error("Finish after an error succeeded")
	}
}
