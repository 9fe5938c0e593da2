package gendump

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	_ "github.com/cncf/xds/go/udpa/type/v1"
	adminv3 "github.com/envoyproxy/go-control-plane/envoy/admin/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/config/trace/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/file/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/cors/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/fault/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/grpc_stats/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/listener/http_inspector/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/listener/original_dst/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/listener/tls_inspector/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/request_id/uuid/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/retry/host/previous_hosts/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/raw_buffer/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/emptypb"
)

// istioOnlyTypes are the @types of a real Istio sidecar dump that
// go-control-plane does not know. Any other unresolvable @type is a typo.
var istioOnlyTypes = []string{
	"type.googleapis.com/envoy.tcp.metadataexchange.config.MetadataExchange",
	"type.googleapis.com/io.istio.http.peer_metadata.Config",
	"type.googleapis.com/istio.envoy.config.filter.http.alpn.v2alpha1.FilterConfig",
	"type.googleapis.com/stats.PluginConfig",
}

func generate(t testing.TB, write func(io.Writer, Options) error, o Options) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := write(&buf, o); err != nil {
		t.Fatalf("generate %+v: %v", o, err)
	}
	return buf.Bytes()
}

func TestDeterministic(t *testing.T) {
	tests := []struct {
		name  string
		write func(io.Writer, Options) error
	}{
		{"config_dump", Write},
		{"clusters", WriteClusters},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := Options{Services: 300, Seed: 7}
			a := sha256.Sum256(generate(t, tt.write, o))
			b := sha256.Sum256(generate(t, tt.write, o))
			if a != b {
				t.Fatalf("two runs with %+v differ: %x != %x", o, a, b)
			}
			c := sha256.Sum256(generate(t, tt.write, Options{Services: 300, Seed: 8}))
			if a == c {
				t.Fatalf("seeds 7 and 8 give the same document")
			}
		})
	}
}

// tolerantResolver resolves @types through the global registry and stands
// google.protobuf.Empty in for those it does not know, recording them.
type tolerantResolver struct{ unknown map[string]bool }

func (r *tolerantResolver) FindMessageByName(n protoreflect.FullName) (protoreflect.MessageType, error) {
	return protoregistry.GlobalTypes.FindMessageByName(n)
}

func (r *tolerantResolver) FindMessageByURL(url string) (protoreflect.MessageType, error) {
	mt, err := protoregistry.GlobalTypes.FindMessageByURL(url)
	if errors.Is(err, protoregistry.NotFound) {
		r.unknown[url] = true
		return (&emptypb.Empty{}).ProtoReflect().Type(), nil
	}
	return mt, err
}

func (r *tolerantResolver) FindExtensionByName(n protoreflect.FullName) (protoreflect.ExtensionType, error) {
	return protoregistry.GlobalTypes.FindExtensionByName(n)
}

func (r *tolerantResolver) FindExtensionByNumber(m protoreflect.FullName, n protoreflect.FieldNumber) (protoreflect.ExtensionType, error) {
	return protoregistry.GlobalTypes.FindExtensionByNumber(m, n)
}

// stripUnknownAnys empties every Any whose @type the registry does not know,
// so a strict decode checks all the rest of the document.
func stripUnknownAnys(v any) any {
	switch x := v.(type) {
	case map[string]any:
		if t, ok := x["@type"].(string); ok {
			if _, err := protoregistry.GlobalTypes.FindMessageByURL(t); err != nil {
				return map[string]any{"@type": t}
			}
		}
		for k, e := range x {
			x[k] = stripUnknownAnys(e)
		}
	case []any:
		for i, e := range x {
			x[i] = stripUnknownAnys(e)
		}
	}
	return v
}

