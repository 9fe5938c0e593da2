package istiod

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"net"
	"strings"
	"sync"
	"syscall"
	"unicode"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/proxyctl/proxyctl/configdump"
)

// istiod's xDS debug API (pilot/pkg/xds/statusgen.go): a DiscoveryRequest of one of these types
// on an ADS stream, answered by one DiscoveryResponse. It is served on istiod's xDS ports, 15012
// (TLS, authenticated) and 15010 (plain text), including where the HTTP debug port is closed
// (ENABLE_DEBUG_ON_HTTP=false) or unreachable, which is why istioctl uses it.
const (
	// TypeDebugSyncz is answered with one envoy.service.status.v3.ClientConfig per proxy.
	TypeDebugSyncz = "istio.io/debug/syncz"
	// TypeDebugConfigDump, with the proxy id as the only resource name, is answered with the
	// configs of the envoy.admin.v3.ConfigDump istiod would send that proxy, or nothing when the
	// proxy is not connected to that istiod.
	TypeDebugConfigDump = "istio.io/debug/config_dump"

	// TypeURLClientConfig is the type of each resource of a syncz answer.
	TypeURLClientConfig = "type.googleapis.com/envoy.service.status.v3.ClientConfig"

	// DefaultXDSPort is istiod's TLS xDS port; 15010 is its plain-text one.
	DefaultXDSPort = 15012
	// PlaintextXDSPort is istiod's plain-text xDS port.
	PlaintextXDSPort = 15010
)

// XDS says how to reach istiod's xDS port and how proxyctl introduces itself there.
type XDS struct {
	// TLS is the client's TLS configuration (with ServerName, the name istiod's certificate must
	// hold); nil speaks plain text, for istiod's port 15010.
	TLS *tls.Config
	// Authority, when set, is the :authority of the requests.
	Authority string
	// Token, when set, returns the bearer token sent with each stream; it is called once per
	// replica asked, so it should cache. A token is never sent without TLS.
	Token func(ctx context.Context) (string, error)
	// TokenSource says where the token comes from ("a token of serviceaccount default in
	// istio-system"), "" when no token is sent; errors name it.
	TokenSource string
	// Roots says what istiod's certificate is verified against ("the mesh's root certificate,
	// configmap istio-ca-root-cert in istio-system"); errors name it.
	Roots string
	// Namespace is the namespace proxyctl says it runs in (node metadata NAMESPACE), the Istio
	// namespace: istiod only answers debug requests in full to an identity of that namespace.
	Namespace string
	// ServiceAccount is the service account proxyctl says it runs as (SERVICE_ACCOUNT), the one
	// its token or certificate is of; istiod checks that they agree.
	ServiceAccount string
}

// NodeID is the id proxyctl gives itself on istiod's xDS port: istiod requires the
// TYPE~IP~ID~DOMAIN form of a proxy's id, as istioctl sends it.
func (x *XDS) nodeID() string {
	ns := x.namespace()
	return "sidecar~127.0.0.1~proxyctl." + ns + "~" + ns + ".svc.cluster.local"
}

func (x *XDS) namespace() string {
	if x != nil && x.Namespace != "" {
		return x.Namespace
	}
	return DefaultNamespace
}

// node is the node proxyctl sends: istioctl's metadata, so that istiod takes it for a debug
// client (the "event" generator serves the debug types; a node without proxy configuration is
// left out of the syncz answer).
func (x *XDS) node() *corev3.Node {
	sa := "default"
	if x != nil && x.ServiceAccount != "" {
		sa = x.ServiceAccount
	}
	meta, _ := structpb.NewStruct(map[string]any{
		"GENERATOR":       "event",
		"SERVICE_ACCOUNT": sa,
		"NAMESPACE":       x.namespace(),
		// istioctl's: the newest version, so that istiod applies no compatibility behaviour.
		"ISTIO_VERSION": "65536.65536.65536",
	})
	return &corev3.Node{Id: x.nodeID(), Metadata: meta}
}

// maxOtherAnswers bounds how many answers of another type than the one asked are skipped.
const maxOtherAnswers = 16

