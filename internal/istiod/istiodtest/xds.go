package istiodtest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	adminv3 "github.com/envoyproxy/go-control-plane/envoy/admin/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	statusv3 "github.com/envoyproxy/go-control-plane/envoy/service/status/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/proxyctl/proxyctl/configdump"
)

// The debug types istiod serves on its xDS port (pilot/pkg/xds/statusgen.go).
const (
	typeSyncz      = "istio.io/debug/syncz"
	typeConfigDump = "istio.io/debug/config_dump"
)

// XDSOptions describe how a fake istiod answers on its xDS port: a real gRPC server speaking
// the Aggregated Discovery Service (go-control-plane's service definition), answering the debug
// types as istiod's status generator does.
type XDSOptions struct {
	// Syncz is the state to report, as the /debug/syncz JSON array istiod's HTTP debug API gives
	// for it: the server turns each proxy into an envoy.service.status.v3.ClientConfig the way
	// istiod does (status from the nonces, last_updated from sentTime, error_state from
	// lastError; node metadata CLUSTER_ID, NAMESPACE, ISTIO_VERSION). nil reports no proxy.
	Syncz []byte
	// ID is the instance id in the answers' control_plane identifier ("" sends none).
	ID string
	// ConfigDumps are the config dumps by proxy id, as /debug/config_dump JSON; they are sent
	// as their configs, protobuf-encoded Anys. Any other proxy gets an empty answer.
	ConfigDumps map[string][]byte
	// CA, when set, makes the server speak TLS with a certificate the CA issued.
	CA *CA
	// RequireClientCert makes a TLS server require a client certificate the CA issued.
	RequireClientCert bool
	// Token, when set, is the bearer token a stream must carry (without a client certificate);
	// any other gets Unauthenticated, as istiod's authenticators answer.
	Token string
	// Authenticate, when set, checks the bearer token of each stream (without a client
	// certificate), as istiod's Kubernetes authenticator does with a TokenReview; an error
	// gets Unauthenticated.
	Authenticate func(ctx context.Context, token string) error
	// Namespace, when set, is the node metadata NAMESPACE a client must claim, as istiod checks
	// it against the token's identity (PermissionDenied otherwise).
	Namespace string

	// Hostile behaviours, for the client's bounds.
	// Hang accepts the request and never answers.
	Hang bool
	// Pad makes the syncz answer at least this many bytes (a long version_info).
	Pad int
	// Answer, when set, is sent whatever is asked.
	Answer *discoveryv3.DiscoveryResponse
	// OtherTypes answers every request with endless answers of another type.
	OtherTypes bool
}

// XDSServer is a running fake istiod xDS port.
type XDSServer struct {
	// Addr is where it listens, 127.0.0.1:PORT.
	Addr string
	o    XDSOptions
	t    testing.TB

	mu       sync.Mutex
	auth     []string // the authorization metadata of each stream, "" without
	requests []*discoveryv3.DiscoveryRequest
}

// Authorizations returns the authorization metadata each stream carried so far ("" for none).
func (s *XDSServer) Authorizations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.auth...)
}

// Requests returns the discovery requests received so far.
func (s *XDSServer) Requests() []*discoveryv3.DiscoveryRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*discoveryv3.DiscoveryRequest(nil), s.requests...)
}

// NewXDSServer starts a fake istiod xDS port on a loopback listener; it stops when the test ends.
func NewXDSServer(t testing.TB, o XDSOptions) *XDSServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var opts []grpc.ServerOption
	if o.CA != nil {
		cfg := &tls.Config{Certificates: []tls.Certificate{o.CA.Server}, MinVersion: tls.VersionTLS12}
		if o.RequireClientCert {
			cfg.ClientAuth = tls.RequireAndVerifyClientCert
			cfg.ClientCAs = o.CA.Pool()
		}
		opts = append(opts, grpc.Creds(credentials.NewTLS(cfg)))
	}
	gs := grpc.NewServer(opts...)
	s := &XDSServer{Addr: l.Addr().String(), o: o, t: t}
	discoveryv3.RegisterAggregatedDiscoveryServiceServer(gs, &adsServer{s: s})
	go func() { _ = gs.Serve(l) }()
	t.Cleanup(gs.Stop)
	return s
}

