package gendump

import "strings"

const (
	istioVersion = "1.24.2"
	proxySHA     = "5f3b6b5c7a3e0b2a6b1c4f9d8e7a6b5c4d3e2f1a"
	envoyMajor   = 1
	envoyMinor   = 32
	envoyPatch   = 3
)

// extensions is a sample of what an istio-proxy build reports in
// node.extensions, by category.
var extensions = []struct{ category, names string }{
	{"envoy.access_loggers", "envoy.access_loggers.file envoy.access_loggers.http_grpc envoy.access_loggers.open_telemetry envoy.access_loggers.stderr envoy.access_loggers.stdout envoy.access_loggers.tcp_grpc envoy.access_loggers.wasm"},
	{"envoy.bootstrap", "envoy.bootstrap.internal_listener envoy.bootstrap.wasm envoy.extensions.network.socket_interface.default_socket_interface"},
	{"envoy.clusters", "envoy.cluster.eds envoy.cluster.logical_dns envoy.cluster.original_dst envoy.cluster.static envoy.cluster.strict_dns envoy.clusters.aggregate envoy.clusters.dynamic_forward_proxy"},
	{"envoy.filters.http", "envoy.bandwidth_limit envoy.buffer envoy.cors envoy.csrf envoy.ext_authz envoy.ext_proc envoy.fault envoy.filters.http.adaptive_concurrency envoy.filters.http.admission_control envoy.filters.http.alternate_protocols_cache envoy.filters.http.aws_lambda envoy.filters.http.aws_request_signing envoy.filters.http.bandwidth_limit envoy.filters.http.buffer envoy.filters.http.cache envoy.filters.http.cdn_loop envoy.filters.http.composite envoy.filters.http.compressor envoy.filters.http.connect_grpc_bridge envoy.filters.http.cors envoy.filters.http.csrf envoy.filters.http.decompressor envoy.filters.http.dynamic_forward_proxy envoy.filters.http.ext_authz envoy.filters.http.ext_proc envoy.filters.http.fault envoy.filters.http.gcp_authn envoy.filters.http.grpc_field_extraction envoy.filters.http.grpc_http1_bridge envoy.filters.http.grpc_http1_reverse_bridge envoy.filters.http.grpc_json_transcoder envoy.filters.http.grpc_stats envoy.filters.http.grpc_web envoy.filters.http.header_mutation envoy.filters.http.header_to_metadata envoy.filters.http.health_check envoy.filters.http.ip_tagging envoy.filters.http.json_to_metadata envoy.filters.http.jwt_authn envoy.filters.http.local_ratelimit envoy.filters.http.lua envoy.filters.http.match_delegate envoy.filters.http.oauth2 envoy.filters.http.on_demand envoy.filters.http.original_src envoy.filters.http.rate_limit_quota envoy.filters.http.ratelimit envoy.filters.http.rbac envoy.filters.http.router envoy.filters.http.set_filter_state envoy.filters.http.set_metadata envoy.filters.http.stateful_session envoy.filters.http.tap envoy.filters.http.wasm istio.alpn istio.metadata_exchange istio.peer_metadata istio.stats"},
	{"envoy.filters.listener", "envoy.filters.listener.http_inspector envoy.filters.listener.local_ratelimit envoy.filters.listener.original_dst envoy.filters.listener.original_src envoy.filters.listener.proxy_protocol envoy.filters.listener.tls_inspector istio.set_internal_dst_address"},
	{"envoy.filters.network", "envoy.echo envoy.ext_authz envoy.filters.network.connection_limit envoy.filters.network.direct_response envoy.filters.network.dubbo_proxy envoy.filters.network.echo envoy.filters.network.ext_authz envoy.filters.network.http_connection_manager envoy.filters.network.local_ratelimit envoy.filters.network.mongo_proxy envoy.filters.network.ratelimit envoy.filters.network.rbac envoy.filters.network.redis_proxy envoy.filters.network.set_filter_state envoy.filters.network.sni_cluster envoy.filters.network.sni_dynamic_forward_proxy envoy.filters.network.tcp_proxy envoy.filters.network.thrift_proxy envoy.filters.network.wasm envoy.filters.network.zookeeper_proxy envoy.http_connection_manager envoy.tcp_proxy istio.metadata_exchange istio.stats istio_authn"},
	{"envoy.health_checkers", "envoy.health_checkers.grpc envoy.health_checkers.http envoy.health_checkers.redis envoy.health_checkers.tcp"},
	{"envoy.http.stateful_header_formatters", "envoy.http.stateful_header_formatters.preserve_case preserve_case"},
	{"envoy.matching.http.input", "envoy.matching.inputs.destination_ip envoy.matching.inputs.destination_port envoy.matching.inputs.direct_source_ip envoy.matching.inputs.request_headers envoy.matching.inputs.server_name envoy.matching.inputs.source_ip envoy.matching.inputs.source_port"},
	{"envoy.rbac.matchers", "envoy.rbac.matchers.upstream_ip_port"},
	{"envoy.request_id", "envoy.request_id.uuid"},
	{"envoy.resolvers", "envoy.ip"},
	{"envoy.stats_sinks", "envoy.dog_statsd envoy.graphite_statsd envoy.metrics_service envoy.stat_sinks.dog_statsd envoy.stat_sinks.graphite_statsd envoy.stat_sinks.hystrix envoy.stat_sinks.metrics_service envoy.stat_sinks.open_telemetry envoy.stat_sinks.statsd envoy.stat_sinks.wasm envoy.statsd"},
	{"envoy.tracers", "envoy.dynamic.ot envoy.tracers.datadog envoy.tracers.dynamic_ot envoy.tracers.opencensus envoy.tracers.opentelemetry envoy.tracers.skywalking envoy.tracers.xray envoy.tracers.zipkin envoy.zipkin"},
	{"envoy.transport_sockets.downstream", "envoy.transport_sockets.alts envoy.transport_sockets.quic envoy.transport_sockets.raw_buffer envoy.transport_sockets.starttls envoy.transport_sockets.tap envoy.transport_sockets.tcp_stats envoy.transport_sockets.tls raw_buffer starttls tls"},
	{"envoy.transport_sockets.upstream", "envoy.transport_sockets.alts envoy.transport_sockets.http_11_proxy envoy.transport_sockets.internal_upstream envoy.transport_sockets.quic envoy.transport_sockets.raw_buffer envoy.transport_sockets.starttls envoy.transport_sockets.tap envoy.transport_sockets.tcp_stats envoy.transport_sockets.tls envoy.transport_sockets.upstream_proxy_protocol raw_buffer starttls tls"},
	{"envoy.upstreams", "envoy.filters.connection_pools.tcp.generic"},
	{"envoy.wasm.runtime", "envoy.wasm.runtime.null envoy.wasm.runtime.v8"},
}

