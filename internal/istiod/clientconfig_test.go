package istiod

import (
	"reflect"
	"testing"
	"time"

	adminv3 "github.com/envoyproxy/go-control-plane/envoy/admin/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	statusv3 "github.com/envoyproxy/go-control-plane/envoy/service/status/v3"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

func node(t *testing.T, id string, meta map[string]any) *corev3.Node {
	t.Helper()
	s, err := structpb.NewStruct(meta)
	if err != nil {
		t.Fatal(err)
	}
	return &corev3.Node{Id: id, Metadata: s}
}

func TestClientConfigRow(t *testing.T) {
	sent := time.Date(2024, 3, 4, 8, 37, 44, 0, time.UTC)
	generic := func(url string, s statusv3.ConfigStatus, at time.Time, errDetails string) *statusv3.ClientConfig_GenericXdsConfig {
		c := &statusv3.ClientConfig_GenericXdsConfig{TypeUrl: url, ConfigStatus: s, LastUpdated: timestamppb.New(at)}
		if errDetails != "" {
			c.ErrorState = &adminv3.UpdateFailureState{Details: errDetails}
		}
		return c
	}
	tests := []struct {
		name string
		in   *statusv3.ClientConfig
		want ProxyStatus
	}{
		{
			name: "statuses, send times, errors, subscribed order",
			in: &statusv3.ClientConfig{
				Node: node(t, "details-v1.default", map[string]any{"CLUSTER_ID": "Kubernetes", "ISTIO_VERSION": "1.98.2", "NAMESPACE": "default"}),
				GenericXdsConfigs: []*statusv3.ClientConfig_GenericXdsConfig{
					generic(TypeURLExtensionConfig, statusv3.ConfigStatus_SYNCED, sent, ""),
					generic(TypeURLRoute, statusv3.ConfigStatus_ERROR, sent, "duplicate domain"),
					generic(TypeURLEndpoint, statusv3.ConfigStatus_NOT_SENT, time.Time{}, ""),
					generic(TypeURLListener, statusv3.ConfigStatus_STALE, sent, ""),
					generic(TypeURLCluster, statusv3.ConfigStatus_SYNCED, sent, ""),
					generic(TypeURLSecret, statusv3.ConfigStatus_UNKNOWN, sent, ""),
					generic("", statusv3.ConfigStatus_SYNCED, sent, ""),
				},
			},
			want: ProxyStatus{
				Name: "details-v1.default", Namespace: "default", Cluster: "Kubernetes", Istiod: "istiod-0", IstioVersion: "1.98.2",
				Types: []TypeStatus{
					{TypeURL: TypeURLCluster, Status: StatusSynced, SentTime: sent},
					{TypeURL: TypeURLListener, Status: StatusStale, SentTime: sent},
					{TypeURL: TypeURLEndpoint, Status: StatusNotSent},
					{TypeURL: TypeURLRoute, Status: StatusError, SentTime: sent, Error: "duplicate domain"},
					{TypeURL: TypeURLExtensionConfig, Status: StatusSynced, SentTime: sent},
				},
			},
		},
		{
			name: "namespace from the id without metadata; no send time",
			in: &statusv3.ClientConfig{
				Node:              &corev3.Node{Id: "ztunnel-abcde.istio-system"},
				GenericXdsConfigs: []*statusv3.ClientConfig_GenericXdsConfig{{TypeUrl: TypeURLAddress, ConfigStatus: statusv3.ConfigStatus_SYNCED}},
			},
			want: ProxyStatus{Name: "ztunnel-abcde.istio-system", Namespace: "istio-system", Istiod: "istiod-0",
				Types: []TypeStatus{{TypeURL: TypeURLAddress, Status: StatusSynced}}},
		},
		{
			name: "metadata namespace wins over the id",
			in:   &statusv3.ClientConfig{Node: node(t, "proxy1", map[string]any{"NAMESPACE": "foo", "CLUSTER_ID": 3.0})},
			want: ProxyStatus{Name: "proxy1", Namespace: "foo", Istiod: "istiod-0", Types: []TypeStatus{}},
		},
		{
			name: "the deprecated per-type list",
			in: &statusv3.ClientConfig{
				Node: &corev3.Node{Id: "old.default"},
				XdsConfig: []*statusv3.PerXdsConfig{
					{Status: statusv3.ConfigStatus_SYNCED, PerXdsConfig: &statusv3.PerXdsConfig_ListenerConfig{}},
					{Status: statusv3.ConfigStatus_STALE, PerXdsConfig: &statusv3.PerXdsConfig_ClusterConfig{}},
					{Status: statusv3.ConfigStatus_NOT_SENT, PerXdsConfig: &statusv3.PerXdsConfig_RouteConfig{}},
					{Status: statusv3.ConfigStatus_ERROR, PerXdsConfig: &statusv3.PerXdsConfig_EndpointConfig{}},
					{Status: statusv3.ConfigStatus_SYNCED, PerXdsConfig: &statusv3.PerXdsConfig_ScopedRouteConfig{}},
				},
			},
			want: ProxyStatus{Name: "old.default", Namespace: "default", Istiod: "istiod-0", Types: []TypeStatus{
				{TypeURL: TypeURLCluster, Status: StatusStale},
				{TypeURL: TypeURLListener, Status: StatusSynced},
				{TypeURL: TypeURLEndpoint, Status: StatusError},
				{TypeURL: TypeURLRoute, Status: StatusNotSent},
			}},
		},
		{
			name: "nothing at all",
			in:   &statusv3.ClientConfig{},
			want: ProxyStatus{Istiod: "istiod-0", Types: []TypeStatus{}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ClientConfigRow(tt.in, "istiod-0")
			for i := range got.Types {
				if !got.Types[i].SentTime.IsZero() {
					got.Types[i].SentTime = got.Types[i].SentTime.UTC()
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestControlPlaneID(t *testing.T) {
	tests := map[string]string{
		`{"Component":"istiod","ID":"istiod-5d4f-x","Info":{"version":"1.24.0"}}`: "istiod-5d4f-x",
		`{"Component":"istiod"}`: "",
		"":                       "",
		"not json":               "",
		`["ID"]`:                 "",
	}
	for in, want := range tests {
		if got := ControlPlaneID(in); got != want {
			t.Errorf("ControlPlaneID(%q) = %q, want %q", in, got, want)
		}
	}
}
