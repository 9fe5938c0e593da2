package traffic

import routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"

// TEMPORARY until traffic-route is merged.
func routeStep(e *Explanation, rc *routev3.RouteConfiguration, nm NetworkMatch, tlsc TLSCheck, req ExplainRequest, u Unmarshaler) (string, error) {
	return "", nil
}
