package traffic

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	uritmplmatchv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/path/match/uri_template/v3"
	uritmplrewritev3 "github.com/envoyproxy/go-control-plane/envoy/extensions/path/rewrite/uri_template/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// Options tune how a configuration is compiled.
type Options struct {
	// UnmarshalAny decodes a typed config (path_match_policy, path_rewrite_policy); nil decodes
	// the Any's binary value. A configuration read from a config dump by package configdump
	// keeps its Any values as JSON: pass the Dump's UnmarshalAny.
	UnmarshalAny func(a *anypb.Any, m proto.Message) error
}

// Router is a route configuration compiled for matching. It is safe for concurrent use.
type Router struct {
	cfg    *routev3.RouteConfiguration
	vhosts []*virtualHost
	// Domain tables (RouteMatcher): exact domains, and wildcards by length, longest first.
	exact            map[string]int
	suffix, prefix   []wildcardLen
	def              int
	ignorePort       bool
	ignorePathParams bool
	mostSpecificWins bool
	reqHeaders       *headerParser
	respHeaders      *headerParser
}

type wildcardLen struct {
	n     int
	hosts map[string]int // the domain without its *, lower case -> virtual host index
}

type virtualHost struct {
	cfg         *routev3.VirtualHost
	index       int
	routes      []*route
	reqHeaders  *headerParser
	respHeaders *headerParser
	vclusters   []virtualCluster
	matcherTree bool
}

type virtualCluster struct {
	name    string
	headers []*HeaderMatcher
}

type pathKind int

const (
	pathNone pathKind = iota
	pathPrefix
	pathExact
	pathRegex
	pathConnect
	pathSeparatedPrefix
	pathTemplate
)

type route struct {
	cfg           *routev3.Route
	index         int
	kind          pathKind
	value         string // prefix, path or path_separated_prefix
	caseSensitive bool
	re            *regexp.Regexp
	tmpl          *uriTemplate
	headers       []*HeaderMatcher
	query         []*queryMatcher
	cookies       []*cookieMatcher
	dynMeta       []*metadataMatcher
	filterState   []*filterStateMatcher

	reqHeaders, respHeaders *headerParser
	regexRewrite            *regexp.Regexp
	hostPathRegex           *regexp.Regexp
	redirectRegex           *regexp.Regexp
	tmplRewrite             *uriRewrite
	weighted                []*weightedEntry
	timeout                 time.Duration
	// broken is set when the route does not compile: it never matches.
	broken error
}

type weightedEntry struct {
	cfg                     *routev3.WeightedCluster_ClusterWeight
	reqHeaders, respHeaders *headerParser
}

// ConfigError lists what Envoy would reject in a route configuration.
type ConfigError struct{ Problems []string }

func (e *ConfigError) Error() string {
	if len(e.Problems) == 1 {
		return e.Problems[0]
	}
	return fmt.Sprintf("%s (and %d more problem(s))", e.Problems[0], len(e.Problems)-1)
}

// NewRouter compiles a route configuration. The error, a *ConfigError, lists what Envoy would
// reject (an invalid regex, a duplicate domain, two "*" virtual hosts...); the Router returned
// with it still routes, a route that does not compile never matching (its trace step says
// why), so that a live configuration can be explained even where proxyctl differs from Envoy.
func NewRouter(rc *routev3.RouteConfiguration, o Options) (*Router, error) {
	if o.UnmarshalAny == nil {
		o.UnmarshalAny = func(a *anypb.Any, m proto.Message) error { return a.UnmarshalTo(m) }
	}
	r := &Router{
		cfg: rc, exact: map[string]int{}, def: -1,
		ignorePort:       rc.GetIgnorePortInHostMatching(),
		ignorePathParams: rc.GetIgnorePathParametersInPathMatching(),
		mostSpecificWins: rc.GetMostSpecificHeaderMutationsWins(),
	}
	var problems []string
	fail := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	var err error
	if r.reqHeaders, err = newHeaderParser(rc.GetRequestHeadersToAdd(), rc.GetRequestHeadersToRemove(), "request_headers"); err != nil {
		fail("%v", err)
	}
	if r.respHeaders, err = newHeaderParser(rc.GetResponseHeadersToAdd(), rc.GetResponseHeadersToRemove(), "response_headers"); err != nil {
		fail("%v", err)
	}
	suffix, prefix := map[int]map[string]int{}, map[int]map[string]int{}
	for i, vh := range rc.GetVirtualHosts() {
		where := fmt.Sprintf("virtual_hosts[%d] (%s)", i, vh.GetName())
		v, errs := compileVirtualHost(vh, i, o)
		for _, e := range errs {
			fail("%s: %v", where, e)
		}
		r.vhosts = append(r.vhosts, v)
		for _, d := range vh.GetDomains() {
			d = strings.ToLower(d)
			dup := false
			switch {
			case d == "*":
				if r.def >= 0 {
					fail("%s: only a single wildcard domain (*) is permitted in route %s", where, rc.GetName())
				}
				r.def = i
			case strings.HasPrefix(d, "*"):
				dup = addWildcard(suffix, len(d)-1, d[1:], i)
			case strings.HasSuffix(d, "*"):
				dup = addWildcard(prefix, len(d)-1, d[:len(d)-1], i)
			default:
				_, dup = r.exact[d]
				if !dup {
					r.exact[d] = i
				}
			}
			if dup {
				fail("%s: only unique values for domains are permitted: duplicate entry of domain %s in route %s", where, d, rc.GetName())
			}
		}
	}
	r.suffix, r.prefix = sortWildcards(suffix), sortWildcards(prefix)
	if len(problems) > 0 {
		return r, &ConfigError{Problems: problems}
	}
	return r, nil
}

