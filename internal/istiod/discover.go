package istiod

import (
	"context"
	"errors"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Defaults for finding istiod.
const (
	DefaultNamespace = "istio-system"
	DefaultDebugPort = 15014
	AppLabel         = "app"
	AppLabelValue    = "istiod"
	RevisionLabel    = "istio.io/rev"
)

// ErrNoIstiod is wrapped when no Running istiod pod matches.
var ErrNoIstiod = errors.New("no running istiod pod")

// PodSelector is the label selector of the istiod pods of revision (all
// revisions when empty).
func PodSelector(revision string) string {
	sel := AppLabel + "=" + AppLabelValue
	if revision != "" {
		sel += "," + RevisionLabel + "=" + revision
	}
	return sel
}

// DiscoverPods returns the names, sorted, of the Running istiod pods in
// namespace (DefaultNamespace when empty), labelled app=istiod and, when
// revision is set, istio.io/rev=<revision>. Finding none is an error
// wrapping ErrNoIstiod.
func DiscoverPods(ctx context.Context, client kubernetes.Interface, namespace, revision string) ([]string, error) {
	if namespace == "" {
		namespace = DefaultNamespace
	}
	sel := PodSelector(revision)
	list, err := client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return nil, fmt.Errorf("list istiod pods (%s) in %s: %w", sel, namespace, err)
	}
	var names []string
	for _, p := range list.Items {
		if p.Status.Phase == corev1.PodRunning {
			names = append(names, p.Name)
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%w with labels %s in namespace %s (found %d pods): check -i/--istio-namespace and -r/--revision, or give --istiod-url",
			ErrNoIstiod, sel, namespace, len(list.Items))
	}
	sort.Strings(names)
	return names, nil
}
