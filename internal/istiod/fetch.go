package istiod

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/proxyctl/proxyctl/internal/limits"
	"github.com/proxyctl/proxyctl/internal/safetext"
	"github.com/proxyctl/proxyctl/portforward"
)

// Debug API paths, served on istiod's HTTP debug port (15014).
const (
	SynczPath      = "/debug/syncz"
	ConfigDumpPath = "/debug/config_dump"
)

// Target is one istiod replica to ask.
type Target struct {
	// Name is the istiod pod name (the ISTIOD column), or HOST:PORT for a
	// target given by URL.
	Name string
	// Namespace, when set, is named in errors ("istiod X in istio-system").
	Namespace string
	// BaseURL is where its debug API answers, http://HOST:PORT (a path
	// prefix is kept; a password in it is sent, never printed).
	BaseURL string
	// Explain, when set, may explain a failed request in the terms of how
	// the target is reached (a port-forward: "nothing is listening on port
	// 15014 of istiod X"); nil when it has nothing to add.
	Explain func(error) error
}

func (t Target) String() string {
	if t.Namespace != "" {
		return "istiod " + t.Name + " in " + t.Namespace
	}
	return "istiod " + t.Name
}

// TargetFromURL reads an --istiod-url value, [NAME=]http://HOST:PORT (the scheme
// may be left out; https is accepted). The target is named NAME, else HOST:PORT.
func TargetFromURL(raw string) (Target, error) {
	s := strings.TrimSpace(raw)
	name := ""
	if i := strings.IndexByte(s, '='); i > 0 && !strings.Contains(s[:i], "/") {
		name, s = s[:i], s[i+1:]
	}
	if s != "" && !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(s, "#") {
		return Target{}, fmt.Errorf("invalid --istiod-url %q: want http://HOST:PORT, e.g. http://127.0.0.1:15014", safetext.URL(raw))
	}
	base := u.Scheme + "://" + u.Host + strings.TrimRight(u.EscapedPath(), "/")
	if u.User != nil {
		base = u.Scheme + "://" + u.User.String() + "@" + u.Host + strings.TrimRight(u.EscapedPath(), "/")
	}
	if name == "" {
		name = u.Host
	}
	return Target{Name: name, BaseURL: base}, nil
}

// TargetError is the failure of one istiod replica; the others still count.
type TargetError struct {
	Target Target
	Err    error
}

func (e *TargetError) Error() string { return e.Target.String() + ": " + e.Err.Error() }
func (e *TargetError) Unwrap() error { return e.Err }

// Fetcher reads istiod's debug API. The zero value is ready to use; the
// deadline comes from the caller's context.
type Fetcher struct {
	// Client makes the requests; nil means portforward.NewHTTPClient() (no
	// timeout of its own: bound the context; redirects to another host
	// refused).
	Client *http.Client
	// MaxBodyBytes bounds one answer; zero gives each its default:
	// limits.Syncz for /debug/syncz, limits.ConfigDump for a config dump.
	MaxBodyBytes int64
}

var defaultClient = portforward.NewHTTPClient()

func (f *Fetcher) client() *http.Client {
	if f != nil && f.Client != nil {
		return f.Client
	}
	return defaultClient
}

// limit is the size limit of an answer: MaxBodyBytes when set, else def.
func (f *Fetcher) limit(def int64, what string) limits.Limit {
	if f != nil && f.MaxBodyBytes > 0 {
		return limits.Limit{Max: f.MaxBodyBytes, What: what}
	}
	return limits.Limit{Max: def, What: what}
}

// HTTPStatusError is a non-2xx answer.
type HTTPStatusError struct {
	Request string // "GET /debug/syncz?namespace=default"
	Code    int
	Status  string // "503 Service Unavailable"
	Body    string // first line of the body, shortened
}

