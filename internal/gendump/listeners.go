package gendump

import "strconv"

// adminHTTPListener is one of the two static listeners of the bootstrap:
// Prometheus stats on 15090 and the readiness probe on 15021.
func adminHTTPListener(j *jw, typed bool, port int, statPrefix, prefix, cluster string) {
	j.obj()
	if typed {
		j.ktype("envoy.config.listener.v3.Listener")
	}
	socketAddress(j, "address", "0.0.0.0", port)
	j.ka("filter_chains")
	j.obj()
	j.ka("filters")
	j.obj()
	j.ks("name", "envoy.filters.network.http_connection_manager")
	j.ko("typed_config")
	j.ktype("envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager")
	j.ks("stat_prefix", statPrefix)
	j.ko("route_config")
	j.ka("virtual_hosts")
	j.obj()
	j.ks("name", "backend")
	j.kstrs("domains", "*")
	j.ka("routes")
	j.obj()
	j.ko("match")
	j.ks("prefix", prefix)
	j.end()
	j.ko("route")
	j.ks("cluster", cluster)
	j.end()
	j.end()
	j.end()
	j.end()
	j.end()
	j.end()
	j.ka("http_filters")
	typedFilter(j, "envoy.filters.http.router", "envoy.extensions.filters.http.router.v3.Router")
	j.end()
	j.end()
	j.end()
	j.end()
	j.end()
	j.end()
	j.end()
}

func prometheusListener(j *jw) {
	adminHTTPListener(j, false, 15090, "stats", "/stats/prometheus", "prometheus_stats")
}

func healthListener(j *jw) {
	adminHTTPListener(j, false, 15021, "agent", "/healthz/ready", "agent")
}

