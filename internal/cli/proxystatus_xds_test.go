package cli

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"

	"github.com/proxyctl/proxyctl/internal/istiod/istiodtest"
	"github.com/proxyctl/proxyctl/internal/kubetest"
	"github.com/proxyctl/proxyctl/internal/testutil"
)

// psReference reads a reference output of ../shared/reference/proxy-status ("README.md#default"
// is the default table of the ages state, in the README's last section); ok is false when the
// shared suites are not beside the checkout.
func psReference(t *testing.T, name string) (string, bool) {
	t.Helper()
	file, section, _ := strings.Cut(name, "#")
	b, err := os.ReadFile(filepath.Join(testutil.Root(), "..", "shared", "reference", "proxy-status", file))
	if os.IsNotExist(err) {
		return "", false
	}
	if err != nil {
		t.Fatal(err)
	}
	if section == "" {
		return string(b), true
	}
	_, rest, ok := strings.Cut(string(b), "## Default table for the state of verbose_with_ages.txt\n```\n")
	table, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatalf("%s: no default table section", file)
	}
	return table, true
}

// noKubeconfig makes the test run as on a machine without Kubernetes configuration.
func noKubeconfig(t *testing.T) {
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "none"))
	t.Setenv("HOME", t.TempDir())
}

// xdsServers starts one fake istiod xDS port per syncz fixture, reporting the fixture's name
// as its id, and returns the servers.
func xdsServers(t *testing.T, o istiodtest.XDSOptions, fixtures ...string) []*istiodtest.XDSServer {
	var out []*istiodtest.XDSServer
	for _, f := range fixtures {
		o := o
		o.Syncz = syncz(t, f)
		o.ID = strings.TrimSuffix(filepath.Base(f), ".json")
		out = append(out, istiodtest.NewXDSServer(t, o))
	}
	return out
}

// xdsAddresses are --xds-address flags for servers, named after their fixtures when named.
func xdsAddresses(servers []*istiodtest.XDSServer, fixtures []string, named bool) []string {
	var args []string
	for i, s := range servers {
		a := s.Addr
		if named {
			a = strings.TrimSuffix(filepath.Base(fixtures[i]), ".json") + "=" + a
		}
		args = append(args, "--xds-address", a)
	}
	return args
}

