package istiod

import (
	"encoding/json"
	"fmt"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	statusv3 "github.com/envoyproxy/go-control-plane/envoy/service/status/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/structpb"
)

// istiod's xDS debug API answers a DiscoveryRequest of type TypeDebugSyncz with one
// envoy.service.status.v3.ClientConfig per connected proxy (pilot/pkg/xds/statusgen.go,
// debugSyncz): the node id, the node metadata CLUSTER_ID, NAMESPACE and ISTIO_VERSION, and one
// GenericXdsConfig per watched type with the status istiod computed from the same nonces
// /debug/syncz reports. This file turns those into the rows the HTTP answer gives, so that both
// transports feed one model and one formatter.

// SynczRows turns istiod's answer to TypeDebugSyncz into rows. The ISTIOD column is name;
// when name is "", the instance id the answer reports, else fallback. Every resource must be a
// ClientConfig.
func SynczRows(resp *discoveryv3.DiscoveryResponse, name, fallback string) ([]ProxyStatus, error) {
	if name == "" {
		name = sanitize(ControlPlaneID(resp.GetControlPlane().GetIdentifier()), 253)
	}
	if name == "" {
		name = fallback
	}
	rows := make([]ProxyStatus, 0, len(resp.GetResources()))
	for i, res := range resp.GetResources() {
		if res.GetTypeUrl() != TypeURLClientConfig {
			return nil, fmt.Errorf("resource %d is a %s, not a ClientConfig", i, sanitize(res.GetTypeUrl(), 200))
		}
		cc := &statusv3.ClientConfig{}
		if err := anypb.UnmarshalTo(res, cc, proto.UnmarshalOptions{}); err != nil {
			return nil, fmt.Errorf("resource %d is not a valid ClientConfig: %w", i, err)
		}
		rows = append(rows, ClientConfigRow(cc, name))
	}
	return rows, nil
}

// ClientConfigRow turns one ClientConfig reported by the istiod named istiod into a row.
//
// A type whose status is UNKNOWN is not watched (IGNORED), as istioctl counts it; the send time
// is the config's last_updated when it is a real time (istiod sends the zero time for a type it
// never sent); the error is its error_state's details. Without generic_xds_configs, the
// deprecated per-type xds_config list is read, as istioctl reads it. The proxy type and Envoy
// version are not in a ClientConfig: they stay empty.
func ClientConfigRow(cc *statusv3.ClientConfig, istiod string) ProxyStatus {
	node := cc.GetNode()
	meta := node.GetMetadata()
	id := node.GetId()
	row := ProxyStatus{
		Name:         id,
		Namespace:    metaString(meta, "NAMESPACE"),
		Cluster:      metaString(meta, "CLUSTER_ID"),
		Istiod:       istiod,
		IstioVersion: metaString(meta, "ISTIO_VERSION"),
	}
	if row.Namespace == "" {
		row.Namespace = NamespaceOf(id)
	}
	byURL := map[string]TypeStatus{}
	for _, c := range clientConfigTypes(cc) {
		status, watched := configStatus(c.GetConfigStatus())
		if !watched || c.GetTypeUrl() == "" {
			continue
		}
		t := TypeStatus{TypeURL: c.GetTypeUrl(), Status: status, Error: c.GetErrorState().GetDetails()}
		if ts := c.GetLastUpdated(); ts != nil && ts.CheckValid() == nil && ts.GetSeconds() > 0 {
			t.SentTime = ts.AsTime()
		}
		byURL[t.TypeURL] = t
	}
	urls := make([]string, 0, len(byURL))
	for u := range byURL {
		urls = append(urls, u)
	}
	SortSubscribed(urls)
	row.Types = make([]TypeStatus, 0, len(urls))
	for _, u := range urls {
		row.Types = append(row.Types, byURL[u])
	}
	return row
}

// configStatus maps a ClientConfig status to a row's; watched is false for UNKNOWN (and for a
// value this binary does not know), which istioctl shows as IGNORED.
func configStatus(s statusv3.ConfigStatus) (status Status, watched bool) {
	switch s {
	case statusv3.ConfigStatus_SYNCED:
		return StatusSynced, true
	case statusv3.ConfigStatus_NOT_SENT:
		return StatusNotSent, true
	case statusv3.ConfigStatus_STALE:
		return StatusStale, true
	case statusv3.ConfigStatus_ERROR:
		return StatusError, true
	default:
		return StatusIgnored, false
	}
}

// clientConfigTypes returns the per-type configs: generic_xds_configs, else the deprecated
// xds_config list converted (CDS, LDS, RDS and EDS only, as istioctl converts it).
func clientConfigTypes(cc *statusv3.ClientConfig) []*statusv3.ClientConfig_GenericXdsConfig {
	if len(cc.GetGenericXdsConfigs()) > 0 {
		return cc.GetGenericXdsConfigs()
	}
	var out []*statusv3.ClientConfig_GenericXdsConfig
	for _, c := range cc.GetXdsConfig() { //nolint:staticcheck // the deprecated form older servers send
		var url string
		switch c.GetPerXdsConfig().(type) {
		case *statusv3.PerXdsConfig_ClusterConfig:
			url = TypeURLCluster
		case *statusv3.PerXdsConfig_ListenerConfig:
			url = TypeURLListener
		case *statusv3.PerXdsConfig_RouteConfig:
			url = TypeURLRoute
		case *statusv3.PerXdsConfig_EndpointConfig:
			url = TypeURLEndpoint
		default:
			continue
		}
		out = append(out, &statusv3.ClientConfig_GenericXdsConfig{TypeUrl: url, ConfigStatus: c.GetStatus()})
	}
	return out
}

// metaString is a string field of node metadata ("" when absent or not a string).
func metaString(meta *structpb.Struct, key string) string {
	return meta.GetFields()[key].GetStringValue()
}

// ControlPlaneID reads the istiod instance id from a DiscoveryResponse's control_plane
// identifier, the JSON istiod writes there ({"Component":"istiod","ID":"istiod-5d4f...",...}).
// It is "" when the identifier is empty or is not that JSON.
func ControlPlaneID(identifier string) string {
	if identifier == "" {
		return ""
	}
	var cp struct {
		ID string `json:"ID"`
	}
	if err := json.Unmarshal([]byte(identifier), &cp); err != nil {
		return ""
	}
	return cp.ID
}
