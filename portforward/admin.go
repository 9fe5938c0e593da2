// Package portforward reaches Envoy's admin API: directly at a URL, or in a pod through a
// Kubernetes port-forward (WebSocket, with SPDY as the fallback), bound to 127.0.0.1 on a
// random port. It also finds the pod a target names and checks, before forwarding, what
// usually goes wrong, so that errors name the cause and the fix.
package portforward

import (
	"bufio"
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

// NewAdminClient returns a client of the admin API at base: http://HOST:PORT, https://..., or
// HOST:PORT, taken as http as --istiod-url takes it.
func NewAdminClient(base string, maxBytes int64) (*AdminClient, error) {
	raw := strings.TrimSpace(base)
	if raw != "" && !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("admin URL %q is not of the form [http://]HOST:PORT, e.g. 127.0.0.1:15000", base)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return &AdminClient{base: u, http: newHTTPClient(), MaxBytes: maxBytes, describe: "admin API " + u.Redacted()}, nil
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

// BaseURL is the admin API's URL, its scheme filled in.
func (c *AdminClient) BaseURL() *url.URL {
	u := *c.base
	return &u
}

// Close releases idle connections.
func (c *AdminClient) Close() error {
	c.http.CloseIdleConnections()
	return nil
}

// Open GETs an admin path such as "config_dump?mask=..." and returns the body as it arrives.
// A failure while reading it is explained as a failed request is.
func (c *AdminClient) Open(ctx context.Context, path string) (io.ReadCloser, error) {
	body, err := c.open(ctx, http.MethodGet, path)
	if err != nil {
		return nil, err
	}
	return &explainedBody{ReadCloser: body, ctx: ctx, c: c, path: path}, nil
}

// Post POSTs to an admin path (Envoy changes state only on POST, e.g. /logging) and returns
// the answer, of at most MaxBytes.
func (c *AdminClient) Post(ctx context.Context, path string) ([]byte, error) {
	body, err := c.open(ctx, http.MethodPost, path)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	data, err := io.ReadAll(io.LimitReader(body, c.MaxBytes+1))
	if err != nil {
		return nil, c.explain(ctx, http.MethodPost, path, fmt.Errorf("reading the answer: %w", err))
	}
	if int64(len(data)) > c.MaxBytes {
		return nil, fmt.Errorf("%s: /%s: %w: more than the limit of %d bytes (--max-input)", c.describe, pathOnly(path), ErrTooLarge, c.MaxBytes)
	}
	return data, nil
}

// open makes a request and checks the answer is Envoy's: 200, and not an HTML page.
func (c *AdminClient) open(ctx context.Context, method, path string) (io.ReadCloser, error) {
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
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, &StatusError{Code: resp.StatusCode, msg: fmt.Sprintf("%s answered %s to %s /%s: %s", c.describe, resp.Status, method, pathOnly(path), firstLine(resp.Body))}
	}
	if ct := resp.Header.Get("Content-Type"); strings.HasPrefix(ct, "text/html") {
		defer resp.Body.Close()
		return nil, fmt.Errorf("%s answered an HTML page to %s /%s, not Envoy's JSON: %s; is this Envoy's admin port?", c.describe, method, pathOnly(path), firstLine(resp.Body))
	}
	if resp.ContentLength > c.MaxBytes {
		resp.Body.Close()
		return nil, fmt.Errorf("%s: /%s: %w: %d bytes announced, more than the limit of %d (--max-input)", c.describe, pathOnly(path), ErrTooLarge, resp.ContentLength, c.MaxBytes)
	}
	return resp.Body, nil
}

// StatusError is the error of an admin API answering with another status than 200 OK: an
// Envoy without the endpoint answers 404 Not Found.
type StatusError struct {
	Code int
	msg  string
}

func (e *StatusError) Error() string { return e.msg }

// explainedBody explains the errors of reading an answer.
type explainedBody struct {
	io.ReadCloser
	ctx  context.Context
	c    *AdminClient
	path string
}

func (b *explainedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	switch {
	case err == nil || err == io.EOF:
	case errors.Is(err, io.ErrUnexpectedEOF):
		err = b.c.explain(b.ctx, http.MethodGet, b.path, err)
	default:
		err = b.c.explain(b.ctx, http.MethodGet, b.path, fmt.Errorf("reading the answer: %w", err))
	}
	return n, err
}

// explain turns a transport failure into a message naming the cause.
func (c *AdminClient) explain(ctx context.Context, method, path string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	// The URL is already named; keep only the cause.
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
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
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		err = fmt.Errorf("the connection closed before the answer was complete: %w", err)
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
