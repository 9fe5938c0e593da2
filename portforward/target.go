package portforward

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
)

// Kinds of failure, so callers and tests can tell them apart with errors.Is; the messages of
// the errors that carry them are whole sentences of their own (see kindError).
var (
	ErrNotFound     = errors.New("not found")
	ErrNotRunning   = errors.New("pod not running")
	ErrNoAdminPort  = errors.New("no Envoy admin port")
	ErrForbidden    = errors.New("forbidden")
	ErrNoReadyPod   = errors.New("no running, ready pod")
	ErrNotListening = errors.New("nothing listening")
	// ErrNoAnswer: the port-forward closed a connection before anything answered on it.
	ErrNoAnswer = errors.New("closed before any answer")
)

// Target is what the user named: a pod, or a workload or service whose pods run the proxy.
type Target struct {
	Kind      string // "pod", "deployment", "statefulset", "daemonset", "replicaset" or "service"
	Name      string
	Namespace string // empty: the default namespace
}

// kindError is an error of a known kind whose message does not repeat the kind.
type kindError struct {
	kind error
	msg  string
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }

// causedError is an error of a known kind that also wraps its cause.
type causedError struct {
	kindError
	cause error
}

func (e *causedError) Unwrap() []error { return []error{e.kind, e.cause} }

// errorf returns an error of the given kind.
func errorf(kind error, format string, args ...any) error {
	return &kindError{kind: kind, msg: fmt.Sprintf(format, args...)}
}

func (t Target) String() string {
	if t.Kind == "pod" {
		return fmt.Sprintf("pod %s in namespace %s", t.Name, t.Namespace)
	}
	return fmt.Sprintf("%s/%s in namespace %s", t.Kind, t.Name, t.Namespace)
}

var kinds = map[string]string{
	"pod": "pod", "pods": "pod", "po": "pod",
	"deployment": "deployment", "deployments": "deployment", "deploy": "deployment",
	"statefulset": "statefulset", "statefulsets": "statefulset", "sts": "statefulset",
	"daemonset": "daemonset", "daemonsets": "daemonset", "ds": "daemonset",
	"replicaset": "replicaset", "replicasets": "replicaset", "rs": "replicaset",
	"service": "service", "services": "service", "svc": "service",
}

// ParseKind returns the kind a TYPE of TYPE/NAME names ("deploy" is "deployment").
func ParseKind(s string) (string, bool) {
	k, ok := kinds[strings.ToLower(s)]
	return k, ok
}

// KindSpellings are the TYPE/ prefixes completion offers, a short and a long one of each kind.
var KindSpellings = []string{"pod", "deploy", "deployment", "sts", "statefulset", "ds", "daemonset", "rs", "replicaset", "svc", "service"}

// ParseTarget reads POD[.NAMESPACE] or TYPE/NAME[.NAMESPACE]; the namespace is what follows
// the last dot. flagNamespace is -n, which must agree with a namespace in the name.
func ParseTarget(arg, flagNamespace string) (Target, error) {
	t := Target{Kind: "pod", Name: arg}
	if kind, name, ok := strings.Cut(arg, "/"); ok {
		k, known := kinds[strings.ToLower(kind)]
		if !known {
			return Target{}, fmt.Errorf("unknown kind %q in %q: use pod/, deployment/ (deploy/), statefulset/, daemonset/, replicaset/ or service/ (svc/)", kind, arg)
		}
		t.Kind, t.Name = k, name
	}
	if i := strings.LastIndexByte(t.Name, '.'); i >= 0 {
		t.Name, t.Namespace = t.Name[:i], t.Name[i+1:]
		if t.Namespace == "" {
			return Target{}, fmt.Errorf("%q ends with a dot: write NAME.NAMESPACE, or NAME with -n", arg)
		}
	}
	if t.Name == "" {
		return Target{}, fmt.Errorf("%q names no pod", arg)
	}
	if flagNamespace != "" {
		if t.Namespace != "" && t.Namespace != flagNamespace {
			return Target{}, fmt.Errorf("%q names namespace %s but -n says %s: give one of them", arg, t.Namespace, flagNamespace)
		}
		t.Namespace = flagNamespace
	}
	return t, nil
}

