// Command fakekubelet is the kubelet of the e2e environment. It registers one Node, plays the
// pod lifecycle for the pods bound to it (by writing their status), and serves the kubelet's
// port-forward endpoint with the kubelet's own streaming library, so that
// `kubectl port-forward`-style clients go through the real kube-apiserver proxy (WebSocket
// tunnelling and SPDY) and end up on a local TCP server chosen per pod.
//
// Pod annotations (see README.md in the parent folder):
//
//	forward.e2e.proxyctl.io/<port>: <host:port>  where a connection to the pod's <port> goes
//	e2e.proxyctl.io/phase: Pending|Running|Succeeded|Failed  (default Running)
//	e2e.proxyctl.io/ready: "false"  keeps a Running pod NotReady
//
// A port without a forward annotation behaves like a port nobody listens on in the pod: the
// forward fails with "connection refused".
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	listersv1 "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/retry"
	kubeletportforward "k8s.io/cri-streaming/pkg/streaming/portforward"
	"k8s.io/klog/v2"
)

const (
	// ForwardAnnotationPrefix + "<port>" names the local address a pod port is forwarded to.
	ForwardAnnotationPrefix = "forward.e2e.proxyctl.io/"
	// PhaseAnnotation sets the phase the fake kubelet gives the pod (default Running).
	PhaseAnnotation = "e2e.proxyctl.io/phase"
	// ReadyAnnotation set to "false" keeps a Running pod NotReady.
	ReadyAnnotation = "e2e.proxyctl.io/ready"

	// PodIP is the address every pod gets: nothing dials it, but clients print it.
	PodIP = "127.0.0.1"
)

type options struct {
	kubeconfig   string
	nodeName     string
	listen       string
	certFile     string
	keyFile      string
	clientCAFile string
	readyFile    string
	dialTimeout  time.Duration
}

func main() {
	var o options
	fs := flag.NewFlagSet("fakekubelet", flag.ExitOnError)
	fs.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig of an identity allowed to write nodes and pods/status")
	fs.StringVar(&o.nodeName, "node-name", "e2e-node", "name of the Node to register")
	fs.StringVar(&o.listen, "listen", "127.0.0.1:0", "address of the kubelet API (port 0 picks a free port)")
	fs.StringVar(&o.certFile, "tls-cert-file", "", "serving certificate (PEM)")
	fs.StringVar(&o.keyFile, "tls-private-key-file", "", "serving key (PEM)")
	fs.StringVar(&o.clientCAFile, "client-ca-file", "", "CA that signs the apiserver's kubelet client certificate; required")
	fs.StringVar(&o.readyFile, "ready-file", "", "written with the kubelet address once the node is registered and pods are watched")
	fs.DurationVar(&o.dialTimeout, "dial-timeout", 5*time.Second, "timeout to connect to a forward target")
	klogFlags := flag.NewFlagSet("klog", flag.ExitOnError)
	klog.InitFlags(klogFlags)
	fs.Func("v", "klog verbosity", func(s string) error { return klogFlags.Set("v", s) })
	_ = fs.Parse(os.Args[1:])
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		log.Fatalf("fakekubelet: %v", err)
	}
}

