package portforward

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
	"k8s.io/klog/v2"
	streamhttp "k8s.io/streaming/pkg/httpstream"
)

// Forwarder is a running port-forward to one port of a pod, listening on 127.0.0.1.
type Forwarder struct {
	// URL is the local end: http://127.0.0.1:PORT.
	URL       string
	local     uint16
	stop      chan struct{}
	done      chan error
	closeOnce sync.Once
}

// Forward port-forwards to port of a pod, over WebSocket with SPDY as the fallback (or over
// SPDY only), and returns once the local end listens on a random port of 127.0.0.1. ctx bounds
// the set-up only.
func (k *Kube) Forward(ctx context.Context, ns, pod string, port int, spdyOnly bool) (*Forwarder, error) {
	silenceClientGo()
	u := k.core.Post().Resource("pods").Namespace(ns).Name(pod).SubResource("portforward").URL()
	transport, upgrader, err := spdy.RoundTripperFor(k.config)
	if err != nil {
		return nil, err
	}
	// The ForStreaming variants: client-go 0.36 reports a refused WebSocket upgrade with
	// k8s.io/streaming's UpgradeFailureError, which apimachinery's IsUpgradeFailure does not
	// recognise, so that the fallback to SPDY would never happen.
	spdyDialer := spdy.NewDialerForStreaming(upgrader, &http.Client{Transport: transport}, http.MethodPost, u)
	var dialer streamhttp.Dialer = spdyDialer
	if !spdyOnly {
		wsDialer, err := portforward.NewSPDYOverWebsocketDialerForStreaming(u, k.config)
		if err != nil {
			return nil, err
		}
		dialer = portforward.NewFallbackDialerForStreaming(wsDialer, spdyDialer, func(err error) bool {
			return streamhttp.IsUpgradeFailure(err) || streamhttp.IsHTTPSProxyError(err)
		})
	}
	// client-go's dialers take no context: bound the set-up's dial with ctx all the same.
	dialer = ctxDialer{ctx: ctx, d: dialer}
	f := &Forwarder{stop: make(chan struct{}), done: make(chan error, 1)}
	ready := make(chan struct{})
	pf, err := portforward.NewOnAddressesForStreaming(dialer, []string{"127.0.0.1"}, []string{fmt.Sprintf("0:%d", port)}, f.stop, ready, io.Discard, io.Discard)
	if err != nil {
		return nil, err
	}
	go func() { f.done <- pf.ForwardPorts() }()
	what := fmt.Sprintf("pod %s in namespace %s", pod, ns)
	select {
	case <-ready:
	case err := <-f.done:
		return nil, forwardError(err, what, port, k.Alternatives)
	case <-ctx.Done():
		f.Close()
		return nil, ctx.Err()
	}
	ports, err := pf.GetPorts()
	if err != nil || len(ports) == 0 {
		f.Close()
		return nil, fmt.Errorf("port-forward to %s: no local port: %v", what, err)
	}
	f.local = ports[0].Local
	f.URL = fmt.Sprintf("http://127.0.0.1:%d", f.local)
	return f, nil
}

// ctxDialer bounds a dial that takes no context (client-go's port-forward dialers): it gives up
// when ctx ends, leaving the dial to finish on its own, and closes the connection a late dial
// makes.
type ctxDialer struct {
	ctx context.Context
	d   streamhttp.Dialer
}

func (c ctxDialer) Dial(protocols ...string) (streamhttp.Connection, string, error) {
	type dialed struct {
		conn     streamhttp.Connection
		protocol string
		err      error
	}
	ch := make(chan dialed, 1)
	go func() {
		conn, protocol, err := c.d.Dial(protocols...)
		ch <- dialed{conn, protocol, err}
	}()
	select {
	case r := <-ch:
		return r.conn, r.protocol, r.err
	case <-c.ctx.Done():
		go func() {
			if r := <-ch; r.conn != nil {
				r.conn.Close()
			}
		}()
		return nil, "", fmt.Errorf("port-forward: %w", c.ctx.Err())
	}
}

// Address is the local end as HOST:PORT.
func (f *Forwarder) Address() string { return fmt.Sprintf("127.0.0.1:%d", f.local) }

// Close stops the port-forward and waits for it to end.
func (f *Forwarder) Close() error {
	f.closeOnce.Do(func() {
		close(f.stop)
		<-f.done
	})
	return nil
}

// forwardError explains why a port-forward could not start.
func forwardError(err error, what string, port int, alternatives string) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "forbidden") || strings.Contains(msg, "Forbidden") || strings.Contains(msg, "403"):
		return errorf(ErrForbidden, "port-forward to %s refused (%s); ask for RBAC access to create pods/portforward%s", what, msg, orUse(", or", alternatives))
	case strings.Contains(msg, "not found") || strings.Contains(msg, "404"):
		return errorf(ErrNotFound, "port-forward to %s: %s", what, msg)
	case strings.HasSuffix(strings.TrimSpace(msg), "unable to upgrade streaming request:"):
		// Over WebSocket the API server drops the kubelet's reason.
		return fmt.Errorf("the kubelet refused to port-forward to %s: %w; is the pod still Running?", what, err)
	}
	return fmt.Errorf("port-forward to %s port %d failed: %w", what, port, err)
}

