package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/proxyctl/proxyctl/configdump"
	"github.com/proxyctl/proxyctl/internal/bundle"
	"github.com/proxyctl/proxyctl/internal/limits"
	"github.com/proxyctl/proxyctl/portforward"
)

// Admin API paths each view fetches: only what it needs.
const (
	pathClusters  = "config_dump?mask=dynamic_active_clusters,static_clusters"
	pathListeners = "config_dump?mask=dynamic_listeners,static_listeners"
	pathRoutes    = "config_dump?mask=dynamic_route_configs,static_route_configs"
	pathSecrets   = "config_dump?mask=static_secrets,dynamic_active_secrets,dynamic_warming_secrets"
	pathBootstrap = "config_dump?mask=bootstrap,last_updated"
	pathEcds      = "config_dump?mask=ecds_filters"
	pathAll       = "config_dump?include_eds=true"
	pathEndpoints = "clusters?format=json"
	pathEds       = "config_dump?include_eds=true&mask=dynamic_endpoint_configs,static_endpoint_configs"
	pathFullDump  = "config_dump"
)

// Source yields Envoy admin documents: from a file or stdin, one proxy of a capture bundle, an
// admin URL, or a pod through a port-forward. It is chosen before any Kubernetes client is
// built. -f goes through openFile, which tells bundles from dumps. A command reads its
// documents with loadDocument, which bounds their size (see readOptions) and, through ctx, the
// time they take: a Source's reader must give up with ctx's error once ctx is done, even when
// what it reads blocks (wrap such a reader in limits.ContextReader, as fileSource does).
type Source interface {
	// Open starts reading the document at an admin API path, such as "config_dump?mask=...".
	// A file source has one document and returns it whatever the path.
	Open(ctx context.Context, path string) (io.ReadCloser, error)
	// String names the source in messages ("file dump.json", "pod web-1 in namespace shop").
	String() string
	// Close releases what the source holds (a port-forward).
	Close() error
}

// mapper is a source whose document can be mapped into memory whole (a regular file).
type mapper interface {
	// Map maps the document; ok is false when it cannot be (a pipe).
	Map() (data []byte, ok bool, err error)
}

// readOptions say how a command reads its documents: how large each may be (--max-input, else
// the default of its kind, see package limits) and where notes about them go.
type readOptions struct {
	// maxInput is --max-input; 0 gives each kind of document its default limit.
	maxInput int64
	// note prints a note on stderr (nil: none).
	note func(string)
}

// limit is the size limit of a document of a kind: def bytes by default, what names it.
func (r readOptions) limit(def int64, what string) limits.Limit {
	if r.maxInput > 0 {
		return limits.Limit{Max: r.maxInput, What: what}
	}
	return limits.Limit{Max: def, What: what}
}

func (r readOptions) dumpLimit() limits.Limit { return r.limit(limits.ConfigDump, "a config dump") }
func (r readOptions) yamlLimit() limits.Limit {
	return r.limit(limits.YAMLDump, "a config dump in YAML (converted in memory; convert it to JSON once, or raise --max-input)")
}

func (r readOptions) notef(format string, args ...any) {
	if r.note != nil {
		r.note(fmt.Sprintf(format, args...))
	}
}

// yamlNoteSize: from this size, reading a YAML dump says how to read it faster.
const yamlNoteSize = 1 << 20

// fileSource reads a config dump from a file, or from stdin for "-".
type fileSource struct {
	path  string
	stdin io.Reader
}

func (s *fileSource) String() string {
	if s.path == "-" {
		return "stdin"
	}
	return "file " + s.path
}

func (s *fileSource) Close() error { return nil }

