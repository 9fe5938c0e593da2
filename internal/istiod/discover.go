package istiod

import (
	"context"
	"errors"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
)

// PodLister lists the pods of a namespace that match a label selector (portforward.Kube does).
type PodLister interface {
	ListPods(ctx context.Context, namespace, selector string) ([]corev1.Pod, error)
}

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
func DiscoverPods(ctx context.Context, client PodLister, namespace, revision string) ([]string, error) {
	if namespace == "" {
		namespace = DefaultNamespace
	}
	sel := PodSelector(revision)
	pods, err := client.ListPods(ctx, namespace, sel)
	if err != nil {
		return nil, fmt.Errorf("list istiod pods (%s) in %s: %w", sel, namespace, err)
	}
	var names []string
	for _, p := range pods {
		if p.Status.Phase == corev1.PodRunning {
			names = append(names, p.Name)
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%w with labels %s in namespace %s (found %d pods): check -i/--istio-namespace and -r/--revision, or give --istiod-url",
			ErrNoIstiod, sel, namespace, len(pods))
	}
	sort.Strings(names)
	return names, nil
}
