package gendump

import "strconv"

func (m *mesh) scopedRoutesDump(j *jw) error {
	j.obj()
	j.ktype("envoy.admin.v3.ScopedRoutesConfigDump")
	j.end()
	return nil
}

func (m *mesh) routesDump(j *jw) error {
	j.obj()
	j.ktype("envoy.admin.v3.RoutesConfigDump")

	// Inline route configurations (static listeners, virtualInbound) are
	// listed as static ones.
	j.ka("static_route_configs")
	for i, r := range [][2]string{{"/stats/prometheus", "prometheus_stats"}, {"/healthz/ready", "agent"}} {
		j.obj()
		j.ko("route_config")
		j.ktype("envoy.config.route.v3.RouteConfiguration")
		j.ka("virtual_hosts")
		j.obj()
		j.ks("name", "backend")
		j.kstrs("domains", "*")
		j.ka("routes")
		j.obj()
		j.ko("match")
		j.ks("prefix", r[0])
		j.end()
		j.ko("route")
		j.ks("cluster", r[1])
		j.end()
		j.end()
		j.end()
		j.end()
		j.end()
		j.end()
		j.ks("last_updated", m.stamp(i))
		j.end()
	}
	inbound := []svcPort{{num: 0}}
	inbound = append(inbound, m.inbound...)
	for i, p := range inbound {
		if p.num != 0 && !p.proto.http() {
			continue
		}
		name := clusterName("inbound", p.num, "", "")
		if p.num == 0 {
			name = "InboundPassthroughClusterIpv4"
		}
		j.obj()
		j.ko("route_config")
		j.ktype("envoy.config.route.v3.RouteConfiguration")
		m.inboundRoutes(j, p, name)
		j.end()
		j.ks("last_updated", m.stamp(i+2))
		j.end()
	}
	j.end()

	j.ka("dynamic_route_configs")
	for i, port := range m.httpPorts {
		j.obj()
		j.ks("version_info", m.version)
		j.ko("route_config")
		j.ktype("envoy.config.route.v3.RouteConfiguration")
		j.ks("name", strconv.Itoa(port))
		j.ka("virtual_hosts")
		for k := range m.services {
			s := &m.services[k]
			for _, p := range s.ports {
				if p.num == port && p.proto.http() {
					m.virtualHost(j, s, p)
				}
			}
			if k%128 == 0 {
				if err := j.failed(); err != nil {
					return err
				}
			}
		}
		j.obj()
		j.ks("name", "allow_any")
		j.kstrs("domains", "*")
		j.ka("routes")
		j.obj()
		j.ko("match")
		j.ks("prefix", "/")
		j.end()
		j.ko("route")
		j.ks("cluster", "PassthroughCluster")
		j.ks("timeout", "0s")
		maxStreamDuration(j)
		j.end()
		j.ks("name", "allow_any")
		j.end()
		j.end()
		j.kb("include_request_attempt_count", true)
		j.end()
		j.end()
		j.kb("validate_clusters", false)
		j.kn("max_direct_response_body_size_bytes", 1048576)
		j.end()
		j.ks("last_updated", m.stamp(i))
		j.end()
	}
	j.end()
	j.end()
	return j.failed()
}