func run(ctx context.Context, o options) error {
	if o.kubeconfig == "" || o.certFile == "" || o.keyFile == "" || o.clientCAFile == "" {
		return errors.New("-kubeconfig, -tls-cert-file, -tls-private-key-file and -client-ca-file are required")
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", o.kubeconfig)
	if err != nil {
		return fmt.Errorf("load kubeconfig: %w", err)
	}
	cfg.UserAgent = "fakekubelet"
	cfg.QPS, cfg.Burst = 200, 400
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}

	cert, err := tls.LoadX509KeyPair(o.certFile, o.keyFile)
	if err != nil {
		return fmt.Errorf("load serving certificate: %w", err)
	}
	caPEM, err := os.ReadFile(o.clientCAFile)
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return fmt.Errorf("no certificate in %s", o.clientCAFile)
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return err
	}
	addr := ln.Addr().(*net.TCPAddr)

	factory := informers.NewSharedInformerFactoryWithOptions(client, 0,
		informers.WithTweakListOptions(func(lo *metav1.ListOptions) {
			lo.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", o.nodeName).String()
		}))
	podInformer := factory.Core().V1().Pods()
	k := &kubelet{
		client:      client,
		nodeName:    o.nodeName,
		pods:        podInformer.Lister(),
		dialTimeout: o.dialTimeout,
		queue:       make(chan string, 1024),
		queued:      map[string]bool{},
	}
	enqueue := func(obj any) {
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			k.enqueue(key)
		}
	}
	if _, err := podInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
	}); err != nil {
		return err
	}

	if err := k.registerNode(ctx, int32(addr.Port)); err != nil {
		return err
	}
	log.Printf("registered node %s with kubelet endpoint %s", o.nodeName, addr)

	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), podInformer.Informer().HasSynced) {
		return errors.New("pod informer did not sync")
	}
	for i := 0; i < 4; i++ {
		go k.worker(ctx)
	}

	srv := &http.Server{
		Handler: k.routes(),
		TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{cert},
			ClientCAs:    pool,
			ClientAuth:   tls.RequireAndVerifyClientCert,
			MinVersion:   tls.VersionTLS12,
			// Port-forward upgrades an HTTP/1.1 connection; never negotiate h2.
			NextProtos: []string{"http/1.1"},
		},
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          log.New(os.Stderr, "http: ", log.LstdFlags),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.ServeTLS(ln, "", "") }()

	if o.readyFile != "" {
		if err := os.WriteFile(o.readyFile, []byte(addr.String()+"\n"), 0o644); err != nil {
			return err
		}
	}
	log.Printf("serving the kubelet API on https://%s", addr)

	select {
	case <-ctx.Done():
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
		return nil
	case err := <-serveErr:
		return err
	}
}

type kubelet struct {
	client      kubernetes.Interface
	nodeName    string
	pods        listersv1.PodLister
	dialTimeout time.Duration

	mu     sync.Mutex
	queue  chan string
	queued map[string]bool
}

// registerNode creates (or takes over) the Node and writes a Ready status pointing the
// apiserver at this process. No node-lifecycle controller runs, so no heartbeat is needed.
func (k *kubelet) registerNode(ctx context.Context, port int32) error {
	now := metav1.Now()
	status := corev1.NodeStatus{
		Capacity: corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse("8"),
			corev1.ResourceMemory: resource.MustParse("32Gi"),
			corev1.ResourcePods:   resource.MustParse("1000"),
		},
		Conditions: []corev1.NodeCondition{{
			Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
			Message: "fake kubelet is posting ready status", LastHeartbeatTime: now, LastTransitionTime: now,
		}},
		Addresses: []corev1.NodeAddress{
			{Type: corev1.NodeInternalIP, Address: "127.0.0.1"},
			{Type: corev1.NodeHostName, Address: "localhost"},
		},
		DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: port}},
		NodeInfo: corev1.NodeSystemInfo{
			KubeletVersion: "v1.36.3", OperatingSystem: "linux", Architecture: "amd64",
			ContainerRuntimeVersion: "fake://0.0.0",
		},
	}
	status.Allocatable = status.Capacity
	return wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		node, err := k.client.CoreV1().Nodes().Get(ctx, k.nodeName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			node, err = k.client.CoreV1().Nodes().Create(ctx, &corev1.Node{
				ObjectMeta: metav1.ObjectMeta{Name: k.nodeName, Labels: map[string]string{
					"kubernetes.io/hostname": k.nodeName, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
				}},
			}, metav1.CreateOptions{})
		}
		if err != nil {
			log.Printf("register node: %v (retrying)", err)
			return false, nil
		}
		node.Status = status
		if _, err := k.client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
			log.Printf("update node status: %v (retrying)", err)
			return false, nil
		}
		return true, nil
	})
}

func (k *kubelet) enqueue(key string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.queued[key] {
		return
	}
	k.queued[key] = true
	k.queue <- key
}

func (k *kubelet) worker(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case key := <-k.queue:
			k.mu.Lock()
			delete(k.queued, key)
			k.mu.Unlock()
			if err := k.syncPod(ctx, key); err != nil && ctx.Err() == nil {
				log.Printf("sync pod %s: %v (retrying)", key, err)
				time.AfterFunc(500*time.Millisecond, func() { k.enqueue(key) })
			}
		}
	}
}

