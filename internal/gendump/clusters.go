package gendump

import "strconv"

// staticCluster is one of the clusters istio-agent writes into the bootstrap.
type staticCluster struct {
	name, typ, timeout string
	addr               string // host or IP; empty when pipe is set
	port               int
	pipe               string
	http2              bool
	xds                bool
}

var staticClusters = []staticCluster{
	{name: "prometheus_stats", typ: "STATIC", timeout: "0.250s", addr: "127.0.0.1", port: 15000},
	{name: "agent", typ: "STATIC", timeout: "0.250s", addr: "127.0.0.1", port: 15020},
	{name: "sds-grpc", typ: "STATIC", timeout: "1s", pipe: "./var/run/secrets/workload-spiffe-uds/socket", http2: true},
	{name: "xds-grpc", typ: "STATIC", timeout: "1s", pipe: "./etc/istio/proxy/XDS", http2: true, xds: true},
	{name: "zipkin", typ: "STRICT_DNS", timeout: "1s", addr: "zipkin.istio-system", port: 9411},
}

func (c staticCluster) write(j *jw) { c.writeTyped(j, false) }

func (c staticCluster) writeTyped(j *jw, typed bool) {
	j.obj()
	if typed {
		j.ktype("envoy.config.cluster.v3.Cluster")
	}
	j.ks("name", c.name)
	j.ks("type", c.typ)
	j.ks("connect_timeout", c.timeout)
	if c.typ == "STRICT_DNS" {
		j.ks("dns_refresh_rate", "30s")
		j.kb("respect_dns_ttl", true)
		j.ks("dns_lookup_family", "V4_ONLY")
	}
	if c.xds {
		j.ko("circuit_breakers")
		j.ka("thresholds")
		for _, prio := range []string{"DEFAULT", "HIGH"} {
			j.obj()
			j.ks("priority", prio)
			j.kn("max_connections", 100000)
			j.kn("max_pending_requests", 100000)
			j.kn("max_requests", 100000)
			j.end()
		}
		j.end()
		j.end()
		j.ko("upstream_connection_options")
		j.ko("tcp_keepalive")
		j.kn("keepalive_time", 300)
		j.end()
		j.end()
		j.kn("max_requests_per_connection", 1)
	}
	j.ko("load_assignment")
	j.ks("cluster_name", c.name)
	j.ka("endpoints")
	j.obj()
	j.ka("lb_endpoints")
	j.obj()
	j.ko("endpoint")
	c.address(j)
	j.end()
	j.end()
	j.end()
	j.end()
	j.end()
	j.end()
	if c.http2 {
		j.ko("typed_extension_protocol_options")
		j.ko("envoy.extensions.upstreams.http.v3.HttpProtocolOptions")
		j.ktype("envoy.extensions.upstreams.http.v3.HttpProtocolOptions")
		j.ko("explicit_http_config")
		j.ko("http2_protocol_options")
		if c.xds {
			j.ko("connection_keepalive")
			j.ks("interval", "30s")
			j.ks("timeout", "10s")
			j.end()
		}
		j.end()
		j.end()
		j.end()
		j.end()
	}
	j.end()
}

func (c staticCluster) address(j *jw) {
	if c.pipe != "" {
		j.ko("address")
		j.ko("pipe")
		j.ks("path", c.pipe)
		j.end()
		j.end()
		return
	}
	socketAddress(j, "address", c.addr, c.port)
}

// outboundCluster is one EDS (or DNS) cluster of a service port, with or
// without a subset.
type outboundCluster struct {
	s      *service
	p      svcPort
	subset string
}

func (c outboundCluster) name() string { return clusterName("outbound", c.p.num, c.subset, c.s.host) }

