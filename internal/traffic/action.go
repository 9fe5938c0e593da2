package traffic

import (
	"fmt"
	"strconv"
	"strings"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
)

// apply evaluates the chosen route's action and finalizes the request and response headers as
// router_check_tool's finalizeHeaders does with Envoy's own route entry: for a redirect or
// direct response, the path rewrite, the local reply and the response header mutations; for a
// forwarded request, the request header mutations, host and path rewrites, and the response
// header mutations.
func (r *Router) apply(res *Result, vh *virtualHost, rt *route, h Headers, req *Request, notes *noteSet) {
	cfg := rt.cfg
	note := notes.add
	ctx := formatContext{req: req, routeName: cfg.GetName()}
	resp := Headers(req.ResponseHeaders).Clone()
	host, _ := h.First(":authority")
	path, _ := h.First(":path")
	res.VirtualCluster = r.VirtualCluster(vh.index, h)
	switch a := cfg.GetAction().(type) {
	case *routev3.Route_Redirect:
		res.VirtualCluster = ""
		rd := a.Redirect
		out := h.Clone()
		r.rewriteRedirectPath(rt, &out, &res.PathRewrite)
		code := redirectCode(rd.GetResponseCode())
		res.Action = Action{Kind: ActionRedirect, Redirect: &Redirect{Code: code, Location: newURI(rd, out)}}
		resp = localReply(resp, code, "")
		r.responseParsers(vh, rt, nil, &resp, ctx, note)
		res.RequestHeaders, res.ResponseHeaders = out, resp
		res.Path, _ = out.First(":path")
		res.Host = host
		return
	case *routev3.Route_DirectResponse:
		res.VirtualCluster = ""
		dr := a.DirectResponse
		body, source := dataSourceText(dr.GetBody())
		res.Action = Action{Kind: ActionDirectResponse, Status: dr.GetStatus(), Body: body, BodySource: source}
		if source != "" {
			note(fmt.Sprintf("the direct response body is read from %s, which proxyctl does not read", source))
		}
		if dr.GetBodyFormat() != nil {
			note("direct_response.body_format is not applied")
		}
		resp = localReply(resp, dr.GetStatus(), body)
		r.responseParsers(vh, rt, nil, &resp, ctx, note)
		res.RequestHeaders, res.ResponseHeaders = h, resp
		res.Path, res.Host = path, host
		return
	case *routev3.Route_NonForwardingAction:
		res.Action = Action{Kind: ActionNonForwarding, Timeout: rt.timeout}
	case *routev3.Route_FilterAction:
		res.Action = Action{Kind: ActionFilter, Timeout: rt.timeout}
	case *routev3.Route_Route:
		res.Action = r.clusterAction(rt, a.Route, h, req, note)
	default: // no action: Envoy makes it a route entry without a cluster
		res.Action = Action{Kind: ActionCluster, Timeout: rt.timeout}
	}
	out := h.Clone()
	var wc *weightedEntry
	if p := res.Action.Weighted; p != nil {
		wc = rt.weighted[p.Picked]
		ctx.reqH = out.Clone()
		wc.reqHeaders.apply(&out, false, ctx, note)
		if lit := wc.cfg.GetHostRewriteLiteral(); lit != "" {
			out.Set(":authority", lit)
			res.HostRewrite = "weighted_cluster.host_rewrite_literal"
		}
	}
	for _, p := range r.requestParsers(vh, rt) {
		p.apply(&out, false, ctx, note)
	}
	if ra := cfg.GetRoute(); ra != nil {
		r.rewriteHost(rt, ra, &out, &res.HostRewrite, note)
		r.rewritePath(rt, ra, &out, &res.PathRewrite)
	}
	r.responseParsers(vh, rt, wc, &resp, ctx, note)
	res.RequestHeaders, res.ResponseHeaders = out, resp
	res.Path, _ = out.First(":path")
	res.Host, _ = out.First(":authority")
}

// requestParsers orders the request header mutations: by default route, virtual host, then
// route configuration, the later winning; with most_specific_header_mutations_wins the other
// way round (config_impl.cc getHeaderParsers).
func (r *Router) requestParsers(vh *virtualHost, rt *route) []*headerParser {
	if r.mostSpecificWins {
		return []*headerParser{r.reqHeaders, vh.reqHeaders, rt.reqHeaders}
	}
	return []*headerParser{rt.reqHeaders, vh.reqHeaders, r.reqHeaders}
}