// syncPod plays the kubelet's part for one pod: finish graceful deletions and write the
// status the pod's annotations ask for.
func (k *kubelet) syncPod(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	pod, err := k.pods.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if pod.DeletionTimestamp != nil {
		// The real kubelet stops the containers, then confirms the deletion with grace 0.
		zero := int64(0)
		err := k.client.CoreV1().Pods(ns).Delete(ctx, name, metav1.DeleteOptions{
			GracePeriodSeconds: &zero, Preconditions: metav1.NewUIDPreconditions(string(pod.UID)),
		})
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			return nil
		}
		return err
	}
	want := desiredStatus(pod)
	if statusMatches(&pod.Status, want) {
		return nil
	}
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := k.client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if cur.UID != pod.UID || cur.DeletionTimestamp != nil {
			return nil
		}
		want := desiredStatus(cur)
		if statusMatches(&cur.Status, want) {
			return nil
		}
		cur.Status = *want
		_, err = k.client.CoreV1().Pods(ns).UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		return err
	})
}

func statusMatches(cur, want *corev1.PodStatus) bool {
	return cur.Phase == want.Phase && podReady(cur) == podReady(want) && cur.PodIP == want.PodIP &&
		len(cur.ContainerStatuses) == len(want.ContainerStatuses)
}

func podReady(s *corev1.PodStatus) bool {
	for _, c := range s.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// desiredStatus builds a status like the kubelet's for the phase asked by the annotations.
func desiredStatus(pod *corev1.Pod) *corev1.PodStatus {
	now := metav1.Now()
	phase := corev1.PodRunning
	switch p := corev1.PodPhase(pod.Annotations[PhaseAnnotation]); p {
	case corev1.PodPending, corev1.PodSucceeded, corev1.PodFailed:
		phase = p
	}
	ready := phase == corev1.PodRunning && pod.Annotations[ReadyAnnotation] != "false"
	start := now
	if pod.Status.StartTime != nil {
		start = *pod.Status.StartTime
	}
	cond := func(t corev1.PodConditionType, ok bool) corev1.PodCondition {
		s := corev1.ConditionFalse
		if ok {
			s = corev1.ConditionTrue
		}
		for _, c := range pod.Status.Conditions {
			if c.Type == t && c.Status == s {
				return c // keep the transition time
			}
		}
		return corev1.PodCondition{Type: t, Status: s, LastTransitionTime: now}
	}
	st := &corev1.PodStatus{
		Phase: phase,
		Conditions: []corev1.PodCondition{
			cond(corev1.PodReadyToStartContainers, phase != corev1.PodPending),
			cond(corev1.PodInitialized, phase != corev1.PodPending),
			cond(corev1.ContainersReady, ready),
			cond(corev1.PodReady, ready),
			cond(corev1.PodScheduled, true),
		},
		HostIP:    "127.0.0.1",
		HostIPs:   []corev1.HostIP{{IP: "127.0.0.1"}},
		StartTime: &start,
		QOSClass:  corev1.PodQOSBestEffort,
	}
	if phase != corev1.PodPending {
		st.PodIP = PodIP
		st.PodIPs = []corev1.PodIP{{IP: PodIP}}
	}
	for _, c := range pod.Spec.InitContainers {
		cs := corev1.ContainerStatus{Name: c.Name, Image: c.Image, ImageID: c.Image}
		if phase == corev1.PodPending {
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "PodInitializing"}
		} else {
			cs.State.Terminated = &corev1.ContainerStateTerminated{Reason: "Completed", StartedAt: start, FinishedAt: start,
				ContainerID: containerID(pod, c.Name)}
			cs.ContainerID = containerID(pod, c.Name)
		}
		st.InitContainerStatuses = append(st.InitContainerStatuses, cs)
	}
	for _, c := range pod.Spec.Containers {
		cs := corev1.ContainerStatus{Name: c.Name, Image: c.Image, ImageID: c.Image, Ready: ready}
		switch phase {
		case corev1.PodPending:
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}
		case corev1.PodRunning:
			started := true
			cs.Started = &started
			cs.ContainerID = containerID(pod, c.Name)
			cs.State.Running = &corev1.ContainerStateRunning{StartedAt: start}
		default:
			code, reason := int32(0), "Completed"
			if phase == corev1.PodFailed {
				code, reason = 1, "Error"
			}
			cs.ContainerID = containerID(pod, c.Name)
			cs.State.Terminated = &corev1.ContainerStateTerminated{ExitCode: code, Reason: reason,
				StartedAt: start, FinishedAt: now, ContainerID: cs.ContainerID}
		}
		st.ContainerStatuses = append(st.ContainerStatuses, cs)
	}
	return st
}

