package configdump

import (
	"fmt"
	"strconv"
	"strings"

	adminv3 "github.com/envoyproxy/go-control-plane/envoy/admin/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
)

// LoadAssignments returns the EDS section's cluster load assignments: dynamic ones, then
// static ones.
func (d *Dump) LoadAssignmentResources() (Resources[*endpointv3.ClusterLoadAssignment], error) {
	ed, err := section(d, EndpointsSection, func() *adminv3.EndpointsConfigDump { return &adminv3.EndpointsConfigDump{} })
	if err != nil {
		return Resources[*endpointv3.ClusterLoadAssignment]{}, fmt.Errorf("%w; Envoy includes it with /config_dump?include_eds", err)
	}
	res := make([]resource, 0, len(ed.DynamicEndpointConfigs)+len(ed.StaticEndpointConfigs))
	for i, e := range ed.DynamicEndpointConfigs {
		if e.EndpointConfig != nil {
			res = append(res, resource{e.EndpointConfig, "dynamic_endpoint_configs", i, "endpoint_config"})
		}
	}
	for i, e := range ed.StaticEndpointConfigs {
		if e.EndpointConfig != nil {
			res = append(res, resource{e.EndpointConfig, "static_endpoint_configs", i, "endpoint_config"})
		}
	}
	return newResources(d, EndpointsSection, res, func() *endpointv3.ClusterLoadAssignment { return &endpointv3.ClusterLoadAssignment{} }), nil
}

// ClusterStatusResources returns the clusters of a /clusters?format=json document.
func (d *Dump) ClusterStatusResources() (Resources[*adminv3.ClusterStatus], error) {
	if d.kind != KindClusterStatus {
		return Resources[*adminv3.ClusterStatus]{}, fmt.Errorf("the document is a config dump, not Envoy's cluster status (/clusters?format=json): %w", ErrMissingSection)
	}
	res := make([]resource, len(d.spans))
	for i, sp := range d.spans {
		res[i] = resource{&anypb.Any{Value: d.src[sp.start:sp.end]}, "cluster_statuses", i, ""}
	}
	return newResources(d, "", res, func() *adminv3.ClusterStatus { return &adminv3.ClusterStatus{} }), nil
}

// EndpointFilter selects endpoints as istioctl's --address, --port, --cluster and --status do.
type EndpointFilter struct {
	Address string
	Port    uint32
	Cluster string
	Status  string
	// HostAddress: Address names an EDS endpoint as Envoy's /clusters names a host, as
	// `pc endpoint` matches it live (the IP without the port, unix://PATH), rather than as
	// istioctl's `pc all` matches EDS (IP:PORT, PATH).
	HostAddress bool
}

func (f EndpointFilter) empty() bool {
	return f.Address == "" && f.Port == 0 && f.Cluster == "" && f.Status == ""
}

// EndpointAddresses renders an EDS endpoint's address and additional addresses.
func EndpointAddresses(ep *endpointv3.LbEndpoint) []string {
	addrs := []*corev3.Address{ep.GetEndpoint().GetAddress()}
	for _, a := range ep.GetEndpoint().GetAdditionalAddresses() {
		addrs = append(addrs, a.GetAddress())
	}
	out := make([]string, 0, len(addrs))
	for _, a := range addrs {
		out = append(out, renderAddress(a))
	}
	return out
}

// renderAddress prints an EDS endpoint's address as istioctl does: IP:port, a pipe's path, or
// envoy://LISTENER/ENDPOINT_ID for an internal address.
func renderAddress(a *corev3.Address) string {
	if sa := a.GetSocketAddress(); sa != nil {
		return sa.GetAddress() + ":" + strconv.Itoa(int(sa.GetPortValue()))
	}
	if p := a.GetPipe(); p != nil {
		return p.GetPath()
	}
	return internalAddress(a)
}

// internalAddress prints an Envoy internal address as istioctl does (the address Envoy gives
// its internal listeners, as waypoints and ambient tunnels use), or "unknown" for an address
// of no kind istioctl knows.
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/core/v3/address.proto#config-core-v3-envoyinternaladdress
func internalAddress(a *corev3.Address) string {
	if in := a.GetEnvoyInternalAddress(); in != nil {
		if name, ok := in.GetAddressNameSpecifier().(*corev3.EnvoyInternalAddress_ServerListenerName); ok {
			return fmt.Sprintf("envoy://%s/%s", name.ServerListenerName, in.GetEndpointId())
		}
	}
	return "unknown"
}

// MatchLbEndpoint reports whether an EDS endpoint of the named cluster passes the filter.
func (f EndpointFilter) MatchLbEndpoint(ep *endpointv3.LbEndpoint, cluster string) bool {
	if f.empty() {
		return true
	}
	if f.Address != "" && !f.matchAddress(ep) {
		return false
	}
	if f.Port != 0 && ep.GetEndpoint().GetAddress().GetSocketAddress().GetPortValue() != f.Port {
		return false
	}
	if f.Cluster != "" && !strings.EqualFold(cluster, f.Cluster) {
		return false
	}
	return f.Status == "" || strings.EqualFold(corev3.HealthStatus_name[int32(ep.GetHealthStatus())], f.Status)
}