// maxMessageBytes is the largest answer gRPC may receive: the body limit, within what gRPC and
// protobuf can hold (2 GiB).
func (f *Fetcher) maxMessageBytes() int {
	return int(min(f.maxBody(), math.MaxInt32))
}

// xdsRequest sends req on an ADS stream to t.XDSAddress and returns the first answer of its type.
func (f *Fetcher) xdsRequest(ctx context.Context, t Target, req *discoveryv3.DiscoveryRequest) (*discoveryv3.DiscoveryResponse, error) {
	x := t.XDS
	if x == nil {
		x = &XDS{}
	}
	trace := &connTrace{}
	var creds credentials.TransportCredentials = insecure.NewCredentials()
	if x.TLS != nil {
		creds = &tracedCreds{TransportCredentials: credentials.NewTLS(x.TLS), trace: trace}
	}
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithContextDialer(trace.dial),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(f.maxMessageBytes())),
		grpc.WithUserAgent("proxyctl"),
	}
	if x.Authority != "" {
		opts = append(opts, grpc.WithAuthority(x.Authority))
	}
	conn, err := grpc.NewClient("passthrough:///"+t.XDSAddress, opts...)
	if err != nil {
		return nil, fmt.Errorf("xDS %s: %w", req.GetTypeUrl(), err)
	}
	defer conn.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	token := ""
	if x.Token != nil && x.TLS != nil {
		if token, err = x.Token(ctx); err != nil {
			return nil, err
		}
		if token != "" {
			ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
		}
	}
	fail := func(err error) error {
		return f.xdsError(ctx, t, x, req.GetTypeUrl(), token, trace, err)
	}
	stream, err := discoveryv3.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
	if err != nil {
		return nil, fail(err)
	}
	req = proto.CloneOf(req)
	req.Node = x.node()
	if err := stream.Send(req); err != nil {
		// A broken stream reports why on Recv.
		if _, rerr := stream.Recv(); rerr != nil {
			err = rerr
		}
		return nil, fail(err)
	}
	for range maxOtherAnswers {
		resp, err := stream.Recv()
		if err != nil {
			return nil, fail(err)
		}
		if resp.GetTypeUrl() == req.GetTypeUrl() {
			return resp, nil
		}
	}
	return nil, fmt.Errorf("xDS %s: %s sent %d answers of other types and none of this one; is it istiod?", req.GetTypeUrl(), t.XDSAddress, maxOtherAnswers)
}

// xdsSyncz asks t for its syncz over xDS and turns the ClientConfigs into rows.
func (f *Fetcher) xdsSyncz(ctx context.Context, t Target) ([]ProxyStatus, error) {
	resp, err := f.xdsRequest(ctx, t, &discoveryv3.DiscoveryRequest{TypeUrl: TypeDebugSyncz})
	if err != nil {
		return nil, err
	}
	name := ""
	if !t.NameFromServer {
		name = t.Name
	}
	rows, err := SynczRows(resp, name, t.Name)
	if err != nil {
		return nil, fmt.Errorf("xDS %s: %w; is %s istiod?", TypeDebugSyncz, err, t.XDSAddress)
	}
	return rows, nil
}

// xdsConfigDump asks t for the config dump of proxyID over xDS, as the JSON document
// /debug/config_dump would answer.
func (f *Fetcher) xdsConfigDump(ctx context.Context, t Target, proxyID string) ([]byte, error) {
	resp, err := f.xdsRequest(ctx, t, &discoveryv3.DiscoveryRequest{TypeUrl: TypeDebugConfigDump, ResourceNames: []string{proxyID}})
	if err != nil {
		return nil, err
	}
	if len(resp.GetResources()) == 0 {
		return nil, fmt.Errorf("xDS %s %s: no config dump: the proxy is not connected to this istiod", TypeDebugConfigDump, proxyID)
	}
	body, err := configdump.DocumentFromConfigs(resp.GetResources())
	if err != nil {
		return nil, fmt.Errorf("xDS %s %s: %w", TypeDebugConfigDump, proxyID, err)
	}
	return body, nil
}