// decode unmarshals one JSON document into m twice: leniently, the way a
// reader of real dumps must (DiscardUnknown, unknown @types tolerated), and
// strictly with the Istio-only Anys emptied, which catches misspelled fields.
func decode(t *testing.T, what string, raw []byte, m proto.Message, r *tolerantResolver) {
	t.Helper()
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true, Resolver: r}).Unmarshal(raw, m); err != nil {
		t.Fatalf("%s: lenient decode: %v", what, err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var generic any
	if err := dec.Decode(&generic); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	stripped, err := json.Marshal(stripUnknownAnys(generic))
	if err != nil {
		t.Fatal(err)
	}
	strict := m.ProtoReflect().New().Interface()
	if err := (protojson.UnmarshalOptions{Resolver: r}).Unmarshal(stripped, strict); err != nil {
		t.Fatalf("%s: strict decode: %v", what, err)
	}
}

// parsedDump is a generated config dump decoded with go-control-plane.
type parsedDump struct {
	bootstrap *adminv3.BootstrapConfigDump
	clusters  *adminv3.ClustersConfigDump
	endpoints *adminv3.EndpointsConfigDump
	listeners *adminv3.ListenersConfigDump
	routes    *adminv3.RoutesConfigDump
	secrets   *adminv3.SecretsConfigDump
	unknown   map[string]bool
}

func parseDump(t *testing.T, data []byte) *parsedDump {
	t.Helper()
	var top struct {
		Configs []json.RawMessage `json:"configs"`
	}
	if err := json.Unmarshal(data, &top); err != nil {
		t.Fatalf("dump is not JSON: %v", err)
	}
	p := &parsedDump{
		bootstrap: &adminv3.BootstrapConfigDump{}, clusters: &adminv3.ClustersConfigDump{},
		endpoints: &adminv3.EndpointsConfigDump{}, listeners: &adminv3.ListenersConfigDump{},
		routes: &adminv3.RoutesConfigDump{}, secrets: &adminv3.SecretsConfigDump{},
	}
	byType := map[string]proto.Message{
		"envoy.admin.v3.BootstrapConfigDump":    p.bootstrap,
		"envoy.admin.v3.ClustersConfigDump":     p.clusters,
		"envoy.admin.v3.EndpointsConfigDump":    p.endpoints,
		"envoy.admin.v3.ListenersConfigDump":    p.listeners,
		"envoy.admin.v3.ScopedRoutesConfigDump": &adminv3.ScopedRoutesConfigDump{},
		"envoy.admin.v3.RoutesConfigDump":       p.routes,
		"envoy.admin.v3.SecretsConfigDump":      p.secrets,
	}
	r := &tolerantResolver{unknown: map[string]bool{}}
	var order []string
	for i, raw := range top.Configs {
		var head struct {
			Type string `json:"@type"`
		}
		if err := json.Unmarshal(raw, &head); err != nil {
			t.Fatal(err)
		}
		name := strings.TrimPrefix(head.Type, typeURLPrefix)
		m, ok := byType[name]
		if !ok {
			t.Fatalf("configs[%d]: unexpected @type %q", i, head.Type)
		}
		delete(byType, name)
		order = append(order, name)
		// The section is an Any: decode its body as the message it names.
		var body map[string]json.RawMessage
		if err := json.Unmarshal(raw, &body); err != nil {
			t.Fatal(err)
		}
		delete(body, "@type")
		rest, _ := json.Marshal(body)
		decode(t, fmt.Sprintf("configs[%d] %s", i, name), rest, m, r)
	}
	if len(byType) != 0 {
		t.Fatalf("sections missing: %v (have %v)", byType, order)
	}
	p.unknown = r.unknown
	return p
}

func anyTo[T proto.Message](t *testing.T, a interface {
	GetTypeUrl() string
	GetValue() []byte
}, m T) T {
	t.Helper()
	if err := proto.Unmarshal(a.GetValue(), m); err != nil {
		t.Fatalf("%s: %v", a.GetTypeUrl(), err)
	}
	return m
}

func TestConfigDumpDecodesWithGoControlPlane(t *testing.T) {
	data := generate(t, Write, Options{Services: 400, Seed: 1})
	p := parseDump(t, data)

	var unknown []string
	for u := range p.unknown {
		unknown = append(unknown, u)
	}
	slices.Sort(unknown)
	if !slices.Equal(unknown, istioOnlyTypes) {
		t.Errorf("@types unknown to go-control-plane = %q, want exactly the Istio-only %q", unknown, istioOnlyTypes)
	}

	// Bootstrap: the node metadata istioctl reads.
	md := p.bootstrap.GetBootstrap().GetNode().GetMetadata().GetFields()
	for _, k := range []string{"ISTIO_VERSION", "ISTIO_PROXY_SHA"} {
		if md[k].GetStringValue() == "" {
			t.Errorf("bootstrap node metadata %s is empty", k)
		}
	}
	if v := p.bootstrap.GetBootstrap().GetNode().GetUserAgentBuildVersion().GetVersion(); v.GetMajorNumber() != 1 || v.GetMinorNumber() == 0 {
		t.Errorf("user_agent_build_version = %v", v)
	}

	// Clusters: every EDS cluster has a load assignment, and the mix of
	// kinds a sidecar has is there.
	cla := map[string]*endpointv3.ClusterLoadAssignment{}
	for _, e := range p.endpoints.GetDynamicEndpointConfigs() {
		c := anyTo(t, e.GetEndpointConfig(), &endpointv3.ClusterLoadAssignment{})
		cla[c.GetClusterName()] = c
	}
	clusters := map[string]*clusterv3.Cluster{}
	kinds := map[string]int{}
	for _, dc := range p.clusters.GetDynamicActiveClusters() {
		if dc.GetVersionInfo() == "" || dc.GetLastUpdated() == nil {
			t.Errorf("dynamic cluster without version_info/last_updated")
		}
		c := anyTo(t, dc.GetCluster(), &clusterv3.Cluster{})
		clusters[c.GetName()] = c
		kinds[c.GetType().String()]++
		if strings.HasPrefix(c.GetName(), "outbound|") && strings.Split(c.GetName(), "|")[2] != "" {
			kinds["subset"]++
		}
		if len(c.GetTransportSocketMatches()) == 2 {
			kinds["mtls"]++
			m := c.GetTransportSocketMatches()[0]
			tlsCtx := anyTo(t, m.GetTransportSocket().GetTypedConfig(), &tlsv3.UpstreamTlsContext{})
			if m.GetMatch().GetFields()["tlsMode"].GetStringValue() != "istio" || tlsCtx.GetSni() == "" ||
				tlsCtx.GetCommonTlsContext().GetTlsCertificateSdsSecretConfigs()[0].GetName() != "default" {
				t.Errorf("%s: bad tlsMode-istio transport socket match", c.GetName())
			}
		}
		if c.GetMetadata().GetFilterMetadata()["istio"].GetFields()["config"] != nil {
			kinds["destination-rule"]++
		}
		if c.GetType() == clusterv3.Cluster_EDS {
			if c.GetEdsClusterConfig().GetEdsConfig().GetAds() == nil {
				t.Errorf("%s: EDS without ads config source", c.GetName())
			}
			if cla[c.GetEdsClusterConfig().GetServiceName()] == nil {
				t.Errorf("%s: no ClusterLoadAssignment in the EDS section", c.GetName())
			}
		}
	}
	for _, k := range []string{"EDS", "STATIC", "ORIGINAL_DST", "STRICT_DNS", "subset", "mtls", "destination-rule"} {
		if kinds[k] == 0 {
			t.Errorf("no cluster of kind %s (kinds %v)", k, kinds)
		}
	}
	for _, name := range []string{"BlackHoleCluster", "PassthroughCluster", "inbound|9080||", "outbound|9080|v1|reviews.default.svc.cluster.local"} {
		if clusters[name] == nil {
			t.Errorf("cluster %q missing", name)
		}
	}

	// Endpoints: localities, weights and a few unhealthy hosts.
	health := map[string]int{}
	for _, c := range cla {
		for _, le := range c.GetEndpoints() {
			if le.GetLocality().GetZone() == "" || le.GetLoadBalancingWeight().GetValue() == 0 {
				t.Fatalf("%s: locality endpoints without zone or weight", c.GetClusterName())
			}
			for _, lb := range le.GetLbEndpoints() {
				health[lb.GetHealthStatus().String()]++
			}
		}
	}
	if health["HEALTHY"] == 0 || health["UNHEALTHY"] == 0 || health["DRAINING"] == 0 {
		t.Errorf("health statuses %v: want HEALTHY, UNHEALTHY and DRAINING", health)
	}

	// Listeners and routes: every RDS name resolves, every routed cluster exists.
	rds := map[string]*routev3.RouteConfiguration{}
	for _, r := range p.routes.GetDynamicRouteConfigs() {
		rc := anyTo(t, r.GetRouteConfig(), &routev3.RouteConfiguration{})
		rds[rc.GetName()] = rc
	}
	names := map[string]bool{}
	var chains int
	for _, dl := range p.listeners.GetDynamicListeners() {
		l := anyTo(t, dl.GetActiveState().GetListener(), &listenerv3.Listener{})
		names[l.GetName()] = true
		if l.GetName() == "virtualInbound" {
			chains = len(l.GetFilterChains())
		}
		for _, fc := range l.GetFilterChains() {
			for _, f := range fc.GetFilters() {
				if f.GetName() != "envoy.filters.network.http_connection_manager" {
					continue
				}
				hcm := anyTo(t, f.GetTypedConfig(), &hcmv3.HttpConnectionManager{})
				if n := hcm.GetRds().GetRouteConfigName(); n != "" && rds[n] == nil {
					t.Errorf("listener %s: RDS route config %q missing", l.GetName(), n)
				}
			}
		}
	}
	for _, n := range []string{"virtualOutbound", "virtualInbound", "0.0.0.0_9080", "connect_originate"} {
		if !names[n] {
			t.Errorf("listener %q missing", n)
		}
	}
	if chains < 10 {
		t.Errorf("virtualInbound has %d filter chains, want many", chains)
	}
	vhosts := 0
	for _, rc := range rds {
		for _, vh := range rc.GetVirtualHosts() {
			vhosts++
			for _, r := range vh.GetRoutes() {
				targets := []string{r.GetRoute().GetCluster()}
				for _, wc := range r.GetRoute().GetWeightedClusters().GetClusters() {
					targets = append(targets, wc.GetName())
				}
				for _, c := range targets {
					if c != "" && clusters[c] == nil {
						t.Errorf("route %s/%s: cluster %q missing", rc.GetName(), vh.GetName(), c)
					}
				}
			}
		}
	}
	if rds["9080"] == nil || vhosts < 300 {
		t.Errorf("%d virtual hosts in %d route configs: want route config 9080 and hundreds of hosts", vhosts, len(rds))
	}

	// Secrets: real certificates, a redacted key.
	secrets := map[string]*tlsv3.Secret{}
	for _, s := range p.secrets.GetDynamicActiveSecrets() {
		secrets[s.GetName()] = anyTo(t, s.GetSecret(), &tlsv3.Secret{})
	}
	def, root := secrets["default"], secrets["ROOTCA"]
	if def == nil || root == nil {
		t.Fatalf("secrets = %v, want default and ROOTCA", secrets)
	}
	if got := string(def.GetTlsCertificate().GetPrivateKey().GetInlineBytes()); got != "[redacted]" {
		t.Errorf("private key = %q, want [redacted]", got)
	}
	chain := parsePEM(t, def.GetTlsCertificate().GetCertificateChain().GetInlineBytes())
	roots := parsePEM(t, root.GetValidationContext().GetTrustedCa().GetInlineBytes())
	if len(chain) != 2 || len(roots) != 1 {
		t.Fatalf("chain has %d certs, root %d: want 2 and 1", len(chain), len(roots))
	}
	if got := chain[0].URIs[0].String(); got != "spiffe://cluster.local/ns/default/sa/bookinfo-productpage" {
		t.Errorf("workload SAN = %s", got)
	}
	pool := x509.NewCertPool()
	pool.AddCert(roots[0])
	if _, err := chain[0].Verify(x509.VerifyOptions{Roots: pool, CurrentTime: chain[0].NotBefore.Add(1),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Errorf("workload certificate does not verify against ROOTCA: %v", err)
	}
}

func parsePEM(t *testing.T, data []byte) []*x509.Certificate {
	t.Helper()
	var certs []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return certs
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatalf("parse certificate: %v", err)
		}
		certs = append(certs, c)
	}
}