func (m *mesh) listenersDump(j *jw) error {
	j.obj()
	j.ktype("envoy.admin.v3.ListenersConfigDump")
	j.ks("version_info", m.version)
	j.ka("static_listeners")
	for i, l := range []struct {
		port                      int
		stat, prefix, clusterName string
	}{{15090, "stats", "/stats/prometheus", "prometheus_stats"}, {15021, "agent", "/healthz/ready", "agent"}} {
		j.obj()
		j.key("listener")
		adminHTTPListener(j, true, l.port, l.stat, l.prefix, l.clusterName)
		j.ks("last_updated", m.stamp(i))
		j.end()
	}
	j.end()

	j.ka("dynamic_listeners")
	n := 0
	dyn := func(name string, body func()) {
		j.obj()
		j.ks("name", name)
		j.ko("active_state")
		j.ks("version_info", m.version)
		j.ko("listener")
		j.ktype("envoy.config.listener.v3.Listener")
		j.ks("name", name)
		body()
		j.end()
		j.ks("last_updated", m.stamp(n))
		j.end()
		j.end()
		n++
	}

	// Outbound TCP services get one listener per VIP and port.
	for i := range m.services {
		s := &m.services[i]
		if s.external {
			continue
		}
		for _, p := range s.ports {
			if p.proto.http() {
				continue
			}
			name := s.ip + "_" + strconv.Itoa(p.num)
			cluster := clusterName("outbound", p.num, "", s.host)
			dyn(name, func() {
				socketAddress(j, "address", s.ip, p.num)
				j.ka("filter_chains")
				j.obj()
				j.ka("filters")
				typedFilter(j, "istio.stats", "stats.PluginConfig")
				if m.changed(name) {
					tcpProxyFilter(j, cluster+"_changed", cluster)
				} else {
					tcpProxyFilter(j, cluster, cluster)
				}
				j.end()
				j.end()
				j.end()
				j.ks("traffic_direction", "OUTBOUND")
				j.kb("bind_to_port", false)
			})
		}
		if i%128 == 0 {
			if err := j.failed(); err != nil {
				return err
			}
		}
	}

	// External TLS services share 0.0.0.0_443, one SNI-matched chain each.
	var external []*service
	for i := range m.services {
		if s := &m.services[i]; s.external && !s.ports[0].proto.http() {
			external = append(external, s)
		}
	}
	if len(external) > 0 {
		dyn("0.0.0.0_443", func() {
			socketAddress(j, "address", "0.0.0.0", 443)
			j.ka("filter_chains")
			for _, s := range external {
				cluster := clusterName("outbound", 443, "", s.host)
				j.obj()
				j.ko("filter_chain_match")
				j.kstrs("server_names", s.host)
				j.end()
				j.ka("filters")
				typedFilter(j, "istio.stats", "stats.PluginConfig")
				tcpProxyFilter(j, cluster, cluster)
				j.end()
				j.end()
			}
			j.end()
			listenerFilters(j, false)
			j.ks("traffic_direction", "OUTBOUND")
			passthroughDefaultChain(j)
			j.kb("bind_to_port", false)
		})
	}

	// Outbound HTTP: one 0.0.0.0_PORT listener per port, routes by RDS.
	for _, port := range m.httpPorts {
		dyn("0.0.0.0_"+strconv.Itoa(port), func() {
			socketAddress(j, "address", "0.0.0.0", port)
			j.ka("filter_chains")
			j.obj()
			j.ko("filter_chain_match")
			j.ks("transport_protocol", "raw_buffer")
			j.kstrs("application_protocols", "http/1.1", "h2c")
			j.end()
			j.ka("filters")
			m.outboundHCM(j, port)
			j.end()
			j.end()
			j.end()
			listenerFilters(j, false)
			j.ks("listener_filters_timeout", "0s")
			j.ks("traffic_direction", "OUTBOUND")
			j.kb("continue_on_listener_filters_timeout", true)
			passthroughDefaultChain(j)
			j.kb("bind_to_port", false)
		})
	}

	dyn("virtualOutbound", func() {
		socketAddress(j, "address", "0.0.0.0", 15001)
		j.ka("filter_chains")
		chain := func(name, cluster string, port int64) {
			j.obj()
			if port != 0 {
				j.ko("filter_chain_match")
				j.kn("destination_port", port)
				j.end()
			}
			j.ka("filters")
			typedFilter(j, "istio.stats", "stats.PluginConfig")
			tcpProxyFilter(j, cluster, cluster)
			j.end()
			j.ks("name", name)
			j.end()
		}
		chain("virtualOutbound-blackhole", "BlackHoleCluster", 15001)
		chain("virtualOutbound-catchall-tcp", "PassthroughCluster", 0)
		j.end()
		j.kb("use_original_dst", true)
		j.ks("traffic_direction", "OUTBOUND")
	})

	dyn("virtualInbound", func() { m.virtualInbound(j) })

	dyn("connect_originate", func() {
		j.ka("filter_chains")
		j.obj()
		j.ka("filters")
		j.obj()
		j.ks("name", "envoy.filters.network.tcp_proxy")
		j.ko("typed_config")
		j.ktype("envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy")
		j.ks("stat_prefix", "connect_originate")
		j.ks("cluster", "connect_originate")
		j.ko("tunneling_config")
		j.ks("hostname", "%DOWNSTREAM_LOCAL_ADDRESS%")
		j.end()
		j.end()
		j.end()
		j.end()
		j.end()
		j.end()
		j.kb("use_original_dst", false)
		j.ka("listener_filters")
		j.obj()
		j.ks("name", "set_dst_address")
		j.ko("typed_config")
		j.ktype("udpa.type.v1.TypedStruct")
		j.ks("type_url", typeURLPrefix+"istio.set_internal_dst_address.v1.Config")
		j.end()
		j.end()
		j.end()
		j.kempty("internal_listener")
	})

	j.end()
	j.end()
	return j.failed()
}

// listenerFilters writes the sniffing listener filters of outbound listeners.
func listenerFilters(j *jw, originalDst bool) {
	j.ka("listener_filters")
	if originalDst {
		typedFilter(j, "envoy.filters.listener.original_dst", "envoy.extensions.filters.listener.original_dst.v3.OriginalDst")
	}
	typedFilter(j, "envoy.filters.listener.tls_inspector", "envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector")
	typedFilter(j, "envoy.filters.listener.http_inspector", "envoy.extensions.filters.listener.http_inspector.v3.HttpInspector")
	j.end()
}

func passthroughDefaultChain(j *jw) {
	j.ko("default_filter_chain")
	j.kempty("filter_chain_match")
	j.ka("filters")
	typedFilter(j, "istio.stats", "stats.PluginConfig")
	tcpProxyFilter(j, "PassthroughCluster", "PassthroughCluster")
	j.end()
	j.ks("name", "PassthroughFilterChain")
	j.end()
}

