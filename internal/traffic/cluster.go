package traffic

import (
	"fmt"
	"strconv"
	"strings"

	adminv3 "github.com/envoyproxy/go-control-plane/envoy/admin/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
)

// Endpoint is one upstream host of a cluster.
type EndpointInfo struct {
	Address  string `json:"address"`
	Health   string `json:"health"`
	Locality string `json:"locality"`
	Priority uint32 `json:"priority"`
	Weight   uint32 `json:"weight"`
	// FailedOutlierCheck and FailedActiveHealthCheck come from /clusters (live).
	FailedOutlierCheck      bool `json:"failed_outlier_check,omitempty"`
	FailedActiveHealthCheck bool `json:"failed_active_health_check,omitempty"`
}

// ClusterType is a cluster's discovery type, or the name of its custom cluster type.
func ClusterType(cl *clusterv3.Cluster) string {
	if ct := cl.GetClusterType(); ct != nil {
		return ct.GetName()
	}
	return cl.GetType().String()
}

// EDSName is the name a cluster's endpoints go by in EDS: eds_cluster_config.service_name,
// or the cluster's name.
func EDSName(cl *clusterv3.Cluster) string {
	if n := cl.GetEdsClusterConfig().GetServiceName(); n != "" {
		return n
	}
	return cl.GetName()
}

func locality(l *corev3.Locality) string {
	var parts []string
	for _, p := range []string{l.GetRegion(), l.GetZone(), l.GetSubZone()} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, "/")
}

func addressString(a *corev3.Address) string {
	switch {
	case a.GetSocketAddress() != nil:
		sa := a.GetSocketAddress()
		if ip, ok := ParseIP(sa.GetAddress()); ok {
			return Endpoint(ip, sa.GetPortValue())
		}
		return sa.GetAddress() + ":" + strconv.Itoa(int(sa.GetPortValue()))
	case a.GetPipe() != nil:
		return "unix://" + a.GetPipe().GetPath()
	case a.GetEnvoyInternalAddress() != nil:
		in := a.GetEnvoyInternalAddress()
		return fmt.Sprintf("envoy://%s/%s", in.GetServerListenerName(), in.GetEndpointId())
	}
	return "unknown"
}

// weightOf is an endpoint's load balancing weight (1 when unset, as Envoy counts it).
func weightOf(w uint32) uint32 {
	if w == 0 {
		return 1
	}
	return w
}

// AssignmentEndpoints lists a load assignment's endpoints with their health, locality,
// priority and weight.
func AssignmentEndpoints(cla *endpointv3.ClusterLoadAssignment) []EndpointInfo {
	var out []EndpointInfo
	for _, le := range cla.GetEndpoints() {
		for _, ep := range le.GetLbEndpoints() {
			out = append(out, EndpointInfo{
				Address:  addressString(ep.GetEndpoint().GetAddress()),
				Health:   ep.GetHealthStatus().String(),
				Locality: locality(le.GetLocality()),
				Priority: le.GetPriority(),
				Weight:   weightOf(ep.GetLoadBalancingWeight().GetValue()),
			})
		}
	}
	return out
}

// HostEndpoints lists the hosts of a cluster as Envoy's /clusters?format=json reports them:
// what Envoy knows now, with active health checking and outlier detection.
func HostEndpoints(cs *adminv3.ClusterStatus) []EndpointInfo {
	var out []EndpointInfo
	for _, h := range cs.GetHostStatuses() {
		hs := h.GetHealthStatus()
		health := hs.GetEdsHealthStatus().String()
		if hs.GetFailedActiveHealthCheck() || hs.GetFailedOutlierCheck() {
			health = "UNHEALTHY"
		}
		out = append(out, EndpointInfo{
			Address:                 addressString(h.GetAddress()),
			Health:                  health,
			Locality:                locality(h.GetLocality()),
			Priority:                h.GetPriority(),
			Weight:                  weightOf(h.GetWeight()),
			FailedOutlierCheck:      hs.GetFailedOutlierCheck(),
			FailedActiveHealthCheck: hs.GetFailedActiveHealthCheck(),
		})
	}
	return out
}

// healthy counts the endpoints Envoy sends traffic to (HEALTHY, or UNKNOWN without health
// checking), and DEGRADED ones.
func countHealthy(eps []EndpointInfo) (healthy, degraded int) {
	for _, e := range eps {
		switch e.Health {
		case "HEALTHY", "UNKNOWN":
			healthy++
		case "DEGRADED":
			degraded++
		}
	}
	return healthy, degraded
}
