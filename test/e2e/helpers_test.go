//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"hash/fnv"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Conventions of the fake kubelet (hack/e2e/fakekubelet), set on pods by PodOptions.
const (
	// ForwardAnnotationPrefix + "<port>": the local address a connection to the pod's port
	// reaches. A port without one refuses connections, like a port nobody listens on.
	ForwardAnnotationPrefix = "forward.e2e.proxyctl.io/"
	// PhaseAnnotation: the phase the fake kubelet gives the pod (Running when absent).
	PhaseAnnotation = "e2e.proxyctl.io/phase"
	// ReadyAnnotation "false" keeps a Running pod NotReady.
	ReadyAnnotation = "e2e.proxyctl.io/ready"

	// AdminPort is Envoy's admin port in an istio-proxy container.
	AdminPort = 15000
	// Unscheduled as PodOptions.NodeName leaves a pod without a node: no kubelet runs it.
	Unscheduled = "-"
)

var metaGet = metav1.GetOptions{}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// NewNamespace creates a namespace for one test. It is not deleted: without a
// controller-manager a deleted namespace would stay Terminating, and the whole environment
// goes away at the end of the run anyway.
func (e *Env) NewNamespace(t *testing.T) string {
	t.Helper()
	ns, err := e.Client.CoreV1().Namespaces().Create(ctxFor(t), &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "e2e-", Labels: map[string]string{"e2e.proxyctl.io/test": safeLabel(t.Name())}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	return ns.Name
}

func safeLabel(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			b[i] = '_'
		}
	}
	if len(b) > 63 {
		b = b[:63]
	}
	for len(b) > 0 && (b[len(b)-1] == '_' || b[len(b)-1] == '-' || b[len(b)-1] == '.') {
		b = b[:len(b)-1]
	}
	return string(b)
}

// AppContainer is a plain application container.
func AppContainer() corev1.Container {
	return corev1.Container{
		Name:  "app",
		Image: "registry.example/app:e2e",
		Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}},
	}
}

// IstioProxyContainer is a sidecar like Istio's injected one, declaring the admin port 15000.
func IstioProxyContainer() corev1.Container {
	return corev1.Container{
		Name:  "istio-proxy",
		Image: "docker.io/istio/proxyv2:1.28.0",
		Args:  []string{"proxy", "sidecar"},
		Ports: []corev1.ContainerPort{
			{Name: "envoy-admin", ContainerPort: AdminPort, Protocol: corev1.ProtocolTCP},
			{Name: "http-envoy-prom", ContainerPort: 15090, Protocol: corev1.ProtocolTCP},
		},
	}
}

// PodOptions describes a pod for CreatePod and the workload helpers.
type PodOptions struct {
	Name        string // required for CreatePod; the workload helpers name pods themselves
	Labels      map[string]string
	Annotations map[string]string
	// Forward maps a pod port to the local address ("127.0.0.1:PORT") the fake kubelet connects
	// it to. A port left out refuses connections.
	Forward map[int32]string
	// Phase the fake kubelet gives the pod: "" means Running; Pending, Succeeded, Failed.
	Phase corev1.PodPhase
	// NotReady keeps a Running pod NotReady.
	NotReady bool
	// Containers default to AppContainer and IstioProxyContainer.
	Containers     []corev1.Container
	InitContainers []corev1.Container
	// NodeName defaults to the fake kubelet's node; Unscheduled leaves it empty (the pod stays
	// Pending with no status, as no scheduler runs).
	NodeName        string
	OwnerReferences []metav1.OwnerReference
	// NoWait returns right after creation instead of waiting for the fake kubelet's status.
	NoWait bool
}