// statsTags are the tag extraction rules istio-agent puts in the bootstrap.
var statsTags = [][2]string{
	{"cluster_name", `^cluster\.((.+?(\..+?\.svc\.cluster\.local)?)\.)`},
	{"tcp_prefix", `^tcp\.((.*?)\.)\w+?$`},
	{"response_code", `(response_code=\.=(.+?);\.;)|_rq(_(\.d{3}))$`},
	{"response_code_class", `_rq(_(\dxx))$`},
	{"http_conn_manager_listener_prefix", `^listener(?=\.).*?\.http\.(((?:[_.[:digit:]]*|[_\[\]aAbBcCdDeEfF[:digit:]]*))\.)`},
	{"http_conn_manager_prefix", `^http\.(((?:[_.[:digit:]]*|[_\[\]aAbBcCdDeEfF[:digit:]]*))\.)`},
	{"listener_address", `^listener\.(((?:[_.[:digit:]]*|[_\[\]aAbBcCdDeEfF[:digit:]]*))\.)`},
	{"mongo_prefix", `^mongo\.(.+?)\.(collection|cmd|cx_|op_|delays_|decoding_)(.*?)$`},
	{"reporter", `(reporter=\.=(.*?);\.;)`},
	{"source_namespace", `(source_namespace=\.=(.*?);\.;)`},
	{"source_workload", `(source_workload=\.=(.*?);\.;)`},
	{"source_workload_namespace", `(source_workload_namespace=\.=(.*?);\.;)`},
	{"source_principal", `(source_principal=\.=(.*?);\.;)`},
	{"source_app", `(source_app=\.=(.*?);\.;)`},
	{"source_version", `(source_version=\.=(.*?);\.;)`},
	{"source_cluster", `(source_cluster=\.=(.*?);\.;)`},
	{"destination_namespace", `(destination_namespace=\.=(.*?);\.;)`},
	{"destination_workload", `(destination_workload=\.=(.*?);\.;)`},
	{"destination_workload_namespace", `(destination_workload_namespace=\.=(.*?);\.;)`},
	{"destination_principal", `(destination_principal=\.=(.*?);\.;)`},
	{"destination_app", `(destination_app=\.=(.*?);\.;)`},
	{"destination_version", `(destination_version=\.=(.*?);\.;)`},
	{"destination_service", `(destination_service=\.=(.*?);\.;)`},
	{"destination_service_name", `(destination_service_name=\.=(.*?);\.;)`},
	{"destination_service_namespace", `(destination_service_namespace=\.=(.*?);\.;)`},
	{"destination_port", `(destination_port=\.=(.*?);\.;)`},
	{"destination_cluster", `(destination_cluster=\.=(.*?);\.;)`},
	{"request_protocol", `(request_protocol=\.=(.*?);\.;)`},
	{"request_operation", `(request_operation=\.=(.*?);\.;)`},
	{"request_host", `(request_host=\.=(.*?);\.;)`},
	{"response_flags", `(response_flags=\.=(.*?);\.;)`},
	{"grpc_response_status", `(grpc_response_status=\.=(.*?);\.;)`},
	{"connection_security_policy", `(connection_security_policy=\.=(.*?);\.;)`},
	{"source_canonical_service", `(source_canonical_service=\.=(.*?);\.;)`},
	{"destination_canonical_service", `(destination_canonical_service=\.=(.*?);\.;)`},
	{"source_canonical_revision", `(source_canonical_revision=\.=(.*?);\.;)`},
	{"destination_canonical_revision", `(destination_canonical_revision=\.=(.*?);\.;)`},
	{"cache", `(cache\.(.+?)\.)`},
	{"component", `(component\.(.+?)\.)`},
	{"tag", `(tag\.(.+?);\.)`},
	{"wasm_filter", `(wasm_filter\.(.+?)\.)`},
	{"authz_enforce_result", `rbac(\.(allowed|denied))`},
	{"authz_dry_run_action", `(\.istio_dry_run_(allow|deny)_)`},
	{"authz_dry_run_result", `(\.shadow_(allowed|denied))`},
}

