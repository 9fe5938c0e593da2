package gendump

import "strconv"

// adminClusters writes the /clusters?format=json document.
func (m *mesh) adminClusters(j *jw) error {
	j.obj()
	j.ka("cluster_statuses")
	var buf []int
	err := m.forEachOutbound(j, func(c outboundCluster) {
		name := c.name()
		j.obj()
		j.ks("name", name)
		j.kb("added_via_api", true)
		j.ka("host_statuses")
		if c.s.external {
			hostStatus(j, externalIP(c.s), c.p.num, "", c.s.host, "HEALTHY", false, 1, -1, 0, 0, 250)
		} else {
			buf = c.members(buf)
			for _, i := range buf {
				e := &c.s.endpoints[i]
				rate := -1.0
				if c.s.dr && e.rq >= 1000 {
					rate = 100 - float64(e.rq%47)/10
				}
				hostStatus(j, e.ip, targetPort(c.s, c.p), "", "", e.health, e.outlier, e.weight, rate, e.locality, e.priority, e.rq)
			}
		}
		j.end()
		dynamicCircuitBreakers(j)
		j.ks("observability_name", name)
		if !c.s.external {
			j.ks("eds_service_name", name)
		}
		j.end()
	})
	if err != nil {
		return err
	}
	for _, name := range []string{"BlackHoleCluster", "PassthroughCluster", "InboundPassthroughClusterIpv4"} {
		m.emptyClusterStatus(j, name)
	}
	for _, p := range m.inbound {
		m.emptyClusterStatus(j, clusterName("inbound", p.num, "", ""))
	}
	for _, c := range staticClusters {
		j.obj()
		j.ks("name", c.name)
		j.ka("host_statuses")
		switch {
		case c.pipe != "":
			hostStatus(j, "", 0, c.pipe, "", "HEALTHY", false, 1, -1, -1, 0, 40)
		case c.typ == "STRICT_DNS":
			hostStatus(j, "10.96.18.7", c.port, "", c.addr, "HEALTHY", false, 1, -1, -1, 0, 900)
		default:
			hostStatus(j, c.addr, c.port, "", "", "HEALTHY", false, 1, -1, -1, 0, 3000)
		}
		j.end()
		j.ko("circuit_breakers")
		j.ka("thresholds")
		limit := int64(1024)
		if c.xds {
			limit = 100000
		}
		for _, prio := range []string{"", "HIGH"} {
			j.obj()
			if prio != "" {
				j.ks("priority", prio)
			}
			j.kn("max_connections", limit)
			j.kn("max_pending_requests", limit)
			j.kn("max_requests", limit)
			j.kn("max_retries", 3)
			j.end()
		}
		j.end()
		j.end()
		j.ks("observability_name", c.name)
		j.end()
	}
	j.end()
	j.end()
	return j.failed()
}

func dynamicCircuitBreakers(j *jw) {
	j.ko("circuit_breakers")
	j.ka("thresholds")
	j.obj()
	for _, k := range []string{"max_connections", "max_pending_requests", "max_requests", "max_retries"} {
		j.kn(k, 4294967295)
	}
	j.end()
	j.obj()
	j.ks("priority", "HIGH")
	j.kn("max_connections", 1024)
	j.kn("max_pending_requests", 1024)
	j.kn("max_requests", 1024)
	j.kn("max_retries", 3)
	j.end()
	j.end()
	j.end()
}

func (m *mesh) emptyClusterStatus(j *jw, name string) {
	j.obj()
	j.ks("name", name)
	j.kb("added_via_api", true)
	dynamicCircuitBreakers(j)
	j.ks("observability_name", name)
	j.end()
}

// hostStatus writes one envoy.admin.v3.HostStatus. loc < 0 means no
// locality; rate < 0 means no success rate; rq drives the counters.
func hostStatus(j *jw, ip string, port int, pipe, hostname, health string, outlier bool, weight int, rate float64, loc, prio int, rq int64) {
	j.obj()
	if pipe != "" {
		j.ko("address")
		j.ko("pipe")
		j.ks("path", pipe)
		j.end()
		j.end()
	} else {
		socketAddress(j, "address", ip, port)
	}
	errs := rq / 211
	timeouts := rq / 977
	cx := rq/12 + 1
	j.ka("stats")
	counter(j, "cx_connect_fail", rq/5003)
	counter(j, "cx_total", cx)
	counter(j, "rq_error", errs)
	counter(j, "rq_success", rq-errs)
	counter(j, "rq_timeout", timeouts)
	counter(j, "rq_total", rq)
	gauge(j, "cx_active", min(cx, 1+rq%7))
	gauge(j, "rq_active", rq%3)
	j.end()
	j.ko("health_status")
	if outlier {
		j.kb("failed_outlier_check", true)
	}
	j.ks("eds_health_status", health)
	j.end()
	if rate >= 0 {
		j.ko("success_rate")
		j.key("value")
		j.w.WriteString(strconv.FormatFloat(rate, 'g', -1, 64))
		j.end()
	}
	j.kn("weight", int64(weight))
	if hostname != "" {
		j.ks("hostname", hostname)
	}
	if prio > 0 {
		j.kn("priority", int64(prio))
	}
	if loc >= 0 {
		j.ko("locality")
		j.ks("region", localities[loc].region)
		j.ks("zone", localities[loc].zone)
		j.end()
	} else {
		j.kempty("locality")
	}
	j.end()
}

// counter writes a SimpleMetric; like Envoy, zero values are left out and
// uint64 values are strings.
func counter(j *jw, name string, v int64) {
	j.obj()
	if v != 0 {
		j.kn64("value", v)
	}
	j.ks("name", name)
	j.end()
}

func gauge(j *jw, name string, v int64) {
	j.obj()
	j.ks("type", "GAUGE")
	if v != 0 {
		j.kn64("value", v)
	}
	j.ks("name", name)
	j.end()
}
