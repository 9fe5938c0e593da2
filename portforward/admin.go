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

	"github.com/proxyctl/proxyctl/internal/limits"
	"github.com/proxyctl/proxyctl/internal/safetext"
)

// ErrTooLarge is wrapped when a document exceeds the size limit.
var ErrTooLarge = limits.ErrTooLarge

// AdminClient talks to one Envoy admin API.
type AdminClient struct {
	base *url.URL
	http *http.Client
	// MaxBytes bounds a response body; zero gives each kind of answer its default limit
	// (package limits).
	MaxBytes int64
	// describe names the admin API in messages.
	describe string
	// onFailure, when set, may explain a failed request (the port-forward's own error).
	onFailure func(err error) error
	// unsent, when set, says a failed request never reached the admin API, and may be sent
	// once more (Forwarder.Unsent).
	unsent func(err error) bool
}

// NewAdminClient returns a client of the admin API at base: http://HOST:PORT, https://..., or
// HOST:PORT, taken as http as --istiod-url takes it; a path prefix is kept (an admin API a
// proxy serves under one). A password in it is sent (basic auth) but never printed: messages
// show http://USER:xxxxx@HOST, as kubectl does.
func NewAdminClient(base string, maxBytes int64) (*AdminClient, error) {
	raw := strings.TrimSpace(base)
	if raw != "" && !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("admin URL %q is not of the form [http://]HOST:PORT, e.g. 127.0.0.1:15000", safetext.URL(base))
	}
	switch {
	case u.RawQuery != "" || u.ForceQuery:
		return nil, fmt.Errorf("admin URL %s has a query (?%s): give [http://]HOST:PORT only; proxyctl adds the admin path and its query itself", u.Redacted(), u.RawQuery)
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return nil, fmt.Errorf("admin URL %s has a fragment (#...): give [http://]HOST:PORT only", safetext.URL(base))
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	return &AdminClient{base: u, http: NewHTTPClient(), MaxBytes: maxBytes, describe: "admin API " + u.Redacted()}, nil
}

// NewHTTPClient returns the HTTP client of an admin or debug API: never through a proxy (admin
// APIs are local or forwarded), following redirects only to the same scheme and host, and
// never for a request that changes state (see CheckRedirect).
func NewHTTPClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
			ResponseHeaderTimeout: 0, // the caller's context bounds the whole exchange
			DisableCompression:    false,
			MaxIdleConns:          2,
			IdleConnTimeout:       10 * time.Second,
		},
		CheckRedirect: CheckRedirect,
	}
}

// maxRedirects is how many redirects a GET follows.
const maxRedirects = 5

// RedirectError is a redirect proxyctl refused to follow.
type RedirectError struct {
	Method, Path string // of the request redirected
	To           string // where to, redacted
	Why          string
}

func (e *RedirectError) Error() string {
	return fmt.Sprintf("%s /%s was redirected to %s: refused: %s", e.Method, strings.TrimPrefix(e.Path, "/"), e.To, e.Why)
}

// CheckRedirect is the redirect policy of admin and debug API clients (an http.Client's
// CheckRedirect): a GET may follow a few redirects on the same scheme and host (a path moved);
// a redirect to another host is refused (the answer would not be the proxy's, and basic-auth
// credentials could follow it); a request that changes state (a POST, such as pc log --level)
// is never repeated through a redirect, which would also turn it into a GET.
func CheckRedirect(req *http.Request, via []*http.Request) error {
	first := via[0]
	e := &RedirectError{Method: first.Method, Path: first.URL.Path, To: req.URL.Redacted()}
	switch {
	case first.Method != http.MethodGet && first.Method != http.MethodHead:
		e.Why = "proxyctl does not repeat a request that changes a proxy's state elsewhere; give the address that answers it"
	case req.URL.Scheme != first.URL.Scheme || req.URL.Host != first.URL.Host:
		e.Why = fmt.Sprintf("it leaves %s://%s; give the address that answers instead", first.URL.Scheme, first.URL.Host)
	case len(via) >= maxRedirects:
		e.Why = fmt.Sprintf("more than %d redirects", maxRedirects)
	default:
		return nil
	}
	return e
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
	body, err := c.open(ctx, http.MethodGet, path, c.limit(limits.ConfigDump, "an Envoy admin document"))
	if err != nil {
		return nil, err
	}
	return &explainedBody{ReadCloser: body, ctx: ctx, c: c, path: path}, nil
}

// Post POSTs to an admin path (Envoy changes state only on POST, e.g. /logging) and returns
// the answer, of at most MaxBytes (by default, limits.Logging: Post serves /logging).
func (c *AdminClient) Post(ctx context.Context, path string) ([]byte, error) {
	limit := c.limit(limits.Logging, "an answer of Envoy's /logging")
	body, err := c.open(ctx, http.MethodPost, path, limit)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	data, err := limits.ReadAll(body, limit)
	switch {
	case errors.Is(err, limits.ErrTooLarge):
		return nil, fmt.Errorf("%s: /%s: %w", c.describe, pathOnly(path), err)
	case err != nil:
		return nil, c.explain(ctx, http.MethodPost, path, fmt.Errorf("reading the answer: %w", err))
	}
	return data, nil
}

// limit is the size limit of an answer: MaxBytes when set, else def.
func (c *AdminClient) limit(def int64, what string) limits.Limit {
	if c.MaxBytes > 0 {
		return limits.Limit{Max: c.MaxBytes, What: what}
	}
	return limits.Limit{Max: def, What: what}
}

// open makes a request and checks the answer is Envoy's: 200, not an HTML page, and not
// announced larger than limit.
func (c *AdminClient) open(ctx context.Context, method, path string, limit limits.Limit) (io.ReadCloser, error) {
	u := c.base.String() + "/" + strings.TrimPrefix(path, "/")
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "proxyctl")
	resp, err := c.http.Do(req)
	if err != nil && ctx.Err() == nil && c.unsent != nil && c.unsent(err) {
		resp, err = c.http.Do(req.Clone(ctx))
	}
	if err != nil {
		return nil, c.explain(ctx, method, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, &StatusError{Code: resp.StatusCode, msg: fmt.Sprintf("%s answered %s to %s /%s: %s", c.describe, resp.Status, method, pathOnly(path), FirstLine(resp.Body))}
	}
	if ct := resp.Header.Get("Content-Type"); strings.HasPrefix(ct, "text/html") {
		defer resp.Body.Close()
		return nil, fmt.Errorf("%s answered an HTML page to %s /%s, not Envoy's JSON: %s; is this Envoy's admin port?", c.describe, method, pathOnly(path), FirstLine(resp.Body))
	}
	if resp.ContentLength > limit.Max {
		resp.Body.Close()
		return nil, fmt.Errorf("%s: /%s announces %w", c.describe, pathOnly(path), limit.SizeError(resp.ContentLength))
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
	var re *RedirectError
	if errors.As(err, &re) {
		return fmt.Errorf("%s: %w", c.describe, re)
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

// FirstLine returns the first non-empty line of an error answer, shortened: at most
// limits.ErrorBody bytes of it are read.
func FirstLine(r io.Reader) string {
	sc := bufio.NewScanner(io.LimitReader(r, limits.ErrorBody))
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
