// Package gendump generates large, realistic Envoy admin documents for
// benchmarks: the /config_dump of an Istio sidecar (bootstrap, CDS, EDS, LDS,
// RDS and SDS sections, in the exact JSON shape Envoy's admin API prints) and
// the matching /clusters?format=json document.
//
// Output is deterministic: the same Options always give the same bytes. It is
// streamed, so memory stays small whatever the size of the document.
package gendump

import (
	"bufio"
	"errors"
	"io"
	"time"
)

// DefaultServices is the mesh size used when Options.Services is zero.
const DefaultServices = 100

// baseTime is when every generated dump was "taken".
var baseTime = time.Date(2025, 6, 2, 8, 14, 5, 0, time.UTC)

// Options selects a generated mesh.
type Options struct {
	// Services is the number of services in the mesh: the first few are
	// fixed (bookinfo, kubernetes, kube-dns, istiod, the ingress gateway),
	// the rest are generated. The dump grows linearly with it, about 12 KB
	// per service.
	Services int
	// Seed picks names, ports, subsets and endpoints.
	Seed uint64

	// The options below make variants of one mesh's dump, for comparing dumps.

	// Later is the same proxy's dump taken later: only what is noise to a comparison differs
	// (every last_updated and version_info, the order of the resources).
	Later bool
	// Replicas is how many pods the proxy's workload (productpage-v1) has, Replica which of
	// them the dump is of (0 to Replicas-1): replicas differ in their pod's name, IP and node.
	Replicas, Replica int
	// ChangePercent changes about this share of the outbound clusters (connect_timeout), TCP
	// listeners (stat_prefix) and EDS assignments (one endpoint fewer), picked by name.
	ChangePercent float64
}

// Write streams the /config_dump?include_eds document for the mesh o.
func Write(w io.Writer, o Options) error {
	m := newMesh(o)
	certs, err := newCerts(o.Seed, m.spiffe(m.proxySvc), m.base)
	if err != nil {
		return err
	}
	m.certs = certs
	bw := bufio.NewWriterSize(w, 256<<10)
	j := newJW(bw)
	j.obj()
	j.ka("configs")
	steps := []func(*jw) error{m.bootstrapDump, m.clustersDump, m.endpointsDump, m.listenersDump,
		m.scopedRoutesDump, m.routesDump, m.secretsDump}
	for _, step := range steps {
		if err := step(j); err != nil {
			return err
		}
	}
	j.end()
	j.end()
	bw.WriteByte('\n')
	return bw.Flush()
}

// WriteClusters streams the /clusters?format=json document (an
// envoy.admin.v3.Clusters message) of the same mesh: host health, locality,
// weight and stats for every endpoint the config dump lists.
func WriteClusters(w io.Writer, o Options) error {
	m := newMesh(o)
	bw := bufio.NewWriterSize(w, 256<<10)
	j := newJW(bw)
	if err := m.adminClusters(j); err != nil {
		return err
	}
	bw.WriteByte('\n')
	return bw.Flush()
}

