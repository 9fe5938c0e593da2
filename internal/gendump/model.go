package gendump

import (
	"slices"
	"strconv"
	"time"
)

// protocol is the protocol Istio infers for a service port.
type protocol int

const (
	protoHTTP protocol = iota
	protoGRPC
	protoTCP
	protoTLS
)

func (p protocol) http() bool { return p == protoHTTP || p == protoGRPC }

type svcPort struct {
	num   int
	name  string
	proto protocol
}

type endpoint struct {
	ip       string
	locality int // index into localities
	priority int
	health   string // EDS health status: HEALTHY, UNHEALTHY, DRAINING
	weight   int
	version  string
	mtls     bool // the pod runs a sidecar: tlsMode=istio
	outlier  bool // ejected by outlier detection (only in /clusters)
	workload string
	rq       int64 // requests served, for /clusters stats
}

type service struct {
	name, ns, host, ip, sa string
	ports                  []svcPort
	subsets                []string
	dr                     bool // a DestinationRule applies (config path in metadata)
	vs                     bool // a VirtualService applies (route metadata)
	external               bool // a ServiceEntry with DNS resolution
	endpoints              []endpoint
}

// mesh is the small model every section is rendered from. It holds a few
// hundred bytes per service; the megabytes are only ever streamed.
type mesh struct {
	opts      Options
	proxyIP   string
	podName   string
	proxySvc  *service
	services  []service
	inbound   []svcPort
	httpPorts []int     // distinct outbound HTTP ports: one RDS route config and 0.0.0.0_P listener each
	stamps    []string  // last_updated values
	podSeen   string    // when the kubelet first saw the pod
	version   string    // version_info of xDS resources
	base      time.Time // when the dump was taken
	certs     *certSet
}

type locality struct{ region, zone string }

var localities = []locality{
	{"us-central1", "us-central1-a"},
	{"us-central1", "us-central1-b"},
	{"us-central1", "us-central1-c"},
	{"us-east1", "us-east1-b"},
}

var localityWeights = []int{40, 30, 20, 10}

var prefixes = []string{
	"cart", "checkout", "payment", "inventory", "catalog", "search", "user", "auth", "order",
	"shipping", "billing", "email", "notification", "recommendation", "ad", "currency", "frontend",
	"ledger", "report", "media", "profile", "session", "pricing", "fraud", "quote", "tax",
	"invoice", "loyalty", "coupon", "warehouse", "tracking", "analytics", "audit", "config",
	"feature-flag", "geo", "image", "upload", "chat", "booking",
}

var suffixes = []string{
	"api", "svc", "service", "worker", "backend", "grpc", "web", "db", "cache", "proxy", "store",
	"engine", "manager", "sync", "gateway",
}

var nsNames = []string{
	"default", "istio-system", "kube-system", "payments", "storefront", "identity", "logistics",
	"marketing", "platform", "data", "search", "media", "support", "finance", "internal-tools",
}

// portChoice is one outbound port a generated service may expose.
type portChoice struct {
	svcPort
	weight int
}

var portChoices = []portChoice{
	{svcPort{80, "http", protoHTTP}, 30},
	{svcPort{8080, "http-web", protoHTTP}, 15},
	{svcPort{9080, "http", protoHTTP}, 10},
	{svcPort{9090, "grpc", protoGRPC}, 7},
	{svcPort{8000, "http-api", protoHTTP}, 5},
	{svcPort{3000, "http-ui", protoHTTP}, 3},
	{svcPort{443, "https", protoTLS}, 8},
	{svcPort{5432, "tcp-postgres", protoTCP}, 3},
	{svcPort{6379, "tcp-redis", protoTCP}, 3},
	{svcPort{3306, "tcp-mysql", protoTCP}, 2},
	{svcPort{27017, "mongo", protoTCP}, 1},
	{svcPort{9092, "tcp-kafka", protoTCP}, 2},
	{svcPort{0, "http-alt", protoHTTP}, 5}, // 0: a port in 8081..8099
	{svcPort{0, "tcp", protoTCP}, 6},       // 0: a port in 10000..10999
}

var portWeights = func() []int {
	w := make([]int, len(portChoices))
	for i, c := range portChoices {
		w[i] = c.weight
	}
	return w
}()

// ipv4 formats a.b.c.d for the 32-bit address x.
func ipv4(x uint32) string {
	b := make([]byte, 0, 15)
	b = strconv.AppendUint(b, uint64(x>>24), 10)
	b = append(b, '.')
	b = strconv.AppendUint(b, uint64(x>>16&0xff), 10)
	b = append(b, '.')
	b = strconv.AppendUint(b, uint64(x>>8&0xff), 10)
	b = append(b, '.')
	b = strconv.AppendUint(b, uint64(x&0xff), 10)
	return string(b)
}

// scatter maps i to a distinct value below 1<<bits (an odd multiplier is a
// bijection modulo a power of two), so addresses look allocated, not counted.
func scatter(i, bits int) uint32 {
	mask := uint32(1)<<bits - 1
	v := (uint32(i+1) * 0x9E3B5) & mask
	if v&0xff == 0 || v&0xff == 0xff { // keep clear of .0 and .255
		v ^= 0x11
	}
	return v
}

