package portforward

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/pflag"
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// KubeFlags are kubectl's standard connection flags (--kubeconfig, --context, -n, --as,
// --request-timeout...), from client-go's clientcmd, which kubectl's own flags wrap, but for
// --cluster: proxyctl's --cluster is istioctl's endpoint filter (--context picks a cluster). The
// client is only built when a command needs Kubernetes.
type KubeFlags struct {
	rules     *clientcmd.ClientConfigLoadingRules
	overrides clientcmd.ConfigOverrides
	// alternatives names, in messages, what can be used instead of Kubernetes (see
	// SetAlternatives).
	alternatives string

	once   sync.Once
	client *Kube
	ns     string
	err    error
}

// NewKubeFlags returns the flags with kubectl's defaults ($KUBECONFIG, ~/.kube/config).
func NewKubeFlags() *KubeFlags {
	return &KubeFlags{rules: clientcmd.NewDefaultClientConfigLoadingRules()}
}

const kubeconfigUsage = "path to the kubeconfig file to use for Kubernetes requests"

// AddFlags registers the flags; --kubeconfig has no short form here (see AddKubeconfigShorthand).
func (f *KubeFlags) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&f.rules.ExplicitPath, clientcmd.RecommendedConfigPathFlag, "", kubeconfigUsage)
	names := clientcmd.RecommendedConfigOverrideFlags("")
	names.ContextOverrideFlags.ClusterName = clientcmd.FlagInfo{} // not bound: --cluster filters endpoints
	clientcmd.BindOverrideFlags(&f.overrides, fs, names)
}

// AddKubeconfigShorthand registers --kubeconfig again with istioctl's short form -c, bound to the
// same setting, on one command's own flags (where it shadows the shorthand-less flag AddFlags
// registered on a parent's persistent flags). Commands whose -c means something else simply do
// not call it.
func (f *KubeFlags) AddKubeconfigShorthand(fs *pflag.FlagSet) {
	fs.StringVarP(&f.rules.ExplicitPath, clientcmd.RecommendedConfigPathFlag, "c", f.rules.ExplicitPath, kubeconfigUsage)
}

// SetAlternatives names what the command can use instead of Kubernetes, such as "--admin-url or
// -f", for the messages of failures to reach a pod; empty names nothing. Call it before Client.
func (f *KubeFlags) SetAlternatives(s string) { f.alternatives = s }

// Kubeconfig is --kubeconfig as given ("" when not given).
func (f *KubeFlags) Kubeconfig() string { return f.rules.ExplicitPath }

// Context is --context as given ("" when not given).
func (f *KubeFlags) Context() string { return f.overrides.CurrentContext }

// RawConfig loads the merged kubeconfig without building a client (for its contexts).
func (f *KubeFlags) RawConfig() (clientcmdapi.Config, error) {
	return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(f.rules, &f.overrides).RawConfig()
}

// NamespaceFlag returns -n/--namespace as given on the command line ("" when not given).
func (f *KubeFlags) NamespaceFlag() string { return f.overrides.Context.Namespace }

// RequestTimeout returns --request-timeout, the time limit of each Kubernetes API request (0
// when there is none), read as kubectl reads it: a duration, or a number of seconds.
func (f *KubeFlags) RequestTimeout() time.Duration {
	s := f.overrides.Timeout
	if n, err := strconv.Atoi(s); err == nil {
		return time.Duration(n) * time.Second
	}
	d, _ := time.ParseDuration(s)
	return d
}

// ErrNoKubeconfig is wrapped by Client's error when there is no Kubernetes configuration at all.
var ErrNoKubeconfig = errors.New("no Kubernetes configuration found")

// Client builds the Kubernetes client and the default namespace (-n, else the kubeconfig's,
// else "default").
func (f *KubeFlags) Client() (*Kube, string, error) {
	f.once.Do(func() {
		cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(f.rules, &f.overrides)
		cfg, err := cc.ClientConfig()
		if clientcmd.IsEmptyConfig(err) {
			f.err = fmt.Errorf("%w: %sgive --kubeconfig or set $KUBECONFIG%s", ErrNoKubeconfig, f.missingFiles(), orUse("; or", f.alternatives))
			return
		}
		if err != nil {
			f.err = fmt.Errorf("loading the Kubernetes configuration: %w; check --kubeconfig, $KUBECONFIG and --context", err)
			return
		}
		ns, _, err := cc.Namespace()
		if err != nil {
			f.err = fmt.Errorf("reading the namespace from the kubeconfig: %w", err)
			return
		}
		f.ns = ns
		f.client, f.err = NewKube(cfg)
		if f.client != nil {
			f.client.Alternatives = f.alternatives
		}
	})
	return f.client, f.ns, f.err
}