func (e *Env) podObject(ns string, o PodOptions) *corev1.Pod {
	ann := map[string]string{}
	for k, v := range o.Annotations {
		ann[k] = v
	}
	for port, addr := range o.Forward {
		ann[ForwardAnnotationPrefix+strconv.Itoa(int(port))] = addr
	}
	if o.Phase != "" {
		ann[PhaseAnnotation] = string(o.Phase)
	}
	if o.NotReady {
		ann[ReadyAnnotation] = "false"
	}
	containers := o.Containers
	if containers == nil {
		containers = []corev1.Container{AppContainer(), IstioProxyContainer()}
	}
	node := o.NodeName
	switch node {
	case "":
		node = e.NodeName
	case Unscheduled:
		node = ""
	}
	zero := int64(0)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: o.Name, Namespace: ns, Labels: o.Labels, Annotations: ann, OwnerReferences: o.OwnerReferences,
		},
		Spec: corev1.PodSpec{
			NodeName:                      node,
			Containers:                    containers,
			InitContainers:                o.InitContainers,
			TerminationGracePeriodSeconds: &zero,
		},
	}
}

// CreatePod creates a pod and, unless NoWait or Unscheduled, waits until the fake kubelet
// has given it the phase (and readiness) asked for.
func (e *Env) CreatePod(t *testing.T, ns string, o PodOptions) *corev1.Pod {
	t.Helper()
	pod, err := e.Client.CoreV1().Pods(ns).Create(ctxFor(t), e.podObject(ns, o), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create pod %s/%s: %v", ns, o.Name, err)
	}
	if o.NoWait || pod.Spec.NodeName == "" {
		return pod
	}
	return e.WaitForPod(t, ns, pod.Name)
}

// WaitForPod waits until the fake kubelet has written the status the pod's annotations ask
// for, and returns the pod.
func (e *Env) WaitForPod(t *testing.T, ns, name string) *corev1.Pod {
	t.Helper()
	var pod *corev1.Pod
	err := wait.PollUntilContextTimeout(ctxFor(t), 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		p, err := e.Client.CoreV1().Pods(ns).Get(ctx, name, metaGet)
		if err != nil {
			return false, err
		}
		pod = p
		want := corev1.PodPhase(p.Annotations[PhaseAnnotation])
		if want == "" {
			want = corev1.PodRunning
		}
		if p.Status.Phase != want || len(p.Status.Conditions) == 0 {
			return false, nil
		}
		if want == corev1.PodRunning {
			return isReady(p) == (p.Annotations[ReadyAnnotation] != "false"), nil
		}
		return true, nil
	})
	if err != nil {
		status := "<none>"
		if pod != nil {
			status = string(pod.Status.Phase)
		}
		t.Fatalf("pod %s/%s did not reach its phase (last %s): %v\nfake kubelet log:\n%s", ns, name, status, err, tail(e.LogFile("fakekubelet"), 30))
	}
	return pod
}

func isReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func tail(s string, n int) string {
	lines := 0
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '\n' {
			lines++
			if lines > n {
				return s[i+1:]
			}
		}
	}
	return s
}

// ControllerRef is the owner reference a controller sets on what it creates.
func ControllerRef(obj metav1.Object, kind string) metav1.OwnerReference {
	yes := true
	return metav1.OwnerReference{
		APIVersion: "apps/v1", Kind: kind, Name: obj.GetName(), UID: obj.GetUID(),
		Controller: &yes, BlockOwnerDeletion: &yes,
	}
}

// Workload is what a workload helper created. No controller-manager runs, so the helpers
// create the ReplicaSet and pods a controller would, with its labels and owner references,
// and write the status it would.
type Workload struct {
	Deployment  *appsv1.Deployment
	ReplicaSet  *appsv1.ReplicaSet
	StatefulSet *appsv1.StatefulSet
	Pods        []*corev1.Pod
	// Selector is the label selector of the workload ("app": name).
	Selector map[string]string
}

func (e *Env) template(name string, o PodOptions, extra map[string]string) corev1.PodTemplateSpec {
	labels := map[string]string{"app": name}
	for k, v := range o.Labels {
		labels[k] = v
	}
	for k, v := range extra {
		labels[k] = v
	}
	p := e.podObject("", o)
	return corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: p.Annotations}, Spec: p.Spec}
}