// Resolve finds the pod a target names. For a workload or a service it picks a Running, Ready
// pod of its selector and, when there were several, says which in note.
func (k *Kube) Resolve(ctx context.Context, t Target) (pod *corev1.Pod, note string, err error) {
	if t.Kind == "pod" {
		pod, err := k.GetPod(ctx, t.Namespace, t.Name)
		if err != nil {
			return nil, "", k.apiError(err, t.String(), "pods")
		}
		return pod, "", nil
	}
	selector, err := k.selectorOf(ctx, t)
	if err != nil {
		return nil, "", err
	}
	pods, err := k.ListPods(ctx, t.Namespace, selector)
	if err != nil {
		return nil, "", k.apiError(err, "pods of "+t.String(), "pods")
	}
	var ready []corev1.Pod
	for _, p := range pods {
		if p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning && podReady(&p) {
			ready = append(ready, p)
		}
	}
	if len(ready) == 0 {
		return nil, "", errorf(ErrNoReadyPod, "%s has %d pod(s) matching %s, none Running and Ready; check kubectl get pods -n %s -l %s",
			t, len(pods), selector, t.Namespace, selector)
	}
	sort.Slice(ready, func(i, j int) bool { return ready[i].Name < ready[j].Name })
	if len(ready) > 1 {
		note = fmt.Sprintf("%s/%s has %d ready pods; using %s (name a pod to pick another)", t.Kind, t.Name, len(ready), ready[0].Name)
	}
	return &ready[0], note, nil
}

// Pods lists the pods a target names: the pod itself, or every pod of a workload's or
// service's selector (Running or not), ordered by name; selector is the one used ("" for a
// pod).
func (k *Kube) Pods(ctx context.Context, t Target) (pods []corev1.Pod, selector string, err error) {
	if t.Kind == "pod" {
		pod, err := k.GetPod(ctx, t.Namespace, t.Name)
		if err != nil {
			return nil, "", k.apiError(err, t.String(), "pods")
		}
		return []corev1.Pod{*pod}, "", nil
	}
	if selector, err = k.selectorOf(ctx, t); err != nil {
		return nil, "", err
	}
	if pods, err = k.ListPods(ctx, t.Namespace, selector); err != nil {
		return nil, "", k.apiError(err, "pods of "+t.String(), "pods")
	}
	sort.Slice(pods, func(i, j int) bool { return pods[i].Name < pods[j].Name })
	return pods, selector, nil
}