func (e *HTTPStatusError) Error() string {
	msg := e.Request + ": " + e.Status
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// open requests path?query from t and returns the body of a 2xx answer, as
// it arrives, bounded by limit: a read past it fails with limits.ErrTooLarge,
// and a failed read is explained as a failed request is.
func (f *Fetcher) open(ctx context.Context, t Target, path string, query url.Values, limit limits.Limit) (io.ReadCloser, error) {
	reqName := requestName(path, query)
	base, err := url.Parse(t.BaseURL)
	if err != nil || base.Scheme == "" || base.Host == "" {
		return nil, fmt.Errorf("%s: invalid base URL %q: want http://HOST:PORT", reqName, safetext.URL(t.BaseURL))
	}
	u := *base
	u.Path = strings.TrimRight(base.Path, "/") + path
	u.RawPath = ""
	u.RawQuery = query.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", reqName, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := f.client().Do(req)
	if err != nil {
		return nil, explain(ctx, t, reqName, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer resp.Body.Close()
		head, _ := io.ReadAll(io.LimitReader(resp.Body, limits.ErrorBody))
		msg := snippet(head)
		if msg == http.StatusText(resp.StatusCode) {
			msg = ""
		}
		return nil, &HTTPStatusError{Request: reqName, Code: resp.StatusCode, Status: resp.Status, Body: msg}
	}
	if resp.ContentLength > limit.Max {
		resp.Body.Close()
		return nil, fmt.Errorf("%s: the answer announces %w", reqName, limit.SizeError(resp.ContentLength))
	}
	return &answerBody{Reader: limits.Reader(resp.Body, limit), body: resp.Body, ctx: ctx, t: t, reqName: reqName}, nil
}

// answerBody is a bounded answer whose read errors name the request.
type answerBody struct {
	io.Reader
	body    io.Closer
	ctx     context.Context
	t       Target
	reqName string
}

func (b *answerBody) Read(p []byte) (int, error) {
	n, err := b.Reader.Read(p)
	switch {
	case err == nil || err == io.EOF:
	case errors.Is(err, limits.ErrTooLarge):
		err = fmt.Errorf("%s: %w", b.reqName, err)
	default:
		err = explain(b.ctx, b.t, b.reqName, fmt.Errorf("reading the answer: %w", err))
	}
	return n, err
}

func (b *answerBody) Close() error { return b.body.Close() }

// explain names the cause of a failed request to t.
func explain(ctx context.Context, t Target, reqName string, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var re *portforward.RedirectError
	switch {
	case errors.As(err, &re):
		return fmt.Errorf("%s: %w", reqName, re)
	case ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("%s: no answer in time (raise the timeout, or check the istiod pod): %w", reqName, ctx.Err())
	case ctx.Err() != nil:
		return fmt.Errorf("%s: %w", reqName, ctx.Err())
	}
	if t.Explain != nil {
		if why := t.Explain(err); why != nil {
			return fmt.Errorf("%s: %w", reqName, why)
		}
	}
	return fmt.Errorf("%s: %w", reqName, err)
}

// get fetches path?query from t and returns the body of a 2xx answer, whole.
func (f *Fetcher) get(ctx context.Context, t Target, path string, query url.Values, limit limits.Limit) ([]byte, error) {
	body, err := f.open(ctx, t, path, query, limit)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	return io.ReadAll(body)
}

// requestName is how errors name a request: "GET /debug/syncz?namespace=x".
func requestName(path string, query url.Values) string {
	if len(query) > 0 {
		return "GET " + path + "?" + query.Encode()
	}
	return "GET " + path
}

// snippet is the first non-empty line of b, at most 120 characters.
func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = strings.TrimSpace(s[:i])
	}
	if r := []rune(s); len(r) > 120 {
		s = string(r[:120]) + "..."
	}
	return s
}

// SynczResult is the merged answer of every istiod replica.
type SynczResult struct {
	// Rows are every proxy of the replicas that answered, sorted by proxy
	// name then istiod name (and filtered by namespace when asked).
	Rows []ProxyStatus
	// Errors has one entry per replica that failed, in target order.
	Errors []*TargetError
	// Asked is the number of targets asked.
	Asked int
}

// Err is nil when at least one replica answered; otherwise it says why
// nothing can be shown.
func (r SynczResult) Err() error {
	if r.Asked == 0 {
		return errors.New("no istiod to ask: check -i/--istio-namespace and -r/--revision, or give --istiod-url")
	}
	if len(r.Errors) < r.Asked {
		return nil
	}
	errs := make([]error, len(r.Errors))
	for i, e := range r.Errors {
		errs[i] = e
	}
	return &AllFailedError{Errors: errs}
}

// AllFailedError says that no istiod replica answered.
type AllFailedError struct{ Errors []error }