// connTrace keeps the dial and TLS handshake errors of a request's connection: gRPC reports
// them only as text in a status. It allows one connection: a request is one stream, and gRPC
// must not reconnect behind it (through a port-forward, a connection still being set up when
// the forward closes leaves a goroutine of client-go's behind).
type connTrace struct {
	mu           sync.Mutex
	dialed       bool
	dialErr      error
	handshakeErr error
	handshakeOK  bool
}

var errOneConnection = errors.New("one connection per request")

func (c *connTrace) dial(ctx context.Context, addr string) (net.Conn, error) {
	c.mu.Lock()
	again := c.dialed
	c.dialed = true
	c.mu.Unlock()
	if again {
		return nil, errOneConnection
	}
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		c.mu.Lock()
		c.dialErr = err
		c.mu.Unlock()
	}
	return conn, err
}

func (c *connTrace) errors() (dial, handshake error, handshakeOK bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dialErr, c.handshakeErr, c.handshakeOK
}

// tracedCreds records the TLS handshake's error.
type tracedCreds struct {
	credentials.TransportCredentials
	trace *connTrace
}

func (c *tracedCreds) ClientHandshake(ctx context.Context, authority string, raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	conn, info, err := c.TransportCredentials.ClientHandshake(ctx, authority, raw)
	c.trace.mu.Lock()
	if err != nil {
		c.trace.handshakeErr = err
	} else {
		c.trace.handshakeOK = true
	}
	c.trace.mu.Unlock()
	return conn, info, err
}

func (c *tracedCreds) Clone() credentials.TransportCredentials {
	return &tracedCreds{TransportCredentials: c.TransportCredentials.Clone(), trace: c.trace}
}

// ErrUnauthenticated is wrapped when istiod refuses proxyctl's credentials.
var ErrUnauthenticated = errors.New("unauthenticated")

