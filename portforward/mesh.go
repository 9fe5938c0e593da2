package portforward

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// DefaultAdminPort is Istio's Envoy admin port, and OSM's.
const DefaultAdminPort = 15000

// AdminPort is where the Envoy of a pod serves its admin API, as the pod's own spec says it.
type AdminPort struct {
	Port int
	// Mesh is what injected or runs the Envoy: "Istio", "Consul", "Kuma", "Envoy Gateway", "OSM",
	// or "" for an Envoy no mesh claims.
	Mesh string
	// Reason says what in the pod told: "istio-proxy container", "kuma.io/envoy-admin-port
	// annotation"...
	Reason string
	// Others are the admin ports of the pod's other Envoys (a Consul pod with a dataplane per
	// service), not used unless named with --proxy-admin-port.
	Others []int
}

// What is the pod's Envoy as messages name it: "Consul dataplane (consul-dataplane container)".
func (a AdminPort) What() string {
	what := "Envoy"
	if a.Mesh != "" {
		what = a.Mesh + " Envoy"
	}
	return what + " (" + a.Reason + ")"
}

// Labels and annotations the meshes put on the pods they inject or run. Each is how that
// mesh's own injector or controller shapes its pods:
//   - Istio: an istio-proxy container (or native sidecar init container); admin on 15000
//     (istio/istio, pkg/kube/inject).
//   - Consul: a consul-dataplane container, consul-dataplane-SERVICE for each service of a
//     multi-port pod with -envoy-admin-bind-port=19000+i, or an API gateway container running
//     the consul-dataplane image; admin on 19000 by default; before consul-k8s 1.0, an
//     envoy-sidecar container with the connect-inject-status annotation (hashicorp/consul-k8s,
//     control-plane/connect-inject/webhook and api-gateway/gatekeeper).
//   - Kuma: a kuma-sidecar container or init container, the kuma.io/envoy-admin-port annotation,
//     9901 by default (kumahq/kuma, pkg/plugins/runtime/k8s/webhooks/injector).
//   - Envoy Gateway: app.kubernetes.io/managed-by=envoy-gateway and component=proxy, an envoy
//     container whose --config-yaml bootstrap names the admin port, 19000 (envoyproxy/gateway,
//     internal/infrastructure/kubernetes/proxy).
//   - OSM: an envoy container with the proxy-admin port 15000 and the osm-proxy-uuid label
//     (openservicemesh/osm, pkg/injector).
const (
	consulInjectStatus    = "consul.hashicorp.com/connect-inject-status"
	kumaAdminPort         = "kuma.io/envoy-admin-port"
	kumaSidecarInjected   = "kuma.io/sidecar-injected"
	kumaGateway           = "kuma.io/gateway"
	osmProxyUUID          = "osm-proxy-uuid"
	k8sManagedBy          = "app.kubernetes.io/managed-by"
	k8sComponent          = "app.kubernetes.io/component"
	consulDefaultAdmin    = 19000
	kumaDefaultAdmin      = 9901
	envoyGatewayAdmin     = 19000
	consulAdminPortFlag   = "-envoy-admin-bind-port"
	envoyConfigYAMLFlag   = "--config-yaml"
	maxConfigYAMLForAdmin = 1 << 20
)

// DetectAdminPort says where a pod's Envoy serves its admin API, from what its mesh puts in the
// pod; ok is false when nothing in the pod says (proxyctl then wants --proxy-admin-port).
func DetectAdminPort(pod *corev1.Pod) (AdminPort, bool) {
	containers := append(append([]corev1.Container(nil), pod.Spec.InitContainers...), pod.Spec.Containers...)
	for _, c := range containers {
		if c.Name == "istio-proxy" {
			return AdminPort{Port: DefaultAdminPort, Mesh: "Istio", Reason: "istio-proxy container"}, true
		}
	}
	if a, ok := consulAdminPort(pod, containers); ok {
		return a, true
	}
	if a, ok := kumaAdminPortOf(pod, containers); ok {
		return a, true
	}
	if pod.Labels[k8sManagedBy] == "envoy-gateway" && pod.Labels[k8sComponent] == "proxy" {
		a := AdminPort{Port: envoyGatewayAdmin, Mesh: "Envoy Gateway", Reason: k8sManagedBy + "=envoy-gateway"}
		for _, c := range containers {
			if port, ok := configYAMLAdminPort(c); ok {
				a.Port, a.Reason = port, a.Reason+", the admin port of container "+c.Name+"'s --config-yaml"
				break
			}
		}
		return a, true
	}
	if _, ok := pod.Labels[osmProxyUUID]; ok {
		a := AdminPort{Port: DefaultAdminPort, Mesh: "OSM", Reason: osmProxyUUID + " label"}
		if port, name, ok := namedAdminPort(containers); ok {
			a.Port, a.Reason = port, a.Reason+", container port "+name
		}
		return a, true
	}
	if port, name, ok := namedAdminPort(containers); ok {
		return AdminPort{Port: port, Reason: "container port " + name}, true
	}
	for _, c := range containers {
		if port, ok := configYAMLAdminPort(c); ok {
			return AdminPort{Port: port, Reason: "the admin port of container " + c.Name + "'s --config-yaml"}, true
		}
	}
	for _, c := range containers {
		for _, p := range c.Ports {
			if p.ContainerPort == DefaultAdminPort {
				return AdminPort{Port: DefaultAdminPort, Reason: fmt.Sprintf("container %s declares port %d", c.Name, DefaultAdminPort)}, true
			}
		}
	}
	return AdminPort{}, false
}