func (e *AllFailedError) Error() string {
	parts := make([]string, len(e.Errors))
	for i, err := range e.Errors {
		parts[i] = err.Error()
	}
	return fmt.Sprintf("no istiod answered (asked %d): %s", len(e.Errors), strings.Join(parts, "; "))
}
func (e *AllFailedError) Unwrap() []error { return e.Errors }

// Syncz asks every target for GET /debug/syncz (with ?namespace= when
// namespace is set) concurrently and merges the answers. A failed target is
// recorded in Errors and the others are still returned; the context bounds
// the whole call. Rows from another namespace than the one asked are dropped
// too, in case an istiod ignores the parameter.
func (f *Fetcher) Syncz(ctx context.Context, targets []Target, namespace string) SynczResult {
	var query url.Values
	if namespace != "" {
		query = url.Values{"namespace": {namespace}}
	}
	type answer struct {
		rows []ProxyStatus
		err  error
	}
	answers := make([]answer, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			limit := f.limit(limits.Syncz, "istiod's /debug/syncz answer")
			body, err := f.open(ctx, t, SynczPath, query, limit)
			if err != nil {
				answers[i].err = err
				return
			}
			defer body.Close()
			// Decoded as it arrives, entry by entry, into rows: memory holds the rows only. An
			// entry takes a few hundred bytes in a real answer, but its row takes about 150
			// whatever its size: a hostile answer of tiny entries is bounded by their number.
			maxRows := int(min(limit.Max/minSynczEntry, math.MaxInt32))
			rec := &readRecorder{r: body}
			err = EachSynczEntry(rec, func(e SynczEntry) error {
				if len(answers[i].rows) >= maxRows {
					return fmt.Errorf("%s: the answer lists more than %d proxies, one per %d bytes of the limit of %s: %w", requestName(SynczPath, query), maxRows, minSynczEntry, limits.Size(limit.Max), limit.Error())
				}
				answers[i].rows = append(answers[i].rows, e.Row(t.Name))
				return nil
			})
			switch {
			case err != nil && rec.err != nil:
				answers[i].err = rec.err // reading the answer failed (too large, cut, timed out): named already
			case err != nil && errors.Is(err, limits.ErrTooLarge):
				answers[i].err = err
			case err != nil:
				answers[i].err = fmt.Errorf("%s: %w (check that %s is istiod's debug port, 15014)", requestName(SynczPath, query), err, safetext.URL(t.BaseURL))
			}
			if err != nil {
				answers[i].rows = nil
			}
		}()
	}
	wg.Wait()
	res := SynczResult{Asked: len(targets)}
	for i, a := range answers {
		if a.err != nil {
			res.Errors = append(res.Errors, &TargetError{Target: targets[i], Err: a.err})
			continue
		}
		res.Rows = append(res.Rows, a.rows...)
	}
	res.Rows = Filter{Namespace: namespace}.Apply(res.Rows)
	SortRows(res.Rows)
	return res
}

// ConfigDumpResult is istiod's config dump for one proxy.
type ConfigDumpResult struct {
	// Body is the answer, an envoy.admin.v3.ConfigDump as JSON, as it
	// arrives (bounded by MaxBodyBytes, else limits.ConfigDump); the caller
	// closes it.
	Body   io.ReadCloser
	Istiod Target // the replica that answered
}

// ErrProxyNotConnected is wrapped by ConfigDump when no replica knows the proxy.
var ErrProxyNotConnected = errors.New("proxy not connected to any istiod")

// ConfigDumpError lists why each replica gave no config dump.
type ConfigDumpError struct {
	ProxyID string
	Errors  []*TargetError
}

func (e *ConfigDumpError) Error() string {
	parts := make([]string, len(e.Errors))
	for i, err := range e.Errors {
		parts[i] = err.Error()
	}
	return fmt.Sprintf("no istiod has a config dump for proxy %s (asked %d; is the pod name.namespace right and its sidecar connected?): %s",
		e.ProxyID, len(e.Errors), strings.Join(parts, "; "))
}

func (e *ConfigDumpError) Unwrap() []error {
	errs := []error{ErrProxyNotConnected}
	for _, err := range e.Errors {
		errs = append(errs, err)
	}
	return errs
}

