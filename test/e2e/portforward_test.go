//go:build e2e

package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
	streamhttp "k8s.io/streaming/pkg/httpstream"
)

// DialMode is how a port-forward reaches the apiserver.
type DialMode int

const (
	// DialWebSocket tunnels SPDY over a WebSocket (GET with SPDY/3.1+portforward.k8s.io); the
	// apiserver turns it into SPDY to the kubelet. No fallback: a failure is a failure.
	DialWebSocket DialMode = iota
	// DialSPDY upgrades a POST to SPDY/3.1 directly.
	DialSPDY
	// DialFallback is what kubectl and client-go do by default: WebSocket, then SPDY if the
	// upgrade is refused.
	DialFallback
)

func (m DialMode) String() string {
	return [...]string{"websocket", "spdy", "fallback"}[m]
}

// Forward is a running client-go port-forward to one pod port.
type Forward struct {
	// LocalAddr is the 127.0.0.1:PORT that reaches the pod port.
	LocalAddr string
	stop      chan struct{}
	stopOnce  sync.Once
	finished  chan struct{} // closed when ForwardPorts returned, err set
	err       error
}

// Close stops the forward and returns how ForwardPorts ended (nil after a clean stop).
func (f *Forward) Close() error {
	f.stopOnce.Do(func() { close(f.stop) })
	return f.Wait(10 * time.Second)
}

// Wait waits up to d for the forward to end by itself (e.g. "lost connection to pod" after
// the kubelet reported an error) and returns how ForwardPorts ended.
func (f *Forward) Wait(d time.Duration) error {
	select {
	case <-f.finished:
		return f.err
	case <-time.After(d):
		return fmt.Errorf("port-forward still running after %v", d)
	}
}

// PortForwardDialer builds the client-go dialer for pod ns/name's portforward subresource.
func PortForwardDialer(cfg *rest.Config, ns, pod string, mode DialMode) (streamhttp.Dialer, error) {
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	u := client.CoreV1().RESTClient().Post().Resource("pods").Namespace(ns).Name(pod).SubResource("portforward").URL()
	spdyDialer := func() (streamhttp.Dialer, error) {
		transport, upgrader, err := spdy.RoundTripperFor(cfg)
		if err != nil {
			return nil, err
		}
		return spdy.NewDialerForStreaming(upgrader, &http.Client{Transport: transport}, http.MethodPost, u), nil
	}
	switch mode {
	case DialWebSocket:
		return portforward.NewSPDYOverWebsocketDialerForStreaming(u, cfg)
	case DialSPDY:
		return spdyDialer()
	default:
		ws, err := portforward.NewSPDYOverWebsocketDialerForStreaming(u, cfg)
		if err != nil {
			return nil, err
		}
		sp, err := spdyDialer()
		if err != nil {
			return nil, err
		}
		return portforward.NewFallbackDialerForStreaming(ws, sp, func(err error) bool {
			return streamhttp.IsUpgradeFailure(err) || streamhttp.IsHTTPSProxyError(err)
		}), nil
	}
}

// ForwardPort forwards a free local port to remotePort of pod ns/name through the apiserver,
// as cfg's user. The error is the dial's (e.g. 403 Forbidden, 404, the kubelet's refusal).
func ForwardPort(cfg *rest.Config, ns, pod string, remotePort int, mode DialMode) (*Forward, error) {
	dialer, err := PortForwardDialer(cfg, ns, pod, mode)
	if err != nil {
		return nil, err
	}
	f := &Forward{stop: make(chan struct{}), finished: make(chan struct{})}
	ready := make(chan struct{})
	// client-go writes "Handling connection for ..." from one goroutine per connection: the
	// writers must be safe for concurrent use (a bytes.Buffer is not).
	pf, err := portforward.NewOnAddressesForStreaming(dialer, []string{"127.0.0.1"}, []string{":" + strconv.Itoa(remotePort)},
		f.stop, ready, io.Discard, io.Discard)
	if err != nil {
		return nil, err
	}
	go func() {
		f.err = pf.ForwardPorts()
		close(f.finished)
	}()
	select {
	case <-ready:
	case <-f.finished:
		if f.err == nil {
			return nil, fmt.Errorf("port-forward ended before it was ready")
		}
		return nil, f.err
	case <-time.After(30 * time.Second):
		_ = f.Close()
		return nil, fmt.Errorf("port-forward to %s/%s:%d not ready after 30s", ns, pod, remotePort)
	}
	ports, err := pf.GetPorts()
	if err != nil || len(ports) != 1 {
		_ = f.Close()
		return nil, fmt.Errorf("port-forward ports: %v %v", ports, err)
	}
	f.LocalAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(int(ports[0].Local)))
	return f, nil
}

// HTTPGet GETs path from addr on a fresh connection and returns the status and body.
func HTTPGet(addr, path string) (int, string, error) {
	client := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get("http://" + addr + path)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}