// outboundHCM writes the HTTP connection manager of 0.0.0.0_PORT.
func (m *mesh) outboundHCM(j *jw, port int) {
	p := strconv.Itoa(port)
	j.obj()
	j.ks("name", "envoy.filters.network.http_connection_manager")
	j.ko("typed_config")
	j.ktype("envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager")
	j.ks("stat_prefix", "outbound_0.0.0.0_"+p)
	j.ko("rds")
	adsSource(j, "config_source")
	j.ks("route_config_name", p)
	j.end()
	j.ka("http_filters")
	j.obj()
	j.ks("name", "istio.metadata_exchange")
	j.ko("typed_config")
	j.ktype("io.istio.http.peer_metadata.Config")
	j.ka("upstream_discovery")
	j.obj()
	j.kempty("istio_headers")
	j.end()
	j.obj()
	j.kempty("workload_discovery")
	j.end()
	j.end()
	j.ka("upstream_propagation")
	j.obj()
	j.kempty("istio_headers")
	j.end()
	j.end()
	j.end()
	j.end()
	grpcStatsFilter(j)
	j.obj()
	j.ks("name", "istio.alpn")
	j.ko("typed_config")
	j.ktype("istio.envoy.config.filter.http.alpn.v2alpha1.FilterConfig")
	j.ka("alpn_override")
	for _, o := range alpnOverrides {
		j.obj()
		if o.proto != "" {
			j.ks("upstream_protocol", o.proto)
		}
		j.kstrs("alpn_override", o.istio, "istio", o.plain)
		j.end()
	}
	j.end()
	j.end()
	j.end()
	typedFilter(j, "envoy.filters.http.fault", "envoy.extensions.filters.http.fault.v3.HTTPFault")
	typedFilter(j, "envoy.filters.http.cors", "envoy.extensions.filters.http.cors.v3.Cors")
	typedFilter(j, "istio.stats", "stats.PluginConfig")
	typedFilter(j, "envoy.filters.http.router", "envoy.extensions.filters.http.router.v3.Router")
	j.end()
	m.tracing(j)
	accessLog(j)
	j.kb("use_remote_address", false)
	m.hcmTail(j)
	j.end()
	j.end()
}

var alpnOverrides = []struct{ proto, istio, plain string }{
	{"", "istio-http/1.0", "http/1.0"},
	{"HTTP11", "istio-http/1.1", "http/1.1"},
	{"HTTP2", "istio-h2", "h2"},
}

func grpcStatsFilter(j *jw) {
	j.obj()
	j.ks("name", "envoy.filters.http.grpc_stats")
	j.ko("typed_config")
	j.ktype("envoy.extensions.filters.http.grpc_stats.v3.FilterConfig")
	j.kb("emit_filter_state", true)
	j.kb("stats_for_all_methods", false)
	j.end()
	j.end()
}

func (m *mesh) hcmTail(j *jw) {
	j.ka("upgrade_configs")
	j.obj()
	j.ks("upgrade_type", "websocket")
	j.end()
	j.end()
	j.ks("stream_idle_timeout", "0s")
	j.kb("normalize_path", true)
	j.ko("request_id_extension")
	j.ko("typed_config")
	j.ktype("envoy.extensions.request_id.uuid.v3.UuidRequestIdConfig")
	j.kb("use_request_id_for_trace_sampling", true)
	j.end()
	j.end()
	j.ks("path_with_escaped_slashes_action", "KEEP_UNCHANGED")
}

func (m *mesh) tracing(j *jw) {
	j.ko("tracing")
	j.ko("client_sampling")
	j.kn("value", 100)
	j.end()
	j.ko("random_sampling")
	j.kn("value", 1)
	j.end()
	j.ko("overall_sampling")
	j.kn("value", 100)
	j.end()
	j.ka("custom_tags")
	for _, t := range []struct{ tag, key string }{
		{"istio.authorization.dry_run.allow_policy.name", "istio_dry_run_allow_shadow_effective_policy_id"},
		{"istio.authorization.dry_run.allow_policy.result", "istio_dry_run_allow_shadow_engine_result"},
		{"istio.authorization.dry_run.deny_policy.name", "istio_dry_run_deny_shadow_effective_policy_id"},
		{"istio.authorization.dry_run.deny_policy.result", "istio_dry_run_deny_shadow_engine_result"},
	} {
		j.obj()
		j.ks("tag", t.tag)
		j.ko("metadata")
		j.ko("kind")
		j.kempty("request")
		j.end()
		j.ko("metadata_key")
		j.ks("key", "envoy.filters.http.rbac")
		j.ka("path")
		j.obj()
		j.ks("key", t.key)
		j.end()
		j.end()
		j.end()
		j.end()
		j.end()
	}
	for _, t := range [][2]string{
		{"istio.canonical_revision", "v1"}, {"istio.canonical_service", m.proxySvc.name},
		{"istio.mesh_id", "cluster.local"}, {"istio.namespace", m.proxySvc.ns},
	} {
		j.obj()
		j.ks("tag", t[0])
		j.ko("literal")
		j.ks("value", t[1])
		j.end()
		j.end()
	}
	j.end()
	j.end()
}

