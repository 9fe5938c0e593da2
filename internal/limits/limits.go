// Package limits holds the bounds on what proxyctl reads: a size limit per kind of document
// (documented in docs/reliability.md, overridden by --max-input), the reader that enforces it,
// and a reader that gives up when its context ends even while the source blocks (a pipe or a
// FIFO that sends nothing). Every Source's document, every istiod answer and every admin API
// answer is read through them, so that no input can take unbounded memory or time.
package limits

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"

	"k8s.io/apimachinery/pkg/api/resource"
)

// The default limits, by kind of document: each well above the largest real document of its
// kind, and low enough that reading one never takes more memory (or disk) than a machine that
// debugs a mesh has.
const (
	// ConfigDump bounds an Envoy config dump or /clusters document (a file, stdin, an admin
	// API, a pod, istiod's /debug/config_dump): the largest meshes give a few hundred MB. It is
	// spooled to disk past a few MB, or mapped, so memory stays flat whatever its size.
	ConfigDump int64 = 2 << 30
	// YAMLDump bounds a dump written as YAML: YAML is converted to JSON in memory, which costs
	// about 25 times its size.
	YAMLDump int64 = 64 << 20
	// Syncz bounds istiod's /debug/syncz answer: a few hundred bytes per connected proxy, so
	// 100 000 proxies on one replica; decoded, its rows take a few times its size.
	Syncz int64 = 32 << 20
	// Logging bounds the answer of Envoy's /logging: a line per logger, a few KB.
	Logging int64 = 1 << 20
	// ErrorBody is how much of an error answer (a 500, an HTML page) is read to quote its first
	// line.
	ErrorBody int64 = 4 << 10
)

// ErrTooLarge is wrapped by the error of a document above its limit.
var ErrTooLarge = errors.New("document too large")

// Limit is the size limit of one document.
type Limit struct {
	// Max is the largest size, in bytes.
	Max int64
	// What names the kind of document in messages: "a config dump".
	What string
}

// Error is the error for a document that has more than l.Max bytes.
func (l Limit) Error() error {
	return fmt.Errorf("%w: more than the limit of %d bytes (%s) for %s; if it is one, raise --max-input", ErrTooLarge, l.Max, Size(l.Max), l.What)
}

// SizeError is the error for a document known to have size bytes, more than l.Max.
func (l Limit) SizeError(size int64) error {
	return fmt.Errorf("%w: %d bytes (%s), more than the limit of %d bytes (%s) for %s; if it is one, raise --max-input", ErrTooLarge, size, Size(size), l.Max, Size(l.Max), l.What)
}

// Reader returns a reader of r that fails with l.Error() once more than l.Max bytes have come.
func Reader(r io.Reader, l Limit) io.Reader { return &limited{r: r, l: l, left: l.Max} }

type limited struct {
	r    io.Reader
	l    Limit
	left int64
}

func (b *limited) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, b.l.Error()
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1] // one byte more tells the document goes on
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		return n + int(b.left), b.l.Error()
	}
	return n, err
}

// ReadAll reads r whole, up to l.Max bytes.
func ReadAll(r io.Reader, l Limit) ([]byte, error) { return io.ReadAll(Reader(r, l)) }

// Size writes a size in bytes for people: "2 GiB", "256 MiB", "1.5 KiB", "700 B".
func Size(n int64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	f, u := float64(n), 0
	for f >= 1024 && u < len(units)-1 {
		f /= 1024
		u++
	}
	if u == 0 {
		return strconv.FormatInt(n, 10) + " B"
	}
	if f == float64(int64(f)) {
		return strconv.FormatInt(int64(f), 10) + " " + units[u]
	}
	return strconv.FormatFloat(f, 'f', 1, 64) + " " + units[u]
}

// ParseSize reads a size as kubectl reads quantities: bytes ("1000000"), or with a binary or
// decimal suffix ("512Mi", "2Gi", "500M", "3G").
func ParseSize(s string) (int64, error) {
	q, err := resource.ParseQuantity(s)
	if err != nil {
		return 0, fmt.Errorf("invalid size %q: write bytes, or a number with a suffix such as 512Mi, 2Gi or 500M", s)
	}
	n, ok := q.AsInt64()
	if !ok || n <= 0 {
		return 0, fmt.Errorf("invalid size %q: want a positive whole number of bytes", s)
	}
	return n, nil
}

// ContextReader returns a reader of r whose Read gives up with ctx's error once ctx is done,
// even while r blocks (a pipe, a FIFO or a terminal that sends nothing). Reads are made by a
// goroutine, only as asked, into a buffer of its own; when ctx ends first, that goroutine is
// left in r's Read until it returns, and then exits. Close stops it too.
func ContextReader(ctx context.Context, r io.Reader) io.ReadCloser {
	return &ctxReader{ctx: ctx, r: r}
}

type ctxReader struct {
	ctx     context.Context
	r       io.Reader
	once    sync.Once
	req     chan int
	res     chan ctxResult
	buf     []byte
	pending bool
	err     error
}

type ctxResult struct {
	n   int
	err error
}

func (c *ctxReader) start() {
	c.req = make(chan int)
	c.res = make(chan ctxResult, 1)
	c.buf = make([]byte, 1<<20)
	go func(r io.Reader, buf []byte, req <-chan int, res chan<- ctxResult) {
		for n := range req {
			m, err := r.Read(buf[:n])
			res <- ctxResult{m, err}
		}
	}(c.r, c.buf, c.req, c.res)
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if err := c.ctx.Err(); err != nil {
		c.stop(err)
		return 0, err
	}
	if len(p) == 0 {
		return 0, nil
	}
	c.once.Do(c.start)
	if !c.pending {
		c.req <- min(len(p), len(c.buf))
		c.pending = true
	}
	select {
	case r := <-c.res:
		c.pending = false
		n := copy(p, c.buf[:r.n])
		if r.err != nil {
			c.err = r.err
		}
		return n, r.err
	case <-c.ctx.Done():
		c.stop(c.ctx.Err())
		return 0, c.err
	}
}

// stop ends the reading goroutine (once its current read returns) and fails later reads.
func (c *ctxReader) stop(err error) {
	if c.err == nil || c.err == io.EOF {
		c.err = err
	}
	if c.req != nil {
		close(c.req)
		c.req = nil
	}
}

// Close stops the reading goroutine; it does not close r.
func (c *ctxReader) Close() error {
	if c.req != nil {
		close(c.req)
		c.req = nil
	}
	if c.err == nil {
		c.err = errors.New("read after close")
	}
	return nil
}