// Open opens the file, or stdin. What is read gives up when ctx ends, even on a pipe or a FIFO
// that sends nothing (opening a FIFO waits for its writer: that too).
func (s *fileSource) Open(ctx context.Context, _ string) (io.ReadCloser, error) {
	if s.path == "-" {
		return limits.ContextReader(ctx, s.stdin), nil
	}
	fi, err := os.Stat(s.path)
	if err == nil && fi.IsDir() {
		return nil, fmt.Errorf("%s is a directory; -f takes a config dump file (or - for stdin)", s.path)
	}
	type opened struct {
		f   *os.File
		err error
	}
	done := make(chan opened, 1)
	go func() {
		f, err := os.Open(s.path)
		done <- opened{f, err}
	}()
	var o opened
	select {
	case o = <-done:
	case <-ctx.Done():
		go func() { // the open returns once a writer comes; close what it opened
			if o := <-done; o.f != nil {
				o.f.Close()
			}
		}()
		return nil, fmt.Errorf("opening %s (a FIFO waits for a writer): %w", s.path, ctx.Err())
	}
	if o.err != nil {
		err := o.err
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("cannot open %s: %w", s.path, err)
	}
	return &fileReader{ReadCloser: limits.ContextReader(ctx, o.f), f: o.f}, nil
}

// fileReader reads an open file through a ContextReader and closes both.
type fileReader struct {
	io.ReadCloser
	f *os.File
}

func (r *fileReader) Close() error {
	r.ReadCloser.Close()
	return r.f.Close()
}

// Map maps the file, or stdin when it is redirected from a file. Anything else (a pipe, a
// FIFO, a device) is streamed, and opened only once, by Open.
func (s *fileSource) Map() ([]byte, bool, error) {
	var f *os.File
	if s.path == "-" {
		var ok bool
		if f, ok = s.stdin.(*os.File); !ok {
			return nil, false, nil
		}
		// Bytes an earlier reader of a shared stdin took are not part of the document.
		if off, err := f.Seek(0, io.SeekCurrent); err != nil || off != 0 {
			return nil, false, nil
		}
	} else {
		if fi, err := os.Stat(s.path); err != nil || !fi.Mode().IsRegular() {
			return nil, false, nil // Open reports the error, or streams it
		}
		var err error
		if f, err = os.Open(s.path); err != nil {
			return nil, false, nil // Open reports it
		}
		defer f.Close()
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return nil, false, nil
	}
	data, ok := mapFile(f, fi.Size())
	return data, ok, nil
}