// forEachOutbound calls f for every outbound cluster, in dump order, and stops at the first
// failed write to j (checked every 256 clusters: a mesh has tens of thousands).
func (m *mesh) forEachOutbound(j *jw, f func(c outboundCluster)) error {
	n := 0
	each := func(c outboundCluster) error {
		f(c)
		if n++; n%256 == 0 {
			return j.failed()
		}
		return nil
	}
	for i := range m.services {
		s := &m.services[i]
		for _, p := range s.ports {
			if err := each(outboundCluster{s, p, ""}); err != nil {
				return err
			}
			for _, sub := range s.subsets {
				if err := each(outboundCluster{s, p, sub}); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (s *service) drPath() string {
	return "/apis/networking.istio.io/v1alpha3/namespaces/" + s.ns + "/destination-rule/" + s.name
}

func (s *service) vsPath() string {
	return "/apis/networking.istio.io/v1alpha3/namespaces/" + s.ns + "/virtual-service/" + s.name
}

func (m *mesh) clustersDump(j *jw) error {
	j.obj()
	j.ktype("envoy.admin.v3.ClustersConfigDump")
	j.ks("version_info", m.version)
	j.ka("static_clusters")
	for i, c := range staticClusters {
		j.obj()
		j.key("cluster")
		c.writeTyped(j, true)
		j.ks("last_updated", m.stamp(i))
		j.end()
	}
	j.end()

	j.ka("dynamic_active_clusters")
	n := 0
	dyn := func(body func()) {
		j.obj()
		j.ks("version_info", m.version)
		j.ko("cluster")
		j.ktype("envoy.config.cluster.v3.Cluster")
		body()
		j.end()
		j.ks("last_updated", m.stamp(n))
		j.end()
		n++
	}
	dyn(func() {
		j.ks("name", "BlackHoleCluster")
		j.ks("type", "STATIC")
		j.ks("connect_timeout", "10s")
	})
	dyn(func() { m.passthroughCluster(j, "PassthroughCluster", false) })
	dyn(func() { m.passthroughCluster(j, "InboundPassthroughClusterIpv4", true) })
	for _, p := range m.inbound {
		dyn(func() { m.inboundCluster(j, p) })
	}
	err := m.forEachOutbound(j, func(c outboundCluster) {
		dyn(func() { m.outboundCluster(j, c) })
	})
	if err != nil {
		return err
	}
	j.end()
	j.end()
	return j.failed()
}

func httpProtocolOptions(j *jw, kind string) {
	j.ko("typed_extension_protocol_options")
	j.ko("envoy.extensions.upstreams.http.v3.HttpProtocolOptions")
	j.ktype("envoy.extensions.upstreams.http.v3.HttpProtocolOptions")
	switch kind {
	case "downstream":
		j.ko("use_downstream_protocol_config")
		j.kempty("http_protocol_options")
		j.kempty("http2_protocol_options")
		j.end()
	case "h2":
		j.ko("explicit_http_config")
		j.kempty("http2_protocol_options")
		j.end()
	}
	j.end()
	j.end()
}

func (m *mesh) passthroughCluster(j *jw, name string, inbound bool) {
	j.ks("name", name)
	j.ks("type", "ORIGINAL_DST")
	j.ks("connect_timeout", "10s")
	j.ks("lb_policy", "CLUSTER_PROVIDED")
	circuitBreakers(j)
	if inbound {
		upstreamBind(j)
	}
	j.ka("filters")
	metadataExchangeFilter(j)
	j.end()
	httpProtocolOptions(j, "downstream")
}

func upstreamBind(j *jw) {
	j.ko("upstream_bind_config")
	j.ko("source_address")
	j.ks("address", "127.0.0.6")
	j.kn("port_value", 0)
	j.end()
	j.end()
}

func (m *mesh) istioServicesMeta(j *jw, s *service) {
	j.ka("services")
	j.obj()
	j.ks("host", s.host)
	if s.external {
		j.ks("name", s.host)
	} else {
		j.ks("name", s.name)
	}
	j.ks("namespace", s.ns)
	j.end()
	j.end()
}

func (m *mesh) inboundCluster(j *jw, p svcPort) {
	j.ks("name", clusterName("inbound", p.num, "", ""))
	j.ks("type", "ORIGINAL_DST")
	j.ks("connect_timeout", "10s")
	j.ks("lb_policy", "CLUSTER_PROVIDED")
	circuitBreakers(j)
	j.ks("cleanup_interval", "60s")
	upstreamBind(j)
	j.ko("metadata")
	j.ko("filter_metadata")
	j.ko("istio")
	m.istioServicesMeta(j, m.proxySvc)
	j.end()
	j.end()
	j.end()
	if p.proto == protoGRPC {
		httpProtocolOptions(j, "h2")
	}
}

func (m *mesh) outboundCluster(j *jw, c outboundCluster) {
	s := c.s
	name := c.name()
	j.ks("name", name)
	if s.external {
		j.ks("type", "STRICT_DNS")
	} else {
		j.ks("type", "EDS")
		j.ko("eds_cluster_config")
		adsSource(j, "eds_config")
		j.ks("service_name", name)
		j.end()
	}
	if m.changed(name) {
		j.ks("connect_timeout", "11s")
	} else {
		j.ks("connect_timeout", "10s")
	}
	j.ks("lb_policy", "LEAST_REQUEST")
	if s.external {
		j.ko("load_assignment")
		j.ks("cluster_name", name)
		j.ka("endpoints")
		j.obj()
		j.kempty("locality")
		j.ka("lb_endpoints")
		j.obj()
		j.ko("endpoint")
		socketAddress(j, "address", s.host, c.p.num)
		j.end()
		j.kn("load_balancing_weight", 1)
		j.end()
		j.end()
		j.kn("load_balancing_weight", 1)
		j.end()
		j.end()
		j.end()
	}
	circuitBreakers(j)
	if s.external {
		j.ks("dns_refresh_rate", "60s")
		j.kb("respect_dns_ttl", true)
		j.ks("dns_lookup_family", "V4_ONLY")
	}
	if s.dr {
		j.ko("outlier_detection")
		j.kn("consecutive_5xx", 5)
		j.ks("interval", "10s")
		j.ks("base_ejection_time", "30s")
		j.kn("max_ejection_percent", 50)
		j.kn("enforcing_success_rate", 0)
		j.end()
		j.ko("common_lb_config")
		j.kempty("locality_weighted_lb_config")
		j.end()
	} else {
		j.kempty("common_lb_config")
	}
	j.ko("metadata")
	j.ko("filter_metadata")
	j.ko("istio")
	j.kn("default_original_port", int64(c.p.num))
	m.istioServicesMeta(j, s)
	if s.dr {
		j.ks("config", s.drPath())
	}
	if c.subset != "" {
		j.ks("subset", c.subset)
	}
	j.end()
	j.end()
	j.end()
	if s.external {
		if c.p.proto == protoGRPC {
			httpProtocolOptions(j, "h2")
		}
		return
	}
	j.ka("filters")
	metadataExchangeFilter(j)
	j.end()
	j.ka("transport_socket_matches")
	j.obj()
	j.ks("name", "tlsMode-istio")
	j.ko("match")
	j.ks("tlsMode", "istio")
	j.end()
	j.ko("transport_socket")
	j.ks("name", "envoy.transport_sockets.tls")
	j.ko("typed_config")
	j.ktype("envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext")
	j.ko("common_tls_context")
	tlsParams(j, false)
	j.kstrs("alpn_protocols", "istio-peer-exchange", "istio")
	j.ka("tls_certificate_sds_secret_configs")
	sdsSecretConfig(j, "default")
	j.end()
	j.ko("combined_validation_context")
	j.ko("default_validation_context")
	j.ka("match_subject_alt_names")
	sa := s.sa
	if sa == "" {
		sa = "default"
	}
	j.obj()
	j.ks("exact", "spiffe://cluster.local/ns/"+s.ns+"/sa/"+sa)
	j.end()
	j.end()
	j.end()
	j.key("validation_context_sds_secret_config")
	sdsSecretConfig(j, "ROOTCA")
	j.end()
	j.end()
	sub := c.subset
	if sub == "" {
		sub = "_"
	}
	j.ks("sni", "outbound_."+strconv.Itoa(c.p.num)+"_."+sub+"_."+s.host)
	j.end()
	j.end()
	j.end()
	j.obj()
	j.ks("name", "tlsMode-disabled")
	j.kempty("match")
	j.ko("transport_socket")
	j.ks("name", "envoy.transport_sockets.raw_buffer")
	j.ko("typed_config")
	j.ktype("envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer")
	j.end()
	j.end()
	j.end()
	j.end()
	if c.p.proto == protoGRPC {
		httpProtocolOptions(j, "h2")
	}
}

// tlsParams writes Istio's TLS version bounds (and its cipher list downstream).
func tlsParams(j *jw, downstream bool) {
	j.ko("tls_params")
	j.ks("tls_minimum_protocol_version", "TLSv1_2")
	j.ks("tls_maximum_protocol_version", "TLSv1_3")
	if downstream {
		j.kstrs("cipher_suites", "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
			"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "AES256-GCM-SHA384", "AES128-GCM-SHA256")
	}
	j.end()
}
