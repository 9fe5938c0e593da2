package routecheck

import (
	"github.com/proxyctl/proxyctl/internal/traffic"
)

// Coverage is router_check_tool's route coverage (test/tools/router_check/coverage.cc): an
// entry for each distinct route object a matching check touched. The objects are Envoy's:
// each weighted cluster of a route is its own, and every require_tls redirect of the
// configuration shares one (Envoy's static SslRedirector). (Envoy makes a new route object
// for every request routed by cluster_header; proxyctl counts such a route once, so that
// coverage never exceeds 100%.)
type Coverage struct {
	c       *Checker
	entries []*routeCoverage
	byKey   map[coverageKey]*routeCoverage
}

type coverageKey struct{ vhost, route, weighted int }

// tlsRedirectKey is the one entry of every require_tls redirect.
var tlsRedirectKey = coverageKey{-2, -2, -2}

type routeCoverage struct {
	key  coverageKey
	name string
	// forwarding: the five fields of a route entry; else the two of a direct response.
	forwarding                                                     bool
	cluster, virtualCluster, virtualHost, pathRewrite, hostRewrite bool
	redirectPath, redirectCode                                     bool
}

func newCoverage(c *Checker) *Coverage {
	return &Coverage{c: c, byKey: map[coverageKey]*routeCoverage{}}
}

// entry returns the coverage entry of the route a result chose, created on first use.
func (cv *Coverage) entry(res *traffic.Result) *routeCoverage {
	key := coverageKey{res.VirtualHostIndex, res.RouteIndex, -1}
	name := ""
	if res.Error == traffic.TLSRequired {
		key = tlsRedirectKey
	} else {
		name = cv.c.names[res.VirtualHostIndex][res.RouteIndex]
		if w := res.Action.Weighted; w != nil {
			key.weighted = w.Picked
		}
	}
	if e, ok := cv.byKey[key]; ok {
		return e
	}
	e := &routeCoverage{key: key, name: name, forwarding: res.Forwarding()}
	cv.byKey[key] = e
	cv.entries = append(cv.entries, e)
	return e
}

func (e *routeCoverage) fields() []bool {
	if e.forwarding {
		return []bool{e.cluster, e.virtualCluster, e.virtualHost, e.pathRewrite, e.hostRewrite}
	}
	return []bool{e.redirectPath, e.redirectCode}
}

func (e *routeCoverage) report() float64 {
	f := e.fields()
	n := 0
	for _, b := range f {
		if b {
			n++
		}
	}
	return float64(n) / float64(len(f))
}

// Missing is a route no test covered.
type Missing struct {
	VirtualHost string
	// Name is the route's name as the tool renames it ("<name>-<uuid>").
	Name string
	// Match is the route's match, in protobuf text format, as --covall prints it.
	Match string
}

// Report is the coverage of a run.
type Report struct {
	// Percent is the coverage, 0 to 100 (NaN for a configuration without routes, as the tool).
	Percent float64
	// Missing lists the routes without a test, in configuration order, when asked for.
	Missing []Missing
	// Comprehensive: Missing lines are --covall's (by match), else --detailed-coverage's (by name).
	Comprehensive bool
}

// Coverage reports the coverage after Run: with comprehensive (--covall) every field of each
// route counts; with detailed (--detailed-coverage) the routes without a test are listed.
func (c *Checker) Coverage(comprehensive, detailed bool) Report {
	cv := c.coverage
	var numRoutes uint64
	for _, vh := range c.cfg.GetVirtualHosts() {
		for _, r := range vh.GetRoutes() {
			if wc := r.GetRoute().GetWeightedClusters(); wc != nil {
				numRoutes += uint64(len(wc.GetClusters()))
			} else {
				numRoutes++
			}
		}
	}
	rep := Report{Comprehensive: comprehensive}
	covered := map[string]bool{}
	var sum float64
	for _, e := range cv.entries {
		covered[e.name] = true
		sum += e.report()
	}
	if comprehensive {
		rep.Percent = 100 * sum / float64(numRoutes)
	} else {
		rep.Percent = 100 * float64(len(cv.entries)) / float64(numRoutes)
	}
	if comprehensive || detailed {
		for i, vh := range c.cfg.GetVirtualHosts() {
			for j, r := range vh.GetRoutes() {
				if name := c.names[i][j]; !covered[name] {
					rep.Missing = append(rep.Missing, Missing{VirtualHost: vh.GetName(), Name: name, Match: TextFormat(r.GetMatch())})
				}
			}
		}
	}
	return rep
}
