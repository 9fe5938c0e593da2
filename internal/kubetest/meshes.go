package kubetest

import (
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// MeshPod is a pod shaped as a mesh's injector or controller shapes it (the fields that say
// where its Envoy's admin API listens, and the ones around them that must not mislead), and
// that admin port. The shapes follow each project's own sources: istio/istio (pkg/kube/inject),
// hashicorp/consul-k8s (control-plane/connect-inject/webhook, api-gateway/gatekeeper),
// kumahq/kuma (pkg/plugins/runtime/k8s/webhooks/injector), envoyproxy/gateway
// (internal/infrastructure/kubernetes/proxy), openservicemesh/osm (pkg/injector).
type MeshPod struct {
	Name      string // "Consul sidecar"
	Mesh      string // "Consul"; "" for an Envoy no mesh claims
	Pod       *corev1.Pod
	AdminPort int
	// OtherAdminPorts are the admin ports of the pod's other Envoys.
	OtherAdminPorts []int
}

// MeshPods returns fresh copies of the mesh-shaped pods, Running, without name or namespace;
// the last one runs no Envoy at all (AdminPort 0).
func MeshPods() []MeshPod {
	// Pods shaped as each mesh's injector or controller shapes them (the fields DetectAdminPort
	// could read, and the ones around them that must not mislead it). See the references in
	// mesh.go.
	always := corev1.ContainerRestartPolicyAlways

	istioSidecar := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Labels:      map[string]string{"app": "reviews", "security.istio.io/tlsMode": "istio", "service.istio.io/canonical-name": "reviews"},
			Annotations: map[string]string{"sidecar.istio.io/status": `{"initContainers":["istio-init"],"containers":["istio-proxy"]}`, "prometheus.io/port": "15020"},
		},
		Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "istio-init", Image: "docker.io/istio/proxyv2:1.24.2", Args: []string{"istio-iptables", "-p", "15001", "-z", "15006"}}},
			Containers: []corev1.Container{
				{Name: "reviews", Image: "docker.io/istio/examples-bookinfo-reviews-v1:1.20.2", Ports: []corev1.ContainerPort{{ContainerPort: 9080}}},
				{Name: "istio-proxy", Image: "docker.io/istio/proxyv2:1.24.2", Args: []string{"proxy", "sidecar", "--domain", "$(POD_NAMESPACE).svc.cluster.local"},
					Ports: []corev1.ContainerPort{{Name: "http-envoy-prom", ContainerPort: 15090}}},
			},
		},
	}
	istioNativeSidecar := &corev1.Pod{Spec: corev1.PodSpec{
		InitContainers: []corev1.Container{
			{Name: "istio-validation", Image: "docker.io/istio/proxyv2:1.24.2"},
			{Name: "istio-proxy", Image: "docker.io/istio/proxyv2:1.24.2", RestartPolicy: &always, Args: []string{"proxy", "sidecar"}},
		},
		Containers: []corev1.Container{{Name: "app", Image: "app"}},
	}}
	istioGateway := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "istio-ingressgateway", "istio": "ingressgateway"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "istio-proxy", Image: "docker.io/istio/proxyv2:1.24.2",
			Args:  []string{"proxy", "router", "--domain", "$(POD_NAMESPACE).svc.cluster.local"},
			Ports: []corev1.ContainerPort{{ContainerPort: 8080}, {ContainerPort: 8443}, {Name: "http-envoy-prom", ContainerPort: 15090}}}}},
	}
	consulSidecar := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Labels:      map[string]string{"app": "web", "consul.hashicorp.com/connect-inject-status": "injected", "consul.hashicorp.com/connect-inject-managed-by": "consul-k8s-endpoints-controller"},
			Annotations: map[string]string{"consul.hashicorp.com/connect-inject-status": "injected", "consul.hashicorp.com/consul-k8s-version": "1.4.0"},
		},
		Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "consul-connect-inject-init", Image: "hashicorp/consul-k8s-control-plane:1.4.0"}},
			Containers: []corev1.Container{
				{Name: "web", Image: "web", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}},
				{Name: "consul-dataplane", Image: "hashicorp/consul-dataplane:1.4.0", Args: strings.Fields(
					"-addresses consul-server.consul.svc -envoy-admin-bind-address=127.0.0.1 -consul-dns-bind-addr=127.0.0.1 -xds-bind-addr=127.0.0.1 " +
						"-grpc-port=8502 -proxy-service-id-path=/consul/connect-inject/proxyid -log-level=info -log-json=false -envoy-concurrency=0 " +
						"-graceful-addr=127.0.0.1 -tls-disabled -graceful-port=20600 -telemetry-prom-scrape-path=/metrics"),
					Ports: []corev1.ContainerPort{{Name: "prometheus", ContainerPort: 20200}}},
			},
		},
	}
	consulMultiPort := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{"consul.hashicorp.com/connect-inject-status": "injected", "consul.hashicorp.com/connect-service": "web,web-admin"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{
			{Name: "web", Image: "web"},
			{Name: "consul-dataplane-web-admin", Image: "hashicorp/consul-dataplane:1.4.0", Args: strings.Fields(
				"-addresses 1.1.1.1 -envoy-admin-bind-address=127.0.0.1 -proxy-service-id-path=/consul/connect-inject/proxyid-web-admin -tls-disabled -envoy-admin-bind-port=19001 -graceful-port=20601 -- --base-id 1")},
			{Name: "consul-dataplane-web", Image: "hashicorp/consul-dataplane:1.4.0", Args: strings.Fields(
				"-addresses 1.1.1.1 -envoy-admin-bind-address=127.0.0.1 -proxy-service-id-path=/consul/connect-inject/proxyid-web -tls-disabled -envoy-admin-bind-port=19000 -graceful-port=20600 -- --base-id 0")},
		}},
	}
	consulAPIGateway := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"gateway.consul.hashicorp.com/name": "api-gateway", "gateway.consul.hashicorp.com/managed": "true"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "api-gateway", Image: "registry.example:5000/hashicorp/consul-dataplane:1.5.0",
			Args:  []string{"-addresses", "consul-server.consul.svc", "-envoy-admin-bind-address=127.0.0.1", "-envoy-admin-bind-port=19000", "-service-node-name", "api-gateway"},
			Ports: []corev1.ContainerPort{{Name: "proxy-health", ContainerPort: 21000}, {ContainerPort: 8443}}}}},
	}
	consulLegacy := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{"consul.hashicorp.com/connect-inject-status": "injected"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{
			{Name: "web", Image: "web"},
			{Name: "envoy-sidecar", Image: "envoyproxy/envoy-alpine:v1.16.0", Command: []string{"envoy", "--config-path", "/consul/connect-inject/envoy-bootstrap.yaml"}},
			{Name: "consul-sidecar", Image: "hashicorp/consul-k8s:0.25.0"},
		}},
	}
	kumaSidecar := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Labels:      map[string]string{"kuma.io/mesh": "default", "run": "busybox"},
			Annotations: map[string]string{"kuma.io/envoy-admin-port": "9901", "kuma.io/sidecar-injected": "true", "kuma.io/application-probe-proxy-port": "9000"},
		},
		Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{
				{Name: "kuma-init", Image: "kuma/kuma-init:2.9.0", Command: []string{"/usr/bin/kumactl", "install", "transparent-proxy"}},
				{Name: "kuma-sidecar", Image: "kuma/kuma-dp:2.9.0", RestartPolicy: &always, Args: []string{"run", "--log-level=info", "--concurrency=2"},
					Env: []corev1.EnvVar{{Name: "KUMA_CONTROL_PLANE_URL", Value: "https://kuma-control-plane.kuma-system:5678"}}},
			},
			Containers: []corev1.Container{{Name: "busybox", Image: "busybox"}},
		},
	}
	kumaOtherPort := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{"kuma.io/envoy-admin-port": "9902", "kuma.io/sidecar-injected": "true"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app"}, {Name: "kuma-sidecar", Image: "kuma/kuma-dp:2.9.0"}}},
	}
	envoyGateway := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Labels: map[string]string{"app.kubernetes.io/component": "proxy", "app.kubernetes.io/managed-by": "envoy-gateway", "app.kubernetes.io/name": "envoy",
				"gateway.envoyproxy.io/owning-gateway-name": "eg", "gateway.envoyproxy.io/owning-gateway-namespace": "default"},
			Annotations: map[string]string{"prometheus.io/port": "19001", "prometheus.io/scrape": "true"},
		},
		Spec: corev1.PodSpec{Containers: []corev1.Container{
			{Name: "envoy", Image: "docker.io/envoyproxy/envoy:distroless-v1.33.0", Command: []string{"envoy"},
				Args:  []string{"--service-cluster", "eg", "--service-node", "$(ENVOY_POD_NAME)", "--config-yaml", envoyGatewayBootstrap(19000), "--log-level", "warn"},
				Ports: []corev1.ContainerPort{{Name: "metrics", ContainerPort: 19001}, {Name: "readiness", ContainerPort: 19003}}},
			{Name: "shutdown-manager", Image: "docker.io/envoyproxy/gateway:v1.3.0", Command: []string{"envoy-gateway"}, Args: []string{"envoy", "shutdown-manager"}},
		}},
	}
	osmSidecar := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "bookstore", "osm-proxy-uuid": "4a6d0d9c-8f2b-4c0e-9d3c-6a8d2c1b5e7f"}},
		Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "osm-init", Image: "openservicemesh/init:v1.2.0"}},
			Containers: []corev1.Container{
				{Name: "bookstore", Image: "openservicemesh/bookstore:v1.2.0", Ports: []corev1.ContainerPort{{ContainerPort: 14001}}},
				{Name: "envoy", Image: "envoyproxy/envoy-distroless:v1.22.2", Command: []string{"envoy"},
					Args:  []string{"--log-level", "error", "--config-path", "/etc/envoy/bootstrap.yaml", "--service-cluster", "bookstore.bookstore"},
					Ports: []corev1.ContainerPort{{Name: "proxy-admin", ContainerPort: 15000}, {Name: "proxy-inbound", ContainerPort: 15003}, {Name: "proxy-metrics", ContainerPort: 15010}}},
			},
		},
	}
	namedAdmin := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{
		{Name: "app", Image: "app", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}},
		{Name: "front-envoy", Image: "envoyproxy/envoy:v1.33.0", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 10000}, {Name: "admin", ContainerPort: 9901}}},
	}}}
	configYAML := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{
		{Name: "proxy", Image: "envoyproxy/envoy:v1.33.0", Args: []string{"-c", "/dev/null", "--config-yaml", "admin: {address: {socket_address: {address: 0.0.0.0, port_value: 8001}}}"}},
	}}}
	noEnvoy := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{
		{Name: "app", Image: "nginx", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 80}}},
	}}}

	customEG := envoyGateway.DeepCopy()
	customEG.Spec.Containers[0].Args[5] = envoyGatewayBootstrap(19100)
	pods := []MeshPod{
		{"Istio sidecar", "Istio", istioSidecar, 15000, nil},
		{"Istio native sidecar", "Istio", istioNativeSidecar, 15000, nil},
		{"Istio gateway", "Istio", istioGateway, 15000, nil},
		{"Consul sidecar", "Consul", consulSidecar, 19000, nil},
		{"Consul multi-port pod", "Consul", consulMultiPort, 19000, []int{19001}},
		{"Consul API gateway", "Consul", consulAPIGateway, 19000, nil},
		{"Consul before 1.0", "Consul", consulLegacy, 19000, nil},
		{"Kuma sidecar", "Kuma", kumaSidecar, 9901, nil},
		{"Kuma, another admin port", "Kuma", kumaOtherPort, 9902, nil},
		{"Envoy Gateway", "Envoy Gateway", envoyGateway, 19000, nil},
		{"Envoy Gateway, another admin port", "Envoy Gateway", customEG, 19100, nil},
		{"OSM sidecar", "OSM", osmSidecar, 15000, nil},
		{"Envoy with a port named admin", "", namedAdmin, 9901, nil},
		{"Envoy with --config-yaml", "", configYAML, 8001, nil},
		{"no Envoy", "", noEnvoy, 0, nil},
	}
	for _, p := range pods {
		p.Pod.Status = corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}
	}
	return pods
}

// envoyGatewayBootstrap is the start of the bootstrap Envoy Gateway passes with --config-yaml.
func envoyGatewayBootstrap(port int) string {
	return `admin:
  access_log:
  - name: envoy.access_loggers.file
    typed_config:
      "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
      path: /dev/null
  address:
    socket_address:
      address: 127.0.0.1
      port_value: ` + strconv.Itoa(port) + `
cluster_manager:
  local_cluster_name: eg
layered_runtime:
  layers:
  - name: global_config
    static_layer:
      envoy.restart_features.use_eds_cache_for_ads: true
`
}