type adsServer struct {
	discoveryv3.UnimplementedAggregatedDiscoveryServiceServer
	s *XDSServer
}

func (a *adsServer) StreamAggregatedResources(stream grpc.BidiStreamingServer[discoveryv3.DiscoveryRequest, discoveryv3.DiscoveryResponse]) error {
	s, o := a.s, a.s.o
	md, _ := metadata.FromIncomingContext(stream.Context())
	auth := strings.Join(md.Get("authorization"), ",")
	s.mu.Lock()
	s.auth = append(s.auth, auth)
	s.mu.Unlock()
	if o.Token != "" && auth != "Bearer "+o.Token && !o.RequireClientCert {
		return status.Error(codes.Unauthenticated, "authentication failure")
	}
	if o.Authenticate != nil && !o.RequireClientCert {
		token, ok := strings.CutPrefix(auth, "Bearer ")
		if !ok {
			return status.Error(codes.Unauthenticated, "authentication failure")
		}
		if err := o.Authenticate(stream.Context(), token); err != nil {
			return status.Errorf(codes.Unauthenticated, "authentication failure: %v", err)
		}
	}
	for {
		req, err := stream.Recv()
		if err != nil {
			return nil
		}
		s.mu.Lock()
		s.requests = append(s.requests, req)
		s.mu.Unlock()
		if ns := req.GetNode().GetMetadata().GetFields()["NAMESPACE"].GetStringValue(); o.Namespace != "" && req.GetNode() != nil && ns != o.Namespace {
			return status.Errorf(codes.PermissionDenied, "authorization failed: no identities ([spiffe://cluster.local/ns/%s/sa/default]) matched %s/default", o.Namespace, ns)
		}
		switch {
		case o.Hang:
			<-stream.Context().Done()
			return nil
		case o.OtherTypes:
			for stream.Context().Err() == nil {
				if err := stream.Send(&discoveryv3.DiscoveryResponse{TypeUrl: "type.googleapis.com/envoy.config.cluster.v3.Cluster"}); err != nil {
					return nil
				}
			}
			return nil
		case o.Answer != nil:
			if err := stream.Send(o.Answer); err != nil {
				return nil
			}
			continue
		}
		resp := &discoveryv3.DiscoveryResponse{TypeUrl: req.GetTypeUrl(), Nonce: "n1"}
		if o.ID != "" {
			resp.ControlPlane = &corev3.ControlPlane{Identifier: `{"Component":"istiod","ID":"` + o.ID + `","Info":{"version":"1.1","revision":"","golang_version":"","status":"","tag":""}}`}
		}
		switch req.GetTypeUrl() {
		case typeSyncz:
			resp.Resources = a.syncz()
			if o.Pad > 0 {
				resp.VersionInfo = strings.Repeat("x", o.Pad)
			}
		case typeConfigDump:
			if names := req.GetResourceNames(); len(names) == 1 {
				resp.Resources = a.configDump(names[0])
			}
		}
		if err := stream.Send(resp); err != nil {
			return nil
		}
	}
}

// synczEntry is what the server reads of a /debug/syncz fixture.
type synczEntry struct {
	Proxy        string `json:"proxy"`
	ClusterID    string `json:"cluster_id"`
	IstioVersion string `json:"istio_version"`

	ClusterSent          string `json:"cluster_sent"`
	ClusterAcked         string `json:"cluster_acked"`
	ListenerSent         string `json:"listener_sent"`
	ListenerAcked        string `json:"listener_acked"`
	RouteSent            string `json:"route_sent"`
	RouteAcked           string `json:"route_acked"`
	EndpointSent         string `json:"endpoint_sent"`
	EndpointAcked        string `json:"endpoint_acked"`
	ExtensionConfigSent  string `json:"extensionconfig_sent"`
	ExtensionConfigAcked string `json:"extensionconfig_acked"`

	Resources map[string]struct {
		Sent      string `json:"sent"`
		Acked     string `json:"acked"`
		SentTime  string `json:"sentTime"`
		LastError string `json:"lastError"`
	} `json:"resources"`
}