// missingFiles says which of the kubeconfig files looked for do not exist ("$KUBECONFIG names
// /a, which does not exist; "), as clientcmd skips them silently.
func (f *KubeFlags) missingFiles() string {
	var missing []string
	for _, p := range f.rules.GetLoadingPrecedence() {
		if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
			missing = append(missing, p)
		}
	}
	if len(missing) == 0 {
		return ""
	}
	files := strings.Join(missing, ", ")
	verb := "does"
	if len(missing) > 1 {
		verb = "do"
	}
	if env := os.Getenv(clientcmd.RecommendedConfigPathEnvVar); env != "" {
		return fmt.Sprintf("$KUBECONFIG names %s, which %s not exist; ", files, verb)
	}
	return fmt.Sprintf("%s %s not exist; ", files, verb)
}

// orUse is sep + " use " + alternatives, or nothing when there are none.
func orUse(sep, alternatives string) string {
	if alternatives == "" {
		return ""
	}
	return sep + " use " + alternatives
}

// Kube is the little of the Kubernetes API proxyctl uses: reading pods and the workloads that
// own them, reviewing the user's own access, port-forwarding, and requesting service account
// tokens (for istiod's xDS port). Its scheme holds only the core, apps, authorization and
// authentication groups.
type Kube struct {
	// Alternatives names what the command can use instead of a pod, for messages ("--admin-url
	// or -f"); empty names nothing.
	Alternatives string

	config *rest.Config
	core   rest.Interface
	apps   rest.Interface
	authz  rest.Interface
}

// NewKube returns a client for the cluster cfg points to.
func NewKube(cfg *rest.Config) (*Kube, error) {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, appsv1.AddToScheme, authorizationv1.AddToScheme, authenticationv1.AddToScheme} {
		if err := add(scheme); err != nil {
			return nil, err
		}
	}
	codecs := serializer.NewCodecFactory(scheme).WithoutConversion()
	client := func(gv schema.GroupVersion, apiPath string) (rest.Interface, error) {
		c := rest.CopyConfig(cfg)
		c.GroupVersion, c.APIPath, c.NegotiatedSerializer = &gv, apiPath, codecs
		if c.UserAgent == "" {
			c.UserAgent = "proxyctl"
		}
		return rest.RESTClientFor(c)
	}
	k := &Kube{config: cfg}
	var err error
	if k.core, err = client(corev1.SchemeGroupVersion, "/api"); err != nil {
		return nil, err
	}
	if k.apps, err = client(appsv1.SchemeGroupVersion, "/apis"); err != nil {
		return nil, err
	}
	if k.authz, err = client(authorizationv1.SchemeGroupVersion, "/apis"); err != nil {
		return nil, err
	}
	return k, nil
}

// GetPod reads a pod.
func (k *Kube) GetPod(ctx context.Context, ns, name string) (*corev1.Pod, error) {
	pod := &corev1.Pod{}
	return pod, k.core.Get().Namespace(ns).Resource("pods").Name(name).Do(ctx).Into(pod)
}

// ListPods lists the pods of a namespace matching a label selector.
func (k *Kube) ListPods(ctx context.Context, ns, selector string) ([]corev1.Pod, error) {
	list := &corev1.PodList{}
	req := k.core.Get().Namespace(ns).Resource("pods")
	if selector != "" {
		req = req.Param("labelSelector", selector)
	}
	return list.Items, req.Do(ctx).Into(list)
}

// get reads a namespaced object of the apps group or a service into obj.
func (k *Kube) get(ctx context.Context, client rest.Interface, ns, resource, name string, obj runtime.Object) error {
	return client.Get().Namespace(ns).Resource(resource).Name(name).Do(ctx).Into(obj)
}

// Access is what the user may do with a pod's port-forward subresource. Port-forward over
// WebSocket is a GET (and, from Kubernetes 1.35, also needs create), over SPDY a POST (create).
type Access struct {
	Create, Get bool
	Reason      string // the authorizer's explanation of a denial
}

