package istiod

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
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

// Target is one istiod replica to ask, over HTTP (BaseURL) or xDS (XDSAddress).
type Target struct {
	// Name is the istiod pod name (the ISTIOD column), or HOST:PORT for a
	// target given by URL or address.
	Name string
	// Namespace, when set, is named in errors ("istiod X in istio-system").
	Namespace string
	// BaseURL is where its HTTP debug API answers, http://HOST:PORT (a path
	// prefix is kept).
	BaseURL string
	// XDSAddress, when set, is HOST:PORT of its xDS port: the replica is
	// asked over xDS instead of HTTP.
	XDSAddress string
	// XDS says how to reach XDSAddress (TLS, token, identity); nil speaks
	// plain text without a token.
	XDS *XDS
	// NameFromServer makes the ISTIOD column show the instance id istiod
	// reports over xDS, when it reports one, instead of Name: for an
	// address given without a name, as istioctl shows it.
	NameFromServer bool
	// Explain, when set, may explain a failed connection: a port-forward's
	// own error (see portforward.Forwarder.Explain).
	Explain func(error) error
	// Fallback, when set, is called when asking the replica over HTTP
	// failed with err: when ok, the replica is asked again as alt (over
	// xDS, where its HTTP debug port is closed), or the failure is ferr.
	Fallback func(ctx context.Context, err error) (alt Target, ok bool, ferr error)
}

// IsXDS reports whether the target is asked over xDS.
func (t Target) IsXDS() bool { return t.XDSAddress != "" }

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

// TargetFromXDSAddress reads an --xds-address value, [NAME=]HOST[:PORT]; the port defaults to
// port. The target is named NAME, else HOST:PORT with the id istiod reports preferred.
func TargetFromXDSAddress(raw string, port int) (Target, error) {
	s := strings.TrimSpace(raw)
	name := ""
	if i := strings.IndexByte(s, '='); i > 0 {
		name, s = s[:i], s[i+1:]
	}
	bad := fmt.Errorf("invalid --xds-address %q: want [NAME=]HOST[:PORT], e.g. istiod.example.com:15012", raw)
	if s == "" || strings.Contains(s, "/") || strings.ContainsAny(s, " \t") {
		return Target{}, bad
	}
	host, p, err := net.SplitHostPort(s)
	if err != nil {
		// No port: HOST, or a bare IPv6 address.
		host, p = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"), strconv.Itoa(port)
	}
	if n, err := strconv.Atoi(p); host == "" || err != nil || n <= 0 || n > 65535 {
		return Target{}, bad
	}
	addr := net.JoinHostPort(host, p)
	t := Target{Name: name, XDSAddress: addr}
	if name == "" {
		t.Name, t.NameFromServer = addr, true
	}
	return t, nil
}

// TargetError is the failure of one istiod replica; the others still count.
type TargetError struct {
	Target Target
	Err    error
}

func (e *TargetError) Error() string { return e.Target.String() + ": " + e.Err.Error() }
func (e *TargetError) Unwrap() error { return e.Err }

// Fetcher reads istiod's debug API, over HTTP or xDS as each target says.
// The zero value is ready to use; the deadline comes from the caller's
// context.
type Fetcher struct {
	// Client makes the HTTP requests; nil means a plain http.Client (no
	// timeout of its own: bound the context).
	Client *http.Client
	// MaxBodyBytes bounds one answer (an HTTP body, an xDS message); zero
	// means DefaultMaxBodyBytes.
	MaxBodyBytes int64
}

// ask runs do on t and, when that fails over HTTP and t has a Fallback that
// takes the failure, on the target the fallback gives.
func ask[T any](ctx context.Context, t Target, do func(Target) (T, error)) (T, error) {
	v, err := do(t)
	if err == nil || t.Fallback == nil || t.IsXDS() || ctx.Err() != nil {
		return v, err
	}
	alt, ok, ferr := t.Fallback(ctx, err)
	switch {
	case !ok:
		return v, err
	case ferr != nil:
		return v, ferr
	}
	return do(alt)
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
		if t.Explain != nil && ctx.Err() == nil {
			if why := t.Explain(err); why != nil {
				return nil, fmt.Errorf("%s: %w", reqName, why)
			}
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

// DebugAPIOff reports whether err is the 404 of an istiod whose HTTP debug API is off
// (ENABLE_DEBUG_ON_HTTP=false: its port 15014 serves metrics, and /debug/ paths are not found),
// as opposed to a config dump asked of a replica the proxy is not connected to.
func DebugAPIOff(err error) bool {
	var se *HTTPStatusError
	if !errors.As(err, &se) || se.Code != http.StatusNotFound {
		return false
	}
	return strings.HasPrefix(se.Request, "GET "+SynczPath) || se.Body == "" || se.Body == "404 page not found"
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
			answers[i].rows, answers[i].err = ask(ctx, t, func(t Target) ([]ProxyStatus, error) { return f.syncz(ctx, t, query) })
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

// syncz asks one target for its proxies.
func (f *Fetcher) syncz(ctx context.Context, t Target, query url.Values) ([]ProxyStatus, error) {
	if t.IsXDS() {
		rows, err := f.xdsSyncz(ctx, t)
		if ns := query.Get("namespace"); ns != "" {
			// istiod does not filter over xDS: keep the proxies of that namespace, and not
			// those whose namespace is unknown (which Filter keeps, as over HTTP istiod has
			// filtered them already), as istioctl does.
			kept := rows[:0]
			for _, r := range rows {
				if r.Namespace == ns {
					kept = append(kept, r)
				}
			}
			rows = kept
		}
		return rows, err
	}
	body, err := f.get(ctx, t, SynczPath, query)
	if err != nil {
		return nil, err
	}
	entries, err := DecodeSyncz(bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%s: %w (check that %s is istiod's debug port, 15014)", requestName(SynczPath, query), err, t.BaseURL)
	}
	return Rows(t.Name, entries), nil
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
		body, err := ask(ctx, t, func(t Target) ([]byte, error) { return f.configDump(ctx, t, proxyID, query) })
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

// configDump asks one target for the config dump of proxyID.
func (f *Fetcher) configDump(ctx context.Context, t Target, proxyID string, query url.Values) ([]byte, error) {
	if t.IsXDS() {
		return f.xdsConfigDump(ctx, t, proxyID)
	}
	body, err := f.get(ctx, t, ConfigDumpPath, query)
	if err != nil {
		return nil, err
	}
	if err := checkDumpContent(body); err != nil {
		return nil, fmt.Errorf("%s: %w", requestName(ConfigDumpPath, query), err)
	}
	return body, nil
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