// TestProxyStatusXDS runs proxy-status against in-process gRPC ADS servers standing for istiod's
// xDS port: in plain text, over TLS with a Kubernetes token (verified against --cert-dir's root
// or the mesh's configmap), and over mutual TLS. Each prints the golden file the HTTP path
// prints (TestProxyStatus), and the reference tables byte for byte.
func TestProxyStatusXDS(t *testing.T) {
	multi := []string{"multipilot/istiod1.json", "multipilot/istiod2.json", "multipilot/istiod3.json", "multipilot/istiod4.json"}
	single := []string{"singlepilot/istiod1.json"}
	ages := []string{"ages/istiod-fake-0.json"}
	ca := istiodtest.NewCA(t)
	rootOnly, withClient := ca.CertDir(t, false), ca.CertDir(t, true)
	api := kubetest.NewServer(t)
	api.AddServiceAccount("istio-system", "default", "k8s-token-of-istio-system-default")
	api.AddConfigMap("istio-system", "istio-ca-root-cert", map[string]string{"root-cert.pem": string(ca.RootPEM)})

	type security struct {
		name     string
		server   istiodtest.XDSOptions
		args     []string
		wantAuth string
	}
	securities := []security{
		{"plaintext", istiodtest.XDSOptions{}, []string{"--plaintext"}, ""},
		{"token, root from --cert-dir", istiodtest.XDSOptions{CA: ca, Token: "k8s-token-of-istio-system-default"},
			[]string{"--kubeconfig", api.Kubeconfig, "--cert-dir", rootOnly, "--authority", "istiod.istio-system.svc"}, "Bearer k8s-token-of-istio-system-default"},
		{"token, root from the mesh's configmap", istiodtest.XDSOptions{CA: ca, Token: "k8s-token-of-istio-system-default"},
			[]string{"--kubeconfig", api.Kubeconfig, "--authority", "istiod.istio-system.svc"}, "Bearer k8s-token-of-istio-system-default"},
		{"client certificate", istiodtest.XDSOptions{CA: ca, RequireClientCert: true},
			[]string{"--cert-dir", withClient, "--authority", "istiod.istio-system.svc"}, ""},
	}
	cases := []struct {
		golden, reference string
		fixtures          []string
		args              []string
		code              int
	}{
		{"ps_multipilot.out", "multiXdsStatusMultiPilot.txt", multi, nil, 0},
		{"ps_multipilot_verbose.out", "multiXdsStatusMultiPilot_verbose.txt", multi[:1], []string{"-v", "1"}, 0},
		{"ps_singlepilot_failon.out", "multiXdsStatusSinglePilot.txt", single, []string{"--fail-on", "stale"}, ExitFailOn},
		{"", "README.md#default", ages, nil, 0},
	}
	for _, sec := range securities {
		for _, tc := range cases {
			for _, named := range []bool{true, false} {
				name := sec.name + "/" + tc.reference
				if !named {
					name += "/named by istiod"
				}
				t.Run(name, func(t *testing.T) {
					if !slices.Contains(sec.args, "--kubeconfig") {
						noKubeconfig(t)
					}
					servers := xdsServers(t, sec.server, tc.fixtures...)
					args := append(append(append([]string{"ps"}, xdsAddresses(servers, tc.fixtures, named)...), sec.args...), tc.args...)
					code, out, errOut := run(t, "", args...)
					if code != tc.code {
						t.Fatalf("exit %d, want %d: %s", code, tc.code, errOut)
					}
					if tc.code == 0 && errOut != "" {
						t.Errorf("stderr %q", errOut)
					}
					if tc.golden != "" {
						testutil.Golden(t, "cli/"+tc.golden, []byte(out))
					}
					if want, ok := psReference(t, tc.reference); ok && out != want {
						t.Errorf("does not match %s\n--- got\n%s--- want\n%s", tc.reference, out, want)
					}
					for _, s := range servers {
						if got := s.Authorizations(); !reflect.DeepEqual(got, []string{sec.wantAuth}) {
							t.Errorf("the server got authorization %q, want %q", got, sec.wantAuth)
						}
					}
				})
			}
		}
	}
	// The token is of istioctl's service account and audience, requested once per command.
	for _, r := range api.TokenRequests() {
		if !reflect.DeepEqual(r.Audiences, []string{"istio-ca"}) || r.ExpirationSeconds == nil || *r.ExpirationSeconds != 3600 {
			t.Errorf("token request %+v", r)
		}
	}
	if got, want := len(api.TokenRequests()), 2*len(cases)*2; got != want {
		t.Errorf("%d token requests, want %d (one per command that sends a token)", got, want)
	}
}