func TestClustersDocumentMatchesDump(t *testing.T) {
	o := Options{Services: 200, Seed: 3}
	var doc adminv3.Clusters
	decode(t, "/clusters", generate(t, WriteClusters, o), &doc, &tolerantResolver{unknown: map[string]bool{}})

	p := parseDump(t, generate(t, Write, o))
	want := map[string][]string{} // EDS cluster -> host addresses
	for _, e := range p.endpoints.GetDynamicEndpointConfigs() {
		c := anyTo(t, e.GetEndpointConfig(), &endpointv3.ClusterLoadAssignment{})
		want[c.GetClusterName()] = nil // subset clusters may have no endpoints
		for _, le := range c.GetEndpoints() {
			for _, lb := range le.GetLbEndpoints() {
				a := lb.GetEndpoint().GetAddress().GetSocketAddress()
				want[c.GetClusterName()] = append(want[c.GetClusterName()], fmt.Sprintf("%s:%d", a.GetAddress(), a.GetPortValue()))
			}
		}
	}
	seen := 0
	flags := map[string]int{}
	for _, cs := range doc.GetClusterStatuses() {
		if cs.GetEdsServiceName() == "" {
			continue
		}
		seen++
		var got []string
		for _, h := range cs.GetHostStatuses() {
			a := h.GetAddress().GetSocketAddress()
			got = append(got, fmt.Sprintf("%s:%d", a.GetAddress(), a.GetPortValue()))
			if h.GetHealthStatus().GetFailedOutlierCheck() {
				flags["outlier"]++
			}
			flags[h.GetHealthStatus().GetEdsHealthStatus().String()]++
			if h.GetLocality().GetZone() != "" && h.GetWeight() > 0 && len(h.GetStats()) == 8 {
				flags["complete"]++
			}
		}
		w := want[cs.GetName()]
		slices.Sort(got)
		slices.Sort(w)
		if !slices.Equal(got, w) {
			t.Errorf("%s: /clusters hosts %v, EDS has %v", cs.GetName(), got, w)
		}
	}
	if seen != len(want) {
		t.Errorf("/clusters lists %d EDS clusters, the dump %d", seen, len(want))
	}
	if flags["outlier"] == 0 || flags["UNHEALTHY"] == 0 || flags["complete"] == 0 {
		t.Errorf("host flags %v: want outlier-ejected, unhealthy and complete hosts", flags)
	}
}

