// Package traffic is Envoy's request matching, as a pure library: given a configuration and a
// request, it says what Envoy would do with the request and why. It does no I/O and knows
// nothing of cobra or Kubernetes; `proxyctl route-check` (router_check_tool's tests) and
// `pc explain` are two front ends of this one engine.
//
// This file set is the route layer: what Envoy's HTTP router does once the listener and the
// HTTP connection manager have handed it a request (source/common/router/config_impl.cc):
//
//   - virtual host selection (RouteMatcher::findVirtualHost): an exact domain, then the longest
//     suffix wildcard ("*.example.com"), then the longest prefix wildcard ("example.*"), then
//     "*"; hosts compared in lower case, the port ignored only with
//     ignore_port_in_host_matching;
//   - require_tls (ALL, EXTERNAL_ONLY): a redirect to https;
//   - route selection, in order (VirtualHostImpl::getRouteFromRoutes): the first route whose
//     path specifier (prefix, path, safe_regex, path_separated_prefix, path_match_policy,
//     connect_matcher), headers, query parameters, cookies, grpc, tls_context,
//     runtime_fraction, dynamic_metadata and filter_state all match;
//   - the route's action: cluster, cluster_header, weighted_clusters (the cluster picked by the
//     random value), redirect (the Location Envoy sends), direct_response, non_forwarding;
//   - request finalization: header mutations at route, virtual host and route configuration
//     level in Envoy's order, host rewrites and path rewrites, and the response headers a
//     direct response or a forwarded response gets from the route.
//
// Use it in two steps: NewRouter compiles a RouteConfiguration (regexes, domain tables,
// header formats) and reports what Envoy would reject; Router.Route routes one Request and
// returns a Result with the decision and a Trace of every candidate considered. RouteRequest
// does both at once.
//
// Facts about the request that a configuration alone cannot tell (the runtime, dynamic
// metadata and filter state other filters set, whether the client presented a certificate)
// are fields of Request. When such a field is nil the engine assumes the matcher that reads
// it matches, and says so in Result.Notes: explain leaves them unset and reports the
// assumptions; route-check sets them as router_check_tool does.
package traffic
