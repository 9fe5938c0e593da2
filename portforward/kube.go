package portforward

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/spf13/pflag"
	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// KubeFlags are kubectl's standard connection flags (--kubeconfig, --context, -n, --as,
// --request-timeout...), from client-go's clientcmd, which kubectl's own flags wrap. The client
// is only built when a command needs Kubernetes.
type KubeFlags struct {
	rules     *clientcmd.ClientConfigLoadingRules
	overrides clientcmd.ConfigOverrides

	once   sync.Once
	client *Kube
	ns     string
	err    error
}

// NewKubeFlags returns the flags with kubectl's defaults ($KUBECONFIG, ~/.kube/config).
func NewKubeFlags() *KubeFlags {
	return &KubeFlags{rules: clientcmd.NewDefaultClientConfigLoadingRules()}
}

// AddFlags registers the flags.
func (f *KubeFlags) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&f.rules.ExplicitPath, clientcmd.RecommendedConfigPathFlag, "", "path to the kubeconfig file to use for Kubernetes requests")
	clientcmd.BindOverrideFlags(&f.overrides, fs, clientcmd.RecommendedConfigOverrideFlags(""))
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
			f.err = fmt.Errorf("%w: give --kubeconfig or set $KUBECONFIG; or read a proxy with --admin-url or -f", ErrNoKubeconfig)
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
	})
	return f.client, f.ns, f.err
}

// Kube is the little of the Kubernetes API proxyctl uses: reading pods and the workloads that
// own them, reviewing the user's own access, and port-forwarding. Its scheme holds only the
// core, apps and authorization groups.
type Kube struct {
	config *rest.Config
	core   rest.Interface
	apps   rest.Interface
	authz  rest.Interface
}

// NewKube returns a client for the cluster cfg points to.
func NewKube(cfg *rest.Config) (*Kube, error) {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, appsv1.AddToScheme, authorizationv1.AddToScheme} {
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
