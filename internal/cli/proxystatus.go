package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math"

	corev1 "k8s.io/api/core/v1"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/proxyctl/proxyctl/configdump"
	"github.com/proxyctl/proxyctl/formatter"
	"github.com/proxyctl/proxyctl/internal/diff"
	"github.com/proxyctl/proxyctl/internal/istiod"
	"github.com/proxyctl/proxyctl/internal/limits"
	"github.com/proxyctl/proxyctl/portforward"
)

type proxyStatusOptions struct {
	streams    Streams
	root       *rootOptions
	live       *liveOptions
	revision   string
	istiodPort int
	istiodURLs []string
	verbosity  int
	output     outputFlag
	failOn     []string
	file       string
	timeout    time.Duration
	maxInput   maxInputFlag
	semantic   bool

	// istiod's xDS debug API (istioctl's flags)
	xdsAddresses []string
	xdsPort      int
	plaintext    bool
	certDir      string
	insecure     bool
	authority    string

	failOnSet istiod.FailOn
	transport psTransport
	// xdsOnce builds the xDS configuration once, when a replica is first asked over xDS.
	xdsOnce sync.Once
	xdsCfg  *xdsConfig
	xdsErr  error
	// forwards are the port-forwards opened to istiod replicas, closed at the end; released
	// how to drop the pages of each answer read off the heap (see readOffHeap).
	mu       sync.Mutex
	forwards []*portforward.Forwarder
	released map[*byte]func([]byte)
}

// psTransport is how proxy-status asks istiod.
type psTransport int

const (
	// transportAuto: the HTTP debug API of every istiod pod, and the xDS port of those whose
	// HTTP debug port is closed.
	transportAuto psTransport = iota
	// transportHTTP: --istiod-url.
	transportHTTP
	// transportXDS: --xds-address, or an xDS flag given: every replica over xDS.
	transportXDS
)

// xdsFlags are the flags that choose xDS.
var xdsFlags = []string{"xds-address", "xds-port", "plaintext", "cert-dir", "insecure", "authority"}

// istio-ca is the audience istiod accepts Kubernetes tokens for (istioctl requests it).
const (
	xdsTokenAudience       = "istio-ca"
	xdsTokenServiceAccount = "default"
	xdsTokenLifetime       = time.Hour
	meshRootConfigMap      = "istio-ca-root-cert"
	meshRootKey            = "root-cert.pem"
)