func (m *mesh) bootstrapDump(j *jw) error {
	s := m.proxySvc
	j.obj()
	j.ktype("envoy.admin.v3.BootstrapConfigDump")
	j.ko("bootstrap")

	j.ko("node")
	j.ks("id", "sidecar~"+m.proxyIP+"~"+m.podName+"."+s.ns+"~"+s.ns+".svc.cluster.local")
	j.ks("cluster", s.name+"."+s.ns)
	j.ko("metadata")
	m.nodeMetadata(j)
	j.end()
	j.ko("locality")
	j.ks("region", localities[0].region)
	j.ks("zone", localities[0].zone)
	j.end()
	j.ks("user_agent_name", "envoy")
	j.ko("user_agent_build_version")
	j.ko("version")
	j.kn("major_number", envoyMajor)
	j.kn("minor_number", envoyMinor)
	j.kn("patch", envoyPatch)
	j.end()
	j.ko("metadata")
	j.ks("build.label", "dev")
	j.ks("build.type", "RELEASE")
	j.ks("revision.sha", proxySHA)
	j.ks("revision.status", "Clean")
	j.ks("ssl.version", "BoringSSL")
	j.end()
	j.end()
	j.ka("extensions")
	for _, c := range extensions {
		for _, name := range strings.Fields(c.names) {
			j.obj()
			j.ks("name", name)
			j.ks("category", c.category)
			j.end()
		}
	}
	j.end()
	j.kstrs("client_features", "envoy.lb.does_not_support_overprovisioning",
		"envoy.lrs.supports_send_all_clusters", "envoy.config.require-any-fields-contain-struct")
	j.end() // node

	j.ko("static_resources")
	j.ka("listeners")
	prometheusListener(j)
	healthListener(j)
	j.end()
	j.ka("clusters")
	for _, c := range staticClusters {
		c.write(j)
	}
	j.end()
	j.end()

	j.ko("dynamic_resources")
	adsSource(j, "lds_config")
	adsSource(j, "cds_config")
	grpcConfigSource(j, "ads_config", "xds-grpc")
	j.end()

	j.ko("cluster_manager")
	j.ko("outlier_detection")
	j.end()
	j.end()

	j.ko("tracing")
	j.ko("http")
	j.ks("name", "envoy.tracers.zipkin")
	j.ko("typed_config")
	j.ktype("envoy.config.trace.v3.ZipkinConfig")
	j.ks("collector_cluster", "zipkin")
	j.ks("collector_endpoint", "/api/v2/spans")
	j.kb("trace_id_128bit", true)
	j.kb("shared_span_context", false)
	j.ks("collector_endpoint_version", "HTTP_JSON")
	j.end()
	j.end()
	j.end()

	j.ko("admin")
	socketAddress(j, "address", "127.0.0.1", 15000)
	j.ks("profile_path", "/var/lib/istio/data/envoy.prof")
	j.end()

	j.ko("stats_config")
	j.ka("stats_tags")
	for _, t := range statsTags {
		j.obj()
		j.ks("tag_name", t[0])
		j.ks("regex", t[1])
		j.end()
	}
	j.end()
	j.kb("use_all_default_tags", false)
	j.ko("stats_matcher")
	j.ko("inclusion_list")
	j.ka("patterns")
	for _, p := range []string{"reporter=", "cluster_manager", "listener_manager", "server", "cluster.xds-grpc", "wasm", "component"} {
		j.obj()
		j.ks("prefix", p)
		j.end()
	}
	for _, p := range []string{"rbac.allowed", "rbac.denied", "shadow_allowed", "shadow_denied", "downstream_cx_active"} {
		j.obj()
		j.ks("suffix", p)
		j.end()
	}
	j.end()
	j.end()
	j.end()
	j.end()

	j.ko("layered_runtime")
	j.ka("layers")
	j.obj()
	j.ks("name", "global config")
	j.ko("static_layer")
	j.ks("envoy.deprecated_features:envoy.config.listener.v3.Listener.hidden_envoy_deprecated_use_original_dst", "true")
	j.ks("envoy.reloadable_features.http_reject_path_with_fragment", "false")
	j.ks("overload.global_downstream_max_connections", "2147483647")
	j.ks("re2.max_program_size.error_level", "32768")
	j.end()
	j.end()
	j.obj()
	j.ks("name", "admin")
	j.kempty("admin_layer")
	j.end()
	j.end()
	j.end()
	j.ka("bootstrap_extensions")
	j.obj()
	j.ks("name", "envoy.bootstrap.internal_listener")
	j.ko("typed_config")
	j.ktype("udpa.type.v1.TypedStruct")
	j.ks("type_url", typeURLPrefix+"envoy.extensions.bootstrap.internal_listener.v3.InternalListener")
	j.ko("value")
	j.kn("buffer_size_kb", 64)
	j.end()
	j.end()
	j.end()
	j.end()

	j.end() // bootstrap
	j.ks("last_updated", m.stamps[0])
	j.end()
	return j.failed()
}

