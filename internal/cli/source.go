package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
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
	pathFullDump  = "config_dump"
)

// Source yields Envoy admin documents: from a file or stdin, an admin URL, or a pod through a
// port-forward. It is chosen before any Kubernetes client is built.
type Source interface {
	// Fetch returns the document at an admin API path, such as "config_dump?mask=...". A file
	// source has one document and returns it whatever the path.
	Fetch(ctx context.Context, path string) ([]byte, error)
	// String names the source in messages ("file dump.json", "pod web-1 in namespace shop").
	String() string
	// Close releases what the source holds (a port-forward).
	Close() error
}

// defaultMaxInput bounds what proxyctl reads from a file, stdin or an admin API.
const defaultMaxInput = 4 << 30

// ErrTooLarge is returned for input above the size limit.
var ErrTooLarge = errors.New("input too large")

// fileSource reads a config dump from a file, or from stdin for "-".
type fileSource struct {
	path   string
	stdin  io.Reader
	max    int64
	data   []byte
	mapped bool
}

// releaser is a source whose document's memory can be given back piecewise.
type releaser interface {
	// Release drops bytes of the fetched document from memory (they stay readable).
	Release(b []byte)
}

// Release drops pages of a mapped file from memory.
func (s *fileSource) Release(b []byte) {
	if s.mapped {
		releasePages(b)
	}
}

func (s *fileSource) String() string {
	if s.path == "-" {
		return "stdin"
	}
	return "file " + s.path
}

func (s *fileSource) Close() error { return nil }

func (s *fileSource) Fetch(_ context.Context, _ string) ([]byte, error) {
	if s.data != nil {
		return s.data, nil
	}
	var r io.Reader
	size := int64(-1)
	if s.path == "-" {
		r = s.stdin
	} else {
		f, err := os.Open(s.path)
		if err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return nil, fmt.Errorf("cannot open %s: %w", s.path, err)
		}
		defer f.Close()
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			size = fi.Size()
			if size > s.max {
				return nil, fmt.Errorf("%w: %s has %d bytes, more than the limit of %d (--max-input)", ErrTooLarge, s.path, size, s.max)
			}
			if data, ok := mapFile(f, size); ok {
				s.data, s.mapped = data, true
				return data, nil
			}
		}
		r = f
	}
	data, err := readAllLimited(r, size, s.max)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", s, err)
	}
	s.data = data
	return data, nil
}

// readAllLimited reads r to the end, failing once more than max bytes arrive. size, when
// known, sizes the buffer in one allocation.
func readAllLimited(r io.Reader, size, max int64) ([]byte, error) {
	capacity := int64(512 << 10)
	if size >= 0 {
		capacity = size + 1
	}
	buf := make([]byte, 0, capacity)
	for {
		if int64(len(buf)) > max {
			return nil, fmt.Errorf("%w: more than the limit of %d bytes (--max-input)", ErrTooLarge, max)
		}
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			if int64(len(buf)) > max {
				return nil, fmt.Errorf("%w: more than the limit of %d bytes (--max-input)", ErrTooLarge, max)
			}
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}