func addWildcard(m map[int]map[string]int, n int, key string, vh int) (dup bool) {
	if m[n] == nil {
		m[n] = map[string]int{}
	}
	if _, ok := m[n][key]; ok {
		return true
	}
	m[n][key] = vh
	return false
}

func sortWildcards(m map[int]map[string]int) []wildcardLen {
	out := make([]wildcardLen, 0, len(m))
	for n, hosts := range m {
		out = append(out, wildcardLen{n, hosts})
	}
	sort.Slice(out, func(a, b int) bool { return out[a].n > out[b].n })
	return out
}

func compileVirtualHost(vh *routev3.VirtualHost, index int, o Options) (*virtualHost, []error) {
	v := &virtualHost{cfg: vh, index: index, matcherTree: vh.GetMatcher() != nil}
	var errs []error
	var err error
	if v.reqHeaders, err = newHeaderParser(vh.GetRequestHeadersToAdd(), vh.GetRequestHeadersToRemove(), "request_headers"); err != nil {
		errs = append(errs, err)
	}
	if v.respHeaders, err = newHeaderParser(vh.GetResponseHeadersToAdd(), vh.GetResponseHeadersToRemove(), "response_headers"); err != nil {
		errs = append(errs, err)
	}
	if v.matcherTree && len(vh.GetRoutes()) > 0 {
		errs = append(errs, errors.New("cannot set both matcher and routes on virtual host"))
	}
	for i, vc := range vh.GetVirtualClusters() {
		if len(vc.GetHeaders()) == 0 {
			errs = append(errs, fmt.Errorf("virtual_clusters[%d] (%s): virtual clusters must define 'headers'", i, vc.GetName()))
			continue
		}
		c := virtualCluster{name: vc.GetName()}
		for _, h := range vc.GetHeaders() {
			m, err := NewHeaderMatcher(h)
			if err != nil {
				errs = append(errs, fmt.Errorf("virtual_clusters[%d] (%s): %w", i, vc.GetName(), err))
				continue
			}
			c.headers = append(c.headers, m)
		}
		v.vclusters = append(v.vclusters, c)
	}
	for i, rt := range vh.GetRoutes() {
		cr, rerrs := compileRoute(rt, i, o)
		for _, e := range rerrs {
			errs = append(errs, fmt.Errorf("routes[%d]%s: %w", i, nameSuffix(rt.GetName()), e))
		}
		v.routes = append(v.routes, cr)
	}
	return v, errs
}

func nameSuffix(name string) string {
	if name == "" {
		return ""
	}
	return " (" + name + ")"
}

// defaultRouteTimeout is route.timeout's default (DEFAULT_ROUTE_TIMEOUT_MS).
const defaultRouteTimeout = 15 * time.Second