// virtualInbound writes the body of the 0.0.0.0_15006 listener.
func (m *mesh) virtualInbound(j *jw) {
	socketAddress(j, "address", "0.0.0.0", 15006)
	j.ka("filter_chains")

	j.obj()
	j.ko("filter_chain_match")
	j.kn("destination_port", 15006)
	j.end()
	j.ka("filters")
	metadataExchangeFilter(j)
	typedFilter(j, "istio.stats", "stats.PluginConfig")
	tcpProxyFilter(j, "BlackHoleCluster", "BlackHoleCluster")
	j.end()
	j.ks("name", "virtualInbound-blackhole")
	j.end()

	catchall := svcPort{num: 0, proto: protoHTTP}
	m.inboundChains(j, catchall, "InboundPassthroughClusterIpv4", "virtualInbound-catchall-http", "virtualInbound")
	for _, p := range m.inbound {
		name := clusterName("inbound", p.num, "", "")
		m.inboundChains(j, p, name, name, name)
	}
	j.end()

	j.ka("listener_filters")
	typedFilter(j, "envoy.filters.listener.original_dst", "envoy.extensions.filters.listener.original_dst.v3.OriginalDst")
	j.obj()
	j.ks("name", "envoy.filters.listener.tls_inspector")
	j.ko("typed_config")
	j.ktype("envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector")
	j.end()
	j.ko("filter_disabled")
	j.ko("destination_port_range")
	j.kn("start", 15006)
	j.kn("end", 15007)
	j.end()
	j.end()
	j.end()
	j.obj()
	j.ks("name", "envoy.filters.listener.http_inspector")
	j.ko("typed_config")
	j.ktype("envoy.extensions.filters.listener.http_inspector.v3.HttpInspector")
	j.end()
	j.ko("filter_disabled")
	j.ko("or_match")
	j.ka("rules")
	for _, p := range m.inbound {
		if p.proto.http() {
			continue
		}
		j.obj()
		j.ko("destination_port_range")
		j.kn("start", int64(p.num))
		j.kn("end", int64(p.num+1))
		j.end()
		j.end()
	}
	j.obj()
	j.ko("destination_port_range")
	j.kn("start", 15006)
	j.kn("end", 15007)
	j.end()
	j.end()
	j.end()
	j.end()
	j.end()
	j.end()
	j.end()
	j.ks("listener_filters_timeout", "0s")
	j.ks("traffic_direction", "INBOUND")
	j.kb("continue_on_listener_filters_timeout", true)
}

// inboundChains writes the filter chains virtualInbound has for one port
// (p.num 0: the catch-all chains): mTLS and plaintext, HTTP and TCP.
func (m *mesh) inboundChains(j *jw, p svcPort, cluster, httpName, tcpName string) {
	type chain struct {
		tls  bool
		http bool
		alpn []string
	}
	var chains []chain
	if p.proto.http() {
		chains = append(chains,
			chain{true, true, []string{"istio-http/1.0", "istio-http/1.1", "istio-h2"}},
			chain{false, true, []string{"http/1.1", "h2c"}})
	}
	chains = append(chains, chain{true, false, []string{"istio-peer-exchange", "istio"}}, chain{false, false, nil})
	if p.num == 0 { // catch-all also accepts TLS that is not Istio mTLS
		chains = append(chains, chain{tls: true})
	}
	for _, c := range chains {
		j.obj()
		j.ko("filter_chain_match")
		if p.num != 0 {
			j.kn("destination_port", int64(p.num))
		} else {
			j.ka("prefix_ranges")
			j.obj()
			j.ks("address_prefix", "0.0.0.0")
			j.kn("prefix_len", 0)
			j.end()
			j.end()
		}
		if c.tls {
			j.ks("transport_protocol", "tls")
		} else {
			j.ks("transport_protocol", "raw_buffer")
		}
		if len(c.alpn) > 0 {
			j.kstrs("application_protocols", c.alpn...)
		}
		j.end()
		j.ka("filters")
		j.obj()
		j.ks("name", "istio_authn")
		j.ko("typed_config")
		j.ktype("udpa.type.v1.TypedStruct")
		j.ks("type_url", typeURLPrefix+"io.istio.network.authn.Config")
		j.end()
		j.end()
		metadataExchangeFilter(j)
		if c.http {
			m.inboundHCM(j, p, cluster)
		} else {
			typedFilter(j, "istio.stats", "stats.PluginConfig")
			tcpProxyFilter(j, cluster, cluster)
		}
		j.end()
		if c.tls && len(c.alpn) > 0 {
			downstreamTLS(j, c.http)
		}
		if c.http {
			j.ks("name", httpName)
		} else {
			j.ks("name", tcpName)
		}
		j.end()
	}
}

