package traffic

import (
	"time"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
)

// ErrorKind says why a request got no route.
type ErrorKind string

// The errors Route reports.
const (
	// NoVirtualHost: no virtual host's domains match the authority (Envoy answers 404).
	NoVirtualHost ErrorKind = "no_virtual_host"
	// NoRoute: the virtual host has no route that matches (404).
	NoRoute ErrorKind = "no_route"
	// TLSRequired: the virtual host's require_tls redirects the request to https (301); the
	// Action is that redirect.
	TLSRequired ErrorKind = "tls_required"
	// NoForwardedProto: the request has no x-forwarded-proto (nor :scheme): Envoy's router
	// returns no route.
	NoForwardedProto ErrorKind = "no_forwarded_proto"
)

// ActionKind is what the chosen route does.
type ActionKind string

// The route actions.
const (
	ActionCluster        ActionKind = "cluster"
	ActionClusterHeader  ActionKind = "cluster_header"
	ActionWeighted       ActionKind = "weighted_clusters"
	ActionClusterPlugin  ActionKind = "cluster_specifier_plugin"
	ActionRedirect       ActionKind = "redirect"
	ActionDirectResponse ActionKind = "direct_response"
	ActionNonForwarding  ActionKind = "non_forwarding"
	ActionFilter         ActionKind = "filter_action"
	ActionTLSRedirect    ActionKind = "tls_redirect"
	ActionNone           ActionKind = ""
)

// Result is what Envoy's router does with a request.
type Result struct {
	// VirtualHost is the chosen virtual host (nil when none matched) and VirtualHostIndex its
	// index in the route configuration (-1 when none).
	VirtualHost      *routev3.VirtualHost
	VirtualHostIndex int
	// Route is the chosen route (nil when none, and for a require_tls redirect), RouteIndex its
	// index in the virtual host (-1 when none), RouteName its name.
	Route      *routev3.Route
	RouteIndex int
	RouteName  string
	// Error says why there is no route, or TLSRequired; empty when a route was chosen.
	Error ErrorKind

	// Action is what the route does.
	Action Action

	// RequestHeaders are the request's headers once the route has finalized them (header
	// mutations, host and path rewrites), pseudo-headers first: what goes upstream for a
	// forwarded request. For a redirect, :path carries the redirect's prefix or regex rewrite.
	RequestHeaders Headers
	// ResponseHeaders are the response's headers as the router leaves them: Request's
	// ResponseHeaders, then a direct response's or redirect's local reply (:status,
	// content-length and content-type when there is a body), then the route's response header
	// mutations. (The Location of a redirect is in Action.Redirect.)
	ResponseHeaders Headers
	// Path and Host are :path and :authority after the route's rewrites; PathRewrite and
	// HostRewrite name what rewrote them ("prefix_rewrite", "regex_rewrite",
	// "path_template_rewrite", "host_rewrite_literal", "host_rewrite_header",
	// "host_rewrite_path_regex", "weighted_cluster.host_rewrite_literal"), empty when nothing did.
	Path, Host               string
	PathRewrite, HostRewrite string

	// VirtualCluster is the virtual cluster of the virtual host the request belongs to (matched
	// on the request as it arrived, as Envoy's router does), "other" when the virtual host has
	// virtual clusters and none matches, "" when it has none or there is no forwarding route.
	VirtualCluster string

	// Trace is every candidate considered, in order: virtual hosts, then routes.
	Trace []Step
	// Notes say what was assumed or could not be evaluated (runtime_fraction, dynamic
	// metadata, filter state, auto_host_rewrite, header formats...).
	Notes []string
}

// Forwarding reports whether the request is routed to a cluster (Envoy's routeEntry(): every
// route that is neither a redirect nor a direct response, non_forwarding included).
func (r *Result) Forwarding() bool {
	switch r.Action.Kind {
	case ActionCluster, ActionClusterHeader, ActionWeighted, ActionClusterPlugin, ActionNonForwarding, ActionFilter:
		return true
	}
	return false
}

// DirectResponse reports whether the router answers the request itself (Envoy's
// directResponseEntry(): redirects, require_tls redirects and direct responses).
func (r *Result) DirectResponse() bool {
	switch r.Action.Kind {
	case ActionRedirect, ActionDirectResponse, ActionTLSRedirect:
		return true
	}
	return false
}

// Action is the chosen route's action, evaluated for the request.
type Action struct {
	Kind ActionKind
	// Cluster is the upstream cluster: the route's cluster, the value of the cluster_header
	// (empty when the header is absent), or the weighted cluster picked.
	Cluster string
	// ClusterHeader is the header cluster_header names (also for a weighted cluster with
	// cluster_header).
	ClusterHeader string
	// Weighted is the weighted pick, with every cluster and its weight.
	Weighted *WeightedPick
	// Plugin names the cluster_specifier_plugin, which proxyctl cannot run.
	Plugin string
	// Redirect is the redirect (also for require_tls).
	Redirect *Redirect
	// Status and Body are a direct response's; BodySource says where the body comes from when
	// it is not inline ("filename /x", "environment_variable X").
	Status     uint32
	Body       string
	BodySource string
	// Timeout is the route's timeout (route.timeout, 15s when unset; 0 disables it).
	Timeout time.Duration
}

// WeightedPick is how a weighted_clusters action picked its cluster.
type WeightedPick struct {
	Clusters []WeightedCluster
	// Total is the sum of the weights; Value the random value (or header value) used; Picked
	// the index of the cluster chosen: the first whose cumulative weight exceeds
	// Value % Total.
	Total  uint64
	Value  uint64
	Picked int
	// ValueFrom says where Value came from: "random_value", or "header NAME".
	ValueFrom string
}

// WeightedCluster is one cluster of a weighted_clusters action.
type WeightedCluster struct {
	Name, ClusterHeader string
	Weight              uint32
}

// Redirect is the redirect the router sends: the status code and the Location header.
type Redirect struct {
	Code     uint32
	Location string
}

// StepKind says what a trace step considered.
type StepKind string

// The trace steps.
const (
	StepVirtualHost StepKind = "virtual_host"
	StepRoute       StepKind = "route"
)

// Step is one candidate the router considered: a virtual host, or a route of the chosen
// virtual host.
type Step struct {
	Kind  StepKind
	Index int
	Name  string
	// Matched: this candidate was chosen.
	Matched bool
	// Reason says why it matched or lost: `exact domain "a.com"`, `prefix "/api" does not
	// match path "/foo"`, `header x-user is absent (wants present)`...
	Reason string
}
