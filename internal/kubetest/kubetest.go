// Package kubetest runs a small stand-in for the Kubernetes API in-process, for tests that need
// pods and a real port-forward without a cluster: it serves pods, access reviews, service
// account tokens, config maps and the pods' portforward subresource with the kubelet's own port-forward server (SPDY), which connects each
// forwarded port to a TCP address the test chooses. The end-to-end tests (test/e2e) do the same
// against a real kube-apiserver.
package kubetest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	kubeletportforward "k8s.io/cri-streaming/pkg/streaming/portforward"
)

// Pod is a pod the API serves: Running and Ready, with an istio-proxy container exposing port
// 15000, unless the test says otherwise.
type Pod struct {
	Name, Namespace string
	Labels          map[string]string
	Annotations     map[string]string
	// Spec, when set, replaces the default containers (shape pods as a mesh injects them).
	Spec *corev1.PodSpec
	// Phase, when set, replaces Running.
	Phase corev1.PodPhase
	// Forward maps a pod port to the address that receives its port-forwarded connections; a
	// port without an entry refuses them, as a pod where nothing listens.
	Forward map[int32]string
}

// Server is a running stand-in API server.
type Server struct {
	*httptest.Server
	// Kubeconfig is a kubeconfig file that points to the server, namespace "default".
	Kubeconfig string

	mu         sync.Mutex
	pods       map[string]*corev1.Pod // by namespace/name
	forwards   map[string]map[int32]string
	requests   []string
	tokens     map[string]string // by namespace/serviceaccount
	tokenReqs  []authenticationv1.TokenRequestSpec
	configMaps map[string]map[string]string // by namespace/name
	intercept  func(http.ResponseWriter, *http.Request) bool
}

// Intercept gives every request to h first: when h returns true it has answered (a failure the
// test stages: a hang, a 403, a 401), else the API serves it as usual.
func (s *Server) Intercept(h func(w http.ResponseWriter, r *http.Request) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.intercept = h
}

// AddServiceAccount makes the API serve service account sa in ns, whose TokenRequests are
// answered with token; a token of any other service account is not found.
func (s *Server) AddServiceAccount(ns, sa, token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[ns+"/"+sa] = token
}

// TokenRequests returns the specs of the TokenRequests served so far.
func (s *Server) TokenRequests() []authenticationv1.TokenRequestSpec {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]authenticationv1.TokenRequestSpec(nil), s.tokenReqs...)
}

// AddConfigMap makes the API serve a config map.
func (s *Server) AddConfigMap(ns, name string, data map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.configMaps[ns+"/"+name] = data
}

// NewServer starts the API with pods; it stops at the end of the test.
func NewServer(t testing.TB, pods ...Pod) *Server {
	t.Helper()
	s := &Server{pods: map[string]*corev1.Pod{}, forwards: map[string]map[int32]string{}, tokens: map[string]string{}, configMaps: map[string]map[string]string{}}
	for _, p := range pods {
		s.pods[p.Namespace+"/"+p.Name] = newPod(p)
		s.forwards[p.Namespace+"/"+p.Name] = p.Forward
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/namespaces/{ns}/pods/{name}", s.getPod)
	mux.HandleFunc("GET /api/v1/namespaces/{ns}/pods", s.listPods)
	mux.HandleFunc("GET /api/v1/pods", s.listPods)
	mux.HandleFunc("GET /api/v1/namespaces", s.listNamespaces)
	mux.HandleFunc("POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews", s.review)
	mux.HandleFunc("/api/v1/namespaces/{ns}/pods/{name}/portforward", s.portForward)
	mux.HandleFunc("POST /api/v1/namespaces/{ns}/serviceaccounts/{name}/token", s.createToken)
	mux.HandleFunc("GET /api/v1/namespaces/{ns}/configmaps/{name}", s.getConfigMap)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests = append(s.requests, r.Method+" "+r.URL.Path)
		intercept := s.intercept
		s.mu.Unlock()
		if intercept != nil && intercept(w, r) {
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		s.CloseClientConnections() // ends what a test left hanging
		s.Close()
	})
	s.Kubeconfig = filepath.Join(t.TempDir(), "kubeconfig")
	config := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: test, cluster: {server: %q}}]
