package portforward

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// PodOptions say how to reach a proxy in a pod.
type PodOptions struct {
	// AdminPort is Envoy's admin port in the pod when AdminPortSet (given explicitly); else the
	// pod's own spec says (DetectAdminPort).
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
	// IPs are the pod's IPs and Node the node it runs on: part of the proxy's identity.
	IPs     []string
	Node    string
	forward *Forwarder
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
	if !o.AdminPortSet {
		a, _ := DetectAdminPort(pod) // CheckPod made sure
		o.AdminPort = a.Port
		if o.Note != nil && (a.Port != DefaultAdminPort || len(a.Others) > 0) {
			o.Note(adminPortNote(what, a))
		}
	}
	access := k.PortForwardAccess(ctx, pod.Namespace, pod.Name)
	if !access.Create {
		reason := ""
		if access.Reason != "" {
			reason = " (" + access.Reason + ")"
		}
		return nil, errorf(ErrForbidden, "you may not port-forward to %s%s; ask for RBAC access to create pods/portforward there%s", what, reason, orUse(", or", k.Alternatives))
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
	client.onFailure = fwd.explainFailure(what, o.AdminPort)
	client.unsent = fwd.Unsent
	var ips []string
	for _, ip := range pod.Status.PodIPs {
		ips = append(ips, ip.IP)
	}
	if len(ips) == 0 && pod.Status.PodIP != "" {
		ips = []string{pod.Status.PodIP}
	}
	return &PodAdmin{AdminClient: client, Pod: pod.Name, Namespace: pod.Namespace, IPs: ips, Node: pod.Spec.NodeName, forward: fwd}, nil
}

// adminPortNote says which admin port of a pod is used, and why, when it is not Istio's 15000.
func adminPortNote(what string, a AdminPort) string {
	msg := fmt.Sprintf("using Envoy admin port %d of %s: %s", a.Port, what, a.What())
	if len(a.Others) > 0 {
		others := make([]string, len(a.Others))
		for i, p := range a.Others {
			others[i] = strconv.Itoa(p)
		}
		msg += fmt.Sprintf("; its other Envoys listen on %s (--proxy-admin-port)", strings.Join(others, ", "))
	}
	return msg
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
		return nil, k.apiError(err, Target{Kind: "pod", Name: name, Namespace: ns}.String(), "pods")
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