func newProxyStatusCommand(streams Streams, root *rootOptions) *cobra.Command {
	o := &proxyStatusOptions{
		streams: streams, root: root, live: newLiveOptions(root), istiodPort: istiod.DefaultDebugPort,
		output: newOutputFlag(formatter.Short), timeout: 30 * time.Second,
		xdsPort: istiod.DefaultXDSPort,
	}
	cmd := &cobra.Command{
		Use:     "proxy-status [POD[.NAMESPACE]]",
		Aliases: []string{"ps"},
		Short:   "Show the xDS sync state of the mesh's proxies, or diff one proxy's configuration against istiod's",
		Long: `Without a pod, show the xDS sync state of every proxy connected to istiod, as
istiod's replicas report it (GET /debug/syncz on each, concurrently): which istiod
each proxy talks to, its version, and per xDS type whether what was sent is
acknowledged (SYNCED), not yet (STALE), rejected (ERROR) or nothing was sent.

With a pod, compare the clusters, listeners and routes istiod would send it with
what its Envoy holds, and show a unified diff of each that differs. --file reads
Envoy's side from a saved config dump instead of the pod. --semantic compares them
as "proxyctl pc diff" does instead: resource by resource, noise left out, a table
of what differs with each changed field's old and new value and a unified diff of
its YAML (-o json|yaml: the report of docs/diff-report.md); it exits 0 when they
are the same, 1 when they differ, 3 when they could not be compared.

istiod is found as the Running pods labelled app=istiod (and istio.io/rev=REV with
-r) in the Istio namespace (-i), reached by port-forward to their HTTP debug port
(--istiod-port); a replica whose HTTP debug port is closed is asked over its xDS
port instead (--xds-port, TLS), as istioctl asks, and stderr says so. --xds-address
asks istiod's xDS port at an address (an external control plane), and any of
--xds-port, --plaintext, --cert-dir, --insecure and --authority asks every pod over
xDS. Over xDS, proxyctl presents a Kubernetes token of the service account default
in the Istio namespace, for the audience istio-ca (the TokenRequest API, as
istioctl does), or the client certificate of --cert-dir; it verifies istiod's
certificate against --cert-dir's root-cert.pem, else the mesh's root certificate
(configmap istio-ca-root-cert), else the system's. --istiod-url asks an HTTP debug
API without Kubernetes. A replica that fails is reported on stderr and the others
are still shown.`,
		Example: `  # Every proxy's sync state
  proxyctl proxy-status

  # The proxies of one namespace, one column per xDS type, as JSON for a script
  proxyctl ps -n bookinfo -v 1
  proxyctl ps -n bookinfo -o json | jq '.[] | select(.xds[].status != "SYNCED")'

  # Fail (exit 3) when a proxy is stale or has rejected a config
  proxyctl ps --fail-on stale --fail-on error

  # What differs between istiod and a proxy
  proxyctl ps productpage-v1-6b746f74dc-9stvs.bookinfo

  # The same, resource by resource and field by field (exit 1 when they differ)
  proxyctl ps productpage-v1-6b746f74dc-9stvs.bookinfo --semantic

  # Without Kubernetes: istiod's debug port and a saved dump
  proxyctl ps productpage-v1-6b746f74dc-9stvs.bookinfo --istiod-url http://127.0.0.1:15014 --file config_dump.json

  # An external control plane's xDS port, with a token of this cluster
  proxyctl ps --xds-address istiod.example.com:15012

  # Its xDS port with the mesh's certificates instead (root-cert.pem, cert-chain.pem, key.pem)
  proxyctl ps --xds-address istiod.example.com:15012 --cert-dir ~/.istio-certs`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.complete(cmd, args); err != nil {
				return err
			}
			if len(args) == 1 {
				return o.diff(cmd.Context(), args[0])
			}
			return o.status(cmd.Context())
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&o.revision, "revision", "r", "", "the istiod revision (istio.io/rev label) to ask")
	fs.IntVar(&o.istiodPort, "istiod-port", o.istiodPort, "istiod's debug port")
	fs.StringArrayVar(&o.istiodURLs, "istiod-url", nil, "an istiod debug API, [NAME=]http://HOST:PORT, instead of finding istiod pods (repeatable; NAME is shown in the ISTIOD column, else HOST:PORT)")
	fs.IntVarP(&o.verbosity, "verbosity", "v", 0, "1: one column per xDS type, with the age of each send")
	o.output.addFlag(cmd)
	o.output.addTableFlags(cmd)
	fs.StringArrayVar(&o.failOn, "fail-on", nil, "exit 3 when a shown proxy has this state: stale, error or notsent (repeatable)")
	_ = cmd.RegisterFlagCompletionFunc("fail-on", fixedValues(istiod.FailOnValues...))
	fs.StringVarP(&o.file, "file", "f", "", "with a pod: read Envoy's side of the diff from this config dump, or from the pod's proxy in this capture bundle, instead of the pod")
	fs.DurationVar(&o.timeout, "timeout", o.timeout, "time limit for the whole command")
	addMaxInputFlag(cmd, &o.maxInput)
	fs.BoolVar(&o.semantic, "semantic", false, "with a pod: compare istiod's view and Envoy's resource by resource, as pc diff does")
	fs.StringArrayVar(&o.xdsAddresses, "xds-address", nil, "istiod's xDS endpoint, [NAME=]HOST[:PORT], instead of finding istiod pods (repeatable; NAME is shown in the ISTIOD column, else the id istiod reports)")
	fs.IntVar(&o.xdsPort, "xds-port", o.xdsPort, "istiod's xDS port (15010 is its plain-text one)")
	fs.BoolVar(&o.plaintext, "plaintext", false, "speak plain text to istiod's xDS port (its port 15010): no TLS, no token")
	fs.StringVar(&o.certDir, "cert-dir", "", "directory with root-cert.pem, to verify istiod's xDS certificate, and cert-chain.pem and key.pem, a client certificate presented instead of a token")
	fs.BoolVar(&o.insecure, "insecure", false, "skip the verification of istiod's xDS certificate (NOT SECURE: the token goes to whoever answers)")
	fs.StringVar(&o.authority, "authority", "", "the name istiod's xDS certificate must hold, also sent as :authority (default istiod.ISTIO_NAMESPACE.svc through a port-forward, else the host of --xds-address)")
	o.live.addFlags(cmd)
	return cmd
}