func containerID(pod *corev1.Pod, container string) string {
	return "fake://" + string(pod.UID) + "/" + container
}

func (k *kubelet) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	mux.HandleFunc("/portForward/{namespace}/{pod}", k.servePortForward)
	mux.HandleFunc("/portForward/{namespace}/{pod}/{uid}", k.servePortForward)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		log.Printf("unsupported kubelet request %s %s", r.Method, r.URL)
		http.Error(w, "the fake kubelet serves only /portForward and /healthz", http.StatusNotFound)
	})
	return mux
}

func (k *kubelet) servePortForward(w http.ResponseWriter, r *http.Request) {
	ns, name, uid := r.PathValue("namespace"), r.PathValue("pod"), r.PathValue("uid")
	log.Printf("port-forward request %s %s (upgrade %q, protocols %q)", r.Method, r.URL,
		r.Header.Get("Upgrade"), r.Header.Values("X-Stream-Protocol-Version"))
	pod, err := k.pods.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) {
		// The informer may lag a freshly created pod; ask the apiserver before giving up.
		pod, err = k.client.CoreV1().Pods(ns).Get(r.Context(), name, metav1.GetOptions{})
		if err == nil && pod.Spec.NodeName != k.nodeName {
			err = apierrors.NewNotFound(corev1.Resource("pods"), name)
		}
	}
	if err != nil {
		log.Printf("port-forward %s/%s: %v", ns, name, err)
		http.Error(w, fmt.Sprintf("pod does not exist: %s/%s", ns, name), http.StatusNotFound)
		return
	}
	if uid != "" && string(pod.UID) != uid {
		http.Error(w, fmt.Sprintf("pod %s/%s has uid %s, not %s", ns, name, pod.UID, uid), http.StatusNotFound)
		return
	}
	if pod.Status.Phase != corev1.PodRunning {
		// Like a kubelet whose pod has no sandbox yet.
		http.Error(w, fmt.Sprintf("pod %s/%s is not running (phase %q): no sandbox to forward into", ns, name, pod.Status.Phase),
			http.StatusBadRequest)
		return
	}
	opts, err := kubeletportforward.NewV4Options(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	kubeletportforward.ServePortForward(w, r, &podForwarder{pod: pod, dialTimeout: k.dialTimeout},
		ns+"/"+name, string(pod.UID), opts,
		4*time.Hour,    // stream idle timeout, the kubelet's default
		30*time.Second, // stream creation timeout, the kubelet's default
		kubeletportforward.SupportedProtocols)
}

// podForwarder connects a pod port to the address its forward annotation names.
type podForwarder struct {
	pod         *corev1.Pod
	dialTimeout time.Duration
}

func (f *podForwarder) PortForward(ctx context.Context, _ string, _ string, port int32, stream io.ReadWriteCloser) error {
	target, ok := f.pod.Annotations[ForwardAnnotationPrefix+strconv.Itoa(int(port))]
	if !ok {
		// Nothing in this pod listens on the port.
		return fmt.Errorf("failed to connect to localhost:%d inside namespace %q, IPv4: dial tcp4 127.0.0.1:%d: connect: connection refused",
			port, f.pod.Namespace+"/"+f.pod.Name, port)
	}
	d := net.Dialer{Timeout: f.dialTimeout}
	conn, err := d.DialContext(ctx, "tcp", strings.TrimSpace(target))
	if err != nil {
		return fmt.Errorf("failed to connect to localhost:%d inside namespace %q, IPv4: %w", port, f.pod.Namespace+"/"+f.pod.Name, err)
	}
	defer conn.Close()
	log.Printf("forwarding %s/%s:%d to %s", f.pod.Namespace, f.pod.Name, port, target)

	// Like containerd: stop when one direction ends, give the other a second to drain.
	done := make(chan struct{}, 2)
	go func() {
		_, _ = io.Copy(conn, stream)
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		done <- struct{}{}
	}()
	go func() {
		_, _ = io.Copy(stream, conn)
		done <- struct{}{}
	}()
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
	case <-time.After(time.Second):
	}
	return nil
}
