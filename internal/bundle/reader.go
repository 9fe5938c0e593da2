package bundle

import (
	"archive/tar"
	"bufio"
	"compress/flate"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"sort"
	"strings"
)

// Kinds of error, for errors.Is; the messages are whole sentences.
var (
	// ErrNotBundle: the file is not a proxyctl capture bundle at all.
	ErrNotBundle = errors.New("not a capture bundle")
	// ErrCorrupt: the archive is damaged (a checksum, a header, the manifest).
	ErrCorrupt = errors.New("corrupt bundle")
	// ErrTruncated: the archive ends early.
	ErrTruncated = errors.New("truncated bundle")
	// ErrNoProxy: no proxy of the bundle has the name asked for.
	ErrNoProxy = errors.New("no such proxy in the bundle")
	// ErrAmbiguous: the name asked for fits several proxies, or none was given and the bundle
	// holds several.
	ErrAmbiguous = errors.New("ambiguous proxy name")
)

// maxManifest bounds the manifest read (a bundle of thousands of proxies is a few MB).
const maxManifest = 64 << 20

// kindError is an error of a kind whose message is its own.
type kindError struct {
	kind error
	msg  string
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }

// Reader reads a bundle from random-access storage (a file).
type Reader struct {
	ra   io.ReaderAt
	size int64
	name string
	m    *Manifest
	// base is where the body starts; -1 when the archive was packed again by another tool
	// (manifest.json is not its first member): documents are then found by a scan.
	base int64
}

// IsBundle tells from a file's first bytes whether it may be a bundle (gzip data).
func IsBundle(head []byte) bool { return len(head) >= 2 && head[0] == 0x1f && head[1] == 0x8b }

// countingReader counts the bytes the gzip reader consumes, to find where a member ends; it is
// an io.ByteReader, so that neither gzip nor flate reads ahead of what they use.
type countingReader struct {
	r *bufio.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *countingReader) ReadByte() (byte, error) {
	b, err := c.r.ReadByte()
	if err == nil {
		c.n++
	}
	return b, err
}

// Open reads the manifest of the bundle in ra, of size bytes, and validates it. name names the
// bundle in messages ("bundle NAME ...").
func Open(ra io.ReaderAt, size int64, name string) (*Reader, error) {
	r := &Reader{ra: ra, size: size, name: name}
	head := make([]byte, 2)
	if n, _ := ra.ReadAt(head, 0); !IsBundle(head[:n]) {
		return nil, r.errorf(ErrNotBundle, "is not a capture bundle (not gzip data)")
	}
	cr := &countingReader{r: bufio.NewReaderSize(io.NewSectionReader(ra, 0, size), 64<<10)}
	gz, err := gzip.NewReader(cr)
	if err != nil {
		return nil, r.archiveError(err)
	}
	gz.Multistream(false)
	notTar := r.errorf(ErrNotBundle, "is gzip data but not a capture bundle (no tar archive in it); if it is a compressed config dump, gunzip it first")
	// A tar archive starts with a 512-byte header: less data than that, ending cleanly, is
	// something else compressed.
	br := bufio.NewReaderSize(gz, 4096)
	if _, err := br.Peek(512); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, notTar
		}
		return nil, r.archiveError(err)
	}
	tr := tar.NewReader(br)
	hdr, err := tr.Next()
	if err != nil {
		if errors.Is(err, tar.ErrHeader) {
			return nil, notTar
		}
		return nil, r.archiveError(err)
	}
	var doc []byte
	if hdr.Name == ManifestName {
		if doc, err = readManifest(tr, hdr); err != nil {
			return nil, r.archiveError(err)
		}
		// The rest of the member (the entry's padding, gzip's trailer): the body starts after.
		if _, err := io.Copy(io.Discard, br); err != nil {
			return nil, r.archiveError(err)
		}
		r.base = cr.n
	} else {
		// Not as proxyctl writes them: look for the manifest anywhere in the archive.
		r.base = -1
		if doc, err = r.scanManifest(); err != nil {
			return nil, err
		}
	}
	m := &Manifest{}
	if err := json.Unmarshal(doc, m); err != nil {
		return nil, r.errorf(ErrCorrupt, "is corrupt: its manifest.json is not valid JSON: %s", clipErr(err))
	}
	if m.Kind == Kind && m.FormatVersion > FormatVersion {
		return nil, r.wrap(m.Validate())
	}
	if err := m.Validate(); err != nil {
		return nil, r.errorf(ErrCorrupt, "is corrupt: %s", err)
	}
	if r.base >= 0 && size < r.base+m.BodySize {
		return nil, r.errorf(ErrTruncated, "is truncated: it has %d bytes where its manifest says %d; copy it whole or capture again", size, r.base+m.BodySize)
	}
	sort.SliceStable(m.Proxies, func(i, j int) bool { return m.Proxies[i].Name < m.Proxies[j].Name })
	r.m = m
	return r, nil
}