func (r *Router) responseParsers(vh *virtualHost, rt *route, wc *weightedEntry, resp *Headers, ctx formatContext, note func(string)) {
	if wc != nil {
		wc.respHeaders.apply(resp, true, ctx, note)
	}
	ps := []*headerParser{rt.respHeaders, vh.respHeaders, r.respHeaders}
	if r.mostSpecificWins {
		ps = []*headerParser{r.respHeaders, vh.respHeaders, rt.respHeaders}
	}
	for _, p := range ps {
		p.apply(resp, true, ctx, note)
	}
}

// clusterAction evaluates a route action's cluster specifier.
func (r *Router) clusterAction(rt *route, ra *routev3.RouteAction, h Headers, req *Request, note func(string)) Action {
	a := Action{Timeout: rt.timeout}
	switch cs := ra.GetClusterSpecifier().(type) {
	case *routev3.RouteAction_Cluster:
		a.Kind, a.Cluster = ActionCluster, cs.Cluster
	case *routev3.RouteAction_ClusterHeader:
		a.Kind, a.ClusterHeader = ActionClusterHeader, cs.ClusterHeader
		// Only the first value of this untrusted header is used.
		a.Cluster, _ = h.First(lower(cs.ClusterHeader))
	case *routev3.RouteAction_WeightedClusters:
		a.Kind = ActionWeighted
		a.Weighted = pickWeighted(rt, cs.WeightedClusters, h, req, note)
		c := rt.weighted[a.Weighted.Picked].cfg
		if c.GetName() != "" {
			a.Cluster = c.GetName()
		} else {
			a.ClusterHeader = c.GetClusterHeader()
			a.Cluster, _ = h.First(lower(c.GetClusterHeader()))
		}
	case *routev3.RouteAction_ClusterSpecifierPlugin:
		a.Kind, a.Plugin = ActionClusterPlugin, cs.ClusterSpecifierPlugin
		note(fmt.Sprintf("the cluster is chosen by cluster specifier plugin %q, which proxyctl cannot run", cs.ClusterSpecifierPlugin))
	case *routev3.RouteAction_InlineClusterSpecifierPlugin:
		a.Kind, a.Plugin = ActionClusterPlugin, cs.InlineClusterSpecifierPlugin.GetExtension().GetName()
		note(fmt.Sprintf("the cluster is chosen by cluster specifier plugin %q, which proxyctl cannot run", a.Plugin))
	default:
		a.Kind = ActionCluster
	}
	return a
}

// pickWeighted is WeightedClusterSpecifierPlugin::pickWeightedCluster: value % total weight,
// the first cluster whose cumulative weight exceeds it.
func pickWeighted(rt *route, wc *routev3.WeightedCluster, h Headers, req *Request, note func(string)) *WeightedPick {
	p := &WeightedPick{Value: req.RandomValue, ValueFrom: "random_value"}
	if wc.GetUseHashPolicy().GetValue() {
		note("weighted_clusters.use_hash_policy: the hash of the request is not computed; the random value picks the cluster")
	}
	if name := wc.GetHeaderName(); name != "" {
		vals := h.Get(lower(name))
		if len(vals) == 1 {
			if v, err := strconv.ParseUint(strings.TrimSpace(vals[0]), 10, 64); err == nil {
				p.Value, p.ValueFrom = v, "header "+lower(name)
			}
		}
	}
	if prefix := wc.GetRuntimeKeyPrefix(); prefix != "" {
		note(fmt.Sprintf("weighted_clusters.runtime_key_prefix %q: runtime keys %s.CLUSTER may override the weights; the configured weights are used", prefix, prefix))
	}
	for _, e := range rt.weighted {
		c := e.cfg
		p.Clusters = append(p.Clusters, WeightedCluster{Name: c.GetName(), ClusterHeader: c.GetClusterHeader(), Weight: c.GetWeight().GetValue()})
		p.Total += uint64(c.GetWeight().GetValue())
	}
	if p.Total == 0 {
		return p
	}
	sel := p.Value % p.Total
	var end uint64
	for i, c := range p.Clusters {
		end += uint64(c.Weight)
		if sel < end {
			p.Picked = i
			break
		}
	}
	return p
}