// nodeMetadata writes the members of node.metadata (a Struct).
func (m *mesh) nodeMetadata(j *jw) {
	s := m.proxySvc
	j.ko("ANNOTATIONS")
	j.ks("istio.io/rev", "default")
	j.ks("kubectl.kubernetes.io/default-container", s.name)
	j.ks("kubectl.kubernetes.io/default-logs-container", s.name)
	j.ks("kubernetes.io/config.seen", m.podSeen)
	j.ks("kubernetes.io/config.source", "api")
	j.ks("prometheus.io/path", "/stats/prometheus")
	j.ks("prometheus.io/port", "15020")
	j.ks("prometheus.io/scrape", "true")
	j.ks("sidecar.istio.io/status", `{"initContainers":["istio-init"],"containers":["istio-proxy"],"volumes":["workload-socket","credential-socket","workload-certs","istio-envoy","istio-data","istio-podinfo","istio-token","istiod-ca-cert"],"imagePullSecrets":null,"revision":"default"}`)
	j.end()
	j.ks("APP_CONTAINERS", s.name)
	j.ks("CLUSTER_ID", "Kubernetes")
	j.ks("ENVOY_PROMETHEUS_PORT", "15090")
	j.ks("ENVOY_STATUS_PORT", "15021")
	j.ks("INSTANCE_IPS", m.proxyIP)
	j.ks("INTERCEPTION_MODE", "REDIRECT")
	j.ks("ISTIO_PROXY_SHA", proxySHA)
	j.ks("ISTIO_VERSION", istioVersion)
	j.ko("LABELS")
	j.ks("app", s.name)
	j.ks("security.istio.io/tlsMode", "istio")
	j.ks("service.istio.io/canonical-name", s.name)
	j.ks("service.istio.io/canonical-revision", "v1")
	j.ks("version", "v1")
	j.end()
	j.ks("MESH_ID", "cluster.local")
	j.ks("NAME", m.podName)
	j.ks("NAMESPACE", s.ns)
	j.ks("NODE_NAME", "gke-prod-default-pool-7c9e0f1d-"+m.podName[len(m.podName)-4:])
	j.ks("OWNER", "kubernetes://apis/apps/v1/namespaces/"+s.ns+"/deployments/"+s.name+"-v1")
	j.ks("PILOT_SAN", "istiod.istio-system.svc")
	j.ko("PLATFORM_METADATA")
	j.end()
	j.ks("POD_PORTS", `[{"name":"http","containerPort":9080,"protocol":"TCP"}]`)
	j.ko("PROXY_CONFIG")
	j.ks("binaryPath", "/usr/local/bin/envoy")
	j.ks("configPath", "./etc/istio/proxy")
	j.ks("controlPlaneAuthPolicy", "MUTUAL_TLS")
	j.ks("discoveryAddress", "istiod.istio-system.svc:15012")
	j.ks("drainDuration", "45s")
	j.kn("proxyAdminPort", 15000)
	j.ks("serviceCluster", "istio-proxy")
	j.kn("statNameLength", 189)
	j.kn("statusPort", 15020)
	j.ko("tracing")
	j.ko("zipkin")
	j.ks("address", "zipkin.istio-system:9411")
	j.end()
	j.end()
	j.end()
	j.ks("SERVICE_ACCOUNT", s.sa)
	j.ks("WORKLOAD_NAME", s.name+"-v1")
}