// ServicesForSize returns the Services value for which write (Write or
// WriteClusters) produces about target bytes with the given seed.
func ServicesForSize(target int64, seed uint64, write func(io.Writer, Options) error) (int, error) {
	if target <= 0 {
		return 0, errors.New("target size must be positive")
	}
	n := 200
	for range 6 {
		var c countWriter
		if err := write(&c, Options{Services: n, Seed: seed}); err != nil {
			return 0, err
		}
		next := max(1, int(float64(n)*float64(target)/float64(c.n)+0.5))
		if d := next - n; d >= -n/500 && d <= n/500 {
			return next, nil
		}
		n = next
	}
	return n, nil
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// failed reports the sticky error of the underlying writer, so a long
// section stops early when the output is gone (a closed pipe).
func (j *jw) failed() error {
	_, err := j.w.Write(nil)
	return err
}

func (m *mesh) spiffe(s *service) string {
	return "spiffe://cluster.local/ns/" + s.ns + "/sa/" + s.sa
}

// Shared fragments.

// adsSource writes "k": the ConfigSource Istio uses for ADS resources.
func adsSource(j *jw, k string) {
	j.ko(k)
	j.kempty("ads")
	j.ks("initial_fetch_timeout", "0s")
	j.ks("resource_api_version", "V3")
	j.end()
}

// grpcConfigSource writes an ApiConfigSource under key that reaches a gRPC xDS server through
// the static cluster named cluster.
func grpcConfigSource(j *jw, key, cluster string) {
	j.ko(key)
	j.ks("api_type", "GRPC")
	j.ka("grpc_services")
	j.obj()
	j.ko("envoy_grpc")
	j.ks("cluster_name", cluster)
	j.end()
	j.end()
	j.end()
	j.kb("set_node_on_first_message_only", true)
	j.ks("transport_api_version", "V3")
	j.end()
}

// sdsSecretConfig writes one SdsSecretConfig served by the istio-agent.
func sdsSecretConfig(j *jw, name string) {
	j.obj()
	j.ks("name", name)
	j.ko("sds_config")
	grpcConfigSource(j, "api_config_source", "sds-grpc")
	j.ks("initial_fetch_timeout", "0s")
	j.ks("resource_api_version", "V3")
	j.end()
	j.end()
}

func socketAddress(j *jw, k, addr string, port int) {
	j.ko(k)
	j.ko("socket_address")
	j.ks("address", addr)
	j.kn("port_value", int64(port))
	j.end()
	j.end()
}

// typedFilter writes {"name": name, "typed_config": {"@type": typ}}.
func typedFilter(j *jw, name, typ string) {
	j.obj()
	j.ks("name", name)
	j.ko("typed_config")
	j.ktype(typ)
	j.end()
	j.end()
}

func metadataExchangeFilter(j *jw) {
	j.obj()
	j.ks("name", "istio.metadata_exchange")
	j.ko("typed_config")
	j.ktype("envoy.tcp.metadataexchange.config.MetadataExchange")
	j.ks("protocol", "istio-peer-exchange")
	j.end()
	j.end()
}

func tcpProxyFilter(j *jw, statPrefix, cluster string) {
	j.obj()
	j.ks("name", "envoy.filters.network.tcp_proxy")
	j.ko("typed_config")
	j.ktype("envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy")
	j.ks("stat_prefix", statPrefix)
	j.ks("cluster", cluster)
	accessLog(j)
	j.end()
	j.end()
}

// accessLogFormat is Istio's default text access log format.
const accessLogFormat = `[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" ` +
	`%RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS% ` +
	`"%UPSTREAM_TRANSPORT_FAILURE_REASON%" %BYTES_RECEIVED% %BYTES_SENT% %DURATION% ` +
	`%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" ` +
	`"%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER_RAW% %UPSTREAM_LOCAL_ADDRESS% ` +
	`%DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME% %ROUTE_NAME%` + "\n"

// accessLog writes the "access_log" member Istio adds when meshConfig.accessLogFile is set.
func accessLog(j *jw) {
	j.ka("access_log")
	j.obj()
	j.ks("name", "envoy.access_loggers.file")
	j.ko("typed_config")
	j.ktype("envoy.extensions.access_loggers.file.v3.FileAccessLog")
	j.ks("path", "/dev/stdout")
	j.ko("log_format")
	j.ko("text_format_source")
	j.ks("inline_string", accessLogFormat)
	j.end()
	j.end()
	j.end()
	j.end()
	j.end()
}

func circuitBreakers(j *jw) {
	j.ko("circuit_breakers")
	j.ka("thresholds")
	j.obj()
	for _, k := range []string{"max_connections", "max_pending_requests", "max_requests", "max_retries"} {
		j.kn(k, 4294967295)
	}
	j.kb("track_remaining", true)
	j.end()
	j.end()
	j.end()
}
