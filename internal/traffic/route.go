package traffic

import (
	"fmt"
	"strconv"
	"strings"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
)

// Route routes one request: the virtual host, the route, its action, and the request and
// response headers as the route finalizes them.
func (r *Router) Route(req *Request) *Result {
	res := &Result{VirtualHostIndex: -1, RouteIndex: -1}
	h := req.headerMap()
	vh := r.findVirtualHost(h, res)
	if vh == nil {
		res.Error = NoVirtualHost
		res.RequestHeaders = h
		res.ResponseHeaders = Headers(req.ResponseHeaders).Clone()
		return res
	}
	res.VirtualHost, res.VirtualHostIndex = vh.cfg, vh.index
	notes := newNoteSet()

	// VirtualHostImpl::getRouteFromEntries: no x-forwarded-proto, no route; then require_tls.
	xfp, _ := h.First("x-forwarded-proto")
	if xfp == "" {
		res.Error = NoForwardedProto
		res.RequestHeaders = h
		res.ResponseHeaders = Headers(req.ResponseHeaders).Clone()
		return res
	}
	switch tls := vh.cfg.GetRequireTls(); {
	case tls == routev3.VirtualHost_ALL && xfp != "https",
		tls == routev3.VirtualHost_EXTERNAL_ONLY && xfp != "https" && !isInternal(h):
		res.Error = TLSRequired
		host, _ := h.First(":authority")
		path, _ := h.First(":path")
		res.Action = Action{Kind: ActionTLSRedirect, Redirect: &Redirect{Code: 301, Location: "https://" + host + path}}
		res.Trace = append(res.Trace, Step{Kind: StepRoute, Index: -1, Matched: true,
			Reason: fmt.Sprintf("require_tls %s and x-forwarded-proto is %q: redirect to https", tls, xfp)})
		res.RequestHeaders = h
		res.ResponseHeaders = localReply(req.ResponseHeaders, 301, "")
		res.Path, res.Host = path, host
		return res
	}
	if vh.matcherTree {
		res.Error = NoRoute
		res.Notes = append(res.Notes, "the virtual host selects routes with a matcher tree (virtual_hosts.matcher), which proxyctl does not evaluate")
		res.RequestHeaders = h
		res.ResponseHeaders = Headers(req.ResponseHeaders).Clone()
		return res
	}
	var chosen *route
	for _, rt := range vh.routes {
		ok, reason, assumed := r.matchRoute(rt, h, req)
		res.Trace = append(res.Trace, Step{Kind: StepRoute, Index: rt.index, Name: rt.cfg.GetName(), Matched: ok, Reason: reason})
		if ok {
			chosen = rt
			for _, a := range assumed {
				notes.add(a)
			}
			break
		}
	}
	if chosen == nil {
		res.Error = NoRoute
		res.RequestHeaders = h
		res.ResponseHeaders = Headers(req.ResponseHeaders).Clone()
		return res
	}
	res.Route, res.RouteIndex, res.RouteName = chosen.cfg, chosen.index, chosen.cfg.GetName()
	r.apply(res, vh, chosen, h, req, notes)
	res.Notes = append(res.Notes, notes.list...)
	return res
}

func isInternal(h Headers) bool {
	v, _ := h.First("x-envoy-internal")
	return v == "true"
}

// findVirtualHost is RouteMatcher::findVirtualHost; it records the decision in the trace.
func (r *Router) findVirtualHost(h Headers, res *Result) *virtualHost {
	step := func(i int, reason string) *virtualHost {
		v := r.vhosts[i]
		res.Trace = append(res.Trace, Step{Kind: StepVirtualHost, Index: i, Name: v.cfg.GetName(), Matched: true, Reason: reason})
		return v
	}
	if len(r.exact) == 0 && len(r.suffix) == 0 && len(r.prefix) == 0 {
		if r.def < 0 {
			res.Trace = append(res.Trace, Step{Kind: StepVirtualHost, Index: -1, Reason: "the route configuration has no virtual host"})
			return nil
		}
		return step(r.def, `domain "*" (the only virtual host domain)`)
	}
	authority, ok := h.First(":authority")
	if !ok {
		res.Trace = append(res.Trace, Step{Kind: StepVirtualHost, Index: -1, Reason: "the request has no :authority"})
		return nil
	}
	host := authority
	if r.ignorePort {
		if i := portStart(host); i >= 0 {
			host = host[:i]
		}
	}
	host = strings.ToLower(host)
	if i, ok := r.exact[host]; ok {
		return step(i, fmt.Sprintf("exact domain %q", host))
	}
	for _, w := range r.suffix {
		if w.n >= len(host) {
			continue // "*.foo.com" does not match ".foo.com"
		}
		if i, ok := w.hosts[host[len(host)-w.n:]]; ok {
			return step(i, fmt.Sprintf("suffix wildcard %q, the longest that matches %q", "*"+host[len(host)-w.n:], host))
		}
	}
	for _, w := range r.prefix {
		if w.n >= len(host) {
			continue
		}
		if i, ok := w.hosts[host[:w.n]]; ok {
			return step(i, fmt.Sprintf("prefix wildcard %q, the longest that matches %q", host[:w.n]+"*", host))
		}
	}
	if r.def >= 0 {
		return step(r.def, fmt.Sprintf(`domain "*": no other domain matches %q`, host))
	}
	why := fmt.Sprintf("no virtual host has a domain matching %q", host)
	if !r.ignorePort && portStart(host) >= 0 {
		why += " (the port is part of the host: ignore_port_in_host_matching is off)"
	}
	res.Trace = append(res.Trace, Step{Kind: StepVirtualHost, Index: -1, Reason: why})
	return nil
}

