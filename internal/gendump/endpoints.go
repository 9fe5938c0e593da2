package gendump

// targetPort is the container port behind a service port.
func targetPort(s *service, p svcPort) int {
	switch {
	case s.name == "kubernetes":
		return 6443
	case s.name == "istiod" && p.num == 443:
		return 15017
	case p.num == 80:
		return 8080
	case p.num == 443:
		return 8443
	}
	return p.num
}

// externalIP is the address DNS returns for an external service.
func externalIP(s *service) string {
	h := uint32(0)
	for i := 0; i < len(s.host); i++ {
		h = h*31 + uint32(s.host[i])
	}
	return ipv4(0xCB007100 | (h%253 + 1)) // 203.0.113.0/24
}

// members returns the endpoints of c (all of them, or those of its subset).
func (c outboundCluster) members(buf []int) []int {
	buf = buf[:0]
	for i, e := range c.s.endpoints {
		if c.subset == "" || e.version == c.subset {
			buf = append(buf, i)
		}
	}
	return buf
}

func (m *mesh) endpointsDump(j *jw) error {
	j.obj()
	j.ktype("envoy.admin.v3.EndpointsConfigDump")
	j.ka("static_endpoint_configs")
	for _, c := range staticClusters {
		j.obj()
		j.ko("endpoint_config")
		j.ktype("envoy.config.endpoint.v3.ClusterLoadAssignment")
		j.ks("cluster_name", c.name)
		j.ka("endpoints")
		j.obj()
		j.kempty("locality")
		j.ka("lb_endpoints")
		j.obj()
		j.ko("endpoint")
		if c.typ == "STRICT_DNS" {
			socketAddress(j, "address", "10.96.18.7", c.port)
			j.kempty("health_check_config")
			j.ks("hostname", c.addr)
		} else {
			c.address(j)
			j.kempty("health_check_config")
		}
		j.end()
		j.ks("health_status", "HEALTHY")
		j.kn("load_balancing_weight", 1)
		j.end()
		j.end()
		j.end()
		j.end()
		overprovisioning(j)
		j.end()
		j.end()
	}
	err := m.forEachOutbound(j, func(c outboundCluster) {
		if !c.s.external {
			return
		}
		j.obj()
		j.ko("endpoint_config")
		j.ktype("envoy.config.endpoint.v3.ClusterLoadAssignment")
		j.ks("cluster_name", c.name())
		j.ka("endpoints")
		j.obj()
		j.kempty("locality")
		j.ka("lb_endpoints")
		j.obj()
		j.ko("endpoint")
		socketAddress(j, "address", externalIP(c.s), c.p.num)
		j.kempty("health_check_config")
		j.ks("hostname", c.s.host)
		j.end()
		j.ks("health_status", "HEALTHY")
		j.kn("load_balancing_weight", 1)
		j.end()
		j.end()
		j.kn("load_balancing_weight", 1)
		j.end()
		j.end()
		overprovisioning(j)
		j.end()
		j.end()
	})
	if err != nil {
		return err
	}
	j.end()

	j.ka("dynamic_endpoint_configs")
	var buf []int
	err = m.forEachOutbound(j, func(c outboundCluster) {
		if c.s.external {
			return
		}
		j.obj()
		j.ko("endpoint_config")
		j.ktype("envoy.config.endpoint.v3.ClusterLoadAssignment")
		j.ks("cluster_name", c.name())
		j.ka("endpoints")
		buf = c.members(buf)
		if m.changed(c.name()) && len(buf) > 1 {
			buf = buf[1:] // an endpoint removed
		}
		m.localityGroups(buf, c.s, func(loc, prio int, members []int) {
			j.obj()
			j.ko("locality")
			j.ks("region", localities[loc].region)
			j.ks("zone", localities[loc].zone)
			j.end()
			j.ka("lb_endpoints")
			weight := 0
			for _, i := range members {
				e := &c.s.endpoints[i]
				weight += e.weight
				j.obj()
				j.ko("endpoint")
				socketAddress(j, "address", e.ip, targetPort(c.s, c.p))
				j.kempty("health_check_config")
				j.end()
				j.ks("health_status", e.health)
				j.ko("metadata")
				j.ko("filter_metadata")
				if e.mtls {
					j.ko("envoy.transport_socket_match")
					j.ks("tlsMode", "istio")
					j.end()
				}
				j.ko("istio")
				j.ks("workload", e.workload+";"+c.s.ns+";"+c.s.name+";"+e.version+";Kubernetes")
				j.end()
				j.end()
				j.end()
				j.kn("load_balancing_weight", int64(e.weight))
				j.end()
			}
			j.end()
			j.kn("load_balancing_weight", int64(weight))
			if prio > 0 {
				j.kn("priority", int64(prio))
			}
			j.end()
		})
		j.end()
		overprovisioning(j)
		j.end()
		j.end()
	})
	if err != nil {
		return err
	}
	j.end()
	j.end()
	return j.failed()
}

func overprovisioning(j *jw) {
	j.ko("policy")
	j.kn("overprovisioning_factor", 140)
	j.end()
}

// localityGroups calls f once per (locality, priority) present in members,
// in a stable order, with the endpoints of that group.
func (m *mesh) localityGroups(members []int, s *service, f func(loc, prio int, members []int)) {
	var group [8]int
	for prio := 0; prio < 2; prio++ {
		for loc := range localities {
			g := group[:0]
			for _, i := range members {
				e := &s.endpoints[i]
				if e.locality == loc && e.priority == prio {
					g = append(g, i)
				}
			}
			if len(g) > 0 {
				f(loc, prio, g)
			}
		}
	}
}