// TestProxyStatusXDSFallback: through port-forwards, a replica whose HTTP debug port is closed
// (nothing listening, or its debug API off) is asked over its xDS port, and stderr says so; the
// others are asked over HTTP. With an xDS flag, every replica is asked over xDS.
func TestProxyStatusXDSFallback(t *testing.T) {
	ca := istiodtest.NewCA(t)
	const token = "k8s-token"
	xdsOpts := istiodtest.XDSOptions{CA: ca, Token: token, Namespace: "istio-system"}
	istiod := map[string]string{"app": "istiod"}
	httpA := istiodtest.NewServer(t, istiodtest.Options{Syncz: syncz(t, "multipilot/istiod1.json")})
	xdsA := xdsServers(t, xdsOpts, "multipilot/istiod1.json")[0]
	offB := istiodtest.NewServer(t, istiodtest.Options{Status: 404})
	xdsB := xdsServers(t, xdsOpts, "multipilot/istiod2.json")[0]
	xdsC := xdsServers(t, xdsOpts, "multipilot/istiod3.json")[0]
	xdsD := xdsServers(t, xdsOpts, "multipilot/istiod4.json")[0]
	addr := func(s string) string { return strings.TrimPrefix(s, "http://") }
	api := kubetest.NewServer(t,
		kubetest.Pod{Name: "istiod1", Namespace: "istio-system", Labels: istiod, Forward: map[int32]string{15014: addr(httpA.URL), 15012: xdsA.Addr}},
		kubetest.Pod{Name: "istiod2", Namespace: "istio-system", Labels: istiod, Forward: map[int32]string{15014: addr(offB.URL), 15012: xdsB.Addr}},
		kubetest.Pod{Name: "istiod3", Namespace: "istio-system", Labels: istiod, Forward: map[int32]string{15012: xdsC.Addr}},
		kubetest.Pod{Name: "istiod4", Namespace: "istio-system", Labels: istiod, Forward: map[int32]string{15012: xdsD.Addr}},
	)
	api.AddServiceAccount("istio-system", "default", token)
	api.AddConfigMap("istio-system", "istio-ca-root-cert", map[string]string{"root-cert.pem": string(ca.RootPEM)})
	want, _ := psReference(t, "multiXdsStatusMultiPilot.txt")
	golden := func(out string) {
		t.Helper()
		testutil.Golden(t, "cli/ps_multipilot.out", []byte(out))
		if want != "" && out != want {
			t.Errorf("does not match the reference\n--- got\n%s--- want\n%s", out, want)
		}
	}

	code, out, errOut := run(t, "", "ps", "--kubeconfig", api.Kubeconfig)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	golden(out)
	wantNotes := []string{
		"note: istiod istiod2 in istio-system: the HTTP debug port 15014 is closed (its /debug/ paths are not found: ENABLE_DEBUG_ON_HTTP is off); asking its xDS port 15012 instead",
		"note: istiod istiod3 in istio-system: the HTTP debug port 15014 is closed (nothing is listening there); asking its xDS port 15012 instead",
		"note: istiod istiod4 in istio-system: the HTTP debug port 15014 is closed (nothing is listening there); asking its xDS port 15012 instead",
	}
	notes := strings.Split(strings.TrimSpace(errOut), "\n")
	slices.Sort(notes)
	if !reflect.DeepEqual(notes, wantNotes) {
		t.Errorf("stderr:\n%s\nwant:\n%s", strings.Join(notes, "\n"), strings.Join(wantNotes, "\n"))
	}
	if len(xdsA.Requests()) != 0 || len(httpA.Requests()) != 1 {
		t.Errorf("istiod1 answers over HTTP: asked %d times over xDS, %d over HTTP", len(xdsA.Requests()), len(httpA.Requests()))
	}
	if got := api.TokenRequests(); len(got) != 1 || !reflect.DeepEqual(got[0].Audiences, []string{"istio-ca"}) {
		t.Errorf("token requests %+v, want one for istio-ca", got)
	}
	for _, s := range []*istiodtest.XDSServer{xdsB, xdsC, xdsD} {
		if got := s.Authorizations(); !reflect.DeepEqual(got, []string{"Bearer " + token}) {
			t.Errorf("authorization %q", got)
		}
	}

	// An xDS flag: every replica over xDS, none over HTTP.
	before := len(httpA.Requests())
	code, out, errOut = run(t, "", "ps", "--kubeconfig", api.Kubeconfig, "--xds-port", "15012")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	golden(out)
	if len(httpA.Requests()) != before || len(xdsA.Requests()) != 1 {
		t.Errorf("istiod1 was asked over HTTP with --xds-port")
	}

	// The diff of one pod falls back too: istiod3 holds the proxy, over xDS.
	envoy := filepath.Join(testutil.Root(), "..", "shared", "conformance", "dumps", "istio__writer__compare__configdump.json")
	if _, err := os.Stat(envoy); err == nil {
		dump, _ := os.ReadFile(envoy)
		holder := istiodtest.NewXDSServer(t, istiodtest.XDSOptions{CA: ca, Token: token, ConfigDumps: map[string][]byte{"reviews-v3.default": dump}})
		api2 := kubetest.NewServer(t, kubetest.Pod{Name: "istiod-x", Namespace: "istio-system", Labels: istiod, Forward: map[int32]string{15012: holder.Addr}})
		api2.AddServiceAccount("istio-system", "default", token)
		api2.AddConfigMap("istio-system", "istio-ca-root-cert", map[string]string{"root-cert.pem": string(ca.RootPEM)})
		t.Setenv("TZ", "UTC")
		code, out, errOut := run(t, "", "ps", "reviews-v3.default", "--kubeconfig", api2.Kubeconfig, "--file", envoy)
		wantDiff, _ := psReference(t, "diff_same.txt")
		if code != 0 || out != wantDiff || !strings.Contains(errOut, "asking its xDS port 15012 instead") {
			t.Errorf("exit %d\nstdout %s\nstderr %s", code, out, errOut)
		}
	}
}

