package gendump

import (
	"bufio"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"strconv"
	"time"
)

// The other documents of an Envoy admin API, for the same mesh and proxy as Write's config
// dump: what `proxyctl capture` fetches besides the config dump and /clusters.

// Writers are the writers of every admin document of a mesh's proxy, by endpoint.
var Writers = map[string]func(io.Writer, Options) error{
	"config_dump": Write,
	"clusters":    WriteClusters,
	"server_info": WriteServerInfo,
	"certs":       WriteCerts,
	"listeners":   WriteListeners,
	"stats":       WriteStats,
	"runtime":     WriteRuntime,
	"memory":      WriteMemory,
}

// WriteServerInfo streams /server_info (an envoy.admin.v3.ServerInfo): the proxy's version,
// state, uptime, command line and node, the same node as the dump's bootstrap.
func WriteServerInfo(w io.Writer, o Options) error {
	m := newMesh(o)
	s := m.proxySvc
	return writeJSON(w, func(j *jw) {
		j.obj()
		j.ks("version", fmt.Sprintf("%s/%d.%d.%d-dev/Clean/RELEASE/BoringSSL", proxySHA, envoyMajor, envoyMinor, envoyPatch))
		j.ks("state", "LIVE")
		j.ks("hot_restart_version", "disabled")
		j.ko("command_line_options")
		j.kn("base_id", 0)
		j.kn("concurrency", 2)
		j.ks("config_path", "etc/istio/proxy/envoy-rev.json")
		j.ks("log_level", "warning")
		j.ks("component_log_level", "misc:error")
		j.ks("log_format", "%Y-%m-%dT%T.%fZ\t%l\tenvoy %n %g:%#\t%v\tthread=%t")
		j.ks("service_cluster", s.name+"."+s.ns)
		j.ks("service_node", "sidecar~"+m.proxyIP+"~"+m.podName+"."+s.ns+"~"+s.ns+".svc.cluster.local")
		j.ks("drain_time", "45s")
		j.ks("parent_shutdown_time", "60s")
		j.ks("mode", "Serve")
		j.ks("drain_strategy", "Immediate")
		j.end()
		j.ko("node")
		j.ks("id", "sidecar~"+m.proxyIP+"~"+m.podName+"."+s.ns+"~"+s.ns+".svc.cluster.local")
		j.ks("cluster", s.name+"."+s.ns)
		j.ko("metadata")
		m.nodeMetadata(j)
		j.end()
		j.ks("user_agent_name", "envoy")
		j.end()
		j.ks("uptime_current_epoch", "25200s")
		j.ks("uptime_all_epochs", "25200s")
		j.end()
	})
}

// WriteCerts streams /certs (an envoy.admin.v3.Certificates): the workload certificate and the
// root of the SDS secrets.
func WriteCerts(w io.Writer, o Options) error {
	m := newMesh(o)
	certs, err := newCerts(o.Seed, m.spiffe(m.proxySvc), m.base)
	if err != nil {
		return err
	}
	leaf, err := firstCert(certs.chain)
	if err != nil {
		return err
	}
	root, err := firstCert(certs.root)
	if err != nil {
		return err
	}
	detail := func(j *jw, c *x509.Certificate) {
		j.obj()
		j.ks("path", "<inline>")
		j.ks("serial_number", c.SerialNumber.Text(16))
		j.ka("subject_alt_names")
		for _, u := range c.URIs {
			j.obj()
			j.ks("uri", u.String())
			j.end()
		}
		j.end()
		j.ks("days_until_expiration", strconv.Itoa(int(c.NotAfter.Sub(m.base)/(24*time.Hour))))
		j.ks("valid_from", c.NotBefore.UTC().Format(time.RFC3339))
		j.ks("expiration_time", c.NotAfter.UTC().Format(time.RFC3339))
		j.end()
	}
	return writeJSON(w, func(j *jw) {
		j.obj()
		j.ka("certificates")
		for range 2 { // the inbound and the outbound TLS contexts
			j.obj()
			j.ka("ca_cert")
			detail(j, root)
			j.end()
			j.ka("cert_chain")
			detail(j, leaf)
			j.end()
			j.end()
		}
		j.end()
		j.end()
	})
}