users: [{name: test, user: {token: test}}]
contexts: [{name: test, context: {cluster: test, user: test, namespace: default}}]
current-context: test
`, s.URL)
	if err := os.WriteFile(s.Kubeconfig, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	return s
}

// Requests returns "METHOD path" of every request served so far.
func (s *Server) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requests...)
}

func newPod(p Pod) *corev1.Pod {
	pod := &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace, Labels: p.Labels, Annotations: p.Annotations, UID: types.UID("uid-" + p.Name)},
		Spec: corev1.PodSpec{Containers: []corev1.Container{
			{Name: "app", Image: "app"},
			{Name: "istio-proxy", Image: "proxyv2", Ports: []corev1.ContainerPort{{Name: "http-envoy-prom", ContainerPort: 15090}}},
		}},
		Status: corev1.PodStatus{
			Phase:      corev1.PodRunning,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
		},
	}
	if p.Spec != nil {
		pod.Spec = *p.Spec
	}
	if p.Phase != "" {
		pod.Status.Phase = p.Phase
	}
	return pod
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func notFound(w http.ResponseWriter, name string) { notFoundKind(w, "pods", name) }

func notFoundKind(w http.ResponseWriter, kind, name string) {
	writeJSON(w, http.StatusNotFound, metav1.Status{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Status"}, Status: metav1.StatusFailure,
		Reason: metav1.StatusReasonNotFound, Code: http.StatusNotFound,
		Message: fmt.Sprintf("%s %q not found", kind, name),
		Details: &metav1.StatusDetails{Name: name, Kind: kind},
	})
}

// createToken answers a TokenRequest of a service account added with AddServiceAccount.
func (s *Server) createToken(w http.ResponseWriter, r *http.Request) {
	var req authenticationv1.TokenRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.tokenReqs = append(s.tokenReqs, req.Spec)
	token, ok := s.tokens[r.PathValue("ns")+"/"+r.PathValue("name")]
	s.mu.Unlock()
	if !ok {
		notFoundKind(w, "serviceaccounts", r.PathValue("name"))
		return
	}
	req.TypeMeta = metav1.TypeMeta{APIVersion: "authentication.k8s.io/v1", Kind: "TokenRequest"}
	req.Status = authenticationv1.TokenRequestStatus{Token: token, ExpirationTimestamp: metav1.NewTime(time.Now().Add(time.Hour))}
	writeJSON(w, http.StatusCreated, req)
}

func (s *Server) getConfigMap(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	data, ok := s.configMaps[r.PathValue("ns")+"/"+r.PathValue("name")]
	s.mu.Unlock()
	if !ok {
		notFoundKind(w, "configmaps", r.PathValue("name"))
		return
	}
	writeJSON(w, http.StatusOK, corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: r.PathValue("name"), Namespace: r.PathValue("ns")},
		Data:       data,
	})
}

func (s *Server) pod(ns, name string) (*corev1.Pod, map[int32]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pods[ns+"/"+name], s.forwards[ns+"/"+name]
}

func (s *Server) getPod(w http.ResponseWriter, r *http.Request) {
	pod, _ := s.pod(r.PathValue("ns"), r.PathValue("name"))
	if pod == nil {
		notFound(w, r.PathValue("name"))
		return
	}
	writeJSON(w, http.StatusOK, pod)
}

// listPods lists the pods of a namespace, or of all (GET /api/v1/pods), with a label selector
// and a field selector on metadata.name.
func (s *Server) listPods(w http.ResponseWriter, r *http.Request) {
	selector, err := labels.Parse(r.URL.Query().Get("labelSelector"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	name := ""
	if fs := r.URL.Query().Get("fieldSelector"); fs != "" {
		v, ok := strings.CutPrefix(fs, "metadata.name=")
		if !ok {
			http.Error(w, "only metadata.name= field selectors here", http.StatusBadRequest)
			return
		}
		name = v
	}
	list := corev1.PodList{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "PodList"}}
	s.mu.Lock()
	for _, p := range s.pods {
		if (r.PathValue("ns") == "" || p.Namespace == r.PathValue("ns")) && (name == "" || p.Name == name) && selector.Matches(labels.Set(p.Labels)) {
			list.Items = append(list.Items, *p)
		}
	}
	s.mu.Unlock()
	sort.Slice(list.Items, func(i, j int) bool {
		return list.Items[i].Namespace+"/"+list.Items[i].Name < list.Items[j].Namespace+"/"+list.Items[j].Name
	})
	writeJSON(w, http.StatusOK, list)
}

// listNamespaces lists "default" and the namespaces of the pods.
func (s *Server) listNamespaces(w http.ResponseWriter, _ *http.Request) {
	names := map[string]bool{"default": true}
	s.mu.Lock()
	for _, p := range s.pods {
		names[p.Namespace] = true
	}
	s.mu.Unlock()
	list := corev1.NamespaceList{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "NamespaceList"}}
	for n := range names {
		list.Items = append(list.Items, corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: n}})
	}
	sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Name < list.Items[j].Name })
	writeJSON(w, http.StatusOK, list)
}

// review allows everything.
func (s *Server) review(w http.ResponseWriter, r *http.Request) {
	var review authorizationv1.SelfSubjectAccessReview
	if err := json.NewDecoder(r.Body).Decode(&review); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	review.Status = authorizationv1.SubjectAccessReviewStatus{Allowed: true, Reason: "the test allows it"}
	writeJSON(w, http.StatusCreated, review)
}

// portForward serves the portforward subresource over SPDY with the kubelet's server, as the
// API server proxies it to a kubelet. A WebSocket request (client-go's first try) is refused as
// an API server without WebSocket port-forward refuses it, so the client falls back to SPDY.
func (s *Server) portForward(w http.ResponseWriter, r *http.Request) {
	if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		http.Error(w, "websocket port-forward is not supported here", http.StatusBadRequest)
		return
	}
	if r.Method != http.MethodPost {
		http.Error(w, "port-forward is a POST", http.StatusMethodNotAllowed)
		return
	}
	pod, forward := s.pod(r.PathValue("ns"), r.PathValue("name"))
	if pod == nil {
		notFound(w, r.PathValue("name"))
		return
	}
	kubeletportforward.ServePortForward(w, r, forwarder(forward), pod.Namespace+"/"+pod.Name, string(pod.UID),
		&kubeletportforward.V4Options{}, time.Minute, 10*time.Second, kubeletportforward.SupportedProtocols)
}

// forwarder connects a pod port to its address, copying both ways until either side ends.
type forwarder map[int32]string

func (f forwarder) PortForward(ctx context.Context, pod, _ string, port int32, stream io.ReadWriteCloser) error {
	addr, ok := f[port]
	if !ok {
		return fmt.Errorf("failed to connect to localhost:%d inside namespace %q, IPv4: connect: connection refused", port, pod)
	}
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("failed to connect to localhost:%d inside namespace %q, IPv4: %w", port, pod, err)
	}
	defer conn.Close()
	done := make(chan struct{}, 2)
	go func() {
		io.Copy(conn, stream)
		conn.(*net.TCPConn).CloseWrite()
		done <- struct{}{}
	}()
	go func() {
		io.Copy(stream, conn)
		done <- struct{}{}
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
	return nil
}
