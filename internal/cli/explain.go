package cli

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/proxyctl/proxyctl/configdump"
	"github.com/proxyctl/proxyctl/formatter"
	"github.com/proxyctl/proxyctl/internal/traffic"
)

type explainOptions struct {
	*commonOptions
	url, mode, address, sourceIP, protocol, tls, sni, host, path, method, listener string
	port, sourcePort                                                               int
	alpn, headers                                                                  []string
	random                                                                         uint64
	verbose                                                                        bool

	req traffic.ExplainRequest
}

func newExplainCommand(streams Streams, root *rootOptions) *cobra.Command {
	o := &explainOptions{commonOptions: newCommonOptions(streams, root, formatter.Short)}
	cmd := &cobra.Command{
		Use:     "explain [POD[.NAMESPACE] | TYPE/NAME[.NAMESPACE]]",
		Aliases: []string{"x"},
		Short:   "Explain which listener, filter chain, route, cluster and endpoints serve a request, and why",
		Long: `Explain where a request goes through an Envoy proxy, step by step, with Envoy's own
matching rules: the listener that takes the connection, the listener filters (TLS
and HTTP inspectors), the filter chain, the network filter (HTTP connection manager
or TCP proxy), the route configuration, virtual host and route, the cluster and its
endpoints; and at each step the rule that decided it. --verbose adds every
candidate considered and why it lost.

--mode says how the connection reaches Envoy: outbound (a sidecar's iptables
redirect to the virtual outbound listener, which hands it to the listener of the
original destination), inbound (the virtual inbound listener) or gateway (the
listener bound to the address). Without it, a sidecar's node id means outbound,
anything else gateway. Anything not given (mode, destination address, host) is
chosen from the dump, and the REQUEST line says how.

The exit status is 1 when the request does not get through (error set: no_listener,
no_filter_chain, no_virtual_host, no_route, tls_required, protocol_error,
tls_error, mtls_error); -o json and -o yaml still print the explanation.
Live, the command fetches config_dump?include_eds=true and /clusters?format=json
(for the endpoints' health) once.`,
		Example: `  # An outbound HTTP request from a sidecar to a service
  proxyctl pc explain productpage-v1-bd9c6d8f7-abcde --url http://reviews.default:9080/reviews/0

  # The same from a saved dump, with a header, every candidate shown
  proxyctl pc x -f config_dump.json --url http://reviews:9080/ -H 'end-user: jason' --verbose

  # Inbound mTLS traffic to port 9080 of the pod
  proxyctl pc explain -f config_dump.json --mode inbound --port 9080 --tls mtls --protocol http --host reviews

  # A TCP connection through a gateway, as JSON
  proxyctl pc explain istio-ingressgateway-5d9f8-xyz.istio-system --url tcp://10.0.0.5:31400 -o json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.complete(cmd, args); err != nil {
				return err
			}
			if err := o.completeRequest(cmd); err != nil {
				return err
			}
			return o.explain(cmd)
		},
	}
	o.addSourceFlags(cmd, "f")
	o.output.addFlag(cmd)
	fs := cmd.Flags()
	fs.StringVar(&o.url, "url", "", "the request as a URL: http://HOST[:PORT]/PATH?QUERY, https://HOST[:PORT]/PATH (TLS, SNI HOST) or tcp://HOST:PORT")
	fs.StringVar(&o.mode, "mode", "", "how the connection reaches Envoy: outbound, inbound or gateway (default: from the node id)")
	fs.StringVar(&o.address, "address", "", "destination IP address (default: found in the dump when it can be)")
	fs.IntVar(&o.port, "port", 0, "destination port (default: the --url's, 80 for http, 443 for https)")
	fs.StringVar(&o.sourceIP, "source-ip", "", "source IP address of the client")
	fs.IntVar(&o.sourcePort, "source-port", 0, "source port of the client")
	fs.StringVar(&o.protocol, "protocol", "", "application protocol: http, http2 or tcp (default: http, or the --url's)")
	fs.StringVar(&o.tls, "tls", "", "what the client speaks: plaintext, tls or mtls (TLS with a client certificate) (default: plaintext, or the --url's)")
	fs.StringSliceVar(&o.alpn, "alpn", nil, "ALPN protocols the client offers, in its order of preference (default for tls: http/1.1 or h2; for mtls: Istio's istio-http/1.1, istio-h2 or istio)")
	fs.StringVar(&o.sni, "sni", "", "server name (SNI) the client sends (default for tls: the host)")
	fs.StringVar(&o.host, "host", "", "the request's :authority (Host) (default: the --url's, else the address)")
	fs.StringVar(&o.path, "path", "", "the request's path, with its query string (default: /, or the --url's)")
	fs.StringVar(&o.method, "method", "GET", "the request's method")
	fs.StringArrayVarP(&o.headers, "header", "H", nil, "a request header, 'Name: value' (repeatable); Host or :authority sets the host, over --url's")
	fs.Uint64Var(&o.random, "random-value", 0, "random value that picks among weighted clusters, as Envoy's (value % total weight; default 0)")
	fs.StringVar(&o.listener, "listener", "", "start at the listener of this name (e.g. an internal listener, which no address reaches)")
	fs.BoolVar(&o.verbose, "verbose", false, "show every candidate each step considered and why it lost")
	return cmd
}

// completeRequest builds the request from the flags: --url first, then the flags that set
// one part each.
func (o *explainOptions) completeRequest(cmd *cobra.Command) error {
	r := &o.req
	changed := cmd.Flags().Changed
	proto, tlsMode, host, path, sni, port := "", "", "", "", "", 0
	if o.url != "" {
		u, err := url.Parse(o.url)
		if err != nil || u.Host == "" {
			return usageErrorf("--url %q is not a URL: use http://HOST[:PORT]/PATH, https://HOST[:PORT]/PATH or tcp://HOST:PORT", o.url)
		}
		switch u.Scheme {
		case "http":
			proto, tlsMode, port = "http", "plaintext", 80
		case "https":
			proto, tlsMode, port, sni = "http", "tls", 443, u.Hostname()
		case "tcp":
			proto, tlsMode = "tcp", "plaintext"
		default:
			return usageErrorf("--url %q: the scheme must be http, https or tcp", o.url)
		}
		if p := u.Port(); p != "" {
			n, err := strconv.Atoi(p)
			if err != nil || n < 1 || n > 65535 {
				return usageErrorf("--url %q: the port must be between 1 and 65535", o.url)
			}
			port = n
		} else if u.Scheme == "tcp" {
			return usageErrorf("--url %q: a tcp:// URL needs a port", o.url)
		}
		host = u.Host
		if u.Scheme != "tcp" {
			path = u.EscapedPath()
			if path == "" {
				path = "/"
			}
			if u.RawQuery != "" {
				path += "?" + u.RawQuery
			}
		}
	}
	if changed("protocol") {
		proto = o.protocol
	}
	if changed("tls") {
		tlsMode = o.tls
	}
	if changed("port") {
		port = o.port
	}
	if changed("host") {
		host = o.host
	}
	if changed("path") {
		path = o.path
	}
	if proto == "" {
		proto = "http"
	}
	if tlsMode == "" {
		tlsMode = "plaintext"
	}
	var err error
	if r.Protocol, err = traffic.ParseProtocol(proto); err != nil {
		return usageError{fmt.Errorf("--protocol: %w", err)}
	}
	if r.TLS, err = traffic.ParseTLSMode(tlsMode); err != nil {
		return usageError{fmt.Errorf("--tls: %w", err)}
	}
	if o.mode != "" {
		if r.Mode, err = traffic.ParseMode(o.mode); err != nil {
			return usageError{fmt.Errorf("--mode: %w", err)}
		}
		r.ModeGiven = true
	}
	switch {
	case port == 0:
		return usageErrorf("give the destination port: --port N, or --url")
	case port < 1 || port > 65535:
		return usageErrorf("--port must be between 1 and 65535, got %d", port)
	case o.sourcePort < 0 || o.sourcePort > 65535:
		return usageErrorf("--source-port must be between 0 and 65535, got %d", o.sourcePort)
	}
	r.DestinationPort, r.SourcePort = uint32(port), uint32(o.sourcePort)
	if o.address != "" {
		a, ok := traffic.ParseIP(o.address)
		if !ok {
			return usageErrorf("--address %q is not an IP address", o.address)
		}
		r.Destination, r.AddressGiven = a, true
	}
	if o.sourceIP != "" {
		a, ok := traffic.ParseIP(o.sourceIP)
		if !ok {
			return usageErrorf("--source-ip %q is not an IP address", o.sourceIP)
		}
		r.Source = a
	}
	for _, h := range o.headers {
		// A pseudo-header (":authority: x") starts with the colon that would cut it.
		pseudo := strings.HasPrefix(h, ":")
		name, value, ok := strings.Cut(strings.TrimPrefix(h, ":"), ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			return usageErrorf("-H %q: a header is 'Name: value'", h)
		}
		if pseudo {
			if name != "authority" {
				return usageErrorf("-H %q: of the pseudo-headers only :authority is a header here; use --method, --path or --url for the others", h)
			}
			name = ":authority"
		}
		value = strings.TrimSpace(value)
		if strings.EqualFold(name, "host") || name == ":authority" {
			// As curl sends it: the header over the URL's host; --host over both.
			if !changed("host") {
				host = value
			}
			continue
		}
		r.Headers = append(r.Headers, traffic.RequestHeader{Name: name, Value: value})
	}
	alpnGiven := changed("alpn")
	switch {
	case r.TLS == traffic.Plaintext && alpnGiven && len(o.alpn) > 0:
		return usageErrorf("--alpn needs --tls tls or mtls: ALPN is offered in the TLS handshake (plaintext HTTP is recognised by the HTTP inspector)")
	case r.TLS == traffic.Plaintext && o.sni != "":
		return usageErrorf("--sni needs --tls tls or mtls: the server name is sent in the TLS handshake")
	}
	r.ALPN = o.alpn
	if !alpnGiven {
		r.ALPN = traffic.DefaultALPN(r.TLS, r.Protocol)
	}
	r.SNI = o.sni
	switch {
	case r.SNI != "":
	case sni != "" && r.TLS != traffic.Plaintext:
		r.SNI = sni // https://HOST
	case r.TLS == traffic.TLS && host != "":
		r.SNI = hostname(host)
	}
	if path == "" {
		path = "/"
	}
	if !strings.HasPrefix(path, "/") && path != "*" {
		return usageErrorf("--path %q must start with /", path)
	}
	r.Host, r.Path, r.Method, r.Listener = host, path, o.method, o.listener
	if cmd.Flags().Changed("random-value") {
		v := o.random
		r.Random = &v
	}
	return nil
}

// hostname is a host without its port.
func hostname(h string) string {
	if strings.HasPrefix(h, "[") {
		if i := strings.Index(h, "]"); i > 0 {
			return h[1:i]
		}
	}
	if i := strings.LastIndex(h, ":"); i >= 0 && !strings.Contains(h[:i], ":") {
		return h[:i]
	}
	return h
}

// explain fetches the config dump with EDS, and live the /clusters document too, from one
// source, then explains the request.
func (o *explainOptions) explain(cmd *cobra.Command) error {
	ctx, cancel := context.WithTimeout(cmd.Context(), o.timeout)
	defer cancel()
	src, err := o.source(ctx)
	if err != nil {
		return o.live.root.deadline(ctx, err, "reaching the proxy", o.timeout)
	}
	defer src.Close()
	d, release, err := loadDocument(ctx, src, pathAll, o.readOptions())
	if err != nil {
		return o.live.root.deadline(ctx, err, "fetching the configuration from "+src.String(), o.timeout)
	}
	if d.Kind() != configdump.KindConfigDump {
		return fmt.Errorf("%s holds Envoy's /clusters document, not a config dump: explain needs the config dump (config_dump?include_eds=true)", src)
	}
	d.ReleaseWith(release) // the pages of the resources read are given back as they go
	cfg := &traffic.DumpConfig{Dump: d, Release: release}
	if _, single := src.(*fileSource); !single {
		status, _, err := loadDocument(ctx, src, pathEndpoints, o.readOptions())
		switch {
		case err == nil && status.Kind() == configdump.KindClusterStatus:
			cfg.Status = status
		case ctx.Err() != nil:
			return o.live.root.deadline(ctx, ctx.Err(), "fetching /clusters from "+src.String(), o.timeout)
		case err != nil && !o.quiet:
			fmt.Fprintf(o.streams.ErrOut, "note: no live endpoint health (/clusters): %s\n", oneLine(err.Error()))
		}
	}
	e, err := traffic.Explain(cfg, o.req)
	if err != nil {
		if errors.Is(err, configdump.ErrMissingSection) {
			return fmt.Errorf("%w: explain needs the listeners (and routes, clusters) of a config dump", err)
		}
		return err
	}
	out := o.streams.Out
	if err := o.output.render(&out, func() error { return formatter.Explain(out, e, o.output.format, o.verbose) }); err != nil {
		return err
	}
	if unknown := d.UnknownTypes(); len(unknown) > 0 && !o.quiet && e.Error == "" {
		printLine(o.streams.ErrOut, "note", unknownTypesNote(unknown))
	}
	if e.Error != "" {
		// The explanation is printed; stderr ends with the error line, as for every exit 1.
		return exitError{code: ExitRuntime, err: fmt.Errorf("%s: %s", e.Error, e.Message)}
	}
	return nil
}
