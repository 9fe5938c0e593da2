package formatter

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"

	"github.com/proxyctl/proxyctl/configdump"
)

// EndpointTable writes the endpoint view of a config dump's EDS section: one row per endpoint.
// withName prefixes endpoints with "endpoint/", as `pc all` does.
func EndpointTable(w io.Writer, clas []*endpointv3.ClusterLoadAssignment, withName bool) error {
	t := newTable(w, 5)
	fmt.Fprintln(t, "NAME\tSTATUS\tLOCALITY\tCLUSTER")
	for _, cla := range clas {
		for _, llb := range cla.GetEndpoints() {
			for _, ep := range llb.GetLbEndpoints() {
				addr := strings.Join(configdump.EndpointAddresses(ep), ",")
				if withName {
					addr = "endpoint/" + addr
				}
				fmt.Fprintf(t, "%s\t%s\t%s\t%s\n", addr, ep.GetHealthStatus(), localityString(llb.GetLocality()), cla.GetClusterName())
			}
		}
	}
	return t.Flush()
}

// localityString renders region/zone/subzone, stopping at the first empty part after region.
func localityString(l *corev3.Locality) string {
	if l == nil {
		return ""
	}
	s := l.GetRegion()
	if l.GetZone() == "" {
		return s
	}
	s += "/" + l.GetZone()
	if l.GetSubZone() == "" {
		return s
	}
	return s + "/" + l.GetSubZone()
}

// HostTable writes the endpoint view of Envoy's /clusters document: one row per host, with
// its health and outlier detection state.
func HostTable(w io.Writer, hosts []configdump.HostEndpoint) error {
	t := newTable(w, 5)
	fmt.Fprintln(t, "ENDPOINT\tSTATUS\tOUTLIER CHECK\tCLUSTER")
	for _, h := range hosts {
		endpoint := h.Address
		if h.Port != 0 {
			endpoint += ":" + strconv.Itoa(int(h.Port))
		}
		outlier := "OK"
		if h.FailedOutlier {
			outlier = "FAILED"
		}
		fmt.Fprintf(t, "%s\t%s\t%s\t%s\n", endpoint, corev3.HealthStatus_name[int32(h.Status)], outlier, h.Cluster)
	}
	return t.Flush()
}
