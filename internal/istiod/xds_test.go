package istiod

import (
	"context"
	"crypto/tls"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/proxyctl/proxyctl/configdump"
	"github.com/proxyctl/proxyctl/internal/istiod/istiodtest"
	"github.com/proxyctl/proxyctl/internal/testutil"
)

// xdsTarget starts a fake istiod xDS port with o and returns a target for it, named name.
func xdsTarget(t *testing.T, name string, o istiodtest.XDSOptions, x *XDS) (Target, *istiodtest.XDSServer) {
	t.Helper()
	s := istiodtest.NewXDSServer(t, o)
	return Target{Name: name, Namespace: "istio-system", XDSAddress: s.Addr, XDS: x}, s
}

// tlsXDS is a client configuration trusting ca, with a token.
func tlsXDS(ca *istiodtest.CA, token string) *XDS {
	x := &XDS{TLS: &tls.Config{RootCAs: ca.Pool(), ServerName: "istiod.istio-system.svc", MinVersion: tls.VersionTLS12}, Roots: "the test CA", Namespace: "istio-system"}
	if token != "" {
		x.Token = func(context.Context) (string, error) { return token, nil }
		x.TokenSource = "the test token"
	}
	return x
}

// withoutHTTPOnly blanks what only the HTTP answer carries (proxy type, Envoy version).
func withoutHTTPOnly(rows []ProxyStatus) []ProxyStatus {
	out := append([]ProxyStatus(nil), rows...)
	for i := range out {
		out[i].Type, out[i].ProxyVersion = "", ""
		for j := range out[i].Types {
			out[i].Types[j].SentTime = out[i].Types[j].SentTime.UTC()
		}
	}
	return out
}