func (e *Env) podsFrom(t *testing.T, ns string, tmpl corev1.PodTemplateSpec, o PodOptions, names []string, owner metav1.OwnerReference, extra func(i int) map[string]string) []*corev1.Pod {
	t.Helper()
	var pods []*corev1.Pod
	for i, n := range names {
		po := o
		po.Name = n
		po.Labels = map[string]string{}
		for k, v := range tmpl.Labels {
			po.Labels[k] = v
		}
		for k, v := range extra(i) {
			po.Labels[k] = v
		}
		po.OwnerReferences = []metav1.OwnerReference{owner}
		po.NoWait = true
		pods = append(pods, e.CreatePod(t, ns, po))
	}
	if o.NoWait || o.NodeName == Unscheduled {
		return pods
	}
	for i, p := range pods {
		pods[i] = e.WaitForPod(t, ns, p.Name)
	}
	return pods
}

func shortHash(s string) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(s))
	return rand.SafeEncodeString(strconv.FormatUint(uint64(h.Sum32()), 10))
}

func noLabels(int) map[string]string { return nil }

// CreateReplicaSet creates a ReplicaSet (owned by owner when given) and its pods
// NAME-<5 random characters>, all alike from o (Forward included).
func (e *Env) CreateReplicaSet(t *testing.T, ns, name string, replicas int, o PodOptions, owner *metav1.OwnerReference) *Workload {
	t.Helper()
	return e.createReplicaSet(t, ns, name, replicas, o, owner, nil)
}

func (e *Env) createReplicaSet(t *testing.T, ns, name string, replicas int, o PodOptions, owner *metav1.OwnerReference, extraLabels map[string]string) *Workload {
	t.Helper()
	ctx := ctxFor(t)
	tmpl := e.template(name, o, extraLabels)
	r := int32(replicas)
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: tmpl.Labels},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: &r,
			Selector: &metav1.LabelSelector{MatchLabels: tmpl.Labels},
			Template: tmpl,
		},
	}
	if owner != nil {
		rs.OwnerReferences = []metav1.OwnerReference{*owner}
	}
	rs, err := e.Client.AppsV1().ReplicaSets(ns).Create(ctx, rs, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create replicaset %s/%s: %v", ns, name, err)
	}
	names := make([]string, replicas)
	for i := range names {
		names[i] = name + "-" + rand.String(5)
	}
	pods := e.podsFrom(t, ns, tmpl, o, names, ControllerRef(rs, "ReplicaSet"), noLabels)
	ready := int32(0)
	for _, p := range pods {
		if isReady(p) {
			ready++
		}
	}
	rs.Status = appsv1.ReplicaSetStatus{Replicas: r, FullyLabeledReplicas: r, ReadyReplicas: ready, AvailableReplicas: ready, ObservedGeneration: rs.Generation}
	if rs, err = e.Client.AppsV1().ReplicaSets(ns).UpdateStatus(ctx, rs, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("update replicaset status: %v", err)
	}
	return &Workload{ReplicaSet: rs, Pods: pods, Selector: map[string]string{"app": name}}
}