// watched is one watched resource of a proxy, as istiod keeps it.
type watched struct {
	typeURL, sent, acked, lastError string
	sentTime                        time.Time
}

func (e synczEntry) watched() []watched {
	var out []watched
	if len(e.Resources) > 0 {
		for u, r := range e.Resources {
			st, _ := time.Parse(time.RFC3339Nano, r.SentTime)
			out = append(out, watched{u, r.Sent, r.Acked, r.LastError, st})
		}
		return out
	}
	// An older istiod's state: the legacy nonce pairs that have a nonce.
	for _, l := range []watched{
		{typeURL: "type.googleapis.com/envoy.config.cluster.v3.Cluster", sent: e.ClusterSent, acked: e.ClusterAcked},
		{typeURL: "type.googleapis.com/envoy.config.listener.v3.Listener", sent: e.ListenerSent, acked: e.ListenerAcked},
		{typeURL: "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment", sent: e.EndpointSent, acked: e.EndpointAcked},
		{typeURL: "type.googleapis.com/envoy.config.route.v3.RouteConfiguration", sent: e.RouteSent, acked: e.RouteAcked},
		{typeURL: "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig", sent: e.ExtensionConfigSent, acked: e.ExtensionConfigAcked},
	} {
		if l.sent != "" || l.acked != "" {
			out = append(out, l)
		}
	}
	return out
}

// syncStatus is istiod's debugSyncStatus.
func syncStatus(w watched) statusv3.ConfigStatus {
	switch {
	case w.lastError != "":
		return statusv3.ConfigStatus_ERROR
	case w.sent == "":
		return statusv3.ConfigStatus_NOT_SENT
	case w.acked == w.sent:
		return statusv3.ConfigStatus_SYNCED
	default:
		return statusv3.ConfigStatus_STALE
	}
}

// syncz is istiod's debugSyncz for the fixture's state.
func (a *adsServer) syncz() []*anypb.Any {
	if a.s.o.Syncz == nil {
		return nil
	}
	res, err := ClientConfigs(a.s.o.Syncz)
	if err != nil {
		a.s.t.Errorf("istiodtest: %v", err)
	}
	return res
}

// ClientConfigs turns the state of a /debug/syncz answer into the ClientConfigs istiod's
// debugSyncz sends for it over xDS.
func ClientConfigs(syncz []byte) ([]*anypb.Any, error) {
	var entries []synczEntry
	if err := json.Unmarshal(syncz, &entries); err != nil {
		return nil, fmt.Errorf("syncz fixture: %w", err)
	}
	var out []*anypb.Any
	for _, e := range entries {
		var configs []*statusv3.ClientConfig_GenericXdsConfig
		for _, w := range e.watched() {
			c := &statusv3.ClientConfig_GenericXdsConfig{
				TypeUrl:      w.typeURL,
				ConfigStatus: syncStatus(w),
				LastUpdated:  timestamppb.New(w.sentTime),
			}
			if w.lastError != "" {
				c.ErrorState = &adminv3.UpdateFailureState{LastUpdateAttempt: timestamppb.New(w.sentTime), Details: w.lastError}
			}
			configs = append(configs, c)
		}
		sortConfigs(configs)
		meta := map[string]any{}
		for k, v := range map[string]string{"CLUSTER_ID": e.ClusterID, "ISTIO_VERSION": e.IstioVersion, "NAMESPACE": namespaceOf(e.Proxy)} {
			if v != "" {
				meta[k] = v
			}
		}
		md, err := structpb.NewStruct(meta)
		if err != nil {
			return nil, err
		}
		cc := &statusv3.ClientConfig{Node: &corev3.Node{Id: e.Proxy, Metadata: md}, GenericXdsConfigs: configs}
		any, err := anypb.New(cc)
		if err != nil {
			return nil, err
		}
		out = append(out, any)
	}
	return out, nil
}

func sortConfigs(c []*statusv3.ClientConfig_GenericXdsConfig) {
	for i := 1; i < len(c); i++ {
		for j := i; j > 0 && c[j].TypeUrl < c[j-1].TypeUrl; j-- {
			c[j], c[j-1] = c[j-1], c[j]
		}
	}
}