func (o *proxyStatusOptions) complete(cmd *cobra.Command, args []string) error {
	o.live.alternatives = "--istiod-url or --xds-address" // istiod, found through Kubernetes
	if len(args) > 0 {
		o.live.alternatives = "--istiod-url or --xds-address, and -f for Envoy's side"
	}
	if err := o.live.complete(cmd); err != nil {
		return err
	}
	set, err := istiod.ParseFailOn(o.failOn)
	if err != nil {
		return usageError{err}
	}
	o.failOnSet = set
	switch {
	case o.timeout <= 0:
		return usageErrorf("--timeout must be positive, got %s", o.timeout)
	case o.verbosity < 0:
		return usageErrorf("--verbosity must be 0 or more, got %d", o.verbosity)
	case o.istiodPort <= 0 || o.istiodPort > 65535:
		return usageErrorf("--istiod-port must be between 1 and 65535, got %d", o.istiodPort)
	case len(args) == 0 && o.file != "":
		return usageErrorf("--file is Envoy's side of a diff: name the pod to compare too")
	case len(args) == 0 && o.semantic:
		return usageErrorf("--semantic compares one pod with istiod's view of it: name the pod")
	case len(args) == 1 && (len(o.failOn) > 0 || o.output.noHeaders || o.verbosity > 0 || o.output.format != formatter.Short && !o.semantic):
		return usageErrorf("-o, --no-headers, -v and --fail-on apply to the status table, not to the diff of one pod (--semantic takes -o json|yaml)")
	case len(args) == 1 && o.semantic && o.output.format != formatter.Short && o.output.format != formatter.JSON && o.output.format != formatter.YAML:
		return usageErrorf("--semantic takes -o short, json or yaml")
	case o.output.format == formatter.Name && o.verbosity > 0:
		return usageErrorf("-v applies to the status table, not to -o name")
	case o.xdsPort <= 0 || o.xdsPort > 65535:
		return usageErrorf("--xds-port must be between 1 and 65535, got %d", o.xdsPort)
	case o.plaintext && (o.certDir != "" || o.insecure):
		return usageErrorf("--plaintext speaks without TLS: leave out --cert-dir and --insecure, or --plaintext")
	}
	var xds []string
	for _, f := range xdsFlags {
		if cmd.Flags().Changed(f) {
			xds = append(xds, "--"+f)
		}
	}
	switch {
	case len(xds) > 0 && len(o.istiodURLs) > 0:
		return usageErrorf("--istiod-url asks istiod's HTTP debug API and %s its xDS port: choose one", strings.Join(xds, ", "))
	case len(xds) > 0 && cmd.Flags().Changed("istiod-port"):
		return usageErrorf("--istiod-port is istiod's HTTP debug port and %s ask its xDS port: choose one", strings.Join(xds, ", "))
	case len(o.istiodURLs) > 0:
		o.transport = transportHTTP
	case len(xds) > 0:
		o.transport = transportXDS
	}
	for _, a := range o.xdsAddresses {
		if _, err := istiod.TargetFromXDSAddress(a, o.xdsPort); err != nil {
			return usageError{err}
		}
	}
	return o.output.check()
}