// TestProxyStatusXDSDiffReference reproduces the reference diffs with istiod's side over xDS.
func TestProxyStatusXDSDiffReference(t *testing.T) {
	ref := filepath.Join(testutil.Root(), "..", "shared", "reference", "proxy-status")
	dumps := filepath.Join(testutil.Root(), "..", "shared", "conformance", "dumps")
	istiodDump, err := os.ReadFile(filepath.Join(dumps, "istio__writer__compare__configdump.json"))
	if err != nil {
		t.Skip("../shared not found beside the checkout")
	}
	noKubeconfig(t)
	t.Setenv("TZ", "UTC")
	empty := istiodtest.NewXDSServer(t, istiodtest.XDSOptions{ID: "istiod-a"})
	holder := istiodtest.NewXDSServer(t, istiodtest.XDSOptions{ID: "istiod-b", ConfigDumps: map[string][]byte{"reviews-v3.default": istiodDump}})
	for envoy, want := range map[string]string{
		"istio__writer__compare__configdump_diff.json": "diff_compare.txt",
		"istio__writer__compare__configdump.json":      "diff_same.txt",
	} {
		code, out, errOut := run(t, "", "ps", "reviews-v3.default", "--xds-address", empty.Addr, "--xds-address", holder.Addr, "--plaintext",
			"--file", filepath.Join(dumps, envoy))
		wantOut, err := os.ReadFile(filepath.Join(ref, want))
		if err != nil {
			t.Fatal(err)
		}
		if code != 0 || out != string(wantOut) {
			t.Errorf("%s: exit %d (%s)\n%s", want, code, errOut, out)
		}
	}
	code, _, errOut := run(t, "", "ps", "nosuch.default", "--xds-address", empty.Addr, "--xds-address", holder.Addr, "--plaintext", "--file", sampleDump)
	if code != ExitRuntime || !strings.Contains(errOut, "no istiod has a config dump for proxy nosuch.default (asked 2") ||
		!strings.Contains(errOut, "the proxy is not connected to this istiod") {
		t.Errorf("unknown proxy: exit %d: %s", code, errOut)
	}
}