func readManifest(tr *tar.Reader, hdr *tar.Header) ([]byte, error) {
	if hdr.Size > maxManifest {
		return nil, fmt.Errorf("its manifest.json has %d bytes, more than the limit of %d", hdr.Size, maxManifest)
	}
	return io.ReadAll(tr)
}

// scanManifest finds manifest.json in an archive packed by another tool.
func (r *Reader) scanManifest() ([]byte, error) {
	gz, err := gzip.NewReader(bufio.NewReaderSize(io.NewSectionReader(r.ra, 0, r.size), 64<<10))
	if err != nil {
		return nil, r.archiveError(err)
	}
	tr := tar.NewReader(gz)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil, r.errorf(ErrNotBundle, "is a tar archive but not a capture bundle: it has no %s", ManifestName)
		}
		if err != nil {
			return nil, r.archiveError(err)
		}
		if hdr.Name == ManifestName || hdr.Name == "./"+ManifestName {
			doc, err := readManifest(tr, hdr)
			if err != nil {
				return nil, r.archiveError(err)
			}
			return doc, nil
		}
	}
}

// Manifest returns the bundle's manifest (its proxies sorted by name).
func (r *Reader) Manifest() *Manifest { return r.m }

// Name is the bundle's name in messages.
func (r *Reader) Name() string { return r.name }

func (r *Reader) errorf(kind error, format string, args ...any) error {
	return &kindError{kind: kind, msg: "bundle " + r.name + " " + fmt.Sprintf(format, args...)}
}

func (r *Reader) wrap(err error) error {
	var ke *kindError
	kind := ErrCorrupt
	if errors.Is(err, ErrNewerFormat) {
		kind = ErrNewerFormat
	} else if errors.As(err, &ke) {
		kind = ke.kind
	}
	return &kindError{kind: kind, msg: "bundle " + r.name + " cannot be read: " + strings.TrimPrefix(err.Error(), ErrNewerFormat.Error()+": ")}
}

// archiveError explains an error of the gzip or tar reader.
func (r *Reader) archiveError(err error) error {
	var ke *kindError
	var fe flate.CorruptInputError
	switch {
	case errors.As(err, &ke):
		return err
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return r.errorf(ErrTruncated, "is truncated: the archive ends in the middle of its data; copy it whole or capture again")
	case errors.Is(err, gzip.ErrChecksum), errors.Is(err, gzip.ErrHeader), errors.As(err, &fe), errors.Is(err, tar.ErrHeader):
		return r.errorf(ErrCorrupt, "is corrupt: %s; capture again", clipErr(err))
	}
	return r.errorf(ErrCorrupt, "cannot be read: %s", clipErr(err))
}

func clipErr(err error) string { return clip(strings.Join(strings.Fields(err.Error()), " ")) }