// istiods finds the istiod replicas to ask and reaches them; close ends the port-forwards,
// those a fallback opened too.
func (o *proxyStatusOptions) istiods(ctx context.Context) (targets []istiod.Target, close func(), err error) {
	if len(o.xdsAddresses) > 0 {
		cfg, err := o.xds(ctx)
		if err != nil {
			return nil, func() {}, err
		}
		for _, a := range o.xdsAddresses {
			t, err := istiod.TargetFromXDSAddress(a, o.xdsPort)
			if err != nil {
				return nil, func() {}, usageError{err}
			}
			host, _, _ := net.SplitHostPort(t.XDSAddress)
			t.XDS = cfg.forHost(host)
			targets = append(targets, t)
		}
		return targets, func() {}, nil
	}
	xds := o.transport == transportXDS
	port := o.istiodPort
	if xds {
		port = o.xdsPort
	}
	targets, _, err = reachIstiodPods(ctx, o.root, o.revision, o.istiodURLs, o.streams.ErrOut, func(ctx context.Context, kube *portforward.Kube, ns, pod string) (istiod.Target, func(), error) {
		t, err := o.forwardTo(ctx, kube, ns, pod, port, xds)
		if err == nil && o.transport == transportAuto {
			t.Fallback = o.fallback(kube, ns, pod)
		}
		return t, nil, err // o.closeForwards ends every forward
	})
	if err != nil {
		o.closeForwards()
		return nil, func() {}, err
	}
	return targets, o.closeForwards, nil
}

// forwardTo port-forwards to port of an istiod pod and returns the target asked there: its
// HTTP debug API, or with xds its xDS port.
func (o *proxyStatusOptions) forwardTo(ctx context.Context, kube *portforward.Kube, ns, pod string, port int, xds bool) (istiod.Target, error) {
	t := istiod.Target{Name: pod, Namespace: ns}
	var cfg *xdsConfig
	if xds {
		var err error
		if cfg, err = o.xds(ctx); err != nil {
			return t, err
		}
	}
	fwd, err := kube.OpenPodPort(ctx, ns, pod, port)
	if err != nil {
		return t, err
	}
	o.mu.Lock()
	o.forwards = append(o.forwards, fwd)
	o.mu.Unlock()
	what := fmt.Sprintf("pod %s in namespace %s", pod, ns)
	if xds {
		t.XDSAddress = fwd.Address()
		t.XDS = cfg.forHost("")
		t.Explain = fwd.Explain(what, port, "is that istiod's xDS port? (--xds-port)")
		return t, nil
	}
	t.BaseURL = fwd.URL
	t.Explain = fwd.Explain(what, port, "is that istiod's HTTP debug port? (--istiod-port)")
	t.Unsent = fwd.Unsent
	return t, nil
}

// fallback asks a replica whose HTTP debug port is closed over its xDS port instead, and says so.
func (o *proxyStatusOptions) fallback(kube *portforward.Kube, ns, pod string) func(context.Context, error) (istiod.Target, bool, error) {
	return func(ctx context.Context, err error) (istiod.Target, bool, error) {
		why := "nothing is listening there"
		switch {
		case errors.Is(err, portforward.ErrNotListening):
		case errors.Is(err, portforward.ErrNoAnswer):
			// Nothing listens there, as far as the forward told in time.
			why = "the connection closed before any answer"
		case istiod.DebugAPIOff(err):
			why = "its /debug/ paths are not found: ENABLE_DEBUG_ON_HTTP is off"
		default:
			return istiod.Target{}, false, nil
		}
		o.mu.Lock()
		printLine(o.streams.ErrOut, "note", fmt.Sprintf("istiod %s in %s: the HTTP debug port %d is closed (%s); asking its xDS port %d instead", pod, ns, o.istiodPort, why, o.xdsPort))
		o.mu.Unlock()
		t, ferr := o.forwardTo(ctx, kube, ns, pod, o.xdsPort, true)
		return t, true, ferr
	}
}