func compileRoute(rt *routev3.Route, index int, o Options) (*route, []error) {
	m := rt.GetMatch()
	r := &route{cfg: rt, index: index, caseSensitive: true, timeout: defaultRouteTimeout}
	if cs := m.GetCaseSensitive(); cs != nil {
		r.caseSensitive = cs.GetValue()
	}
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	switch p := m.GetPathSpecifier().(type) {
	case *routev3.RouteMatch_Prefix:
		r.kind, r.value = pathPrefix, p.Prefix
	case *routev3.RouteMatch_Path:
		r.kind, r.value = pathExact, p.Path
	case *routev3.RouteMatch_SafeRegex:
		r.kind = pathRegex
		full, _, err := compileRegex(p.SafeRegex.GetRegex())
		add(err)
		r.re = full
	case *routev3.RouteMatch_ConnectMatcher_:
		r.kind = pathConnect
	case *routev3.RouteMatch_PathSeparatedPrefix:
		r.kind, r.value = pathSeparatedPrefix, p.PathSeparatedPrefix
	case *routev3.RouteMatch_PathMatchPolicy:
		r.kind = pathTemplate
		var cfg uritmplmatchv3.UriTemplateMatchConfig
		if err := o.UnmarshalAny(p.PathMatchPolicy.GetTypedConfig(), &cfg); err != nil {
			add(fmt.Errorf("path_match_policy %s: %w", p.PathMatchPolicy.GetName(), err))
		} else {
			t, err := newURITemplate(cfg.GetPathTemplate())
			add(err)
			r.tmpl = t
		}
	default:
		add(errors.New("invalid route config: the match has no path specifier"))
	}
	for _, h := range m.GetHeaders() {
		hm, err := NewHeaderMatcher(h)
		add(err)
		if hm != nil {
			r.headers = append(r.headers, hm)
		}
	}
	for _, q := range m.GetQueryParameters() {
		qm, err := newQueryMatcher(q)
		add(err)
		if qm != nil {
			r.query = append(r.query, qm)
		}
	}
	for _, c := range m.GetCookies() {
		sm, err := newStringMatcher(c.GetStringMatch())
		if err != nil {
			add(fmt.Errorf("cookie %s: %w", c.GetName(), err))
			continue
		}
		r.cookies = append(r.cookies, &cookieMatcher{cfg: c, str: sm})
	}
	for _, d := range m.GetDynamicMetadata() {
		dm, err := newMetadataMatcher(d)
		add(err)
		if dm != nil {
			r.dynMeta = append(r.dynMeta, dm)
		}
	}
	for _, f := range m.GetFilterState() {
		fm, err := newFilterStateMatcher(f)
		add(err)
		if fm != nil {
			r.filterState = append(r.filterState, fm)
		}
	}
	var err error
	r.reqHeaders, err = newHeaderParser(rt.GetRequestHeadersToAdd(), rt.GetRequestHeadersToRemove(), "request_headers")
	add(err)
	r.respHeaders, err = newHeaderParser(rt.GetResponseHeadersToAdd(), rt.GetResponseHeadersToRemove(), "response_headers")
	add(err)

	if ra := rt.GetRoute(); ra != nil {
		if t := ra.GetTimeout(); t != nil {
			r.timeout = t.AsDuration()
		}
		rewrites := 0
		if ra.GetPrefixRewrite() != "" {
			rewrites++
			if r.kind == pathTemplate {
				add(errors.New("cannot use prefix_rewrite with matcher extension"))
			}
		}
		if rr := ra.GetRegexRewrite(); rr != nil {
			rewrites++
			_, anyRe, err := compileRegex(rr.GetPattern().GetRegex())
			add(err)
			r.regexRewrite = anyRe
		}
		if prp := ra.GetPathRewritePolicy(); prp != nil {
			rewrites++
			var cfg uritmplrewritev3.UriTemplateRewriteConfig
			if err := o.UnmarshalAny(prp.GetTypedConfig(), &cfg); err != nil {
				add(fmt.Errorf("path_rewrite_policy %s: %w", prp.GetName(), err))
			} else {
				rw, err := newURIRewrite(cfg.GetPathTemplateRewrite(), r.tmpl)
				add(err)
				r.tmplRewrite = rw
			}
		}
		if rewrites > 1 {
			add(errors.New("specify only one of prefix_rewrite, regex_rewrite or path_rewrite_policy"))
		}
		if hr := ra.GetHostRewritePathRegex(); hr != nil {
			_, anyRe, err := compileRegex(hr.GetPattern().GetRegex())
			add(err)
			r.hostPathRegex = anyRe
		}
		if wc := ra.GetWeightedClusters(); wc != nil {
			var total uint64
			for i, c := range wc.GetClusters() {
				if (c.GetName() == "") == (c.GetClusterHeader() == "") {
					add(fmt.Errorf("weighted_clusters.clusters[%d]: exactly one of name or cluster_header must be specified", i))
				}
				e := &weightedEntry{cfg: c}
				e.reqHeaders, err = newHeaderParser(c.GetRequestHeadersToAdd(), c.GetRequestHeadersToRemove(), "weighted_clusters.request_headers")
				add(err)
				e.respHeaders, err = newHeaderParser(c.GetResponseHeadersToAdd(), c.GetResponseHeadersToRemove(), "weighted_clusters.response_headers")
				add(err)
				r.weighted = append(r.weighted, e)
				total += uint64(c.GetWeight().GetValue())
			}
			if total == 0 {
				add(errors.New("sum of weights in the weighted_cluster must be greater than 0"))
			} else if total > 1<<32-1 {
				add(errors.New("the sum of weights of all weighted clusters exceeds 4294967295"))
			}
		}
	}
	if rd := rt.GetRedirect(); rd != nil {
		if rr := rd.GetRegexRewrite(); rr != nil {
			_, anyRe, err := compileRegex(rr.GetPattern().GetRegex())
			add(err)
			r.redirectRegex = anyRe
		}
	}
	if len(errs) > 0 {
		r.broken = errs[0]
	}
	return r, errs
}

// Config returns the compiled route configuration.
func (r *Router) Config() *routev3.RouteConfiguration { return r.cfg }

// RouteRequest compiles rc and routes req: NewRouter then Route.
func RouteRequest(rc *routev3.RouteConfiguration, req *Request, o Options) (*Result, error) {
	r, err := NewRouter(rc, o)
	if err != nil {
		return nil, err
	}
	return r.Route(req), nil
}