// TestXDSSynczMatchesHTTP: the same state, asked over HTTP and over xDS (plain text, and TLS
// with a token), gives the same rows but for what a ClientConfig does not carry.
func TestXDSSynczMatchesHTTP(t *testing.T) {
	ca := istiodtest.NewCA(t)
	sets := map[string][]string{
		"multipilot":  {"multipilot/istiod1.json", "multipilot/istiod2.json", "multipilot/istiod3.json", "multipilot/istiod4.json"},
		"singlepilot": {"singlepilot/istiod1.json"},
		"ages":        {"ages/istiod-fake-0.json"},
		"namespaces":  {"namespaces/istiod-a.json", "namespaces/istiod-b.json"},
	}
	for name, files := range sets {
		for _, ns := range []string{"", "default", "foo"} {
			var httpTargets, plainTargets, tlsTargets []Target
			for _, f := range files {
				replica := strings.TrimSuffix(f[strings.IndexByte(f, '/')+1:], ".json")
				h := istiodtest.NewServer(t, istiodtest.Options{Syncz: fixture(t, f)})
				httpTargets = append(httpTargets, Target{Name: replica, BaseURL: h.URL})
				p, _ := xdsTarget(t, replica, istiodtest.XDSOptions{Syncz: fixture(t, f)}, nil)
				plainTargets = append(plainTargets, p)
				// The TLS replicas are named by the id they report.
				s, _ := xdsTarget(t, "127.0.0.1:x", istiodtest.XDSOptions{Syncz: fixture(t, f), ID: replica, CA: ca, Token: "tok"}, tlsXDS(ca, "tok"))
				s.NameFromServer = true
				tlsTargets = append(tlsTargets, s)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			want := (&Fetcher{}).Syncz(ctx, httpTargets, ns)
			for transport, targets := range map[string][]Target{"plaintext": plainTargets, "tls": tlsTargets} {
				got := (&Fetcher{}).Syncz(ctx, targets, ns)
				if len(got.Errors) > 0 || len(want.Errors) > 0 {
					t.Fatalf("%s %s -n %q: errors %v / %v", name, transport, ns, got.Errors, want.Errors)
				}
				if len(got.Rows) == 0 && ns == "" {
					t.Fatalf("%s: no rows", name)
				}
				if !reflect.DeepEqual(withoutHTTPOnly(got.Rows), withoutHTTPOnly(want.Rows)) {
					t.Errorf("%s over %s -n %q:\n got %+v\nwant %+v", name, transport, ns, got.Rows, want.Rows)
				}
			}
			cancel()
		}
	}
}

// TestXDSCredentials: the token goes over TLS only; a client certificate replaces it; the node
// proxyctl introduces itself as is istioctl's.
func TestXDSCredentials(t *testing.T) {
	ca := istiodtest.NewCA(t)
	syncz := fixture(t, "singlepilot/istiod1.json")
	clientCert, err := tls.X509KeyPair(ca.ClientChainPEM, ca.ClientKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	mtls := tlsXDS(ca, "")
	mtls.TLS.Certificates = []tls.Certificate{clientCert}
	plainWithToken := &XDS{Token: func(context.Context) (string, error) { return "secret-token", nil }}
	tests := []struct {
		name     string
		server   istiodtest.XDSOptions
		client   *XDS
		wantAuth string
	}{
		{"tls with a token", istiodtest.XDSOptions{Syncz: syncz, CA: ca, Token: "secret-token"}, tlsXDS(ca, "secret-token"), "Bearer secret-token"},
		{"plain text never sends the token", istiodtest.XDSOptions{Syncz: syncz}, plainWithToken, ""},
		{"client certificate, no token", istiodtest.XDSOptions{Syncz: syncz, CA: ca, RequireClientCert: true}, mtls, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target, srv := xdsTarget(t, "istiod1", tt.server, tt.client)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			res := (&Fetcher{}).Syncz(ctx, []Target{target}, "")
			if err := res.Err(); err != nil || len(res.Rows) != 2 {
				t.Fatalf("err %v, %d rows", err, len(res.Rows))
			}
			if got := srv.Authorizations(); !reflect.DeepEqual(got, []string{tt.wantAuth}) {
				t.Errorf("authorization %q, want %q", got, tt.wantAuth)
			}
			reqs := srv.Requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests", len(reqs))
			}
			r := reqs[0]
			meta := r.GetNode().GetMetadata().AsMap()
			wantMeta := map[string]any{"GENERATOR": "event", "SERVICE_ACCOUNT": "default", "NAMESPACE": "istio-system", "ISTIO_VERSION": "65536.65536.65536"}
			if r.GetTypeUrl() != TypeDebugSyncz || r.GetNode().GetId() != "sidecar~127.0.0.1~proxyctl.istio-system~istio-system.svc.cluster.local" || !reflect.DeepEqual(meta, wantMeta) {
				t.Errorf("request %v", r)
			}
		})
	}
}

