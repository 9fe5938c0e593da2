// Package portforward reaches Envoy's admin API: directly at a URL, or in a pod through a
// Kubernetes port-forward (WebSocket, with SPDY as the fallback), bound to 127.0.0.1 on a
// random port. It also finds the pod a target names and checks, before forwarding, what
// usually goes wrong, so that errors name the cause and the fix.
package portforward

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// ErrTooLarge is wrapped when a document exceeds the size limit.
var ErrTooLarge = errors.New("document too large")

// AdminClient talks to one Envoy admin API.
type AdminClient struct {
	base *url.URL
	http *http.Client
	// MaxBytes bounds a response body.
	MaxBytes int64
	// describe names the admin API in messages.
	describe string
	// onFailure, when set, may explain a failed request (the port-forward's own error).
	onFailure func(err error) error
}

// NewAdminClient returns a client of the admin API at base (http://HOST:PORT).
func NewAdminClient(base string, maxBytes int64) (*AdminClient, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("admin URL %q is not of the form http://HOST:PORT", base)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return &AdminClient{base: u, http: newHTTPClient(), MaxBytes: maxBytes, describe: "admin API " + u.String()}, nil
}

// newHTTPClient never uses a proxy: admin APIs are local or forwarded.
func newHTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
		ResponseHeaderTimeout: 0, // the caller's context bounds the whole exchange
		DisableCompression:    false,
		MaxIdleConns:          2,
		IdleConnTimeout:       10 * time.Second,
	}}
}

func (c *AdminClient) String() string { return c.describe }

// Close releases idle connections.
func (c *AdminClient) Close() error {
	c.http.CloseIdleConnections()
	return nil
}

// Fetch GETs an admin path such as "config_dump?mask=..." and returns the body.
func (c *AdminClient) Fetch(ctx context.Context, path string) ([]byte, error) {
	return c.do(ctx, http.MethodGet, path)
}

// Post POSTs to an admin path (Envoy changes state only on POST, e.g. /logging).
func (c *AdminClient) Post(ctx context.Context, path string) ([]byte, error) {
	return c.do(ctx, http.MethodPost, path)
}

func (c *AdminClient) do(ctx context.Context, method, path string) ([]byte, error) {
	u := c.base.String() + "/" + strings.TrimPrefix(path, "/")
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "proxyctl")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.explain(ctx, method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s answered %s to %s /%s: %s", c.describe, resp.Status, method, pathOnly(path), firstLine(resp.Body))
	}
	body, err := readLimited(resp.Body, resp.ContentLength, c.MaxBytes)
	if err != nil {
		if errors.Is(err, ErrTooLarge) {
			return nil, fmt.Errorf("%s: /%s: %w", c.describe, pathOnly(path), err)
		}
		return nil, c.explain(ctx, method, path, fmt.Errorf("reading the answer: %w", err))
	}
	if ct := resp.Header.Get("Content-Type"); strings.HasPrefix(ct, "text/html") {
		return nil, fmt.Errorf("%s answered an HTML page to %s /%s, not Envoy's JSON: %s; is this Envoy's admin port?", c.describe, method, pathOnly(path), firstLine(bytes.NewReader(body)))
	}
	return body, nil
}

// explain turns a transport failure into a message naming the cause.
func (c *AdminClient) explain(ctx context.Context, method, path string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if c.onFailure != nil {
		if why := c.onFailure(err); why != nil {
			return why
		}
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return fmt.Errorf("nothing answers at %s: %w; is Envoy running, and is that its admin address?", c.base.Host, err)
	}
	return fmt.Errorf("%s %s /%s: %w", c.describe, method, pathOnly(path), err)
}

func pathOnly(p string) string {
	p, _, _ = strings.Cut(strings.TrimPrefix(p, "/"), "?")
	return p
}

// firstLine returns the first non-empty line of a body, shortened.
func firstLine(r io.Reader) string {
	sc := bufio.NewScanner(io.LimitReader(r, 4096))
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			if len(line) > 200 {
				line = line[:200] + "..."
			}
			return line
		}
	}
	return "(empty body)"
}

// readLimited reads r to the end, failing once more than max bytes arrive.
func readLimited(r io.Reader, size, max int64) ([]byte, error) {
	capacity := int64(64 << 10)
	if size > 0 && size <= max {
		capacity = size + 1
	}
	if size > max {
		return nil, fmt.Errorf("%w: %d bytes announced, more than the limit of %d (--max-input)", ErrTooLarge, size, max)
	}
	var buf bytes.Buffer
	buf.Grow(int(capacity))
	n, err := buf.ReadFrom(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if n > max {
		return nil, fmt.Errorf("%w: more than the limit of %d bytes (--max-input)", ErrTooLarge, max)
	}
	return buf.Bytes(), nil
}