func (o *proxyStatusOptions) closeForwards() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, f := range o.forwards {
		f.Close()
	}
	o.forwards = nil
}

// xdsConfig is how proxyctl reaches istiod's xDS port: TLS (or plain text) and credentials.
type xdsConfig struct {
	base *istiod.XDS
}

// forHost returns the configuration for a replica reached at host ("" through a port-forward):
// its TLS name is --authority, else the host, else istiod's service name.
func (c *xdsConfig) forHost(host string) *istiod.XDS {
	x := *c.base
	if x.TLS == nil {
		return &x
	}
	x.TLS = x.TLS.Clone()
	if x.TLS.ServerName == "" {
		x.TLS.ServerName = host
	}
	return &x
}

// xds returns the xDS configuration, built at the first call.
func (o *proxyStatusOptions) xds(ctx context.Context) (*xdsConfig, error) {
	o.xdsOnce.Do(func() { o.xdsCfg, o.xdsErr = o.newXDSConfig(ctx) })
	return o.xdsCfg, o.xdsErr
}

// newXDSConfig builds the TLS configuration and the credentials: the roots from
// --cert-dir, else the mesh's root certificate (the configmap every namespace has), else the
// system's; a client certificate from --cert-dir, else a token of the service account default
// in the Istio namespace, for the audience istio-ca, as istioctl requests it.
func (o *proxyStatusOptions) newXDSConfig(ctx context.Context) (*xdsConfig, error) {
	ns := o.root.istioNamespace
	x := &istiod.XDS{Namespace: ns, ServiceAccount: xdsTokenServiceAccount, Authority: o.authority}
	if o.plaintext {
		return &xdsConfig{base: x}, nil
	}
	kube, _, err := o.root.kube.Client()
	switch {
	case errors.Is(err, portforward.ErrNoKubeconfig):
		kube = nil // --xds-address without Kubernetes: no token, and the system's roots
	case err != nil:
		return nil, err
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: o.authority, InsecureSkipVerify: o.insecure} //nolint:gosec // --insecure asks for it
	if cfg.ServerName == "" && len(o.xdsAddresses) == 0 {
		cfg.ServerName = "istiod." + ns + ".svc" // a name istiod's certificate always holds
	}
	haveClientCert := false
	switch {
	case o.certDir != "":
		root, err := os.ReadFile(filepath.Join(o.certDir, "root-cert.pem"))
		if err != nil {
			return nil, fmt.Errorf("--cert-dir %s: %w; it holds the mesh's root-cert.pem (and cert-chain.pem and key.pem for a client certificate)", o.certDir, err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(root) {
			return nil, fmt.Errorf("--cert-dir %s: root-cert.pem holds no PEM certificate", o.certDir)
		}
		x.Roots = filepath.Join(o.certDir, "root-cert.pem")
		chain, key := filepath.Join(o.certDir, "cert-chain.pem"), filepath.Join(o.certDir, "key.pem")
		_, chainErr := os.Stat(chain)
		_, keyErr := os.Stat(key)
		switch {
		case chainErr == nil && keyErr == nil:
			cert, err := tls.LoadX509KeyPair(chain, key)
			if err != nil {
				return nil, fmt.Errorf("--cert-dir %s: the client certificate: %w", o.certDir, err)
			}
			cfg.Certificates = []tls.Certificate{cert}
			haveClientCert = true
		case chainErr == nil || keyErr == nil:
			return nil, fmt.Errorf("--cert-dir %s: a client certificate needs both cert-chain.pem and key.pem", o.certDir)
		}
	case o.insecure:
	case kube != nil:
		cm, err := kube.GetConfigMap(ctx, ns, meshRootConfigMap)
		pool := x509.NewCertPool()
		switch {
		case errors.Is(err, portforward.ErrNotFound):
			x.Roots = fmt.Sprintf("the system's root certificates (there is no configmap %s in %s, the mesh's root)", meshRootConfigMap, ns)
		case errors.Is(err, portforward.ErrForbidden):
			x.Roots = fmt.Sprintf("the system's root certificates (you may not read configmap %s in %s, the mesh's root)", meshRootConfigMap, ns)
		case err != nil:
			x.Roots = fmt.Sprintf("the system's root certificates (configmap %s in %s, the mesh's root, could not be read)", meshRootConfigMap, ns)
		case !pool.AppendCertsFromPEM([]byte(cm.Data[meshRootKey])):
			x.Roots = fmt.Sprintf("the system's root certificates (configmap %s in %s has no %s)", meshRootConfigMap, ns, meshRootKey)
		default:
			cfg.RootCAs = pool
			x.Roots = fmt.Sprintf("the mesh's root certificate (configmap %s in %s)", meshRootConfigMap, ns)
		}
	}
	x.TLS = cfg
	if !haveClientCert && kube != nil {
		x.TokenSource = fmt.Sprintf("a token of serviceaccount %s in %s (audience %s)", xdsTokenServiceAccount, ns, xdsTokenAudience)
		x.Token = tokenOnce(kube, ns)
	}
	return &xdsConfig{base: x}, nil
}

// tokenOnce requests the token at first use, and only once.
func tokenOnce(kube *portforward.Kube, ns string) func(context.Context) (string, error) {
	var (
		once  sync.Once
		token string
		err   error
	)
	return func(ctx context.Context) (string, error) {
		once.Do(func() {
			token, _, err = kube.CreateToken(ctx, ns, xdsTokenServiceAccount, []string{xdsTokenAudience}, xdsTokenLifetime)
			if err != nil {
				err = fmt.Errorf("istiod's xDS port wants a Kubernetes token: %w; or use --cert-dir with a client certificate", err)
			}
		})
		return token, err
	}
}

func (o *proxyStatusOptions) fetcher() *istiod.Fetcher {
	return &istiod.Fetcher{Client: portforward.NewHTTPClient(), MaxBodyBytes: o.maxInput.n, ReadBody: o.readOffHeap}
}

// readOffHeap reads an answer as loadDocument keeps a streamed document: in memory while small,
// else in an unlinked temporary file, mapped, so that a large config dump from istiod costs
// neither heap nor a garbage collector's target twice its size. It notes how to drop a mapped
// answer's pages (see bodyRelease).
func (o *proxyStatusOptions) readOffHeap(r io.Reader) ([]byte, error) {
	data, release, err := readSpooled(r)
	if err == nil && len(data) > 0 {
		o.mu.Lock()
		if o.released == nil {
			o.released = map[*byte]func([]byte){}
		}
		o.released[&data[0]] = release
		o.mu.Unlock()
	}
	return data, err
}

// bodyRelease returns how to drop the pages of an answer readOffHeap read (a no-op for one
// kept in memory).
func (o *proxyStatusOptions) bodyRelease(data []byte) func([]byte) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(data) > 0 && o.released[&data[0]] != nil {
		return o.released[&data[0]]
	}
	return func([]byte) {}
}

func readSpooled(r io.Reader) ([]byte, func([]byte), error) {
	// The fetcher bounds the answer already (see istiod.Fetcher's limits).
	sp := &spool{limit: limits.Limit{Max: math.MaxInt64, What: "an answer of istiod"}}
	defer sp.close()
	buf := make([]byte, 1<<20)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if werr := sp.write(buf[:n]); werr != nil {
				return nil, nil, werr
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, err
		}
	}
	return sp.bytes()
}