// loadDocument reads the document at an admin path from src and parses it, within the size
// limits of ro. A regular file is mapped; anything else is indexed as it arrives, so that what
// is not an admin document is refused from its first bytes, and kept in memory up to
// spoolInMemory bytes, beyond that in an unlinked temporary file, mapped at the end: memory
// stays flat whatever the size. A leading UTF-8 byte order mark is skipped. The returned
// release drops bytes of the document from memory (see configdump.ParseOptions).
func loadDocument(ctx context.Context, src Source, path string, ro readOptions) (*configdump.Dump, func([]byte), error) {
	if m, ok := src.(mapper); ok {
		data, ok, err := m.Map()
		if err != nil {
			return nil, nil, err
		}
		if ok {
			data = configdump.TrimBOM(data)
			isYAML := configdump.LooksLikeYAML(data[:min(len(data), 4096)])
			limit := ro.dumpLimit()
			if isYAML {
				limit = ro.yamlLimit()
			}
			if int64(len(data)) > limit.Max {
				return nil, nil, fmt.Errorf("reading the configuration from %s: %w", src, limit.SizeError(int64(len(data))))
			}
			if isYAML && len(data) >= yamlNoteSize {
				ro.notef("%s is YAML, which proxyctl reads about 20 times slower than JSON; convert it once: proxyctl pc all -f FILE -o json > dump.json", src)
			}
			// Indexing reads the whole document once; drop each chunk behind it, so that only
			// the sections the view reads come back into memory.
			d, err := configdump.ParseWith(data, configdump.ParseOptions{ChunkDone: releasePages})
			if err != nil {
				return nil, nil, fmt.Errorf("parsing the configuration from %s: %w", src, err)
			}
			if src := d.Source(); len(src) == 0 || len(data) == 0 || &src[0] != &data[0] {
				// A YAML file, converted to JSON on the heap: its pages are not the file's.
				return d, func([]byte) {}, nil
			}
			return d, releasePages, nil
		}
	}
	rc, err := src.Open(ctx, path)
	if err != nil {
		return nil, nil, err
	}
	defer rc.Close()
	body := skipBOM(rc)
	sp := &spool{limit: ro.dumpLimit()}
	defer sp.close() // on an early return; once mapped, the file is closed already
	ix := configdump.NewIndexer()
	buf := make([]byte, 1<<20)
	// The first bytes tell JSON (a '{', or a '[' refused at once) from YAML, read whole and
	// converted; a pipe may deliver them a few at a time.
	const sniff = 4096
	kind := "" // "json" or "yaml" once known
	parseError := func(err error) error {
		if data, _, derr := sp.bytes(); derr == nil {
			err = configdump.Locate(err, data)
		}
		return fmt.Errorf("parsing the configuration from %s: %w", src, configdump.ExplainEncoding(sp.head(), err))
	}
	feed := func(p []byte) error {
		if err := ix.Feed(p); err != nil {
			if err := verifyBody(rc); err != nil {
				return err // a damaged bundle: say so, not where its bytes stop being JSON
			}
			return parseError(err)
		}
		return nil
	}
	for {
		n, err := body.Read(buf)
		eof := errors.Is(err, io.EOF)
		if err != nil && !eof {
			return nil, nil, err // the source names itself in its read errors
		}
		if n > 0 {
			if err := sp.write(buf[:n]); err != nil {
				return nil, nil, fmt.Errorf("reading the configuration from %s: %w", src, err)
			}
		}
		switch {
		case kind == "json" && n > 0:
			if err := feed(buf[:n]); err != nil {
				return nil, nil, err
			}
		case kind == "":
			head := sp.mem // the first bytes are always in memory
			start := bytes.TrimLeft(head, " \t\r\n")
			switch {
			case len(start) > 0 && (start[0] == '{' || start[0] == '['):
				kind = "json"
			case len(head) >= sniff || eof:
				kind = "json" // the indexer explains what it is not
				if configdump.LooksLikeYAML(head[:min(len(head), sniff)]) {
					kind = "yaml"
					sp.limit = ro.yamlLimit()
					if sp.n > sp.limit.Max {
						return nil, nil, fmt.Errorf("reading the configuration from %s: %w", src, sp.limit.Error())
					}
				}
			}
			if kind == "json" {
				if err := feed(head); err != nil {
					return nil, nil, err
				}
			}
		}
		if eof {
			break
		}
	}
	data, release, err := sp.bytes()
	if err != nil {
		return nil, nil, err
	}
	if kind == "yaml" {
		if len(data) >= yamlNoteSize {
			ro.notef("%s is YAML, which proxyctl reads about 20 times slower than JSON; convert it once: proxyctl pc all -f FILE -o json > dump.json", src)
		}
		d, err := configdump.Parse(data)
		if err != nil {
			return nil, nil, fmt.Errorf("parsing the configuration from %s: %w", src, err)
		}
		return d, func([]byte) {}, nil
	}
	d, err := ix.Dump(data)
	if err != nil {
		return nil, nil, parseError(err)
	}
	return d, release, nil
}

// verifyBody reads the rest of a document that checks itself (a bundle's, against the sha256
// its manifest records) and returns its error, if any.
func verifyBody(body io.Reader) error {
	if _, ok := body.(interface{ Verified() }); !ok {
		return nil
	}
	_, err := io.Copy(io.Discard, body)
	return err
}

// spoolInMemory is how much of a streamed document is kept in memory before it goes to disk.
// Measured on a 50 MB dump piped to pc cluster: 2 MB gives 0.16 s and 60 MB RSS, 16 MB 0.36 s
// and 122 MB, 64 MB 0.5 s and 230 MB (growing a buffer copies it and leaves garbage behind).
const spoolInMemory = 2 << 20

// spool keeps a streamed document: in memory while small, then in an unlinked temporary file.
type spool struct {
	limit limits.Limit
	// memMax is how much stays in memory (0: spoolInMemory).
	memMax int
	n      int64
	// first are the document's first bytes, which name what it is when it is not JSON.
	first []byte
	mem   []byte
	file  *os.File
	// noDisk is set when no temporary file can be made.
	noDisk bool
}