// VirtualCluster returns the virtual cluster of virtual host vhost that headers belong to
// (CommonVirtualHostImpl::virtualClusterFromEntries): the first whose headers all match,
// "other" when none does, "" when the virtual host has none.
func (r *Router) VirtualCluster(vhost int, h Headers) string {
	if vhost < 0 || vhost >= len(r.vhosts) {
		return ""
	}
	vh := r.vhosts[vhost]
	for _, vc := range vh.vclusters {
		ok := true
		for _, m := range vc.headers {
			if !m.Match(h) {
				ok = false
				break
			}
		}
		if ok {
			return vc.name
		}
	}
	if len(vh.cfg.GetVirtualClusters()) > 0 {
		return "other"
	}
	return ""
}

// rewriteHost is finalizeHostHeader: host_rewrite_literal, else host_rewrite_header's first
// value, else host_rewrite_path_regex on the path; nothing when the result is empty.
func (r *Router) rewriteHost(rt *route, ra *routev3.RouteAction, h *Headers, by *string, note func(string)) {
	var host, what string
	switch {
	case ra.GetHostRewriteLiteral() != "":
		host, what = ra.GetHostRewriteLiteral(), "host_rewrite_literal"
	case ra.GetHostRewriteHeader() != "":
		host, _ = h.First(lower(ra.GetHostRewriteHeader()))
		what = "host_rewrite_header"
	case rt.hostPathRegex != nil:
		p, _ := h.First(":path")
		host = regexReplaceAll(rt.hostPathRegex, removeQueryAndFragment(p), ra.GetHostRewritePathRegex().GetSubstitution())
		what = "host_rewrite_path_regex"
	case ra.GetAutoHostRewrite().GetValue():
		note("auto_host_rewrite: :authority becomes the hostname of the upstream host chosen at connection time")
	}
	if host == "" {
		return
	}
	old, _ := h.First(":authority")
	if ra.GetAppendXForwardedHost() && old != "" {
		xfh, _ := h.Joined("x-forwarded-host")
		parts := strings.Split(xfh, ",")
		if xfh == "" || parts[len(parts)-1] != old {
			if xfh == "" {
				h.Add("x-forwarded-host", old)
			} else {
				h.Set("x-forwarded-host", xfh+","+old)
			}
		}
	}
	h.Set(":authority", host)
	*by = what
}

// matchedPath is the part of the path a prefix_rewrite replaces: the route's prefix or path,
// the whole path for a regex or CONNECT route (currentUrlPathAfterRewriteWithMatchedPath).
func (rt *route) matchedPath(path string) string {
	switch rt.kind {
	case pathPrefix, pathExact, pathSeparatedPrefix:
		return rt.value
	case pathTemplate:
		return rt.tmpl.template
	}
	return removeQueryAndFragment(path)
}

// rewritePath applies prefix_rewrite, regex_rewrite or path_template_rewrite to :path, keeping
// the query, and records the original in x-envoy-original-path (finalizePathHeader).
func (r *Router) rewritePath(rt *route, ra *routev3.RouteAction, h *Headers, by *string) {
	path, _ := h.First(":path")
	var np, what string
	switch {
	case ra.GetPrefixRewrite() != "":
		mp := rt.matchedPath(path)
		if len(mp) > len(path) {
			return
		}
		np, what = ra.GetPrefixRewrite()+path[len(mp):], "prefix_rewrite"
	case rt.regexRewrite != nil:
		just := removeQueryAndFragment(path)
		np, what = regexReplaceAll(rt.regexRewrite, just, ra.GetRegexRewrite().GetSubstitution())+path[len(just):], "regex_rewrite"
	case rt.tmplRewrite != nil:
		just := removeQueryAndFragment(path)
		rw, ok := rt.tmplRewrite.rewrite(just, rt.tmpl)
		if !ok {
			return
		}
		np, what = rw+path[len(just):], "path_template_rewrite"
	default:
		return
	}
	h.Set("x-envoy-original-path", path)
	h.Set(":path", np)
	*by = what
}

// rewriteRedirectPath applies a redirect's prefix_rewrite or regex_rewrite to :path before the
// Location is built (getPathRewrite for redirects).
func (r *Router) rewriteRedirectPath(rt *route, h *Headers, by *string) {
	rd := rt.cfg.GetRedirect()
	path, _ := h.First(":path")
	just := removeQueryAndFragment(path)
	var np string
	switch {
	case rt.redirectRegex != nil:
		np = regexReplaceAll(rt.redirectRegex, just, rd.GetRegexRewrite().GetSubstitution()) + path[len(just):]
		*by = "redirect.regex_rewrite"
	case rd.GetPrefixRewrite() != "":
		mp := rt.matchedPath(path)
		if len(mp) > len(path) {
			return
		}
		np = rd.GetPrefixRewrite() + path[len(mp):]
		*by = "redirect.prefix_rewrite"
	default:
		return
	}
	h.Set("x-envoy-original-path", path)
	h.Set(":path", np)
}