func namespaceOf(id string) string {
	if i := strings.LastIndexByte(id, '.'); i >= 0 {
		return id[i+1:]
	}
	return ""
}

// configDump is the configs of the proxy's dump, as istiod sends them; none for another proxy.
func (a *adsServer) configDump(proxyID string) []*anypb.Any {
	body, ok := a.s.o.ConfigDumps[proxyID]
	if !ok {
		return nil
	}
	dump := &adminv3.ConfigDump{}
	if err := (protojson.UnmarshalOptions{Resolver: configdump.TypeResolver()}).Unmarshal(body, dump); err != nil {
		a.s.t.Errorf("istiodtest: config dump of %s: %v", proxyID, err)
		return nil
	}
	return dump.GetConfigs()
}

// StringAnswer is an answer of the syncz type whose one resource is not a ClientConfig.
func StringAnswer() *discoveryv3.DiscoveryResponse {
	v, _ := anypb.New(wrapperspb.String("hello"))
	return &discoveryv3.DiscoveryResponse{TypeUrl: typeSyncz, Resources: []*anypb.Any{v}}
}

// CA is a test certificate authority with a server certificate for istiod and a client
// certificate for proxyctl, as the mesh's CA issues them.
type CA struct {
	// RootPEM is the CA certificate (root-cert.pem, configmap istio-ca-root-cert).
	RootPEM []byte
	// Server is istiod's certificate, for istiod.istio-system.svc (and the names given).
	Server tls.Certificate
	// ClientChainPEM and ClientKeyPEM are a client certificate (cert-chain.pem, key.pem).
	ClientChainPEM, ClientKeyPEM []byte
	pool                         *x509.CertPool
}

// Pool is a pool holding the CA certificate.
func (c *CA) Pool() *x509.CertPool { return c.pool }

// NewCA makes a CA, a server certificate for istiod.istio-system.svc and dnsNames, and a client
// certificate for spiffe://cluster.local/ns/istio-system/sa/default.
func NewCA(t testing.TB, dnsNames ...string) *CA {
	t.Helper()
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	now := time.Now()
	rootKey := key()
	root := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{Organization: []string{"cluster.local"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
	}
	rootDER, err := x509.CreateCertificate(rand.Reader, root, root, &rootKey.PublicKey, rootKey)
	if err != nil {
		t.Fatal(err)
	}
	rootCert, err := x509.ParseCertificate(rootDER)
	if err != nil {
		t.Fatal(err)
	}
	issue := func(serial int64, usage x509.ExtKeyUsage, dns []string, uris []*url.URL) (certPEM, keyPEM []byte) {
		k := key()
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}, DNSNames: dns, URIs: uris,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, rootCert, &k.PublicKey, rootKey)
		if err != nil {
			t.Fatal(err)
		}
		kder, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
	}
	serverPEM, serverKey := issue(2, x509.ExtKeyUsageServerAuth, append([]string{"istiod.istio-system.svc"}, dnsNames...), nil)
	spiffe, _ := url.Parse("spiffe://cluster.local/ns/istio-system/sa/default")
	clientPEM, clientKey := issue(3, x509.ExtKeyUsageClientAuth, nil, []*url.URL{spiffe})
	server, err := tls.X509KeyPair(serverPEM, serverKey)
	if err != nil {
		t.Fatal(err)
	}
	ca := &CA{
		RootPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rootDER}),
		Server:  server, ClientChainPEM: clientPEM, ClientKeyPEM: clientKey, pool: x509.NewCertPool(),
	}
	ca.pool.AddCert(rootCert)
	return ca
}

// CertDir writes the CA as istioctl's --cert-dir reads it: root-cert.pem, and with client also
// cert-chain.pem and key.pem. It returns the directory.
func (c *CA) CertDir(t testing.TB, client bool) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string][]byte{"root-cert.pem": c.RootPEM}
	if client {
		files["cert-chain.pem"], files["key.pem"] = c.ClientChainPEM, c.ClientKeyPEM
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