func TestServicesForSize(t *testing.T) {
	for _, tt := range []struct {
		name   string
		write  func(io.Writer, Options) error
		target int64
	}{
		{"config_dump", Write, 8e6},
		{"clusters", WriteClusters, 3e6},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n, err := ServicesForSize(tt.target, 1, tt.write)
			if err != nil {
				t.Fatal(err)
			}
			var c countWriter
			if err := tt.write(&c, Options{Services: n, Seed: 1}); err != nil {
				t.Fatal(err)
			}
			if d := float64(c.n-tt.target) / float64(tt.target); d < -0.02 || d > 0.02 {
				t.Errorf("%d services give %d bytes, %.1f%% off the %d target", n, c.n, 100*d, tt.target)
			}
		})
	}
}

// errWriter fails after n bytes, like a closed pipe.
type errWriter struct{ n int }

func (w *errWriter) Write(p []byte) (int, error) {
	if w.n -= len(p); w.n < 0 {
		return 0, errors.New("broken pipe")
	}
	return len(p), nil
}

func TestWriteReportsWriterErrors(t *testing.T) {
	for _, write := range []func(io.Writer, Options) error{Write, WriteClusters} {
		if err := write(&errWriter{n: 1 << 20}, Options{Services: 500}); err == nil || !strings.Contains(err.Error(), "broken pipe") {
			t.Errorf("error = %v, want broken pipe", err)
		}
	}
}

func BenchmarkWrite(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("services=%d", n), func(b *testing.B) {
			var c countWriter
			_ = Write(&c, Options{Services: n, Seed: 1})
			b.SetBytes(c.n)
			b.ReportAllocs()
			for b.Loop() {
				if err := Write(io.Discard, Options{Services: n, Seed: 1}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkWriteClusters(b *testing.B) {
	var c countWriter
	_ = WriteClusters(&c, Options{Services: 1000, Seed: 1})
	b.SetBytes(c.n)
	b.ReportAllocs()
	for b.Loop() {
		if err := WriteClusters(io.Discard, Options{Services: 1000, Seed: 1}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkServicesForSize(b *testing.B) {
	for b.Loop() {
		if _, err := ServicesForSize(20e6, 1, Write); err != nil {
			b.Fatal(err)
		}
	}
}