// virtualHost writes the virtual host of service s on port p, with the
// domains Istio generates for it (with and without the port).
func (m *mesh) virtualHost(j *jw, s *service, p svcPort) {
	port := strconv.Itoa(p.num)
	j.obj()
	j.ks("name", s.host+":"+port)
	j.ka("domains")
	domain := func(d string) {
		j.str(d)
		j.str(d + ":" + port)
	}
	domain(s.host)
	if !s.external {
		if s.ns == m.proxySvc.ns {
			domain(s.name)
		}
		domain(s.name + "." + s.ns + ".svc")
		domain(s.name + "." + s.ns)
		domain(s.ip)
	}
	j.end()
	j.ka("routes")
	if s.vs {
		j.obj()
		j.ko("match")
		j.ks("prefix", "/api/v2/")
		j.kb("case_sensitive", true)
		j.ka("headers")
		j.obj()
		j.ks("name", "x-canary")
		j.ko("string_match")
		j.ks("exact", "true")
		j.end()
		j.end()
		j.end()
		j.end()
		canary := ""
		if len(s.subsets) > 0 {
			canary = s.subsets[len(s.subsets)-1]
		}
		m.routeAction(j, s, p, canary, "5s", false)
		m.vsMetadata(j, s)
		j.ko("decorator")
		j.ks("operation", s.host+":"+port+"/api/v2/*")
		j.end()
		j.ks("name", "canary")
		j.end()
	}
	j.obj()
	j.ko("match")
	j.ks("prefix", "/")
	j.end()
	m.routeAction(j, s, p, "", "0s", s.vs && len(s.subsets) > 1)
	if s.vs {
		m.vsMetadata(j, s)
	}
	j.ko("decorator")
	j.ks("operation", s.host+":"+port+"/*")
	j.end()
	j.ks("name", "default")
	j.end()
	j.end()
	j.kb("include_request_attempt_count", true)
	j.end()
}

func (m *mesh) vsMetadata(j *jw, s *service) {
	j.ko("metadata")
	j.ko("filter_metadata")
	j.ko("istio")
	j.ks("config", s.vsPath())
	j.end()
	j.end()
	j.end()
}

// routeAction writes "route": to the service's cluster, its subset, or
// split by weight across its subsets.
func (m *mesh) routeAction(j *jw, s *service, p svcPort, subset, timeout string, split bool) {
	j.ko("route")
	if split {
		j.ko("weighted_clusters")
		j.ka("clusters")
		rest := 100
		for i, sub := range s.subsets {
			w := rest
			if i < len(s.subsets)-1 {
				w = 100 / len(s.subsets)
				if i == 0 {
					w += 100 % len(s.subsets)
				}
			}
			rest -= w
			j.obj()
			j.ks("name", clusterName("outbound", p.num, sub, s.host))
			j.kn("weight", int64(w))
			j.end()
		}
		j.end()
		j.end()
	} else {
		j.ks("cluster", clusterName("outbound", p.num, subset, s.host))
	}
	j.ks("timeout", timeout)
	j.ko("retry_policy")
	j.ks("retry_on", "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes")
	j.kn("num_retries", 2)
	j.ka("retry_host_predicate")
	j.obj()
	j.ks("name", "envoy.retry_host_predicates.previous_hosts")
	j.ko("typed_config")
	j.ktype("envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate")
	j.end()
	j.end()
	j.end()
	j.kn64("host_selection_retry_max_attempts", 5)
	j.ka("retriable_status_codes")
	j.int(503)
	j.end()
	j.end()
	maxStreamDuration(j)
	j.end()
}

func (m *mesh) secretsDump(j *jw) error {
	j.obj()
	j.ktype("envoy.admin.v3.SecretsConfigDump")
	j.ka("dynamic_active_secrets")
	j.obj()
	j.ks("name", "default")
	j.ks("version_info", m.base.Add(-7*3600e9).Format("2006-01-02 15:04:05.999999999 -0700 MST"))
	j.ks("last_updated", m.stamp(5))
	j.ko("secret")
	j.ktype("envoy.extensions.transport_sockets.tls.v3.Secret")
	j.ks("name", "default")
	j.ko("tls_certificate")
	j.ko("certificate_chain")
	j.kbytes("inline_bytes", m.certs.chain)
	j.end()
	j.ko("private_key")
	j.kbytes("inline_bytes", []byte("[redacted]"))
	j.end()
	j.end()
	j.end()
	j.end()
	j.obj()
	j.ks("name", "ROOTCA")
	j.ks("version_info", m.base.Add(-30*24*3600e9).Format("2006-01-02 15:04:05.999999999 -0700 MST"))
	j.ks("last_updated", m.stamp(6))
	j.ko("secret")
	j.ktype("envoy.extensions.transport_sockets.tls.v3.Secret")
	j.ks("name", "ROOTCA")
	j.ko("validation_context")
	j.ko("trusted_ca")
	j.kbytes("inline_bytes", m.certs.root)
	j.end()
	j.end()
	j.end()
	j.end()
	j.end()
	j.end()
	return j.failed()
}