// status prints the sync state of every proxy.
func (o *proxyStatusOptions) status(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	targets, closeTargets, err := o.istiods(ctx)
	if err != nil {
		return o.root.deadline(ctx, err, "finding istiod", o.timeout)
	}
	defer closeTargets()
	res := o.fetcher().Syncz(ctx, targets, o.root.kube.NamespaceFlag())
	if err := res.Err(); err != nil {
		return o.root.deadline(ctx, err, "asking istiod", o.timeout)
	}
	for _, e := range res.Errors {
		printLine(o.streams.ErrOut, "warning", e.Error()+"; its proxies are not shown")
	}
	err = o.output.render(&o.streams.Out, func() error {
		output := string(o.output.format)
		if o.output.format == formatter.Short {
			output = "table"
		}
		return formatter.WriteProxyStatus(o.streams.Out, res.Rows, formatter.ProxyStatusOptions{Output: output, Verbosity: o.verbosity})
	})
	if err != nil {
		return err
	}
	if failing := o.failOnSet.Failing(res.Rows); len(failing) > 0 {
		what := fmt.Sprintf("%d proxies have", len(failing))
		if len(failing) == 1 {
			what = "1 proxy has"
		}
		return exitError{code: ExitFailOn, err: fmt.Errorf("%s a state --fail-on names (%s first)", what, failing[0].Name)}
	}
	return nil
}