// redirectCode maps RedirectAction.response_code to the status code.
func redirectCode(c routev3.RedirectAction_RedirectResponseCode) uint32 {
	switch c {
	case routev3.RedirectAction_FOUND:
		return 302
	case routev3.RedirectAction_SEE_OTHER:
		return 303
	case routev3.RedirectAction_TEMPORARY_REDIRECT:
		return 307
	case routev3.RedirectAction_PERMANENT_REDIRECT:
		return 308
	}
	return 301
}

// newURI is Http::Utility::newUri: the Location of a redirect.
func newURI(rd *routev3.RedirectAction, h Headers) string {
	scheme, _ := h.First(":scheme")
	switch {
	case rd.GetSchemeRedirect() != "":
		scheme = rd.GetSchemeRedirect()
	case rd.GetHttpsRedirect():
		scheme = "https"
	}
	port := ""
	if p := rd.GetPortRedirect(); p != 0 {
		port = ":" + strconv.FormatUint(uint64(p), 10)
	}
	host := rd.GetHostRedirect()
	if host == "" {
		host = requestHost(h, scheme, port)
	}
	cur, _ := h.First(":path")
	pathRedirect := rd.GetPathRedirect()
	pathHasQuery := strings.Contains(pathRedirect, "?")
	path := cur
	if pathRedirect != "" {
		path = pathRedirect
		if !pathHasQuery {
			if i := strings.IndexByte(cur, '?'); i >= 0 {
				path += cur[i:]
			}
		}
	}
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	if !pathHasQuery && rd.GetStripQuery() {
		if i := strings.IndexByte(path, '?'); i >= 0 {
			path = path[:i]
		}
	}
	return scheme + "://" + host + port + path
}

// requestHost is processRequestHost: the request's host, its port dropped when a port_redirect
// is given or when it is the default port of x-forwarded-proto and the scheme changes.
func requestHost(h Headers, scheme, newPort string) string {
	host, _ := h.First(":authority")
	if host == "" {
		return host
	}
	var end int
	if host[0] == '[' {
		end = strings.LastIndex(host, "]:")
		if end >= 0 {
			end++
		}
	} else {
		end = strings.LastIndexByte(host, ':')
	}
	if end < 0 {
		return host
	}
	port := host[end:]
	proto, _ := h.First("x-forwarded-proto")
	remove := newPort != ""
	if scheme != proto {
		remove = remove || (strings.EqualFold(proto, "https") && port == ":443") || (strings.EqualFold(proto, "http") && port == ":80")
	}
	if remove {
		return host[:end]
	}
	return host
}

// localReply adds what Http::Utility::sendLocalReply puts on a local reply to the response
// headers: :status, and content-length and content-type text/plain for a non-empty body
// (neither for an empty one).
func localReply(resp Headers, status uint32, body string) Headers {
	out := Headers(resp).Clone()
	out.Add(":status", strconv.FormatUint(uint64(status), 10))
	if body != "" {
		out.Add("content-length", strconv.Itoa(len(body)))
		out.Add("content-type", "text/plain")
	}
	return out
}

// dataSourceText returns an inline data source's text, or where a body comes from that the
// engine does not read.
func dataSourceText(ds interface {
	GetInlineString() string
	GetInlineBytes() []byte
	GetFilename() string
	GetEnvironmentVariable() string
}) (text, source string) {
	switch {
	case ds.GetFilename() != "":
		return "", "filename " + ds.GetFilename()
	case ds.GetEnvironmentVariable() != "":
		return "", "environment_variable " + ds.GetEnvironmentVariable()
	case len(ds.GetInlineBytes()) > 0:
		return string(ds.GetInlineBytes()), ""
	}
	return ds.GetInlineString(), ""
}

// RequestURI is the URL of the request the headers describe, as Http::Utility::newUri builds it
// without a redirect configuration: what a direct_response route's newUri() returns
// (router_check_tool's path_redirect for a direct response).
func RequestURI(h Headers) string { return newURI(nil, h) }