// matchAddress reports whether one of an EDS endpoint's addresses is f.Address.
func (f EndpointFilter) matchAddress(ep *endpointv3.LbEndpoint) bool {
	if !f.HostAddress {
		for _, a := range EndpointAddresses(ep) {
			if strings.EqualFold(a, f.Address) {
				return true
			}
		}
		return false
	}
	addrs := []*corev3.Address{ep.GetEndpoint().GetAddress()}
	for _, a := range ep.GetEndpoint().GetAdditionalAddresses() {
		addrs = append(addrs, a.GetAddress())
	}
	for _, a := range addrs {
		if strings.EqualFold(hostAddress(&adminv3.HostStatus{Address: a}), f.Address) {
			return true
		}
	}
	return false
}

// FilterLoadAssignment keeps the endpoints of an assignment that pass the filter, in a copy,
// and reports whether any is left: istioctl leaves out assignments without endpoints.
func FilterLoadAssignment(cla *endpointv3.ClusterLoadAssignment, f EndpointFilter) (*endpointv3.ClusterLoadAssignment, bool) {
	if f.empty() {
		return cla, countEndpoints(cla) > 0
	}
	filtered := shallowCopy(cla)
	filtered.Endpoints = make([]*endpointv3.LocalityLbEndpoints, len(cla.Endpoints))
	n := 0
	for i, llb := range cla.Endpoints {
		l := shallowCopy(llb)
		l.LbEndpoints = nil
		for _, ep := range llb.LbEndpoints {
			if f.MatchLbEndpoint(ep, cla.GetClusterName()) {
				l.LbEndpoints = append(l.LbEndpoints, ep)
			}
		}
		n += len(l.LbEndpoints)
		filtered.Endpoints[i] = l
	}
	return filtered, n > 0
}

// shallowCopy copies a message's top-level fields, sharing everything below them.
func shallowCopy[T proto.Message](m T) T {
	out := m.ProtoReflect().New()
	m.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		out.Set(fd, v)
		return true
	})
	out.SetUnknown(m.ProtoReflect().GetUnknown()) // the members kept as raw JSON
	return out.Interface().(T)
}

func countEndpoints(cla *endpointv3.ClusterLoadAssignment) int {
	n := 0
	for _, llb := range cla.GetEndpoints() {
		n += len(llb.GetLbEndpoints())
	}
	return n
}

// HostEndpoint is one host of a /clusters document with its cluster, as the endpoint view
// lists them.
type HostEndpoint struct {
	Address       string // IP, unix://PATH for a pipe, envoy://LISTENER/ID for an internal address
	Port          uint32
	Cluster       string
	Status        corev3.HealthStatus
	FailedOutlier bool
}

// MatchHost reports whether a host of the named cluster passes the filter.
func (f EndpointFilter) MatchHost(h *adminv3.HostStatus, cluster string) bool {
	if f.empty() {
		return true
	}
	if f.Address != "" && !strings.EqualFold(hostAddress(h), f.Address) {
		return false
	}
	if f.Port != 0 && h.GetAddress().GetSocketAddress().GetPortValue() != f.Port {
		return false
	}
	if f.Cluster != "" && !strings.EqualFold(cluster, f.Cluster) {
		return false
	}
	return f.Status == "" || strings.EqualFold(corev3.HealthStatus_name[int32(h.GetHealthStatus().GetEdsHealthStatus())], f.Status)
}

// hostAddress prints a /clusters host's address as istioctl does: the IP (the port is apart),
// unix://PATH for a pipe, envoy://LISTENER/ENDPOINT_ID for an internal address.
func hostAddress(h *adminv3.HostStatus) string {
	a := h.GetAddress()
	if sa := a.GetSocketAddress(); sa != nil {
		return sa.GetAddress()
	}
	if p := a.GetPipe(); p != nil {
		return "unix://" + p.GetPath()
	}
	return internalAddress(a)
}

// HostEndpoints lists the hosts of a cluster that pass the filter.
func HostEndpoints(cs *adminv3.ClusterStatus, f EndpointFilter) []HostEndpoint {
	var out []HostEndpoint
	for _, h := range cs.GetHostStatuses() {
		if !f.MatchHost(h, cs.GetName()) {
			continue
		}
		out = append(out, HostEndpoint{
			Address:       hostAddress(h),
			Port:          h.GetAddress().GetSocketAddress().GetPortValue(),
			Cluster:       cs.GetName(),
			Status:        h.GetHealthStatus().GetEdsHealthStatus(),
			FailedOutlier: h.GetHealthStatus().GetFailedOutlierCheck(),
		})
	}
	return out
}

// SortHostEndpoints orders hosts as istioctl does: by address, port, then cluster.
func SortHostEndpoints(out []HostEndpoint) {
	SortByKey(out, func(h HostEndpoint) HostEndpoint { return h }, func(a, b HostEndpoint) bool {
		if a.Address != b.Address {
			return a.Address < b.Address
		}
		if a.Port != b.Port {
			return a.Port < b.Port
		}
		return a.Cluster < b.Cluster
	})
}

// MatchClusterStatus reports whether a cluster has a host that passes the filter.
func (f EndpointFilter) MatchClusterStatus(cs *adminv3.ClusterStatus) bool {
	for _, h := range cs.GetHostStatuses() {
		if f.MatchHost(h, cs.GetName()) {
			return true
		}
	}
	return false
}