func (s *spool) write(p []byte) error {
	if s.n+int64(len(p)) > s.limit.Max {
		return s.limit.Error()
	}
	if len(s.first) < 64 {
		s.first = append(s.first, p[:min(len(p), 64-len(s.first))]...)
	}
	s.n += int64(len(p))
	inMemory := spoolInMemory
	if s.memMax > 0 {
		inMemory = s.memMax
	}
	if s.file == nil && (s.noDisk || len(s.mem)+len(p) <= inMemory) {
		s.mem = append(s.mem, p...)
		return nil
	}
	if s.file == nil {
		f, err := os.CreateTemp("", "proxyctl-*.json")
		if err != nil {
			// A read-only file system (proxyctl in a container): keep it all in memory.
			s.noDisk = true
			s.mem = append(s.mem, p...)
			return nil
		}
		os.Remove(f.Name()) // it lives on until closed, and goes away however proxyctl ends
		if _, err := f.Write(s.mem); err != nil {
			f.Close()
			return fmt.Errorf("keeping a large document on disk: %w", err)
		}
		s.file, s.mem = f, nil
	}
	if _, err := s.file.Write(p); err != nil {
		return fmt.Errorf("keeping a large document on disk: %w", err)
	}
	return nil
}

// head returns the document's first bytes.
func (s *spool) head() []byte { return s.first }

// close closes the temporary file, if any (its data is then gone).
func (s *spool) close() {
	if s.file != nil {
		s.file.Close()
		s.file = nil
	}
}

// bytes returns the document kept so far, and how to drop its pages from memory. It is called
// once: the temporary file is closed after it (a mapping outlives its file descriptor).
func (s *spool) bytes() ([]byte, func([]byte), error) {
	if s.file == nil {
		return s.mem, func([]byte) {}, nil
	}
	defer s.close()
	if data, ok := mapFile(s.file, s.n); ok {
		return data, releasePages, nil
	}
	data := make([]byte, s.n)
	_, err := s.file.ReadAt(data, 0)
	return data, func([]byte) {}, err
}

// bomSkipper drops a UTF-8 byte order mark from the start of what it reads.
type bomSkipper struct {
	r       io.Reader
	started bool
	pending []byte
}

// skipBOM returns r without a leading UTF-8 byte order mark.
func skipBOM(r io.Reader) io.Reader { return &bomSkipper{r: r} }

func (b *bomSkipper) Read(p []byte) (int, error) {
	if !b.started {
		b.started = true
		head := make([]byte, 3)
		n, err := io.ReadFull(b.r, head)
		head = head[:n]
		if !configdump.HasBOM(head) {
			b.pending = head
		}
		if err != nil && len(b.pending) == 0 {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				err = io.EOF
			}
			return 0, err
		}
	}
	if len(b.pending) > 0 {
		n := copy(p, b.pending)
		b.pending = b.pending[n:]
		return n, nil
	}
	return b.r.Read(p)
}

// errNoDocument is wrapped by the error of a source that has no document at a path: a file
// (it holds one document), a bundle whose proxy did not serve it, an Envoy answering 404.
var errNoDocument = errors.New("no such document")

// isBundleFile tells whether path is a regular file that starts as a capture bundle does
// (gzip data); what is not a bundle after all is explained by bundle.Open.
func isBundleFile(path string) bool {
	if path == "-" {
		return false // bundles are read by path: they are read at random
	}
	// Not opened unless regular: opening a FIFO would take its writer from the real reader.
	if fi, err := os.Stat(path); err != nil || !fi.Mode().IsRegular() {
		return false
	}
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 2)
	n, _ := io.ReadFull(f, head)
	return bundle.IsBundle(head[:n])
}

// fileOptions say how to read -f.
type fileOptions struct {
	path  string
	stdin io.Reader
	// proxy picks a proxy of a bundle (POD[.NAMESPACE], HOST:PORT), in namespace when set (-n).
	proxy, namespace string
	// orOnlyURL: when no proxy has that name, a bundle holding one proxy, captured from an
	// admin URL (so of no known pod), is read (ps POD --file BUNDLE).
	orOnlyURL bool
}