// xdsError turns a failed xDS exchange into one line saying what happened and what to do.
func (f *Fetcher) xdsError(ctx context.Context, t Target, x *XDS, typeURL, token string, trace *connTrace, err error) error {
	what := "xDS " + typeURL
	addr := t.XDSAddress
	dialErr, handshakeErr, handshakeOK := trace.errors()
	st, _ := status.FromError(err)
	msg := sanitize(st.Message(), 300)
	if token != "" {
		msg = strings.ReplaceAll(msg, token, "[redacted]")
	}
	if ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) || st.Code() == codes.DeadlineExceeded {
		return fmt.Errorf("%s: no answer in time (raise --timeout, or check istiod): %w", what, context.DeadlineExceeded)
	}
	if st.Code() == codes.Canceled && ctx.Err() != nil {
		return fmt.Errorf("%s: %w", what, ctx.Err())
	}
	// Through a port-forward, the forward knows best why a connection failed.
	if t.Explain != nil && st.Code() == codes.Unavailable {
		if why := t.Explain(err); why != nil {
			return fmt.Errorf("%s: %w", what, why)
		}
	}
	if dialErr != nil && st.Code() == codes.Unavailable {
		if errors.Is(dialErr, syscall.ECONNREFUSED) {
			return fmt.Errorf("%s: connection refused at %s: nothing listens there; check --xds-address and --xds-port (istiod serves xDS on %d, in plain text on %d with --plaintext)",
				what, addr, DefaultXDSPort, PlaintextXDSPort)
		}
		return fmt.Errorf("%s: cannot connect to %s: %s; check --xds-address", what, addr, sanitize(dialErr.Error(), 300))
	}
	if handshakeErr != nil && st.Code() == codes.Unavailable {
		return tlsError(what, addr, x, handshakeErr)
	}
	switch st.Code() {
	case codes.Unauthenticated:
		fix := "give a kubeconfig whose user may request a token of serviceaccount default in the Istio namespace (-i), or --cert-dir with a client certificate"
		if x.TokenSource != "" {
			fix = "it refused " + x.TokenSource + "; check that istiod trusts this cluster's tokens, or use --cert-dir with a client certificate"
		}
		return fmt.Errorf("%s: istiod at %s refused the request (%w: %s); %s", what, addr, ErrUnauthenticated, msg, fix)
	case codes.PermissionDenied:
		return fmt.Errorf("%s: istiod at %s refused proxyctl's identity (%s); the token or certificate must be of serviceaccount %s in the Istio namespace (-i)",
			what, addr, msg, x.node().GetMetadata().GetFields()["SERVICE_ACCOUNT"].GetStringValue())
	case codes.ResourceExhausted:
		if strings.Contains(msg, "larger than max") {
			return fmt.Errorf("%s: answer larger than %d bytes (raise --max-input)", what, f.maxMessageBytes())
		}
	case codes.Unimplemented:
		return fmt.Errorf("%s: %s does not serve ADS (%s); is it istiod's xDS port? (--xds-address, --xds-port)", what, addr, msg)
	case codes.Unavailable:
		if strings.Contains(msg, "remote error: tls") {
			// TLS 1.3: a refused client certificate comes as an alert after the handshake.
			return fmt.Errorf("%s: istiod at %s refused the TLS handshake (%s); it may want a client certificate: --cert-dir with cert-chain.pem and key.pem", what, addr, msg)
		}
		if handshakeOK && x.TLS != nil && len(x.TLS.Certificates) == 0 && (strings.Contains(msg, "broken pipe") || strings.Contains(msg, "connection reset") || strings.Contains(msg, "EOF")) {
			// The same, when the alert is not read before the connection is found closed.
			return fmt.Errorf("%s: istiod at %s closed the connection right after the TLS handshake (%s); if it wants a client certificate, give --cert-dir with cert-chain.pem and key.pem", what, addr, msg)
		}
		if x.TLS == nil && (strings.Contains(msg, "server preface") || strings.Contains(msg, "EOF")) {
			return fmt.Errorf("%s: %s closed the connection before speaking HTTP/2 (%s): if it is istiod's TLS port %d, leave out --plaintext", what, addr, msg, DefaultXDSPort)
		}
		return fmt.Errorf("%s: cannot reach istiod at %s: %s", what, addr, msg)
	}
	return fmt.Errorf("%s: istiod at %s answered %s: %s", what, addr, st.Code(), msg)
}

// tlsError explains a failed TLS handshake.
func tlsError(what, addr string, x *XDS, err error) error {
	var (
		unknownCA x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
		verify    *tls.CertificateVerificationError
		record    tls.RecordHeaderError
		alert     tls.AlertError
	)
	cause := sanitize(err.Error(), 300)
	switch {
	case errors.As(err, &record):
		return fmt.Errorf("%s: %s does not speak TLS (%s): use --plaintext (istiod's plain-text xDS port is %d)", what, addr, cause, PlaintextXDSPort)
	case errors.As(err, &unknownCA) || errors.As(err, &hostname) || errors.As(err, &invalid) || errors.As(err, &verify):
		roots := x.Roots
		if roots == "" {
			roots = "the system's root certificates"
		}
		return fmt.Errorf("%s: TLS verification of istiod at %s failed (%s), checked against %s for the name %s; give --cert-dir with the mesh's root-cert.pem, --authority with a name in istiod's certificate, or --insecure to skip the check",
			what, addr, cause, roots, x.TLS.ServerName)
	case errors.As(err, &alert) || strings.Contains(cause, "remote error"):
		return fmt.Errorf("%s: istiod at %s refused the TLS handshake (%s); it may want a client certificate: --cert-dir with cert-chain.pem and key.pem", what, addr, cause)
	}
	return fmt.Errorf("%s: TLS handshake with %s failed: %s", what, addr, cause)
}

// sanitize makes text from a server fit for one line of a terminal: control characters become
// spaces, and it is cut at max runes.
func sanitize(s string, max int) string {
	out := make([]rune, 0, min(len(s), max+3))
	n := 0
	for _, r := range s {
		if n == max {
			out = append(out, '.', '.', '.')
			break
		}
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			r = ' '
		}
		out = append(out, r)
		n++
	}
	return strings.TrimSpace(string(out))
}