// CreateDeployment creates a Deployment, its ReplicaSet NAME-<hash> (label pod-template-hash)
// and its pods, all alike from o.
func (e *Env) CreateDeployment(t *testing.T, ns, name string, replicas int, o PodOptions) *Workload {
	t.Helper()
	ctx := ctxFor(t)
	tmpl := e.template(name, o, nil)
	r := int32(replicas)
	d, err := e.Client.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": name}},
		Spec: appsv1.DeploymentSpec{
			Replicas: &r,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: tmpl,
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create deployment %s/%s: %v", ns, name, err)
	}
	hash := shortHash(ns + "/" + name)
	ref := ControllerRef(d, "Deployment")
	w := e.createReplicaSet(t, ns, name+"-"+hash, replicas, o, &ref, map[string]string{"app": name, "pod-template-hash": hash})
	ready := w.ReplicaSet.Status.ReadyReplicas
	d.Status = appsv1.DeploymentStatus{
		ObservedGeneration: d.Generation, Replicas: r, UpdatedReplicas: r, ReadyReplicas: ready, AvailableReplicas: ready,
		UnavailableReplicas: r - ready,
	}
	if d, err = e.Client.AppsV1().Deployments(ns).UpdateStatus(ctx, d, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("update deployment status: %v", err)
	}
	w.Deployment = d
	w.Selector = map[string]string{"app": name}
	return w
}

// CreateStatefulSet creates a StatefulSet (service name NAME) and its pods NAME-0..N-1.
func (e *Env) CreateStatefulSet(t *testing.T, ns, name string, replicas int, o PodOptions) *Workload {
	t.Helper()
	ctx := ctxFor(t)
	tmpl := e.template(name, o, nil)
	r := int32(replicas)
	ss, err := e.Client.AppsV1().StatefulSets(ns).Create(ctx, &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": name}},
		Spec: appsv1.StatefulSetSpec{
			Replicas:    &r,
			ServiceName: name,
			Selector:    &metav1.LabelSelector{MatchLabels: tmpl.Labels},
			Template:    tmpl,
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create statefulset %s/%s: %v", ns, name, err)
	}
	names := make([]string, replicas)
	for i := range names {
		names[i] = fmt.Sprintf("%s-%d", name, i)
	}
	rev := name + "-" + shortHash(ns+"/"+name)
	pods := e.podsFrom(t, ns, tmpl, o, names, ControllerRef(ss, "StatefulSet"), func(i int) map[string]string {
		return map[string]string{
			"statefulset.kubernetes.io/pod-name": names[i], "controller-revision-hash": rev,
			"apps.kubernetes.io/pod-index": strconv.Itoa(i),
		}
	})
	ready := int32(0)
	for _, p := range pods {
		if isReady(p) {
			ready++
		}
	}
	ss.Status = appsv1.StatefulSetStatus{ObservedGeneration: ss.Generation, Replicas: r, ReadyReplicas: ready,
		CurrentReplicas: r, UpdatedReplicas: r, AvailableReplicas: ready, CurrentRevision: rev, UpdateRevision: rev}
	if ss, err = e.Client.AppsV1().StatefulSets(ns).UpdateStatus(ctx, ss, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("update statefulset status: %v", err)
	}
	return &Workload{StatefulSet: ss, Pods: pods, Selector: map[string]string{"app": name}}
}

// CreateService creates a ClusterIP Service selecting selector. Without ports it exposes
// 80 -> 8080 ("http"). No endpoints controller runs: clients resolve it by its selector.
func (e *Env) CreateService(t *testing.T, ns, name string, selector map[string]string, ports ...corev1.ServicePort) *corev1.Service {
	t.Helper()
	if len(ports) == 0 {
		ports = []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080), Protocol: corev1.ProtocolTCP}}
	}
	svc, err := e.Client.CoreV1().Services(ns).Create(ctxFor(t), &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec:       corev1.ServiceSpec{Selector: selector, Ports: ports},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create service %s/%s: %v", ns, name, err)
	}
	return svc
}

// Rules for Grant.
var (
	// PodReader may read pods (what proxyctl needs to find one) but not port-forward.
	PodReader = []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list", "watch"}}}
	// WorkloadReader may read what resolves to pods: deployments, replicasets, statefulsets, services.
	WorkloadReader = []rbacv1.PolicyRule{
		{APIGroups: []string{"apps"}, Resources: []string{"deployments", "replicasets", "statefulsets"}, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{""}, Resources: []string{"services"}, Verbs: []string{"get", "list", "watch"}},
	}
	// PortForwarder may open pods/portforward (create for SPDY's POST, get for WebSocket's GET).
	PortForwarder = []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods/portforward"}, Verbs: []string{"get", "create"}}}
)

