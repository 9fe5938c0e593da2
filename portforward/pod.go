package portforward

import (
	"context"
	"fmt"
)

// PodOptions say how to reach a proxy in a pod.
type PodOptions struct {
	// AdminPort is Envoy's admin port in the pod; AdminPortSet tells it was given explicitly,
	// which skips the check for an istio-proxy container.
	AdminPort    int
	AdminPortSet bool
	// MaxBytes bounds a response body.
	MaxBytes int64
	// Note receives remarks for the user, such as which of several pods was picked.
	Note func(string)
}

// PodAdmin is the admin API of the proxy in a pod, through a port-forward.
type PodAdmin struct {
	*AdminClient
	Pod       string
	Namespace string
	forward   *Forwarder
}

// OpenPod finds the pod a target names, checks that it can be reached (Running, an admin port,
// RBAC allowing port-forward), and port-forwards to its admin port.
func (k *Kube) OpenPod(ctx context.Context, t Target, o PodOptions) (*PodAdmin, error) {
	pod, note, err := k.Resolve(ctx, t)
	if err != nil {
		return nil, err
	}
	if note != "" && o.Note != nil {
		o.Note(note)
	}
	if err := CheckPod(pod, o.AdminPort, o.AdminPortSet); err != nil {
		return nil, err
	}
	what := fmt.Sprintf("pod %s in namespace %s", pod.Name, pod.Namespace)
	access := k.PortForwardAccess(ctx, pod.Namespace, pod.Name)
	if !access.Create {
		reason := ""
		if access.Reason != "" {
			reason = " (" + access.Reason + ")"
		}
		return nil, errorf(ErrForbidden, "you may not port-forward to %s%s; ask for RBAC access to create pods/portforward there, or use --admin-url or -f", what, reason)
	}
	// Without get, the WebSocket upgrade would be refused: go straight to SPDY.
	fwd, err := k.Forward(ctx, pod.Namespace, pod.Name, o.AdminPort, !access.Get)
	if err != nil {
		return nil, err
	}
	client, err := NewAdminClient(fwd.URL, o.MaxBytes)
	if err != nil {
		fwd.Close()
		return nil, err
	}
	client.describe = "Envoy admin API of " + what
	client.onFailure = fwd.explainFailure(portRole{
		notListening: fmt.Sprintf("nothing is listening on port %d in %s; is Envoy running there? if its admin port is another, use --proxy-admin-port", o.AdminPort, what),
		closed:       "the port-forward to " + what + " closed the connection to port " + fmt.Sprint(o.AdminPort) + " before any answer: %w; is Envoy's admin API listening there? (--proxy-admin-port)",
	})
	return &PodAdmin{AdminClient: client, Pod: pod.Name, Namespace: pod.Namespace, forward: fwd}, nil
}

func (p *PodAdmin) String() string { return fmt.Sprintf("pod %s in namespace %s", p.Pod, p.Namespace) }

// Close ends the port-forward.
func (p *PodAdmin) Close() error {
	p.AdminClient.Close()
	return p.forward.Close()
}

// OpenPodPort port-forwards to a port of a pod after checking, as OpenPod does, that it is
// Running and that the user may port-forward to it (but not that it runs Envoy): for istiod's
// debug port, say.
func (k *Kube) OpenPodPort(ctx context.Context, ns, name string, port int) (*Forwarder, error) {
	pod, err := k.GetPod(ctx, ns, name)
	if err != nil {
		return nil, APIError(err, Target{Kind: "pod", Name: name, Namespace: ns}.String(), "get pods", "--istiod-url")
	}
	if err := CheckPod(pod, port, true); err != nil {
		return nil, err
	}
	access := k.PortForwardAccess(ctx, ns, name)
	if !access.Create {
		return nil, errorf(ErrForbidden, "you may not port-forward to pod %s in namespace %s; ask for RBAC access to create pods/portforward there, or use --istiod-url", name, ns)
	}
	return k.Forward(ctx, ns, name, port, !access.Get)
}