// TestProxyStatusXDSErrors: each failure is one line on stderr with its cause and its fix; a
// hung or hostile server is bounded by --timeout and --max-input.
func TestProxyStatusXDSErrors(t *testing.T) {
	noKubeconfig(t)
	ca := istiodtest.NewCA(t)
	const secret = "s3cr3t-t0k3n"
	tlsServer := istiodtest.NewXDSServer(t, istiodtest.XDSOptions{Syncz: syncz(t, "singlepilot/istiod1.json"), CA: ca, Token: secret})
	plainServer := istiodtest.NewXDSServer(t, istiodtest.XDSOptions{Syncz: syncz(t, "singlepilot/istiod1.json")})
	hang := istiodtest.NewXDSServer(t, istiodtest.XDSOptions{Hang: true})
	big := istiodtest.NewXDSServer(t, istiodtest.XDSOptions{Syncz: syncz(t, "singlepilot/istiod1.json"), Pad: 1 << 20})
	hostile := istiodtest.NewXDSServer(t, istiodtest.XDSOptions{Answer: istiodtest.StringAnswer()})
	closed := strings.TrimPrefix(istiodtest.ClosedURL(t), "http://")
	_, closedPort, _ := strings.Cut(closed, ":")
	api := kubetest.NewServer(t) // no service account: the token cannot be had
	certDir := ca.CertDir(t, false)
	noRoot := kubetest.NewServer(t)                                      // a token, but no configmap of the mesh's root
	noRoot.AddServiceAccount("istio-system", "default", secret+"-other") // refused: never printed either

	cases := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"connection refused", []string{"--xds-address", "127.0.0.1", "--xds-port", closedPort}, ExitRuntime,
			[]string{"connection refused at 127.0.0.1:" + closedPort, "check --xds-address and --xds-port"}},
		{"TLS verification failed", []string{"--xds-address", tlsServer.Addr}, ExitRuntime,
			[]string{"TLS verification of istiod at " + tlsServer.Addr + " failed", "checked against the system's root certificates for the name 127.0.0.1",
				"give --cert-dir with the mesh's root-cert.pem, --authority with a name in istiod's certificate, or --insecure"}},
		{"no mesh root to verify with", []string{"--xds-address", tlsServer.Addr, "--kubeconfig", noRoot.Kubeconfig, "--authority", "istiod.istio-system.svc"}, ExitRuntime,
			[]string{"certificate signed by unknown authority", "checked against the system's root certificates (there is no configmap istio-ca-root-cert in istio-system, the mesh's root) for the name istiod.istio-system.svc"}},
		{"wrong authority", []string{"--xds-address", tlsServer.Addr, "--cert-dir", certDir, "--authority", "istiod.other.svc"}, ExitRuntime,
			[]string{"TLS verification", "for the name istiod.other.svc", "root-cert.pem"}},
		{"unauthenticated without Kubernetes", []string{"--xds-address", tlsServer.Addr, "--insecure"}, ExitRuntime,
			[]string{"refused the request (unauthenticated: authentication failure)", "give a kubeconfig whose user may request a token of serviceaccount default"}},
		{"no token to be had", []string{"--xds-address", tlsServer.Addr, "--cert-dir", certDir, "--authority", "istiod.istio-system.svc", "--kubeconfig", api.Kubeconfig}, ExitRuntime,
			[]string{"istiod's xDS port wants a Kubernetes token: requesting a token of serviceaccount default in namespace istio-system: it does not exist", "--cert-dir with a client certificate"}},
		{"plain text to TLS", []string{"--xds-address", tlsServer.Addr, "--plaintext"}, ExitRuntime,
			[]string{"closed the connection before speaking HTTP/2", "leave out --plaintext"}},
		{"TLS to plain text", []string{"--xds-address", plainServer.Addr, "--insecure"}, ExitRuntime,
			[]string{"does not speak TLS", "use --plaintext"}},
		{"hangs", []string{"--xds-address", hang.Addr, "--plaintext", "--timeout", "500ms"}, ExitRuntime,
			[]string{"no answer in time", "took longer than --timeout 500ms"}},
		{"answer too large", []string{"--xds-address", big.Addr, "--plaintext", "--max-input", "65536"}, ExitRuntime,
			[]string{"answer larger than 65536 bytes (raise --max-input)"}},
		{"not istiod", []string{"--xds-address", hostile.Addr, "--plaintext"}, ExitRuntime,
			[]string{"is a type.googleapis.com/google.protobuf.StringValue, not a ClientConfig"}},
		{"missing cert dir", []string{"--xds-address", tlsServer.Addr, "--cert-dir", filepath.Join(t.TempDir(), "nope")}, ExitRuntime,
			[]string{"--cert-dir", "root-cert.pem: no such file or directory", "it holds the mesh's root-cert.pem"}},
		{"plaintext and cert-dir", []string{"--xds-address", "x", "--plaintext", "--cert-dir", certDir}, ExitUsage,
			[]string{"--plaintext speaks without TLS"}},
		{"plaintext and insecure", []string{"--plaintext", "--insecure"}, ExitUsage, []string{"--plaintext speaks without TLS"}},
		{"http and xds", []string{"--istiod-url", "http://127.0.0.1:1", "--xds-address", "x"}, ExitUsage,
			[]string{"--istiod-url asks istiod's HTTP debug API and --xds-address its xDS port: choose one"}},
		{"istiod-port and xds", []string{"--istiod-port", "8080", "--plaintext"}, ExitUsage,
			[]string{"--istiod-port is istiod's HTTP debug port and --plaintext ask its xDS port"}},
		{"bad address", []string{"--xds-address", "http://istiod:15012"}, ExitUsage, []string{`invalid --xds-address "http://istiod:15012"`}},
		{"bad port", []string{"--xds-port", "0"}, ExitUsage, []string{"--xds-port must be between 1 and 65535"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			code, out, errOut := run(t, "", append([]string{"ps"}, tc.args...)...)
			if code != tc.code || out != "" || strings.Count(errOut, "\n") != 1 {
				t.Errorf("exit %d (want %d), stdout %q, stderr %q", code, tc.code, out, errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr %q\nwant it to contain %q", errOut, w)
				}
			}
			if strings.Contains(errOut, secret) {
				t.Errorf("stderr shows the token: %q", errOut)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("took %s", d)
			}
		})
	}
	if got := api.TokenRequests(); len(got) != 1 || !reflect.DeepEqual(got[0], authenticationv1.TokenRequestSpec{Audiences: []string{"istio-ca"}, ExpirationSeconds: got[0].ExpirationSeconds}) {
		t.Errorf("token requests %+v", got)
	}
}