// portStart is HeaderUtility::getPortStart: the index of the port's colon, -1 when none (an
// IPv6 literal's colons are not a port).
func portStart(host string) int {
	i := strings.LastIndexByte(host, ':')
	if i < 0 {
		return -1
	}
	if j := strings.LastIndexByte(host, ']'); j >= 0 && j > i {
		return -1
	}
	return i
}

// matchRoute is RouteEntryImplBase::matchRoute with the path specifier; it returns the verdict,
// why, and what had to be assumed for it.
func (r *Router) matchRoute(rt *route, h Headers, req *Request) (bool, string, []string) {
	if rt.broken != nil {
		return false, "not evaluated: " + rt.broken.Error(), nil
	}
	path, hasPath := h.First(":path")
	if !hasPath && rt.kind != pathConnect {
		return false, "the request has no :path", nil
	}
	if ok, why := r.matchPath(rt, path, h); !ok {
		return false, why, nil
	}
	var assumed []string
	m := rt.cfg.GetMatch()
	if rf := m.GetRuntimeFraction(); rf != nil {
		if req.Runtime == nil {
			assumed = append(assumed, fmt.Sprintf("runtime_fraction %q (%s) assumed to match", rf.GetRuntimeKey(), fractionString(rf.GetDefaultValue())))
		} else if !req.Runtime(rf.GetRuntimeKey(), rf.GetDefaultValue(), req.RandomValue) {
			return false, fmt.Sprintf("runtime_fraction %q (%s) is off for random value %d", rf.GetRuntimeKey(), fractionString(rf.GetDefaultValue()), req.RandomValue), nil
		}
	}
	if m.GetGrpc() != nil && !isGrpc(h) {
		ct, _ := h.First("content-type")
		return false, fmt.Sprintf("grpc: content-type %q is not application/grpc", ct), nil
	}
	for _, hm := range rt.headers {
		if ok, why := hm.match(h); !ok {
			return false, why, nil
		}
	}
	if len(rt.query) > 0 {
		params := parseQuery(path)
		for _, q := range rt.query {
			if ok, why := q.match(params); !ok {
				return false, why, nil
			}
		}
	}
	for _, c := range rt.cookies {
		if ok, why := c.match(h); !ok {
			return false, why, nil
		}
	}
	if t := m.GetTlsContext(); t != nil {
		if req.TLS != nil && req.TLS.PeerUnknown {
			assumed = append(assumed, "tls_context assumed to match (what the client presents is not known)")
		} else {
			var presented, validated bool
			if req.TLS != nil {
				presented, validated = req.TLS.PeerCertificatePresented, req.TLS.PeerCertificateValidated
			}
			if p := t.GetPresented(); p != nil && p.GetValue() != presented {
				return false, fmt.Sprintf("tls_context: presented is %t, wants %t", presented, p.GetValue()), nil
			}
			if v := t.GetValidated(); v != nil && v.GetValue() != validated {
				return false, fmt.Sprintf("tls_context: validated is %t, wants %t", validated, v.GetValue()), nil
			}
		}
	}
	for _, d := range rt.dynMeta {
		if req.DynamicMetadata == nil {
			assumed = append(assumed, d.describe()+" assumed to match")
			continue
		}
		if !d.match(req.DynamicMetadata) {
			return false, d.describe() + " does not match", nil
		}
	}
	for _, f := range rt.filterState {
		if req.FilterState == nil || f.str == nil {
			assumed = append(assumed, fmt.Sprintf("filter_state %q assumed to match", f.cfg.GetKey()))
			continue
		}
		if !f.match(req.FilterState) {
			return false, fmt.Sprintf("filter_state %q does not match", f.cfg.GetKey()), nil
		}
	}
	return true, r.describePath(rt, path), assumed
}

