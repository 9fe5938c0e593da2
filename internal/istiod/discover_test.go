package istiod

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// lister lists pods through a clientset (the fake one here).
type lister struct{ client kubernetes.Interface }

func (l lister) ListPods(ctx context.Context, ns, selector string) ([]corev1.Pod, error) {
	list, err := l.client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, err
	}
	return list.Items, nil
}

func pod(ns, name string, phase corev1.PodPhase, labels map[string]string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
		Status:     corev1.PodStatus{Phase: phase},
	}
}

func TestDiscoverPods(t *testing.T) {
	istiod := map[string]string{"app": "istiod"}
	canary := map[string]string{"app": "istiod", "istio.io/rev": "canary"}
	stable := map[string]string{"app": "istiod", "istio.io/rev": "1-24-1"}
	objects := []runtime.Object{
		pod("istio-system", "istiod-7d9f-b", corev1.PodRunning, istiod),
		pod("istio-system", "istiod-7d9f-a", corev1.PodRunning, istiod),
		pod("istio-system", "istiod-7d9f-pending", corev1.PodPending, istiod),
		pod("istio-system", "istiod-7d9f-failed", corev1.PodFailed, istiod),
		pod("istio-system", "istiod-canary-x", corev1.PodRunning, canary),
		pod("istio-system", "istiod-1-24-1-y", corev1.PodRunning, stable),
		pod("istio-system", "istio-ingressgateway-z", corev1.PodRunning, map[string]string{"app": "istio-ingressgateway"}),
		pod("other-ns", "istiod-elsewhere", corev1.PodRunning, istiod),
		pod("other-ns", "istiod-elsewhere-stopped", corev1.PodSucceeded, istiod),
	}
	client := fake.NewClientset(objects...)
	tests := []struct {
		name      string
		namespace string
		revision  string
		want      []string
		wantErr   string
	}{
		{name: "default namespace, every revision", namespace: "", want: []string{
			"istiod-1-24-1-y", "istiod-7d9f-a", "istiod-7d9f-b", "istiod-canary-x",
		}},
		{name: "revision", namespace: "istio-system", revision: "canary", want: []string{"istiod-canary-x"}},
		{name: "other namespace", namespace: "other-ns", want: []string{"istiod-elsewhere"}},
		{name: "unknown revision", namespace: "istio-system", revision: "nope",
			wantErr: "no running istiod pod with labels app=istiod,istio.io/rev=nope in namespace istio-system (found 0 pods): check -i/--istio-namespace and -r/--revision, or give --istiod-url"},
		{name: "none running", namespace: "empty-ns",
			wantErr: "no running istiod pod with labels app=istiod in namespace empty-ns (found 0 pods)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DiscoverPods(context.Background(), lister{client}, tt.namespace, tt.revision)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrNoIstiod) {
					t.Fatalf("err = %v\nwant %s (wrapping ErrNoIstiod)", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDiscoverPodsNotRunning(t *testing.T) {
	client := fake.NewClientset(pod("istio-system", "istiod-starting", corev1.PodPending, map[string]string{"app": "istiod"}))
	_, err := DiscoverPods(context.Background(), lister{client}, "istio-system", "")
	if err == nil || !strings.Contains(err.Error(), "(found 1 pods)") {
		t.Errorf("err = %v", err)
	}
}

func TestDiscoverPodsListError(t *testing.T) {
	client := fake.NewClientset()
	client.PrependReactor("list", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New(`pods is forbidden: User "dev" cannot list resource "pods"`)
	})
	_, err := DiscoverPods(context.Background(), lister{client}, "istio-system", "")
	want := `list istiod pods (app=istiod) in istio-system: pods is forbidden: User "dev" cannot list resource "pods"`
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
}