// selectorOf returns the label selector of a workload or service.
func (k *Kube) selectorOf(ctx context.Context, t Target) (string, error) {
	var (
		obj      runtime.Object
		selector func() (*metav1.LabelSelector, map[string]string)
		client   = k.apps
		resource = t.Kind + "s"
	)
	switch t.Kind {
	case "deployment":
		o := &appsv1.Deployment{}
		obj, selector = o, func() (*metav1.LabelSelector, map[string]string) { return o.Spec.Selector, nil }
	case "statefulset":
		o := &appsv1.StatefulSet{}
		obj, selector = o, func() (*metav1.LabelSelector, map[string]string) { return o.Spec.Selector, nil }
	case "daemonset":
		o := &appsv1.DaemonSet{}
		obj, selector = o, func() (*metav1.LabelSelector, map[string]string) { return o.Spec.Selector, nil }
	case "replicaset":
		o := &appsv1.ReplicaSet{}
		obj, selector = o, func() (*metav1.LabelSelector, map[string]string) { return o.Spec.Selector, nil }
	case "service":
		o := &corev1.Service{}
		obj, selector, client = o, func() (*metav1.LabelSelector, map[string]string) { return nil, o.Spec.Selector }, k.core
	default:
		return "", fmt.Errorf("unsupported kind %q", t.Kind)
	}
	if err := k.get(ctx, client, t.Namespace, resource, t.Name, obj); err != nil {
		return "", k.apiError(err, t.String(), resource)
	}
	ls, m := selector()
	if ls != nil {
		sel, err := metav1.LabelSelectorAsSelector(ls)
		if err != nil {
			return "", fmt.Errorf("%s: invalid selector: %w", t, err)
		}
		if !sel.Empty() {
			return sel.String(), nil
		}
	} else if len(m) > 0 {
		return labels.SelectorFromSet(m).String(), nil
	}
	return "", fmt.Errorf("%s has no pod selector: name one of its pods instead", t)
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// APIError turns a client-go error reading what (the API server down, access forbidden,
// credentials refused, not found) into one sentence naming the cause and the fix: resource
// names the RBAC access it needs (get/list pods), k.Alternatives what to use without Kubernetes.
func (k *Kube) APIError(err error, what, resource string) error {
	return k.apiError(err, what, resource)
}

// apiError turns an API error about what into a message naming the fix.
func (k *Kube) apiError(err error, what, resource string) error {
	switch {
	case err == nil:
		return nil
	case apierrors.IsNotFound(err):
		return errorf(ErrNotFound, "%s not found; check the name and the namespace (NAME.NAMESPACE or -n)", what)
	case apierrors.IsForbidden(err):
		return errorf(ErrForbidden, "you may not read %s (%s); ask for RBAC access to get/list %s%s", what, err, resource, orUse(", or", k.Alternatives))
	case apierrors.IsUnauthorized(err):
		return fmt.Errorf("the API server did not accept your credentials reading %s: %w; check --kubeconfig and --context (is your token expired?)", what, err)
	}
	var urlErr *url.Error
	if errors.As(err, &urlErr) && !IsTimeout(err) {
		return fmt.Errorf("cannot reach the Kubernetes API server at %s to read %s: %w; check --context and --kubeconfig%s", urlHost(urlErr.URL), what, urlErr.Err, orUse(", or", k.Alternatives))
	}
	return fmt.Errorf("reading %s: %w", what, err)
}

// IsTimeout reports whether err is a request that ran out of time: a context's deadline, or an
// http.Client's own Timeout (kubectl's --request-timeout sets the Kubernetes client's).
func IsTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	return strings.Contains(err.Error(), "Client.Timeout exceeded") || strings.Contains(err.Error(), "context deadline exceeded")
}

// CheckPod verifies that a pod can be port-forwarded to: Running, and with an Envoy admin port.
// When adminPortSet is false the port is Envoy's default, which an istio-proxy container (or a
// container declaring the port) must stand for.
func CheckPod(pod *corev1.Pod, adminPort int, adminPortSet bool) error {
	what := fmt.Sprintf("pod %s in namespace %s", pod.Name, pod.Namespace)
	if pod.Status.Phase != corev1.PodRunning {
		return errorf(ErrNotRunning, "%s is %s, not Running; see kubectl describe pod %s -n %s", what, phase(pod), pod.Name, pod.Namespace)
	}
	if adminPortSet {
		return nil
	}
	if _, ok := DetectAdminPort(pod); ok {
		return nil
	}
	return errorf(ErrNoAdminPort, "%s has no istio-proxy container and no container port %d, nor any other sign of an Envoy (a Consul, Kuma, Envoy Gateway or OSM proxy, a container port named admin); is the sidecar injected? for another Envoy, use --proxy-admin-port", what, DefaultAdminPort)
}

// urlHost is the host of a URL, or the URL itself when it does not parse.
func urlHost(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.Host != "" {
		return u.Host
	}
	return raw
}

func phase(p *corev1.Pod) string {
	if p.DeletionTimestamp != nil {
		return "Terminating"
	}
	if p.Status.Phase == "" {
		return "Pending"
	}
	return string(p.Status.Phase)
}