// TestProxyStatusXDSNothingListens: an istiod pod with neither its HTTP debug port nor its xDS
// port open gets the note and one error line naming the xDS port, and leaves no listener. (Not
// under goleak: client-go's port-forward can leave a goroutine behind when a forwarded
// connection fails as the forward closes, as TestLiveFailuresThroughPortForward's admin-port
// case shows under load.)
func TestProxyStatusXDSNothingListens(t *testing.T) {
	api := kubetest.NewServer(t, kubetest.Pod{Name: "istiod-1", Namespace: "istio-system", Labels: map[string]string{"app": "istiod"}})
	api.AddServiceAccount("istio-system", "default", "token")
	before := listeningSockets(t)
	start := time.Now()
	code, out, errOut := run(t, "", "ps", "--kubeconfig", api.Kubeconfig, "--timeout", "5s")
	// The forward tells that nothing listens, unless it has not told in time; then that it
	// closed the connection before any answer.
	note := regexp.MustCompile(`^note: istiod istiod-1 in istio-system: the HTTP debug port 15014 is closed \((nothing is listening there|the connection closed before any answer)\); asking its xDS port 15012 instead\n`)
	errLine := regexp.MustCompile(`error: no istiod answered \(asked 1\): istiod istiod-1 in istio-system: xDS istio.io/debug/syncz: (nothing is listening on port 15012 in pod istiod-1 in namespace istio-system|the port-forward to pod istiod-1 in namespace istio-system closed the connection to port 15012 before any answer: .*); is that istiod's xDS port\? \(--xds-port\)\n$`)
	if code != ExitRuntime || out != "" || !note.MatchString(errOut) || !errLine.MatchString(errOut) || strings.Count(errOut, "\n") != 2 {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	checkForwardEnded(t, api, "istio-system/pods/istiod-1", start, before)
}