// TestXDSErrors: each failure is one line saying what happened and what to do, and a hung or
// hostile server is cut by the context and the message bound.
func TestXDSErrors(t *testing.T) {
	ca := istiodtest.NewCA(t)
	other := istiodtest.NewCA(t)
	syncz := fixture(t, "singlepilot/istiod1.json")
	// A port nothing listens on: that of a listener that was closed.
	closedAddr := strings.TrimPrefix(istiodtest.ClosedURL(t), "http://")
	wrongName := tlsXDS(ca, "tok")
	wrongName.TLS.ServerName = "istiod.elsewhere.svc"
	noToken := tlsXDS(ca, "")
	tests := []struct {
		name    string
		server  *istiodtest.XDSOptions // nil: closedAddr
		client  *XDS
		max     int64
		timeout time.Duration
		want    []string
		is      error
	}{
		{name: "connection refused", client: tlsXDS(ca, "tok"),
			want: []string{"connection refused at 127.0.0.1:", "nothing listens there; check --xds-address and --xds-port"}},
		{name: "unknown authority", server: &istiodtest.XDSOptions{Syncz: syncz, CA: other}, client: tlsXDS(ca, "tok"),
			want: []string{"TLS verification of istiod at 127.0.0.1:", "certificate signed by unknown authority", "checked against the test CA for the name istiod.istio-system.svc", "--cert-dir", "--insecure"}},
		{name: "wrong name", server: &istiodtest.XDSOptions{Syncz: syncz, CA: ca}, client: wrongName,
			want: []string{"TLS verification", "istiod.elsewhere.svc", "--authority"}},
		{name: "tls to plain text", server: &istiodtest.XDSOptions{Syncz: syncz}, client: tlsXDS(ca, "tok"),
			want: []string{"does not speak TLS", "use --plaintext"}},
		{name: "plain text to tls", server: &istiodtest.XDSOptions{Syncz: syncz, CA: ca}, client: &XDS{},
			want: []string{"closed the connection before speaking HTTP/2", "leave out --plaintext"}},
		{name: "no token", server: &istiodtest.XDSOptions{Syncz: syncz, CA: ca, Token: "tok"}, client: noToken,
			want: []string{"refused the request (unauthenticated: authentication failure)", "give a kubeconfig"}, is: ErrUnauthenticated},
		{name: "wrong token", server: &istiodtest.XDSOptions{Syncz: syncz, CA: ca, Token: "tok"}, client: tlsXDS(ca, "other"),
			want: []string{"unauthenticated", "it refused the test token"}, is: ErrUnauthenticated},
		{name: "client certificate required", server: &istiodtest.XDSOptions{Syncz: syncz, CA: ca, RequireClientCert: true}, client: tlsXDS(ca, "tok"),
			want: []string{"--cert-dir with cert-chain.pem and key.pem"}},
		{name: "wrong namespace", server: &istiodtest.XDSOptions{Syncz: syncz, Namespace: "istio-other"}, client: &XDS{},
			want: []string{"refused proxyctl's identity", "serviceaccount default in the Istio namespace (-i)"}},
		{name: "hangs", server: &istiodtest.XDSOptions{Hang: true}, client: &XDS{}, timeout: 300 * time.Millisecond,
			want: []string{"no answer in time"}, is: context.DeadlineExceeded},
		{name: "answer too large", server: &istiodtest.XDSOptions{Syncz: syncz, Pad: 1 << 20}, client: &XDS{}, max: 64 << 10,
			want: []string{"answer larger than 65536 bytes (raise --max-input)"}},
		{name: "endless answers of other types", server: &istiodtest.XDSOptions{OtherTypes: true}, client: &XDS{},
			want: []string{"sent 16 answers of other types and none of this one"}},
		{name: "not a ClientConfig", server: &istiodtest.XDSOptions{Answer: istiodtest.StringAnswer()}, client: &XDS{},
			want: []string{"resource 0 is a type.googleapis.com/google.protobuf.StringValue, not a ClientConfig"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := Target{Name: "istiod1", XDSAddress: closedAddr, XDS: tt.client}
			if tt.server != nil {
				target, _ = xdsTarget(t, "istiod1", *tt.server, tt.client)
			}
			timeout := tt.timeout
			if timeout == 0 {
				timeout = 10 * time.Second
			}
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			start := time.Now()
			res := (&Fetcher{MaxBodyBytes: tt.max}).Syncz(ctx, []Target{target}, "")
			if time.Since(start) > timeout+5*time.Second {
				t.Errorf("took %s", time.Since(start))
			}
			if len(res.Errors) != 1 {
				t.Fatalf("errors %v, rows %v", res.Errors, res.Rows)
			}
			msg := res.Errors[0].Error()
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q\nwant it to contain %q", msg, w)
				}
			}
			if strings.ContainsAny(msg, "\n\r") || strings.Contains(msg, "Bearer") {
				t.Errorf("not one clean line: %q", msg)
			}
			if tt.is != nil && !errors.Is(res.Errors[0], tt.is) {
				t.Errorf("error does not wrap %v: %v", tt.is, msg)
			}
		})
	}
}

