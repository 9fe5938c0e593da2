package portforward

import (
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestParseTarget(t *testing.T) {
	tests := []struct {
		arg, ns string
		want    Target
		err     string
	}{
		{"web-1", "", Target{Kind: "pod", Name: "web-1"}, ""},
		{"web-1.shop", "", Target{Kind: "pod", Name: "web-1", Namespace: "shop"}, ""},
		{"web-1", "shop", Target{Kind: "pod", Name: "web-1", Namespace: "shop"}, ""},
		{"web-1.shop", "shop", Target{Kind: "pod", Name: "web-1", Namespace: "shop"}, ""},
		{"a.b.shop", "", Target{Kind: "pod", Name: "a.b", Namespace: "shop"}, ""}, // the last dot
		{"deploy/web.shop", "", Target{Kind: "deployment", Name: "web", Namespace: "shop"}, ""},
		{"Deployment/web", "", Target{Kind: "deployment", Name: "web"}, ""},
		{"svc/web", "shop", Target{Kind: "service", Name: "web", Namespace: "shop"}, ""},
		{"sts/db", "", Target{Kind: "statefulset", Name: "db"}, ""},
		{"ds/ztunnel.istio-system", "", Target{Kind: "daemonset", Name: "ztunnel", Namespace: "istio-system"}, ""},
		{"rs/web-7d9f", "", Target{Kind: "replicaset", Name: "web-7d9f"}, ""},
		{"pod/web-1", "", Target{Kind: "pod", Name: "web-1"}, ""},
		{"job/x", "", Target{}, `unknown kind "job" in "job/x": use pod/, deployment/`},
		{"web-1.", "", Target{}, `"web-1." ends with a dot`},
		{".shop", "", Target{}, `".shop" names no pod`},
		{"deploy/", "", Target{}, `"deploy/" names no pod`},
		{"web-1.shop", "default", Target{}, `"web-1.shop" names namespace shop but -n says default`},
	}
	for _, tt := range tests {
		got, err := ParseTarget(tt.arg, tt.ns)
		switch {
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("ParseTarget(%q, %q) = %v, %v; want error %q", tt.arg, tt.ns, got, err, tt.err)
		case tt.err == "" && (err != nil || got != tt.want):
			t.Errorf("ParseTarget(%q, %q) = %+v, %v; want %+v", tt.arg, tt.ns, got, err, tt.want)
		}
	}
}

func TestCheckPod(t *testing.T) {
	pod := func(phase corev1.PodPhase, containers ...corev1.Container) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "shop"},
			Spec:       corev1.PodSpec{Containers: containers},
			Status:     corev1.PodStatus{Phase: phase},
		}
	}
	app := corev1.Container{Name: "app"}
	sidecar := corev1.Container{Name: "istio-proxy"}
	envoy := corev1.Container{Name: "envoy", Ports: []corev1.ContainerPort{{ContainerPort: 19000}}}
	terminating := pod(corev1.PodRunning, app, sidecar)
	terminating.Status.Phase = corev1.PodSucceeded
	now := metav1.Now()
	terminating.DeletionTimestamp = &now
	native := pod(corev1.PodRunning, app)
	native.Spec.InitContainers = []corev1.Container{sidecar} // a native sidecar
	tests := []struct {
		name    string
		pod     *corev1.Pod
		port    int
		portSet bool
		kind    error
		msg     string
	}{
		{"sidecar", pod(corev1.PodRunning, app, sidecar), 15000, false, nil, ""},
		{"native sidecar", native, 15000, false, nil, ""},
		{"declared port 15000", pod(corev1.PodRunning, corev1.Container{Name: "envoy", Ports: []corev1.ContainerPort{{ContainerPort: 15000}}}), 15000, false, nil, ""},
		{"port given", pod(corev1.PodRunning, app), 19000, true, nil, ""},
		{"pending", pod(corev1.PodPending, app, sidecar), 15000, false, ErrNotRunning,
			"pod web-1 in namespace shop is Pending, not Running; see kubectl describe pod web-1 -n shop"},
		{"no phase yet", pod("", app, sidecar), 15000, false, ErrNotRunning, "is Pending, not Running"},
		{"terminating", terminating, 15000, false, ErrNotRunning, "is Terminating, not Running"},
		{"no sidecar", pod(corev1.PodRunning, app), 15000, false, ErrNoAdminPort,
			"pod web-1 in namespace shop has no istio-proxy container and no container port 15000, nor any other sign of an Envoy (a Consul, Kuma, Envoy Gateway or OSM proxy, a container port named admin); is the sidecar injected? for another Envoy, use --proxy-admin-port"},
		{"another port", pod(corev1.PodRunning, envoy), 15000, false, ErrNoAdminPort, "no container port 15000"},
	}
	for _, tt := range tests {
		err := CheckPod(tt.pod, tt.port, tt.portSet)
		switch {
		case tt.kind == nil && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.kind != nil && (!errors.Is(err, tt.kind) || !strings.Contains(err.Error(), tt.msg)):
			t.Errorf("%s: %v; want %v with %q", tt.name, err, tt.kind, tt.msg)
		}
	}
}