// consulAdminPort finds a Consul dataplane (or, before consul-k8s 1.0, an envoy-sidecar).
func consulAdminPort(pod *corev1.Pod, containers []corev1.Container) (AdminPort, bool) {
	var ports []int
	reason := ""
	for _, c := range containers {
		dataplane := c.Name == "consul-dataplane" || strings.HasPrefix(c.Name, "consul-dataplane-") ||
			strings.Contains(imageName(c.Image), "consul-dataplane")
		legacy := c.Name == "envoy-sidecar" && pod.Annotations[consulInjectStatus] != ""
		if !dataplane && !legacy {
			continue
		}
		port := consulDefaultAdmin
		if p, ok := flagValue(append(c.Command, c.Args...), consulAdminPortFlag); ok {
			if n, err := strconv.Atoi(p); err == nil && n > 0 && n < 65536 {
				port = n
			}
		}
		if reason == "" {
			reason = c.Name + " container"
			if dataplane && c.Name != "consul-dataplane" && !strings.HasPrefix(c.Name, "consul-dataplane-") {
				reason = "container " + c.Name + " runs consul-dataplane"
			}
		}
		ports = append(ports, port)
	}
	if len(ports) == 0 {
		return AdminPort{}, false
	}
	sort.Ints(ports)
	a := AdminPort{Port: ports[0], Mesh: "Consul", Reason: reason, Others: ports[1:]}
	if len(ports) > 1 {
		a.Reason = fmt.Sprintf("%d consul-dataplane containers, the first one's", len(ports))
	}
	return a, true
}

// kumaAdminPortOf finds a Kuma sidecar or gateway.
func kumaAdminPortOf(pod *corev1.Pod, containers []corev1.Container) (AdminPort, bool) {
	reason := ""
	for _, c := range containers {
		if c.Name == "kuma-sidecar" || c.Name == "kuma-gateway" {
			reason = c.Name + " container"
			break
		}
	}
	if reason == "" && pod.Annotations[kumaSidecarInjected] != "true" && pod.Annotations[kumaGateway] == "" && pod.Annotations[kumaAdminPort] == "" {
		return AdminPort{}, false
	}
	if reason == "" {
		reason = "kuma.io annotations"
	}
	a := AdminPort{Port: kumaDefaultAdmin, Mesh: "Kuma", Reason: reason}
	if v, ok := pod.Annotations[kumaAdminPort]; ok {
		if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n > 0 && n < 65536 {
			a.Port, a.Reason = n, reason+", "+kumaAdminPort+" annotation"
		}
	}
	return a, true
}

// namedAdminPort finds a container port named like an Envoy admin port ("admin",
// "envoy-admin", "proxy-admin", "http-admin"...): a name with "admin" as one of its
// dash-separated words. Ports of containers that look like Envoy come first.
func namedAdminPort(containers []corev1.Container) (port int, name string, ok bool) {
	found := -1
	for _, envoyFirst := range []bool{true, false} {
		for _, c := range containers {
			if envoyFirst != looksLikeEnvoy(c) {
				continue
			}
			for _, p := range c.Ports {
				for _, word := range strings.Split(strings.ToLower(p.Name), "-") {
					if word == "admin" && found < 0 {
						found, name = int(p.ContainerPort), p.Name
					}
				}
			}
		}
		if found > 0 {
			return found, name, true
		}
	}
	return 0, "", false
}

func looksLikeEnvoy(c corev1.Container) bool {
	return strings.Contains(c.Name, "envoy") || strings.Contains(imageName(c.Image), "envoy") || strings.Contains(c.Name, "proxy")
}

// imageName is an image reference without its registry and tag: "hashicorp/consul-dataplane".
func imageName(image string) string {
	if i := strings.LastIndexByte(image, '@'); i >= 0 {
		image = image[:i]
	}
	if i := strings.LastIndexByte(image, ':'); i > strings.LastIndexByte(image, '/') {
		image = image[:i]
	}
	return strings.ToLower(image)
}

// flagValue finds -flag=value or -flag value (or --flag) in a command line.
func flagValue(args []string, flag string) (string, bool) {
	name := strings.TrimLeft(flag, "-")
	for i, a := range args {
		if !strings.HasPrefix(a, "-") {
			continue
		}
		k, v, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if k != name {
			continue
		}
		if hasValue {
			return v, true
		}
		if i+1 < len(args) {
			return args[i+1], true
		}
	}
	return "", false
}

// configYAMLAdminPort reads the admin port of the bootstrap a container passes Envoy with
// --config-yaml (admin.address.socket_address.port_value), as Envoy Gateway does.
func configYAMLAdminPort(c corev1.Container) (int, bool) {
	doc, ok := flagValue(append(c.Command, c.Args...), envoyConfigYAMLFlag)
	if !ok || len(doc) > maxConfigYAMLForAdmin {
		return 0, false
	}
	var bootstrap struct {
		Admin struct {
			Address struct {
				SocketAddress struct {
					PortValue json.Number `json:"port_value"`
				} `json:"socket_address"`
			} `json:"address"`
		} `json:"admin"`
	}
	if err := yaml.Unmarshal([]byte(doc), &bootstrap); err != nil {
		return 0, false
	}
	n, err := strconv.Atoi(bootstrap.Admin.Address.SocketAddress.PortValue.String())
	if err != nil || n <= 0 || n > 65535 {
		return 0, false
	}
	return n, true
}