// Find returns the proxy a name picks: its name (POD.NAMESPACE, or HOST:PORT for an admin
// URL), its folder, or POD alone when no other namespace has a pod of that name; namespace,
// when set (-n), must be the proxy's. An empty name picks the only proxy of the bundle, or
// the only one captured when the others failed (there is nothing to read of those).
func (r *Reader) Find(name, namespace string) (*Proxy, error) {
	ps := r.m.Proxies
	name = strings.TrimPrefix(name, "pod/")
	if name == "" {
		switch len(ps) {
		case 0:
			return nil, r.errorf(ErrNoProxy, "holds no proxy")
		case 1:
			return &ps[0], nil
		}
		var captured []*Proxy
		for i := range ps {
			if ps[i].Status != ProxyFailed {
				captured = append(captured, &ps[i])
			}
		}
		if len(captured) == 1 {
			return captured[0], nil
		}
		return nil, r.errorf(ErrAmbiguous, "holds %d proxies: name one (POD[.NAMESPACE] or HOST:PORT): %s", len(ps), r.names(ps))
	}
	var found []*Proxy
	for i := range ps {
		p := &ps[i]
		if (p.Name == name || p.Dir == name) && (namespace == "" || p.Namespace == namespace) {
			return p, nil
		}
	}
	pod, ns := name, namespace
	if i := strings.LastIndexByte(name, '.'); i > 0 && namespace == "" {
		pod, ns = name[:i], name[i+1:]
	}
	for i := range ps {
		p := &ps[i]
		if p.Pod != "" && p.Pod == pod && (ns == "" || p.Namespace == ns) {
			found = append(found, p)
		}
	}
	if len(found) == 0 && ns != "" && namespace == "" {
		// A pod name with dots, in no namespace given.
		for i := range ps {
			if ps[i].Pod == name {
				found = append(found, &ps[i])
			}
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		in := ""
		if namespace != "" {
			in = " in namespace " + namespace
		}
		return nil, r.errorf(ErrNoProxy, "has no proxy %q%s; it holds: %s", clip(name), in, r.names(ps))
	}
	var list []Proxy
	for _, p := range found {
		list = append(list, *p)
	}
	return nil, r.errorf(ErrAmbiguous, "has %d proxies named %q: %s; give POD.NAMESPACE", len(found), clip(name), r.names(list))
}

// names lists proxies for a message: the first 20, and how many more.
func (r *Reader) names(ps []Proxy) string {
	var names []string
	for i, p := range ps {
		if i == 20 {
			names = append(names, fmt.Sprintf("and %d more", len(ps)-20))
			break
		}
		n := p.Name
		if p.Status == ProxyFailed {
			n += " (failed)"
		}
		names = append(names, n)
	}
	return strings.Join(names, ", ")
}

// Open reads one document of a proxy: its bytes as archived, checked against the size and the
// sha256 the manifest records (a mismatch is an error at the end).
func (r *Reader) Open(p *Proxy, f *File) (io.ReadCloser, error) {
	if f.Status != FileOK {
		return nil, fmt.Errorf("bundle %s: %s was not captured", r.name, p.Path(f))
	}
	path := p.Path(f)
	var tr *tar.Reader
	var hdr *tar.Header
	if r.base >= 0 {
		start := r.base + f.Offset
		gz, err := gzip.NewReader(bufio.NewReaderSize(io.NewSectionReader(r.ra, start, r.size-start), 64<<10))
		if err != nil {
			return nil, r.archiveError(err)
		}
		gz.Multistream(false)
		tr = tar.NewReader(gz)
		if hdr, err = tr.Next(); err != nil {
			return nil, r.archiveError(err)
		}
		if hdr.Name != path {
			return nil, r.errorf(ErrCorrupt, "is corrupt: its manifest places %s where the archive has %q", path, clip(hdr.Name))
		}
	} else {
		gz, err := gzip.NewReader(bufio.NewReaderSize(io.NewSectionReader(r.ra, 0, r.size), 64<<10))
		if err != nil {
			return nil, r.archiveError(err)
		}
		tr = tar.NewReader(gz)
		for {
			if hdr, err = tr.Next(); err != nil {
				if errors.Is(err, io.EOF) {
					return nil, r.errorf(ErrCorrupt, "is corrupt: its manifest lists %s, which the archive does not hold", path)
				}
				return nil, r.archiveError(err)
			}
			if hdr.Name == path || hdr.Name == "./"+path {
				break
			}
		}
	}
	if hdr.Size != f.Size {
		return nil, r.errorf(ErrCorrupt, "is corrupt: %s has %d bytes where its manifest says %d", path, hdr.Size, f.Size)
	}
	return &checkedReader{r: r, tr: tr, path: path, want: f.SHA256, size: f.Size, h: sha256.New()}, nil
}

// checkedReader reads a document and checks it at its end.
type checkedReader struct {
	r    *Reader
	tr   *tar.Reader
	path string
	want string
	size int64
	n    int64
	h    hash.Hash
	err  error
}

func (c *checkedReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.tr.Read(p)
	c.n += int64(n)
	c.h.Write(p[:n])
	switch {
	case errors.Is(err, io.EOF):
		if c.n != c.size {
			c.err = c.r.errorf(ErrTruncated, "is truncated: %s ends after %d of its %d bytes", c.path, c.n, c.size)
		} else if hex.EncodeToString(c.h.Sum(nil)) != c.want {
			c.err = c.r.errorf(ErrCorrupt, "is corrupt: %s does not match the sha256 its manifest records; capture again", c.path)
		} else {
			c.err = io.EOF
		}
	case err != nil:
		c.err = c.r.archiveError(err)
	}
	if c.err != nil && !errors.Is(c.err, io.EOF) {
		return n, c.err
	}
	return n, err
}

func (c *checkedReader) Close() error { return nil }

// Verified marks a reader that checks what it reads: reading it to the end tells whether the
// document is intact (a parse error may be the damage's, which the end names).
func (c *checkedReader) Verified() {}