// diff compares what istiod would send a proxy with what its Envoy holds.
func (o *proxyStatusOptions) diff(ctx context.Context, arg string) error {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	t, err := portforward.ParseTarget(arg, o.root.kube.NamespaceFlag())
	if err != nil {
		return usageError{err}
	}
	if t.Kind != "pod" {
		return usageErrorf("proxy-status compares one pod: give POD[.NAMESPACE], not %s/%s", t.Kind, t.Name)
	}
	if t.Namespace == "" {
		// The kubeconfig's namespace; "default" when there is none (--istiod-url and --file
		// need no Kubernetes), but a broken one is reported.
		_, ns, err := o.root.kube.Client()
		switch {
		case errors.Is(err, portforward.ErrNoKubeconfig):
			ns = "default"
		case err != nil:
			return err
		}
		t.Namespace = ns
	}
	proxyID := t.Name + "." + t.Namespace
	targets, closeTargets, err := o.istiods(ctx)
	if err != nil {
		return o.root.deadline(ctx, err, "finding istiod", o.timeout)
	}
	defer closeTargets()
	fromIstiod, err := o.fetcher().ConfigDump(ctx, targets, proxyID)
	if err != nil {
		return o.root.deadline(ctx, err, "asking istiod for "+proxyID, o.timeout)
	}
	istiodRelease := o.bodyRelease(fromIstiod.Body)
	istiodDump, err := configdump.ParseWith(fromIstiod.Body, configdump.ParseOptions{ChunkDone: istiodRelease})
	if err != nil {
		return fmt.Errorf("parsing the config dump %s gave for %s: %w", fromIstiod.Istiod, proxyID, err)
	}
	if !sameBytes(istiodDump.Source(), fromIstiod.Body) {
		// Converted (YAML) onto the heap: its pages are not the mapping's to give back.
		istiodRelease = func([]byte) {}
	}
	envoyDump, envoyRelease, err := o.envoyDump(ctx, t)
	if err != nil {
		return err
	}
	if o.semantic {
		return o.semanticDiff(istiodDump, envoyDump, fromIstiod.Istiod.String(), proxyID)
	}
	// istioctl compares what its types hold: a field only one side's Envoy knows is no difference.
	istiodDump.DropUnknownFields()
	envoyDump.DropUnknownFields()
	// Large ones are mapped (istiod's answer is kept in a temporary file, see readOffHeap):
	// their pages can be given back as the diff goes.
	istiodDump.ReleaseWith(istiodRelease)
	envoyDump.ReleaseWith(envoyRelease)
	_, err = formatter.ProxyDiff(o.streams.Out, istiodDump, envoyDump, localZone())
	return err
}

