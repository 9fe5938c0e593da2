package formatter

import (
	"io"
	"strconv"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"

	"github.com/proxyctl/proxyctl/configdump"
)

// EndpointRows are a cluster load assignment's rows of the endpoint table (EDS): one per
// endpoint. withName prefixes endpoints with "endpoint/", as `pc all` does.
func EndpointRows(cla *endpointv3.ClusterLoadAssignment, withName bool) []string {
	var rows []string
	for _, llb := range cla.GetEndpoints() {
		for _, ep := range llb.GetLbEndpoints() {
			addr := strings.Join(configdump.EndpointAddresses(ep), ",")
			if withName {
				addr = "endpoint/" + addr
			}
			rows = append(rows, row(addr, ep.GetHealthStatus().String(), localityString(llb.GetLocality()), cla.GetClusterName()))
		}
	}
	return rows
}

// EndpointNames are a cluster load assignment's endpoints as -o name lists them:
// endpoint/ADDRESS, one per row of the endpoint table.
func EndpointNames(cla *endpointv3.ClusterLoadAssignment) []string {
	var names []string
	for _, llb := range cla.GetEndpoints() {
		for _, ep := range llb.GetLbEndpoints() {
			names = append(names, ResourceName("endpoint", strings.Join(configdump.EndpointAddresses(ep), ",")))
		}
	}
	return names
}

// HostNames are the hosts of Envoy's /clusters document as -o name lists them:
// endpoint/ADDRESS:PORT, one per row of HostTable.
func HostNames(hosts []configdump.HostEndpoint) []string {
	names := make([]string, len(hosts))
	for i, h := range hosts {
		names[i] = ResourceName("endpoint", hostAddress(h))
	}
	return names
}

// EndpointTable writes the endpoint view of a config dump's EDS section, from rows made by
// EndpointRows.
func EndpointTable(w io.Writer, rows []string) error {
	return writeTable(w, 5, "NAME\tSTATUS\tLOCALITY\tCLUSTER", rows)
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

// hostAddress is a host's ADDRESS:PORT (the address alone for a pipe).
func hostAddress(h configdump.HostEndpoint) string {
	if h.Port != 0 {
		return h.Address + ":" + strconv.Itoa(int(h.Port))
	}
	return h.Address
}

// HostTable writes the endpoint view of Envoy's /clusters document: one row per host, with
// its health and outlier detection state.
func HostTable(w io.Writer, hosts []configdump.HostEndpoint) error {
	rows := make([]string, len(hosts))
	for i, h := range hosts {
		endpoint := hostAddress(h)
		outlier := "OK"
		if h.FailedOutlier {
			outlier = "FAILED"
		}
		rows[i] = row(endpoint, corev3.HealthStatus_name[int32(h.Status)], outlier, h.Cluster)
	}
	return writeTable(w, 5, "ENDPOINT\tSTATUS\tOUTLIER CHECK\tCLUSTER", rows)
}