// openFile is the source behind -f: one proxy of a capture bundle, else a config dump (or a
// /clusters document) in a file or on stdin. Every command reading -f goes through it, so that
// each reads bundles.
func openFile(o fileOptions) (Source, error) {
	if isBundleFile(o.path) {
		return openBundleProxy(o)
	}
	if o.proxy != "" {
		return nil, usageErrorf("%s is not a capture bundle: a proxy name (%s) goes with -f only to pick one of a bundle's proxies", o.path, o.proxy)
	}
	return &fileSource{path: o.path, stdin: o.stdin}, nil
}

// openBundle opens a capture bundle and reads its manifest.
func openBundle(path string) (*bundle.Reader, *os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, nil, fmt.Errorf("cannot open %s: %w", path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("cannot read %s: %w", path, err)
	}
	r, err := bundle.Open(f, fi.Size(), path)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return r, f, nil
}

// openBundleProxy is the source of one proxy of a bundle: the one named, or the only one.
func openBundleProxy(o fileOptions) (*bundleSource, error) {
	path := o.path
	r, f, err := openBundle(path)
	if err != nil {
		return nil, err
	}
	p, err := r.Find(o.proxy, o.namespace)
	if ps := r.Manifest().Proxies; errors.Is(err, bundle.ErrNoProxy) && o.orOnlyURL && len(ps) == 1 && ps[0].Pod == "" {
		p, err = &ps[0], nil
	}
	if err != nil {
		f.Close()
		if errors.Is(err, bundle.ErrAmbiguous) {
			return nil, usageError{err}
		}
		return nil, err
	}
	if p.Status == bundle.ProxyFailed {
		f.Close()
		return nil, fmt.Errorf("%s was not captured in bundle %s: %s", p.Name, path, p.Error)
	}
	return &bundleSource{path: path, f: f, r: r, proxy: p}, nil
}

// bundleSource reads the documents of one proxy of a capture bundle: each admin path is
// answered by the document captured for it (any config_dump by the whole dump).
type bundleSource struct {
	path  string
	f     *os.File
	r     *bundle.Reader
	proxy *bundle.Proxy
}

func (s *bundleSource) String() string { return fmt.Sprintf("%s in bundle %s", s.proxy.Name, s.path) }

func (s *bundleSource) Close() error { return s.f.Close() }

func (s *bundleSource) Open(_ context.Context, path string) (io.ReadCloser, error) {
	doc, ok := bundle.DocumentFor(path)
	if !ok {
		return nil, fmt.Errorf("%w: a capture bundle holds no /%s document (%s)", errNoDocument, path, s)
	}
	f := s.proxy.File(doc.Name)
	switch {
	case f == nil:
		return nil, fmt.Errorf("%w: %s has no /%s document: it was not captured", errNoDocument, s, doc.AdminPath)
	case f.Status == bundle.FileNotFound:
		return nil, fmt.Errorf("%w: %s has no /%s document: its Envoy answered 404 Not Found when it was captured", errNoDocument, s, doc.AdminPath)
	case f.Status != bundle.FileOK:
		return nil, fmt.Errorf("%w: %s has no /%s document: it could not be captured: %s", errNoDocument, s, doc.AdminPath, f.Error)
	}
	return s.r.Open(s.proxy, f)
}

// optionalDocument reads another document of the proxy a view reads, when its source has one
// (a bundle, a live proxy; not a file): nil and no error when it has none.
func optionalDocument(ctx context.Context, src Source, path string, ro readOptions) ([]byte, error) {
	if _, ok := src.(*fileSource); ok {
		return nil, nil
	}
	body, err := src.Open(ctx, path)
	var se *portforward.StatusError
	if errors.Is(err, errNoDocument) || errors.As(err, &se) && se.Code == 404 {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer body.Close()
	data, err := limits.ReadAll(body, ro.limit(limits.ConfigDump, "an Envoy admin document"))
	if errors.Is(err, limits.ErrTooLarge) {
		return nil, fmt.Errorf("the /%s document of %s: %w", path, src, err)
	}
	return data, err
}