// TestXDSConfigDump: istiod's config dump over xDS reads as the same dump over HTTP, and a
// replica the proxy is not connected to is skipped.
func TestXDSConfigDump(t *testing.T) {
	sample, err := os.ReadFile(testutil.Path("testdata", "istiod", "configdump", "reviews-v1.json"))
	if err != nil {
		t.Fatal(err)
	}
	empty, _ := xdsTarget(t, "istiod-a", istiodtest.XDSOptions{}, nil)
	holder, _ := xdsTarget(t, "istiod-b", istiodtest.XDSOptions{ConfigDumps: map[string][]byte{"productpage-v1.default": sample}}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := (&Fetcher{}).ConfigDump(ctx, []Target{empty, holder}, "productpage-v1.default")
	if err != nil {
		t.Fatal(err)
	}
	if res.Istiod.Name != "istiod-b" {
		t.Errorf("answered by %s", res.Istiod.Name)
	}
	overXDS, err := configdump.Parse(res.Body)
	if err != nil {
		t.Fatalf("the dump over xDS does not parse: %v\n%.500s", err, res.Body)
	}
	overHTTP, err := configdump.Parse(sample)
	if err != nil {
		t.Fatal(err)
	}
	counts := func(d *configdump.Dump) [2]int {
		c, err := d.ClusterResources()
		if err != nil {
			t.Fatal(err)
		}
		list, err := c.Decode()
		if err != nil {
			t.Fatal(err)
		}
		names := 0
		for _, c := range list {
			names += len(c.GetName())
		}
		return [2]int{c.Len(), names}
	}
	if got, want := counts(overXDS), counts(overHTTP); got != want || want[0] == 0 {
		t.Errorf("clusters and the length of their names: over xDS %v, over HTTP %v", got, want)
	}

	_, err = (&Fetcher{}).ConfigDump(ctx, []Target{empty, holder}, "nosuch.default")
	var cerr *ConfigDumpError
	if !errors.As(err, &cerr) || len(cerr.Errors) != 2 || !strings.Contains(err.Error(), "no config dump: the proxy is not connected to this istiod") {
		t.Errorf("err = %v", err)
	}
}

func TestTargetFromXDSAddress(t *testing.T) {
	tests := []struct {
		in   string
		want Target
		err  bool
	}{
		{in: "istiod.example.com:15012", want: Target{Name: "istiod.example.com:15012", XDSAddress: "istiod.example.com:15012", NameFromServer: true}},
		{in: "istiod.example.com", want: Target{Name: "istiod.example.com:15012", XDSAddress: "istiod.example.com:15012", NameFromServer: true}},
		{in: "east=10.0.0.1:15010", want: Target{Name: "east", XDSAddress: "10.0.0.1:15010"}},
		{in: "[::1]:15012", want: Target{Name: "[::1]:15012", XDSAddress: "[::1]:15012", NameFromServer: true}},
		{in: "::1", want: Target{Name: "[::1]:15012", XDSAddress: "[::1]:15012", NameFromServer: true}},
		{in: "", err: true},
		{in: "http://istiod:15012", err: true},
		{in: "istiod:0", err: true},
		{in: "istiod:99999", err: true},
		{in: "istiod:port", err: true},
		{in: ":15012", err: true},
		{in: "a b:15012", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := TargetFromXDSAddress(tt.in, DefaultXDSPort)
			if tt.err {
				if err == nil || !strings.Contains(err.Error(), "want [NAME=]HOST[:PORT]") {
					t.Fatalf("err = %v, target %+v", err, got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestSanitize(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want string
	}{
		{"plain", 10, "plain"},
		{"a\x1b[2Jb\r\nc\x00", 20, "a [2Jb  c"},
		{"0123456789abc", 10, "0123456789..."},
		{"\xff\xfe", 10, ""},
	}
	for _, tt := range tests {
		if got := sanitize(tt.in, tt.max); got != tt.want {
			t.Errorf("sanitize(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