// Grant gives user the rules in namespace ns (a Role and a RoleBinding named after the user).
func (e *Env) Grant(t *testing.T, ns, user string, rules ...[]rbacv1.PolicyRule) {
	t.Helper()
	ctx := ctxFor(t)
	var all []rbacv1.PolicyRule
	for _, r := range rules {
		all = append(all, r...)
	}
	name := "e2e-" + safeLabel(user)
	if _, err := e.Client.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Rules: all,
	}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create role %s/%s: %v", ns, name, err)
	}
	if _, err := e.Client.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create rolebinding %s/%s: %v", ns, name, err)
	}
	// RBAC is read from the apiserver's informer cache: wait until the grant is in force.
	e.waitForRBAC(t, ns, user, all)
}

func (e *Env) waitForRBAC(t *testing.T, ns, user string, rules []rbacv1.PolicyRule) {
	t.Helper()
	if len(rules) == 0 || len(rules[0].Verbs) == 0 || len(rules[0].Resources) == 0 {
		return
	}
	cfg := e.ImpersonatedConfig(user)
	r := rules[0]
	resource, sub, _ := strings.Cut(r.Resources[0], "/")
	err := wait.PollUntilContextTimeout(ctxFor(t), 50*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		ok, err := canI(ctx, cfg, ns, r.Verbs[0], r.APIGroups[0], resource, sub)
		return ok, err
	})
	if err != nil {
		t.Fatalf("grant to %s in %s not in force: %v", user, ns, err)
	}
}

// canI asks the apiserver whether cfg's user may do verb on group/resource/sub in ns.
func canI(ctx context.Context, cfg *rest.Config, ns, verb, group, resource, sub string) (bool, error) {
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return false, err
	}
	r, err := c.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
		Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{
			Namespace: ns, Verb: verb, Group: group, Resource: resource, Subresource: sub,
		}},
	}, metav1.CreateOptions{})
	if err != nil {
		return false, err
	}
	return r.Status.Allowed, nil
}

// ImpersonatedConfig is the admin's config acting as user (kubectl --as user --as-group ...).
func (e *Env) ImpersonatedConfig(user string, groups ...string) *rest.Config {
	cfg := rest.CopyConfig(e.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: groups}
	return cfg
}

// LimitedConfig authenticates as LimitedUser with its own client certificate.
func (e *Env) LimitedConfig(t *testing.T) *rest.Config {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", e.LimitedKubeconfig)
	if err != nil {
		t.Fatalf("load %s: %v", e.LimitedKubeconfig, err)
	}
	return cfg
}

// WriteImpersonatingKubeconfig writes a kubeconfig (into t.TempDir) whose user is the admin
// impersonating user, for running the proxyctl binary as that user without --as flags.
func (e *Env) WriteImpersonatingKubeconfig(t *testing.T, user string, groups ...string) string {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(e.Kubeconfig)
	if err != nil {
		t.Fatalf("load %s: %v", e.Kubeconfig, err)
	}
	for _, ai := range cfg.AuthInfos {
		ai.Impersonate = user
		ai.ImpersonateGroups = groups
	}
	path := filepath.Join(t.TempDir(), "kubeconfig-as-"+safeLabel(user))
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
	return path
}

// ServeAdmin starts an HTTP server on 127.0.0.1 standing in for an Envoy admin API (or istiod
// debug endpoint) and returns its address, to be used in PodOptions.Forward.
func ServeAdmin(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// ClosedAddr returns a loopback address nothing listens on (a forward there is refused).
func ClosedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

// IsForbidden reports whether err is the apiserver's 403.
func IsForbidden(err error) bool { return apierrors.IsForbidden(err) }
