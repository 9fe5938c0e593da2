package istiod

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// Debug API paths, served on istiod's HTTP debug port (15014).
const (
	SynczPath      = "/debug/syncz"
	ConfigDumpPath = "/debug/config_dump"
)

// DefaultMaxBodyBytes bounds one answer when Fetcher.MaxBodyBytes is zero.
const DefaultMaxBodyBytes int64 = 1 << 30

// Target is one istiod replica to ask.
type Target struct {
	// Name is the istiod pod name (the ISTIOD column), or HOST:PORT for a
	// target given by URL.
	Name string
	// Namespace, when set, is named in errors ("istiod X in istio-system").
	Namespace string
	// BaseURL is where its debug API answers, http://HOST:PORT (a path
	// prefix is kept).
	BaseURL string
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
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return Target{}, fmt.Errorf("invalid --istiod-url %q: want http://HOST:PORT, e.g. http://127.0.0.1:15014", raw)
	}
	base := u.Scheme + "://" + u.Host + strings.TrimRight(u.EscapedPath(), "/")
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
	// Client makes the requests; nil means a plain http.Client (no timeout
	// of its own: bound the context).
	Client *http.Client
	// MaxBodyBytes bounds one answer; zero means DefaultMaxBodyBytes.
	MaxBodyBytes int64
}

func (f *Fetcher) client() *http.Client {
	if f != nil && f.Client != nil {
		return f.Client
	}
	return &http.Client{}
}

func (f *Fetcher) maxBody() int64 {
	if f != nil && f.MaxBodyBytes > 0 {
		return f.MaxBodyBytes
	}
	return DefaultMaxBodyBytes
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

// get fetches path?query from t and returns the body of a 2xx answer.
func (f *Fetcher) get(ctx context.Context, t Target, path string, query url.Values) ([]byte, error) {
	reqName := requestName(path, query)
	base, err := url.Parse(t.BaseURL)
	if err != nil || base.Scheme == "" || base.Host == "" {
		return nil, fmt.Errorf("%s: invalid base URL %q: want http://HOST:PORT", reqName, t.BaseURL)
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
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("%s: no answer in time (raise the timeout, or check the istiod pod): %w", reqName, err)
		}
		return nil, fmt.Errorf("%s: %w", reqName, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		head, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		msg := snippet(head)
		if msg == http.StatusText(resp.StatusCode) {
			msg = ""
		}
		return nil, &HTTPStatusError{Request: reqName, Code: resp.StatusCode, Status: resp.Status, Body: msg}
	}
	limit := f.maxBody()
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: read answer: %w", reqName, err)
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("%s: answer larger than %d bytes", reqName, limit)
	}
	return body, nil
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
			body, err := f.get(ctx, t, SynczPath, query)
			if err != nil {
				answers[i].err = err
				return
			}
			entries, err := DecodeSyncz(bytes.NewReader(body))
			if err != nil {
				answers[i].err = fmt.Errorf("%s: %w (check that %s is istiod's debug port, 15014)", requestName(SynczPath, query), err, t.BaseURL)
				return
			}
			answers[i].rows = Rows(t.Name, entries)
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
	Body   []byte // an envoy.admin.v3.ConfigDump as JSON
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

// ConfigDump asks each target in turn for GET
// /debug/config_dump?proxyID=<proxyID> (proxyID is <pod>.<namespace>) and
// returns the first answer with content: a 2xx JSON object that is not empty.
// A replica the proxy is not connected to answers with an error or nothing,
// so it is skipped. When none has content, the error is a *ConfigDumpError
// (wrapping ErrProxyNotConnected) naming each replica's answer.
func (f *Fetcher) ConfigDump(ctx context.Context, targets []Target, proxyID string) (ConfigDumpResult, error) {
	query := url.Values{"proxyID": {proxyID}}
	cerr := &ConfigDumpError{ProxyID: proxyID}
	for _, t := range targets {
		if err := ctx.Err(); err != nil {
			cerr.Errors = append(cerr.Errors, &TargetError{Target: t, Err: fmt.Errorf("not asked: %w", err)})
			continue
		}
		body, err := f.get(ctx, t, ConfigDumpPath, query)
		if err == nil {
			if derr := checkDumpContent(body); derr != nil {
				err = fmt.Errorf("%s: %w", requestName(ConfigDumpPath, query), derr)
			}
		}
		if err != nil {
			cerr.Errors = append(cerr.Errors, &TargetError{Target: t, Err: err})
			continue
		}
		return ConfigDumpResult{Body: body, Istiod: t}, nil
	}
	if len(targets) == 0 {
		return ConfigDumpResult{}, errors.New("no istiod to ask: check -i/--istio-namespace and -r/--revision, or give --istiod-url")
	}
	return ConfigDumpResult{}, cerr
}

// checkDumpContent accepts a JSON object with at least one non-empty member.
// Big answers are only checked to start like an object.
func checkDumpContent(body []byte) error {
	b := bytes.TrimSpace(body)
	if len(b) == 0 {
		return errors.New("empty answer")
	}
	if b[0] != '{' {
		return fmt.Errorf("answer is not a JSON config dump: %s", snippet(b))
	}
	if len(b) > 4096 {
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