func newMesh(o Options) *mesh {
	if o.Services <= 0 {
		o.Services = DefaultServices
	}
	m := &mesh{opts: o, base: baseTime}
	r := newRNG(o.Seed, 1)

	m.version = m.base.Add(-time.Duration(30+r.intn(600))*time.Second).Format("2006-01-02T15:04:05Z") +
		"/" + strconv.Itoa(3+r.intn(80))
	for i := 0; i < 64; i++ {
		t := m.base.Add(-time.Duration(r.intn(3600_000)) * time.Millisecond)
		m.stamps = append(m.stamps, t.Format("2006-01-02T15:04:05.000Z"))
	}

	nsCount := max(4, o.Services/40)
	namespaces := make([]string, nsCount)
	for i := range namespaces {
		if i < len(nsNames) {
			namespaces[i] = nsNames[i]
		} else {
			namespaces[i] = "team-" + strconv.Itoa(i-len(nsNames)+1)
		}
	}

	used := make(map[string]bool, o.Services)
	podSeq := 0
	add := func(name, ns string, ports []svcPort) *service {
		m.services = append(m.services, service{name: name, ns: ns, ports: ports})
		s := &m.services[len(m.services)-1]
		used[ns+"/"+name] = true
		s.host = name + "." + ns + ".svc.cluster.local"
		s.ip = ipv4(0x0A600000 | scatter(len(m.services), 20)) // 10.96.0.0/12
		s.sa = name
		return s
	}

	// The sidecar whose dump this is: productpage-v1 in default. Its own
	// service exposes the inbound ports; larger meshes get more of them, so
	// virtualInbound carries many filter chains.
	inbound := []svcPort{{9080, "http", protoHTTP}}
	extra := min(max(o.Services/250, 1), 48) - 1
	for i := 0; i < extra; i++ {
		switch i % 4 {
		case 0:
			inbound = append(inbound, svcPort{8080 + i, "http-" + strconv.Itoa(i), protoHTTP})
		case 1:
			inbound = append(inbound, svcPort{9090 + i, "grpc-" + strconv.Itoa(i), protoGRPC})
		case 2:
			inbound = append(inbound, svcPort{5400 + i, "tcp-" + strconv.Itoa(i), protoTCP})
		default:
			inbound = append(inbound, svcPort{8440 + i, "https-" + strconv.Itoa(i), protoTLS})
		}
	}
	m.inbound = inbound

	fixed := []struct {
		name, ns string
		ports    []svcPort
	}{
		{"productpage", "default", inbound},
		{"reviews", "default", []svcPort{{9080, "http", protoHTTP}}},
		{"ratings", "default", []svcPort{{9080, "http", protoHTTP}}},
		{"details", "default", []svcPort{{9080, "http", protoHTTP}}},
		{"kubernetes", "default", []svcPort{{443, "https", protoTLS}}},
		{"kube-dns", "kube-system", []svcPort{{53, "dns-tcp", protoTCP}, {9153, "http-metrics", protoHTTP}}},
		{"istiod", "istio-system", []svcPort{{15010, "grpc-xds", protoGRPC}, {15012, "https-dns", protoTLS}, {443, "https-webhook", protoTLS}, {15014, "http-monitoring", protoHTTP}}},
		{"istio-ingressgateway", "istio-system", []svcPort{{15021, "status-port", protoHTTP}, {80, "http2", protoHTTP}, {443, "https", protoTLS}}},
		{"prometheus", "istio-system", []svcPort{{9090, "http", protoHTTP}}},
		{"grafana", "istio-system", []svcPort{{3000, "service", protoHTTP}}},
	}
	for _, f := range fixed {
		if len(m.services) >= o.Services {
			break
		}
		s := add(f.name, f.ns, f.ports)
		switch f.name {
		case "productpage":
			s.sa = "bookinfo-productpage"
		case "reviews":
			s.sa = "bookinfo-reviews"
			s.subsets = []string{"v1", "v2", "v3"}
			s.dr, s.vs = true, true
		case "kubernetes", "kube-dns":
			s.sa = ""
		case "istio-ingressgateway":
			s.sa = "istio-ingressgateway-service-account"
		}
	}

	for len(m.services) < o.Services {
		ns := namespaces[r.intn(len(namespaces))]
		if r.chance(30) { // a few namespaces hold most services
			ns = namespaces[3+r.intn(min(6, len(namespaces)-3))]
		}
		name := prefixes[r.intn(len(prefixes))] + "-" + suffixes[r.intn(len(suffixes))]
		if used[ns+"/"+name] {
			name += "-" + strconv.Itoa(len(m.services))
		}
		external := r.chance(3)
		var ports []svcPort
		nports := 1 + r.pick([]int{70, 25, 5})
		for len(ports) < nports {
			c := portChoices[r.pick(portWeights)].svcPort
			if c.num == 0 {
				if c.proto == protoTCP {
					c.num = 10000 + r.intn(1000)
				} else {
					c.num = 8081 + r.intn(19)
				}
			}
			dup := false
			for _, p := range ports {
				dup = dup || p.num == c.num
			}
			if !dup {
				ports = append(ports, c)
			}
		}
		if external {
			// A ServiceEntry for an API outside the mesh, resolved by DNS.
			ports = []svcPort{{443, "tls", protoTLS}}
			if r.chance(40) {
				ports = []svcPort{{80, "http", protoHTTP}}
			}
		}
		s := add(name, ns, ports)
		if external {
			s.external = true
			s.host = "api." + name + "-" + strconv.Itoa(len(m.services)) + ".example.com"
			s.ip = ""
			s.sa = ""
		}
		if !external && ports[0].proto.http() && r.chance(25) {
			s.dr = true
			s.subsets = []string{"v1", "v2", "v3"}[:2+r.intn(2)]
		} else if r.chance(10) {
			s.dr = true
		}
		s.vs = !external && ports[0].proto.http() && r.chance(15)
	}

	for i := range m.services {
		s := &m.services[i]
		if s.external {
			continue
		}
		n := 1 + r.pick([]int{40, 25, 20, 8, 4, 3})
		if s.name == "productpage" {
			n = max(1, o.Replicas)
		}
		for e := 0; e < n; e++ {
			podSeq++
			ep := endpoint{
				ip:       ipv4(0x0AF40000 | scatter(podSeq, 18)), // 10.244.0.0/14
				locality: r.pick(localityWeights),
				health:   "HEALTHY",
				weight:   1,
				version:  "v1",
				mtls:     s.ns != "kube-system" && s.name != "kubernetes" && !r.chance(4),
				rq:       int64(r.intn(200000)),
			}
			if len(s.subsets) > 0 {
				ep.version = s.subsets[e%len(s.subsets)]
			}
			switch x := r.intn(100); {
			case x < 2:
				ep.health = "UNHEALTHY"
			case x < 3:
				ep.health = "DRAINING"
			case x < 4:
				ep.outlier = true
			}
			if localities[ep.locality].region != localities[0].region && s.dr {
				ep.priority = 1
			}
			ep.workload = s.name + "-" + ep.version
			s.endpoints = append(s.endpoints, ep)
		}
	}
	m.proxySvc = &m.services[0]
	replica := min(max(o.Replica, 0), max(o.Replicas, 1)-1)
	if len(m.proxySvc.endpoints) > replica {
		m.proxyIP = m.proxySvc.endpoints[replica].ip
	} else {
		m.proxyIP = "10.244.0.11"
	}
	m.podName = "productpage-v1-" + podHash(o.Seed)
	if replica > 0 {
		m.podName = m.podName[:len(m.podName)-5] + podHash(o.Seed + uint64(replica)*7919)[11:]
	}
	m.podSeen = m.stamps[1]
	if o.Later {
		// Taken an hour later: other update times and versions, resources in another order.
		rot := append(m.stamps[17:], m.stamps[:17]...)
		m.stamps = make([]string, len(rot))
		for i, st := range rot {
			t, _ := time.Parse("2006-01-02T15:04:05.000Z", st)
			m.stamps[i] = t.Add(time.Hour).Format("2006-01-02T15:04:05.000Z")
		}
		m.version = m.base.Add(time.Hour).Format("2006-01-02T15:04:05Z") + "/" + strconv.Itoa(100+int(o.Seed%50))
		slices.Reverse(m.services[1:])
	}

	seen := map[int]bool{}
	for _, s := range m.services {
		for _, p := range s.ports {
			if p.proto.http() && !seen[p.num] {
				seen[p.num] = true
				m.httpPorts = append(m.httpPorts, p.num)
			}
		}
	}
	slices.Sort(m.httpPorts)
	return m
}

// podHash makes the "<replicaset>-<pod>" suffix of a pod name.
func podHash(seed uint64) string {
	const alnum = "bcdfghjklmnpqrstvwxz2456789"
	r := newRNG(seed, 7)
	b := make([]byte, 0, 16)
	for i := 0; i < 10; i++ {
		b = append(b, alnum[r.intn(len(alnum))])
	}
	b = append(b, '-')
	for i := 0; i < 5; i++ {
		b = append(b, alnum[r.intn(len(alnum))])
	}
	return string(b)
}

func (m *mesh) stamp(i int) string { return m.stamps[i&63] }

// changed reports whether the resource named name is one ChangePercent changes.
func (m *mesh) changed(name string) bool {
	if m.opts.ChangePercent <= 0 {
		return false
	}
	h := uint32(2166136261)
	for i := 0; i < len(name); i++ {
		h = (h ^ uint32(name[i])) * 16777619
	}
	return float64(h%10000) < m.opts.ChangePercent*100
}

// clusterName is Istio's "direction|port|subset|host".
func clusterName(dir string, port int, subset, host string) string {
	return dir + "|" + strconv.Itoa(port) + "|" + subset + "|" + host
}