// client-go reports failures inside a running port-forward (such as nothing listening on the
// pod's port) only through klog and utilruntime.HandleError. proxyctl silences those logs and
// keeps the messages, so that a failed request can say what happened.
var (
	silenceOnce sync.Once
	failures    = &failureLog{}
)

func silenceClientGo() {
	silenceOnce.Do(func() {
		klog.SetOutput(io.Discard)
		klog.LogToStderr(false)
		utilruntime.ErrorHandlers = []utilruntime.ErrorHandler{failures.record}
	})
}

// failureLog keeps the last port-forward failure reported for each local port.
type failureLog struct {
	mu     sync.Mutex
	byPort map[uint16]string
}

// forwardingRE finds the local port in client-go's messages: "an error occurred forwarding
// 41357 -> 15000: ..." and "error creating forwarding stream for port 41357 -> 15000: ...".
var forwardingRE = regexp.MustCompile(`(?:forwarding|for port) (\d+) -> \d+`)

func (l *failureLog) record(_ context.Context, err error, msg string, _ ...any) {
	if err != nil {
		msg = err.Error()
	}
	m := forwardingRE.FindStringSubmatch(msg)
	if m == nil {
		return
	}
	var port uint16
	fmt.Sscan(m[1], &port)
	l.mu.Lock()
	if l.byPort == nil {
		l.byPort = map[uint16]string{}
	}
	l.byPort[port] = msg
	l.mu.Unlock()
}

func (l *failureLog) last(port uint16) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.byPort[port]
}

// takeIf removes and reports the last failure of port when it satisfies match.
func (l *failureLog) takeIf(port uint16, match func(string) bool) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if msg, ok := l.byPort[port]; ok && match(msg) {
		delete(l.byPort, port)
		return true
	}
	return false
}

// streamNotCreated reports a failure of client-go to open a connection's streams: the kubelet
// reset them before they were set up, so nothing of the request reached the pod. This happens
// when the kubelet's dial into the pod fails at once (nothing listening) and it closes the
// request's streams before answering the second: client-go then logs the reset and closes the
// local connection without reading the kubelet's reason, which the next connection usually
// gets.
func streamNotCreated(msg string) bool {
	return strings.HasPrefix(msg, "error creating forwarding stream") || strings.HasPrefix(msg, "error creating error stream")
}

// Unsent reports whether a request through the forward that failed with err never reached the
// pod because the kubelet reset its connection's streams before they were set up
// (streamNotCreated): the request may be sent once more, on a new connection, whose failure
// then carries the kubelet's reason. It takes that failure from the forward's log.
func (f *Forwarder) Unsent(err error) bool {
	// client-go reports the failure before it closes the local connection: no wait is needed.
	return err != nil && failures.takeIf(f.local, streamNotCreated)
}

// Explain returns what turns a failed connection through the forward into the forward's own
// error: nothing listening on the pod's port (wrapping ErrNotListening), or the pod closing the
// connection before any answer; nil when the forward has nothing to say. what names the pod
// ("pod X in namespace Y"); hint says what should listen there and how to point elsewhere
// ("is istiod's xDS port open there? (--xds-port)").
func (f *Forwarder) Explain(what string, port int, hint string) func(error) error {
	return f.explain(what, port, hint, hint)
}

// explainFailure is Explain for the admin API of the Envoy in a pod.
func (f *Forwarder) explainFailure(what string, port int) func(error) error {
	return f.explain(what, port, "is Envoy running there? if its admin port is another, use --proxy-admin-port",
		"is Envoy's admin API listening there? (--proxy-admin-port)")
}

func (f *Forwarder) explain(what string, port int, notListening, closed string) func(error) error {
	return func(reqErr error) error {
		// The forward reports its failure from its own goroutine, maybe after the request saw
		// the connection close: give it a moment.
		msg := failures.last(f.local)
		for i := 0; msg == "" && i < 25; i++ {
			time.Sleep(20 * time.Millisecond)
			msg = failures.last(f.local)
		}
		switch {
		case strings.Contains(msg, "connection refused") || strings.Contains(msg, "failed to connect"):
			return errorf(ErrNotListening, "nothing is listening on port %d in %s; %s", port, what, notListening)
		case streamNotCreated(msg):
			return &causedError{kindError: kindError{kind: ErrNoAnswer,
				msg: fmt.Sprintf("the kubelet reset the port-forward's connection to port %d of %s before it was set up (%s), without saying why; %s", port, what, msg, notListening)}, cause: reqErr}
		case msg != "":
			return fmt.Errorf("port-forward to %s: %s", what, msg)
		case reqErr == nil:
			return nil
		case errors.Is(reqErr, io.ErrUnexpectedEOF):
			return nil // cut in the middle of an answer: the client says so
		case errors.Is(reqErr, io.EOF) || strings.Contains(reqErr.Error(), "EOF") || strings.Contains(reqErr.Error(), "connection reset"):
			return &causedError{kindError: kindError{kind: ErrNoAnswer,
				msg: fmt.Sprintf("the port-forward to %s closed the connection to port %d before any answer: %v; %s", what, port, reqErr, closed)}, cause: reqErr}
		}
		return nil
	}
}