// semanticDiff compares istiod's view of a proxy with what its Envoy holds as pc diff does:
// the dynamic clusters, listeners and routes, the same proxy on both sides.
func (o *proxyStatusOptions) semanticDiff(istiodDump, envoyDump *configdump.Dump, istiodName, proxyID string) error {
	opts := diff.Options{
		Kinds:        []diff.Kind{diff.Cluster, diff.Listener, diff.Route},
		DynamicOnly:  true,
		KeepIdentity: true,
		Documents:    o.output.format == formatter.Short,
	}
	trouble := func(err error) error { return exitError{code: ExitDiffTrouble, err: err} }
	a, err := diff.Prepare(diff.Side{Dump: istiodDump}, opts)
	if err != nil {
		return trouble(fmt.Errorf("the config dump %s gave for %s: %w", istiodName, proxyID, err))
	}
	b, err := diff.Prepare(diff.Side{Dump: envoyDump}, opts)
	if err != nil {
		return trouble(fmt.Errorf("Envoy's config dump: %w", err))
	}
	res, err := diff.Compare(a, b, opts)
	if err != nil {
		return trouble(err)
	}
	sides := formatter.DiffSides{From: istiodName, To: "Envoy of " + proxyID}
	switch o.output.format {
	case formatter.JSON, formatter.YAML:
		err = formatter.WriteStructured(o.streams.Out, formatter.NewDiffReport(res, sides), o.output.format)
	default:
		if err = formatter.DiffTable(o.streams.Out, res); err == nil {
			err = formatter.DiffDetails(o.streams.Out, res, sides, true)
		}
	}
	if err != nil {
		return trouble(err)
	}
	for _, n := range res.Notes {
		printLine(o.streams.ErrOut, "note", fmt.Sprintf("%ss: %s", n.Kind, n.Text))
	}
	if !res.Same() {
		return exitError{code: ExitDifferent}
	}
	return nil
}

// localZone is the time zone times are shown in: $TZ's when set, as at start-up.
func localZone() *time.Location {
	if tz, ok := os.LookupEnv("TZ"); ok {
		if loc, err := time.LoadLocation(tz); err == nil {
			return loc
		}
	}
	return time.Local
}

// envoyDump reads Envoy's config dump from --file or from the pod.
func (o *proxyStatusOptions) envoyDump(ctx context.Context, t portforward.Target) (*configdump.Dump, func([]byte), error) {
	var src Source
	if o.file != "" {
		fo := fileOptions{path: o.file, stdin: o.streams.In}
		if isBundleFile(o.file) {
			// The bundle's proxy of that pod.
			fo.proxy, fo.orOnlyURL = t.Name+"."+t.Namespace, true
		}
		var err error
		src, err = openFile(fo)
		if err != nil {
			return nil, nil, err
		}
	} else {
		kube, _, err := o.root.kube.Client()
		if err != nil {
			return nil, nil, err
		}
		admin, err := o.live.openPod(ctx, kube, t, o.maxInput.n, o.streams)
		if err != nil {
			return nil, nil, o.root.deadline(ctx, err, "reaching "+t.String(), o.timeout)
		}
		src = admin
	}
	defer src.Close()
	d, release, err := loadDocument(ctx, src, pathFullDump, readOptions{maxInput: o.maxInput.n, note: func(s string) { printLine(o.streams.ErrOut, "note", s) }})
	if err != nil {
		return nil, nil, o.root.deadline(ctx, err, "fetching the configuration from "+src.String(), o.timeout)
	}
	return d, release, nil
}

// explainedLister lists pods, turning client-go's failures into sentences that name the cause
// and the fix (the Kube's Alternatives say what to use without Kubernetes).
type explainedLister struct{ kube *portforward.Kube }

func (l explainedLister) ListPods(ctx context.Context, ns, selector string) ([]corev1.Pod, error) {
	pods, err := l.kube.ListPods(ctx, ns, selector)
	if err != nil && !portforward.IsTimeout(err) {
		err = l.kube.APIError(err, fmt.Sprintf("the pods with labels %s in namespace %s", selector, ns), "pods")
	}
	return pods, err
}