// ConfigDump asks every target at once for GET
// /debug/config_dump?proxyID=<proxyID> (proxyID is <pod>.<namespace>) and
// returns the first answer with content: a 2xx JSON object that is not
// empty. A replica the proxy is not connected to answers with an error or
// nothing, so it is skipped; one that hangs does not hold up the others (it
// is cancelled once one answers). When none has content, the error is a
// *ConfigDumpError (wrapping ErrProxyNotConnected) naming each replica's
// answer, in target order.
func (f *Fetcher) ConfigDump(ctx context.Context, targets []Target, proxyID string) (ConfigDumpResult, error) {
	if len(targets) == 0 {
		return ConfigDumpResult{}, errors.New("no istiod to ask: check -i/--istio-namespace and -r/--revision, or give --istiod-url")
	}
	query := url.Values{"proxyID": {proxyID}}
	reqName := requestName(ConfigDumpPath, query)
	limit := f.limit(limits.ConfigDump, "istiod's config dump of a proxy")
	type answer struct {
		i    int
		body io.ReadCloser
		err  error
	}
	answers := make(chan answer, len(targets))
	cancels := make([]context.CancelFunc, len(targets))
	for i, t := range targets {
		tctx, cancel := context.WithCancel(ctx)
		cancels[i] = cancel
		go func() {
			if err := ctx.Err(); err != nil {
				answers <- answer{i, nil, fmt.Errorf("not asked: %w", err)}
				return
			}
			body, err := f.open(tctx, t, ConfigDumpPath, query, limit)
			if err == nil {
				var derr error
				if body, derr = checkDumpHead(body); derr != nil {
					err = fmt.Errorf("%s: %w", reqName, derr)
				}
			}
			answers <- answer{i, body, err}
		}()
	}
	cerr := &ConfigDumpError{ProxyID: proxyID, Errors: make([]*TargetError, len(targets))}
	for n := range len(targets) {
		a := <-answers
		if a.err != nil {
			cerr.Errors[a.i] = &TargetError{Target: targets[a.i], Err: a.err}
			cancels[a.i]()
			continue
		}
		for j, cancel := range cancels {
			if j != a.i {
				cancel()
			}
		}
		go func(left int) { // the others end once cancelled: close what they opened
			for range left {
				if b := <-answers; b.body != nil {
					b.body.Close()
				}
			}
		}(len(targets) - n - 1)
		return ConfigDumpResult{Body: &cancelOnClose{ReadCloser: a.body, cancel: cancels[a.i]}, Istiod: targets[a.i]}, nil
	}
	return ConfigDumpResult{}, cerr
}

// cancelOnClose ends a request's context when its body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

// dumpHead is how much of a config dump answer is read to tell whether it
// has content.
const dumpHead = 4096

// checkDumpHead reads the start of a config dump answer and checks it (see
// checkDumpContent); it returns a body that reads the answer from its start.
func checkDumpHead(body io.ReadCloser) (io.ReadCloser, error) {
	head := make([]byte, dumpHead+1)
	n, err := io.ReadFull(body, head)
	head = head[:n]
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		err = nil // all of it
	case err != nil:
		body.Close()
		return nil, err
	}
	if err := checkDumpContent(head); err != nil {
		body.Close()
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(head), body), body}, nil
}

// checkDumpContent accepts a JSON object with at least one non-empty member.
// Big answers (more than dumpHead bytes) are only checked to start like an
// object.
func checkDumpContent(body []byte) error {
	b := bytes.TrimSpace(body)
	if len(b) == 0 {
		return errors.New("empty answer")
	}
	if b[0] != '{' {
		return fmt.Errorf("answer is not a JSON config dump: %s", snippet(b))
	}
	if len(body) > dumpHead {
		return nil
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(b, &members); err != nil {
		return fmt.Errorf("answer is not a JSON config dump: %w", err)
	}
	for _, v := range members {
		switch string(bytes.TrimSpace(v)) {
		case "", "null", "[]", "{}", `""`:
		default:
			return nil
		}
	}
	return errors.New("empty config dump")
}

// minSynczEntry is the fewest bytes an entry of a real syncz answer has (its
// proxy id, type, cluster and versions take more): an answer may list one
// proxy per minSynczEntry bytes of its size limit.
const minSynczEntry = 128

// readRecorder keeps the first error of a reader other than io.EOF.
type readRecorder struct {
	r   io.Reader
	err error
}

func (r *readRecorder) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF && r.err == nil {
		r.err = err
	}
	return n, err
}