func fractionString(f *typev3.FractionalPercent) string {
	den := map[typev3.FractionalPercent_DenominatorType]string{
		typev3.FractionalPercent_HUNDRED: "100", typev3.FractionalPercent_TEN_THOUSAND: "10000", typev3.FractionalPercent_MILLION: "1000000",
	}[f.GetDenominator()]
	return fmt.Sprintf("%d/%s", f.GetNumerator(), den)
}

// isGrpc is Grpc::Common::isGrpcRequestHeaders: content-type application/grpc or
// application/grpc+...
func isGrpc(h Headers) bool {
	ct, _ := h.First("content-type")
	return ct == "application/grpc" || strings.HasPrefix(ct, "application/grpc+")
}

// pathForMatching cuts path parameters (;...) when ignore_path_parameters_in_path_matching is
// set (sanitizePathBeforePathMatching).
func (r *Router) pathForMatching(path string) string {
	if r.ignorePathParams {
		if i := strings.IndexByte(path, ';'); i >= 0 {
			return path[:i]
		}
	}
	return path
}

func (r *Router) matchPath(rt *route, path string, h Headers) (bool, string) {
	p := removeQueryAndFragment(r.pathForMatching(path))
	switch rt.kind {
	case pathPrefix:
		ok := strings.HasPrefix(p, rt.value) || (!rt.caseSensitive && strings.HasPrefix(strings.ToLower(p), strings.ToLower(rt.value)))
		if !ok {
			return false, fmt.Sprintf("prefix %q%s does not match path %q", rt.value, caseNote(rt), p)
		}
	case pathExact:
		ok := p == rt.value || (!rt.caseSensitive && strings.EqualFold(p, rt.value))
		if !ok {
			return false, fmt.Sprintf("path %q%s is not %q", rt.value, caseNote(rt), p)
		}
	case pathRegex:
		if !rt.re.MatchString(p) {
			return false, fmt.Sprintf("regex %q does not match path %q", rt.cfg.GetMatch().GetSafeRegex().GetRegex(), p)
		}
	case pathConnect:
		m, _ := h.First(":method")
		up, _ := h.First("upgrade")
		if m != "CONNECT" && !strings.EqualFold(up, "connect-udp") {
			return false, fmt.Sprintf("connect_matcher: method %q is not CONNECT", m)
		}
	case pathSeparatedPrefix:
		n := len(rt.value)
		ok := len(p) >= n && (p[:n] == rt.value || (!rt.caseSensitive && strings.EqualFold(p[:n], rt.value))) && (len(p) == n || p[n] == '/')
		if !ok {
			return false, fmt.Sprintf("path_separated_prefix %q%s does not match path %q", rt.value, caseNote(rt), p)
		}
	case pathTemplate:
		if !rt.tmpl.match(path) {
			return false, fmt.Sprintf("path template %q does not match path %q", rt.tmpl.template, p)
		}
	}
	return true, ""
}

func caseNote(rt *route) string {
	if rt.caseSensitive {
		return ""
	}
	return " (case insensitive)"
}

// describePath says what matched, for the trace.
func (r *Router) describePath(rt *route, path string) string {
	p := removeQueryAndFragment(path)
	var s string
	switch rt.kind {
	case pathPrefix:
		s = fmt.Sprintf("prefix %q%s matches path %q", rt.value, caseNote(rt), p)
	case pathExact:
		s = fmt.Sprintf("path %q%s matches", rt.value, caseNote(rt))
	case pathRegex:
		s = fmt.Sprintf("regex %q matches path %q", rt.cfg.GetMatch().GetSafeRegex().GetRegex(), p)
	case pathConnect:
		s = "connect_matcher matches a CONNECT request"
	case pathSeparatedPrefix:
		s = fmt.Sprintf("path_separated_prefix %q%s matches path %q", rt.value, caseNote(rt), p)
	case pathTemplate:
		s = fmt.Sprintf("path template %q matches path %q", rt.tmpl.template, p)
	}
	var more []string
	if n := len(rt.headers); n > 0 {
		more = append(more, plural(n, "header matcher"))
	}
	if n := len(rt.query); n > 0 {
		more = append(more, plural(n, "query parameter matcher"))
	}
	if n := len(rt.cookies); n > 0 {
		more = append(more, plural(n, "cookie matcher"))
	}
	if rt.cfg.GetMatch().GetGrpc() != nil {
		more = append(more, "grpc")
	}
	if len(more) > 0 {
		s += ", and " + strings.Join(more, ", ")
	}
	return s
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}

// noteSet keeps notes once each, in order.
type noteSet struct {
	seen map[string]bool
	list []string
}

func newNoteSet() *noteSet { return &noteSet{seen: map[string]bool{}} }

func (n *noteSet) add(s string) {
	if !n.seen[s] {
		n.seen[s] = true
		n.list = append(n.list, s)
	}
}