func firstCert(pemData []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(pemData)
	if block == nil {
		return nil, fmt.Errorf("gendump: no certificate")
	}
	return x509.ParseCertificate(block.Bytes)
}

// WriteListeners streams /listeners?format=json (an envoy.admin.v3.Listeners).
func WriteListeners(w io.Writer, o Options) error {
	m := newMesh(o)
	return writeJSON(w, func(j *jw) {
		j.obj()
		j.ka("listener_statuses")
		status := func(name, ip string, port int) {
			j.obj()
			j.ks("name", name)
			socketAddress(j, "local_address", ip, port)
			j.end()
		}
		status("0.0.0.0_15090", "0.0.0.0", 15090)
		status("0.0.0.0_15021", "0.0.0.0", 15021)
		for i := range m.services {
			s := &m.services[i]
			for _, p := range s.ports {
				if !s.external && !p.proto.http() {
					status(s.ip+"_"+strconv.Itoa(p.num), s.ip, p.num)
				}
			}
		}
		for _, p := range m.httpPorts {
			status("0.0.0.0_"+strconv.Itoa(p), "0.0.0.0", p)
		}
		status("0.0.0.0_443", "0.0.0.0", 443)
		status("virtualOutbound", "0.0.0.0", 15001)
		status("virtualInbound", "0.0.0.0", 15006)
		j.end()
		j.end()
	})
}

// WriteStats streams /stats, in Envoy's text format: counters and gauges of every cluster,
// then of the server.
func WriteStats(w io.Writer, o Options) error {
	m := newMesh(o)
	bw := bufio.NewWriterSize(w, 256<<10)
	j := newJW(bw) // only for forEachOutbound's error checks
	names := []string{"upstream_cx_active", "upstream_cx_total", "upstream_cx_connect_fail", "upstream_cx_destroy",
		"upstream_rq_active", "upstream_rq_total", "upstream_rq_timeout", "upstream_rq_retry", "upstream_rq_2xx",
		"upstream_rq_4xx", "upstream_rq_5xx", "membership_healthy", "membership_total", "lb_healthy_panic",
		"update_success", "update_attempt", "outlier_detection.ejections_active", "outlier_detection.ejections_total"}
	n := int64(0)
	err := m.forEachOutbound(j, func(c outboundCluster) {
		name := c.name()
		for _, s := range names {
			n++
			bw.WriteString("cluster.")
			bw.WriteString(name)
			bw.WriteByte('.')
			bw.WriteString(s)
			bw.WriteString(": ")
			bw.WriteString(strconv.FormatInt((n*7919)%100003, 10))
			bw.WriteByte('\n')
		}
	})
	if err != nil {
		return err
	}
	for _, s := range []string{"server.live: 1", "server.state: 0", "server.uptime: 25200", "server.concurrency: 2",
		"server.memory_allocated: 104857600", "server.total_connections: 42"} {
		bw.WriteString(s)
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

// WriteRuntime streams /runtime (an envoy.admin.v3.Runtime).
func WriteRuntime(w io.Writer, o Options) error {
	return writeJSON(w, func(j *jw) {
		j.obj()
		j.kstrs("layers", "global config", "admin")
		j.ko("entries")
		for _, e := range [][2]string{{"envoy.reloadable_features.http_reject_path_with_fragment", "false"}, {"overload.global_downstream_max_connections", "2147483647"}} {
			j.ko(e[0])
			j.kstrs("layer_values", e[1], "")
			j.ks("final_value", e[1])
			j.end()
		}
		j.end()
		j.end()
	})
}

// WriteMemory streams /memory (an envoy.admin.v3.Memory).
func WriteMemory(w io.Writer, o Options) error {
	return writeJSON(w, func(j *jw) {
		j.obj()
		for _, f := range [][2]string{{"allocated", "104857600"}, {"heap_size", "134217728"}, {"pageheap_unmapped", "8388608"},
			{"pageheap_free", "4194304"}, {"total_thread_cache", "2097152"}, {"total_physical_bytes", "142606336"}} {
			j.ks(f[0], f[1])
		}
		j.end()
	})
}

func writeJSON(w io.Writer, write func(j *jw)) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	j := newJW(bw)
	write(j)
	bw.WriteByte('\n')
	return bw.Flush()
}
