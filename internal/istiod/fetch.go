package istiod

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
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

// DefaultMaxBodyBytes bounds an xDS message when Fetcher.MaxBodyBytes is zero; HTTP answers
// have the default limit of their kind (limits.Syncz, limits.ConfigDump).
const DefaultMaxBodyBytes = limits.ConfigDump

// Target is one istiod replica to ask, over HTTP (BaseURL) or xDS (XDSAddress).
type Target struct {
	// Name is the istiod pod name (the ISTIOD column), or HOST:PORT for a
	// target given by URL or address.
	Name string
	// Namespace, when set, is named in errors ("istiod X in istio-system").
	Namespace string
	// BaseURL is where its HTTP debug API answers, http://HOST:PORT (a path
	// prefix is kept; a password in it is sent, never printed).
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
	// Unsent, when set, says a failed HTTP request never reached the
	// replica, and may be sent once more (see portforward.Forwarder.Unsent).
	Unsent func(error) bool
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
	// Client makes the HTTP requests; nil means portforward.NewHTTPClient()
	// (no timeout of its own: bound the context; redirects to another host
	// refused).
	Client *http.Client
	// MaxBodyBytes bounds one answer (an HTTP body, an xDS message); zero
	// gives each its default: limits.Syncz for /debug/syncz,
	// DefaultMaxBodyBytes (limits.ConfigDump) for the others.
	MaxBodyBytes int64
	// ReadBody, when set, reads an HTTP answer's body (bounded by the caller)
	// instead of io.ReadAll: a caller can keep a large config dump off the
	// heap, in a temporary file it maps.
	ReadBody func(io.Reader) ([]byte, error)
}

var defaultClient = portforward.NewHTTPClient()

// limit is the size limit of an answer: MaxBodyBytes when set, else def.
func (f *Fetcher) limit(def int64, what string) limits.Limit {
	if f != nil && f.MaxBodyBytes > 0 {
		return limits.Limit{Max: f.MaxBodyBytes, What: what}
	}
	return limits.Limit{Max: def, What: what}
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
	return defaultClient
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
	if err != nil && ctx.Err() == nil && t.Unsent != nil && t.Unsent(err) {
		resp, err = f.client().Do(req.Clone(ctx))
	}
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

// explain names the cause of a failed request to t: a refused redirect, the deadline, or what
// the way t is reached says (t.Explain: a port-forward's own error).
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
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: no answer in time (raise the timeout, or check the istiod pod): %w", reqName, err)
	}
	return fmt.Errorf("%s: %w", reqName, err)
}

// get fetches path?query from t and returns the body of a 2xx answer, whole, bounded by
// MaxBodyBytes, else by the default limit of a config dump.
func (f *Fetcher) get(ctx context.Context, t Target, path string, query url.Values) ([]byte, error) {
	body, err := f.open(ctx, t, path, query, f.limit(DefaultMaxBodyBytes, "an answer of istiod's "+path))
	if err != nil {
		return nil, err
	}
	defer body.Close()
	if f.ReadBody != nil {
		return f.ReadBody(body)
	}
	return io.ReadAll(body)
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
	limit := f.limit(limits.Syncz, "istiod's /debug/syncz answer")
	body, err := f.open(ctx, t, SynczPath, query, limit)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	// Decoded as it arrives, entry by entry, into rows: memory holds the rows only. An entry
	// takes a few hundred bytes in a real answer, but its row about 150 whatever its size: a
	// hostile answer of tiny entries is bounded by their number.
	maxRows := int(min(limit.Max/minSynczEntry, math.MaxInt32))
	var rows []ProxyStatus
	rec := &readRecorder{r: body}
	err = EachSynczEntry(rec, func(e SynczEntry) error {
		if len(rows) >= maxRows {
			return fmt.Errorf("%s: the answer lists more than %d proxies, one per %d bytes of the limit of %s: %w", requestName(SynczPath, query), maxRows, minSynczEntry, limits.Size(limit.Max), limit.Error())
		}
		rows = append(rows, e.Row(t.Name))
		return nil
	})
	switch {
	case err != nil && rec.err != nil:
		return nil, rec.err // reading the answer failed (too large, cut, timed out): named already
	case err != nil && errors.Is(err, limits.ErrTooLarge):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("%s: %w (check that %s is istiod's debug port, 15014)", requestName(SynczPath, query), err, safetext.URL(t.BaseURL))
	}
	return rows, nil
}

// minSynczEntry is the fewest bytes an entry of a real syncz answer has (its proxy id, type,
// cluster and versions take more): an answer may list one proxy per minSynczEntry bytes of its
// size limit.
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

// ConfigDump asks every target at once for GET
// /debug/config_dump?proxyID=<proxyID> (proxyID is <pod>.<namespace>), or
// its xDS equivalent, and returns the first answer with content: a 2xx JSON
// object that is not empty. A replica the proxy is not connected to answers
// with an error or nothing, so it is skipped; one that hangs does not hold up
// the others (it is cancelled once one answers). When none has content, the
// error is a *ConfigDumpError (wrapping ErrProxyNotConnected) naming each
// replica's answer, in target order.
func (f *Fetcher) ConfigDump(ctx context.Context, targets []Target, proxyID string) (ConfigDumpResult, error) {
	if len(targets) == 0 {
		return ConfigDumpResult{}, errors.New("no istiod to ask: check -i/--istio-namespace and -r/--revision, or give --istiod-url")
	}
	query := url.Values{"proxyID": {proxyID}}
	type answer struct {
		i    int
		body []byte
		err  error
	}
	answers := make(chan answer, len(targets))
	tctx, cancel := context.WithCancel(ctx)
	defer cancel() // the others, once one has answered
	for i, t := range targets {
		go func() {
			if err := ctx.Err(); err != nil {
				answers <- answer{i, nil, fmt.Errorf("not asked: %w", err)}
				return
			}
			body, err := ask(tctx, t, func(t Target) ([]byte, error) { return f.configDump(tctx, t, proxyID, query) })
			answers <- answer{i, body, err}
		}()
	}
	cerr := &ConfigDumpError{ProxyID: proxyID, Errors: make([]*TargetError, len(targets))}
	for range len(targets) {
		a := <-answers
		if a.err == nil {
			return ConfigDumpResult{Body: a.body, Istiod: targets[a.i]}, nil
		}
		cerr.Errors[a.i] = &TargetError{Target: targets[a.i], Err: a.err}
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