func downstreamTLS(j *jw, http bool) {
	j.ko("transport_socket")
	j.ks("name", "envoy.transport_sockets.tls")
	j.ko("typed_config")
	j.ktype("envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext")
	j.ko("common_tls_context")
	tlsParams(j, true)
	if http {
		j.kstrs("alpn_protocols", "h2", "http/1.1")
	} else {
		j.kstrs("alpn_protocols", "istio-peer-exchange", "h2", "http/1.1")
	}
	j.ka("tls_certificate_sds_secret_configs")
	sdsSecretConfig(j, "default")
	j.end()
	j.ko("combined_validation_context")
	j.ko("default_validation_context")
	j.ka("match_subject_alt_names")
	j.obj()
	j.ks("prefix", "spiffe://cluster.local/")
	j.end()
	j.end()
	j.end()
	j.key("validation_context_sds_secret_config")
	sdsSecretConfig(j, "ROOTCA")
	j.end()
	j.end()
	j.kb("require_client_certificate", true)
	j.end()
	j.end()
}

// inboundRoutes writes the members of the route configuration of an inbound HTTP port, whose
// one route goes to cluster: inline in the inbound listener, and in the RDS section.
func (m *mesh) inboundRoutes(j *jw, p svcPort, cluster string) {
	j.ks("name", cluster)
	j.ka("virtual_hosts")
	j.obj()
	j.ks("name", "inbound|http|"+strconv.Itoa(p.num))
	j.kstrs("domains", "*")
	j.ka("routes")
	j.obj()
	j.ko("match")
	j.ks("prefix", "/")
	j.end()
	j.ko("route")
	j.ks("cluster", cluster)
	j.ks("timeout", "0s")
	maxStreamDuration(j)
	j.end()
	j.ko("decorator")
	j.ks("operation", m.proxySvc.host+":"+strconv.Itoa(p.num)+"/*")
	j.end()
	j.ks("name", "default")
	j.end()
	j.end()
	j.end()
	j.end()
	j.kb("validate_clusters", false)
}

func (m *mesh) inboundHCM(j *jw, p svcPort, cluster string) {
	j.obj()
	j.ks("name", "envoy.filters.network.http_connection_manager")
	j.ko("typed_config")
	j.ktype("envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager")
	if p.num == 0 {
		j.ks("stat_prefix", cluster)
	} else {
		j.ks("stat_prefix", "inbound_0.0.0.0_"+strconv.Itoa(p.num))
	}
	j.ko("route_config")
	m.inboundRoutes(j, p, cluster)
	j.end()
	j.ka("http_filters")
	j.obj()
	j.ks("name", "istio.metadata_exchange")
	j.ko("typed_config")
	j.ktype("udpa.type.v1.TypedStruct")
	j.ks("type_url", typeURLPrefix+"io.istio.http.peer_metadata.Config")
	j.ko("value")
	j.ka("downstream_discovery")
	j.obj()
	j.kempty("istio_headers")
	j.end()
	j.obj()
	j.kempty("workload_discovery")
	j.end()
	j.end()
	j.ka("downstream_propagation")
	j.obj()
	j.kempty("istio_headers")
	j.end()
	j.end()
	j.end()
	j.end()
	j.end()
	grpcStatsFilter(j)
	typedFilter(j, "envoy.filters.http.fault", "envoy.extensions.filters.http.fault.v3.HTTPFault")
	typedFilter(j, "envoy.filters.http.cors", "envoy.extensions.filters.http.cors.v3.Cors")
	j.obj()
	j.ks("name", "istio.stats")
	j.ko("typed_config")
	j.ktype("udpa.type.v1.TypedStruct")
	j.ks("type_url", typeURLPrefix+"stats.PluginConfig")
	j.ko("value")
	j.kb("disable_host_header_fallback", true)
	j.end()
	j.end()
	j.end()
	typedFilter(j, "envoy.filters.http.router", "envoy.extensions.filters.http.router.v3.Router")
	j.end()
	m.tracing(j)
	accessLog(j)
	j.ks("server_name", "istio-envoy")
	j.kb("use_remote_address", false)
	j.ks("forward_client_cert_details", "APPEND_FORWARD")
	j.ko("set_current_client_cert_details")
	j.kb("subject", true)
	j.kb("dns", true)
	j.kb("uri", true)
	j.end()
	m.hcmTail(j)
	j.end()
	j.end()
}

func maxStreamDuration(j *jw) {
	j.ko("max_stream_duration")
	j.ks("max_stream_duration", "0s")
	j.ks("grpc_timeout_header_max", "0s")
	j.end()
}