// PortForwardAccess asks the API server what the user may do with a pod's port-forward; when
// the question cannot be answered, it assumes everything is allowed and lets the forward tell.
func (k *Kube) PortForwardAccess(ctx context.Context, ns, pod string) Access {
	allowed := func(verb string) (bool, string) {
		review := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
			ResourceAttributes: &authorizationv1.ResourceAttributes{
				Namespace: ns, Verb: verb, Resource: "pods", Subresource: "portforward", Name: pod,
			},
		}}
		out := &authorizationv1.SelfSubjectAccessReview{}
		if err := k.authz.Post().Resource("selfsubjectaccessreviews").Body(review).Do(ctx).Into(out); err != nil {
			return true, ""
		}
		return out.Status.Allowed, out.Status.Reason
	}
	var a Access
	var r1, r2 string
	a.Create, r1 = allowed("create")
	a.Get, r2 = allowed("get")
	// Only a denial explains a denial: the reason of an allowed verb reads "allowed by
	// RoleBinding ...", which would contradict the message it ends up in.
	if !a.Create {
		a.Reason = r1
	}
	if a.Reason == "" && !a.Get {
		a.Reason = r2
	}
	return a
}

// ListNamespaces returns the names of the namespaces.
func (k *Kube) ListNamespaces(ctx context.Context) ([]string, error) {
	list := &corev1.NamespaceList{}
	if err := k.core.Get().Resource("namespaces").Do(ctx).Into(list); err != nil {
		return nil, err
	}
	names := make([]string, len(list.Items))
	for i, ns := range list.Items {
		names[i] = ns.Name
	}
	return names, nil
}

// ListPodsNamed lists the pods of that name in every namespace (one request, with a field
// selector).
func (k *Kube) ListPodsNamed(ctx context.Context, name string) ([]corev1.Pod, error) {
	list := &corev1.PodList{}
	err := k.core.Get().Resource("pods").Param("fieldSelector", "metadata.name="+name).Do(ctx).Into(list)
	return list.Items, err
}

// Workload is a workload or service and the selector of its pods.
type Workload struct {
	Name     string
	Selector labels.Selector
}

// ListWorkloads lists the objects of a kind ParseTarget knows ("deployment", "service"...)
// in a namespace, with their pod selectors; pods are listed with their own labels as selector.
func (k *Kube) ListWorkloads(ctx context.Context, ns, kind string) ([]Workload, error) {
	var out []Workload
	add := func(name string, ls *metav1.LabelSelector) {
		if sel, err := metav1.LabelSelectorAsSelector(ls); err == nil && ls != nil && !sel.Empty() {
			out = append(out, Workload{Name: name, Selector: sel})
		}
	}
	switch kind {
	case "pod":
		pods, err := k.ListPods(ctx, ns, "")
		for _, p := range pods {
			out = append(out, Workload{Name: p.Name, Selector: labels.SelectorFromSet(p.Labels)})
		}
		return out, err
	case "service":
		list := &corev1.ServiceList{}
		err := k.core.Get().Namespace(ns).Resource("services").Do(ctx).Into(list)
		for _, s := range list.Items {
			if len(s.Spec.Selector) > 0 {
				out = append(out, Workload{Name: s.Name, Selector: labels.SelectorFromSet(s.Spec.Selector)})
			}
		}
		return out, err
	case "deployment":
		list := &appsv1.DeploymentList{}
		err := k.apps.Get().Namespace(ns).Resource("deployments").Do(ctx).Into(list)
		for _, o := range list.Items {
			add(o.Name, o.Spec.Selector)
		}
		return out, err
	case "statefulset":
		list := &appsv1.StatefulSetList{}
		err := k.apps.Get().Namespace(ns).Resource("statefulsets").Do(ctx).Into(list)
		for _, o := range list.Items {
			add(o.Name, o.Spec.Selector)
		}
		return out, err
	case "daemonset":
		list := &appsv1.DaemonSetList{}
		err := k.apps.Get().Namespace(ns).Resource("daemonsets").Do(ctx).Into(list)
		for _, o := range list.Items {
			add(o.Name, o.Spec.Selector)
		}
		return out, err
	case "replicaset":
		list := &appsv1.ReplicaSetList{}
		err := k.apps.Get().Namespace(ns).Resource("replicasets").Do(ctx).Into(list)
		for _, o := range list.Items {
			add(o.Name, o.Spec.Selector)
		}
		return out, err
	}
	return nil, fmt.Errorf("unsupported kind %q", kind)
}
