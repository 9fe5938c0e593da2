package traffic

import (
	"testing"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	"google.golang.org/protobuf/encoding/protojson"
)

func chain(t testing.TB, js string) *listenerv3.FilterChain {
	t.Helper()
	fc := &listenerv3.FilterChain{}
	if err := protojson.Unmarshal([]byte(js), fc); err != nil {
		t.Fatalf("bad test chain %s: %v", js, err)
	}
	return fc
}

const (
	tlsSocket  = `"transport_socket":{"name":"envoy.transport_sockets.tls","typed_config":{"@type":"type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext"}}`
	mtlsSocket = `"transport_socket":{"name":"envoy.transport_sockets.tls","typed_config":{"@type":"type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext","require_client_certificate":true}}`
	hcmRDS     = `{"name":"envoy.filters.network.http_connection_manager","typed_config":{"@type":"type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager","rds":{"route_config_name":"80"}}}`
	hcmInline  = `{"name":"hcm","typed_config":{"@type":"type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager","route_config":{"name":"inline"}}}`
	hcmHTTP2   = `{"name":"envoy.filters.network.http_connection_manager","typed_config":{"@type":"type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager","codec_type":"HTTP2","rds":{"route_config_name":"80"}}}`
	tcpCluster = `{"name":"envoy.filters.network.tcp_proxy","typed_config":{"@type":"type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy","cluster":"outbound|3306||db"}}`
	tcpWeights = `{"name":"envoy.filters.network.tcp_proxy","typed_config":{"@type":"type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy","weighted_clusters":{"clusters":[{"name":"a","weight":80},{"name":"b","weight":20}]}}}`
	redis      = `{"name":"envoy.filters.network.redis_proxy"}`
	stats      = `{"name":"istio.stats"}`
)

func TestCheckTLS(t *testing.T) {
	tests := []struct {
		name, chain string
		tls         TLSMode
		terminates  bool
		err         string
	}{
		{"plaintext into a TLS chain", `{` + tlsSocket + `}`, Plaintext, true, "tls_error"},
		{"TLS into a TLS chain", `{` + tlsSocket + `}`, TLS, true, ""},
		{"mTLS into a TLS chain: the certificate is not asked for", `{` + tlsSocket + `}`, MTLS, true, ""},
		{"TLS into an mTLS chain", `{` + mtlsSocket + `}`, TLS, true, "mtls_error"},
		{"mTLS into an mTLS chain", `{` + mtlsSocket + `}`, MTLS, true, ""},
		{"TLS into a chain without a transport socket passes through", `{}`, TLS, false, ""},
		{"plaintext into a chain without a transport socket", `{}`, Plaintext, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := CheckTLS(chain(t, tt.chain), Connection{TLS: tt.tls}, unmarshal)
			if got.Err != tt.err || got.Terminates != tt.terminates {
				t.Errorf("got err %q terminates %v, want %q %v (%s)", got.Err, got.Terminates, tt.err, tt.terminates, got.Rule)
			}
		})
	}
}

func TestNetworkFilters(t *testing.T) {
	seven := uint64(7)
	ninety := uint64(90)
	tests := []struct {
		name, chain string
		c           Connection
		random      *uint64
		kind, rds   string
		inline      bool
		cluster     string
		err         string
	}{
		{"HCM with RDS", `{"filters":[` + stats + `,` + hcmRDS + `]}`, Connection{TLS: Plaintext, Protocol: HTTP1}, nil, "http", "80", false, "", ""},
		{"HCM with an inline route_config, known by its type", `{"filters":[` + hcmInline + `]}`, Connection{TLS: Plaintext, Protocol: HTTP2}, nil, "http", "", true, "", ""},
		{"TCP into an HCM", `{"filters":[` + hcmRDS + `]}`, Connection{TLS: Plaintext, Protocol: TCP}, nil, "http", "", false, "", "protocol_error"},
		{"TLS into an HCM that does not terminate it", `{"filters":[` + hcmRDS + `]}`, Connection{TLS: TLS, Protocol: HTTP1}, nil, "http", "", false, "", "protocol_error"},
		{"TLS into an HCM behind a TLS socket", `{` + tlsSocket + `,"filters":[` + hcmRDS + `]}`, Connection{TLS: TLS, Protocol: HTTP1}, nil, "http", "80", false, "", ""},
		{"HTTP/1.1 into an HTTP2 codec", `{"filters":[` + hcmHTTP2 + `]}`, Connection{TLS: Plaintext, Protocol: HTTP1}, nil, "http", "", false, "", "protocol_error"},
		{"TCP proxy to a cluster", `{"filters":[` + stats + `,` + tcpCluster + `]}`, Connection{TLS: Plaintext, Protocol: TCP}, nil, "tcp", "", false, "outbound|3306||db", ""},
		{"TCP proxy weighted: random 7 of 100 picks a", `{"filters":[` + tcpWeights + `]}`, Connection{Protocol: TCP}, &seven, "tcp", "", false, "a", ""},
		{"TCP proxy weighted: random 90 picks b", `{"filters":[` + tcpWeights + `]}`, Connection{Protocol: TCP}, &ninety, "tcp", "", false, "b", ""},
		{"TCP proxy weighted: no random value is 0", `{"filters":[` + tcpWeights + `]}`, Connection{Protocol: TCP}, nil, "tcp", "", false, "a", ""},
		{"another terminal filter is named, not followed", `{"filters":[` + redis + `]}`, Connection{Protocol: TCP}, nil, "other", "", false, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fc := chain(t, tt.chain)
			tlsc := CheckTLS(fc, tt.c, unmarshal)
			m := NetworkFilters(fc, tt.c, tlsc, unmarshal, tt.random)
			if m.Kind != tt.kind || m.RouteConfigName != tt.rds || (m.InlineRoutes != nil) != tt.inline || m.Cluster != tt.cluster || m.Err != tt.err {
				t.Errorf("got kind %s rds %q inline %v cluster %q err %q, want %s %q %v %q %q (%s)", m.Kind, m.RouteConfigName, m.InlineRoutes != nil, m.Cluster, m.Err, tt.kind, tt.rds, tt.inline, tt.cluster, tt.err, m.Rule)
			}
		})
	}
}
