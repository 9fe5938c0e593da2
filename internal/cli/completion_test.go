package cli

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"

	"github.com/proxyctl/proxyctl/internal/kubetest"
)

// complete runs shell completion (cobra's __complete, what the shell scripts call) and returns
// the candidates (without descriptions), their descriptions and the directive. Completion must
// never print anything but candidates on stdout.
func complete(t *testing.T, args ...string) (values, descriptions []string, directive cobra.ShellCompDirective) {
	t.Helper()
	code, out, _ := run(t, "", append([]string{cobra.ShellCompRequestCmd}, args...)...)
	if code != 0 {
		t.Fatalf("__complete %v: exit %d", args, code)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	last := lines[len(lines)-1]
	d, err := strconv.Atoi(strings.TrimPrefix(last, ":"))
	if !strings.HasPrefix(last, ":") || err != nil {
		t.Fatalf("__complete %v: no directive line in %q", args, out)
	}
	for _, l := range lines[:len(lines)-1] {
		v, desc, _ := strings.Cut(l, "\t")
		if strings.ContainsAny(v, " \n") || v == "" {
			t.Errorf("__complete %v: a message among the candidates: %q", args, l)
		}
		values = append(values, v)
		descriptions = append(descriptions, desc)
	}
	return values, descriptions, cobra.ShellCompDirective(d)
}

// meshPod returns the shape of one of kubetest's mesh pods.
func meshPod(t *testing.T, name string) kubetest.MeshPod {
	for _, p := range kubetest.MeshPods() {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("no mesh pod %q", name)
	return kubetest.MeshPod{}
}

// TestCompletePods completes pod arguments from a stand-in API server: only Running pods that
// run an Envoy, POD.NAMESPACE forms, TYPE/ prefixes, and nothing once the arguments are given.
func TestCompletePods(t *testing.T) {
	consul, plain := meshPod(t, "Consul sidecar"), meshPod(t, "no Envoy")
	api := kubetest.NewServer(t,
		kubetest.Pod{Name: "web-1", Namespace: "shop"},
		kubetest.Pod{Name: "web-2", Namespace: "shop"},
		kubetest.Pod{Name: "consul-web", Namespace: "shop", Spec: &consul.Pod.Spec, Annotations: consul.Pod.Annotations},
		kubetest.Pod{Name: "plain", Namespace: "shop", Spec: &plain.Pod.Spec},
		kubetest.Pod{Name: "web-pending", Namespace: "shop", Phase: corev1.PodPending},
		kubetest.Pod{Name: "api-1", Namespace: "other"},
		kubetest.Pod{Name: "web-1", Namespace: "staging"},
		kubetest.Pod{Name: "in-default", Namespace: "default"},
	)
	k := []string{"--kubeconfig", api.Kubeconfig}
	tests := []struct {
		name      string
		args      []string
		want      []string
		noSpace   bool
		wantDescs []string
	}{
		{"the namespace in effect", []string{"-n", "shop", "pc", "cluster", ""}, []string{"consul-web", "web-1", "web-2"}, false,
			[]string{"Consul Envoy (consul-dataplane container)", "Istio Envoy (istio-proxy container)", "Istio Envoy (istio-proxy container)"}},
		{"the kubeconfig's namespace", []string{"pc", "listener", ""}, []string{"in-default"}, false, nil},
		{"a prefix", []string{"-n", "shop", "pc", "route", "web-"}, []string{"web-1", "web-2"}, false, nil},
		{"POD.NAMESPACE", []string{"pc", "cluster", "web-1."}, []string{"web-1.shop", "web-1.staging"}, false, nil},
		{"POD.NAMESPACE prefix", []string{"pc", "cluster", "api-1.ot"}, []string{"api-1.other"}, false, nil},
		{"any pod with --proxy-admin-port", []string{"-n", "shop", "pc", "cluster", "--proxy-admin-port", "9901", "pl"}, []string{"plain"}, false, nil},
		{"TYPE/ prefixes", []string{"-n", "shop", "pc", "cluster", "dep"}, []string{"deploy/", "deployment/"}, true, nil},
		{"pod names and TYPE/ prefixes", []string{"-n", "other", "pc", "cluster", "s"}, []string{"sts/", "statefulset/", "svc/", "service/"}, true, nil},
		{"pod/", []string{"-n", "shop", "pc", "cluster", "pod/w"}, []string{"pod/web-1", "pod/web-2"}, false, nil},
		{"a second argument", []string{"-n", "shop", "pc", "cluster", "web-1", ""}, nil, false, nil},
		{"rootca-compare takes two", []string{"-n", "shop", "pc", "rc", "web-1", "web-"}, []string{"web-1", "web-2"}, false, nil},
		{"ps", []string{"-n", "shop", "ps", "consul"}, []string{"consul-web"}, false, nil},
		{"log", []string{"-n", "shop", "pc", "log", "web-2"}, []string{"web-2"}, false, nil},
		{"version", []string{"-n", "shop", "version", "web-1"}, []string{"web-1"}, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, descs, d := complete(t, append(k, tt.args...)...)
			if !slices.Equal(got, tt.want) {
				t.Errorf("candidates %q, want %q", got, tt.want)
			}
			if tt.wantDescs != nil && !slices.Equal(descs, tt.wantDescs) {
				t.Errorf("descriptions %q, want %q", descs, tt.wantDescs)
			}
			if d&cobra.ShellCompDirectiveNoFileComp == 0 || (d&cobra.ShellCompDirectiveNoSpace != 0) != tt.noSpace {
				t.Errorf("directive %d (no space: want %v)", d, tt.noSpace)
			}
		})
	}
}

// TestCompleteNamespacesAndContexts completes -n and -i from the API server, --context from
// the kubeconfig.
func TestCompleteNamespacesAndContexts(t *testing.T) {
	api := kubetest.NewServer(t, kubetest.Pod{Name: "a", Namespace: "shop"}, kubetest.Pod{Name: "b", Namespace: "istio-system"})
	k := []string{"--kubeconfig", api.Kubeconfig}
	for _, args := range [][]string{{"-n", ""}, {"pc", "cluster", "-n", ""}, {"ps", "-i", ""}, {"pc", "cluster", "--namespace", ""}} {
		if got, _, _ := complete(t, append(k, args...)...); !slices.Equal(got, []string{"default", "istio-system", "shop"}) {
			t.Errorf("%v: %q", args, got)
		}
	}
	if got, _, _ := complete(t, append(k, "pc", "cluster", "-n", "s")...); !slices.Equal(got, []string{"shop"}) {
		t.Errorf("-n s: %q", got)
	}
	// Contexts come from the kubeconfig, without the cluster.
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters: [{name: prod, cluster: {server: "https://127.0.0.1:1"}}, {name: dev, cluster: {server: "https://127.0.0.1:2"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: prod-admin, context: {cluster: prod, user: u, namespace: shop}}, {name: dev, context: {cluster: dev, user: u}}]
current-context: dev
`), 0o600)
	got, descs, _ := complete(t, "-c", kubeconfig, "pc", "cluster", "--context", "")
	if !slices.Equal(got, []string{"dev", "prod-admin"}) || !slices.Equal(descs, []string{"dev", "prod, namespace shop"}) {
		t.Errorf("--context: %q %q", got, descs)
	}
}

// TestCompleteFlagValues completes the flags with fixed values, and -o per command.
func TestCompleteFlagValues(t *testing.T) {
	tests := []struct {
		args    []string
		want    []string
		noSpace bool
	}{
		{[]string{"pc", "cluster", "-o", ""}, []string{"short", "json", "yaml", "name", "jsonpath="}, false},
		{[]string{"pc", "cluster", "-o", "j"}, []string{"json", "jsonpath="}, false},
		{[]string{"pc", "cluster", "-o", "jsonp"}, []string{"jsonpath="}, true},
		{[]string{"pc", "cluster", "-o", "jsonpath={"}, nil, false},
		{[]string{"pc", "bootstrap", "-o", ""}, []string{"short", "json", "yaml", "jsonpath="}, false},
		{[]string{"ps", "--output", ""}, []string{"short", "json", "yaml", "name", "jsonpath="}, false},
		{[]string{"version", "-o", ""}, []string{"short", "json", "yaml", "jsonpath="}, false},
		{[]string{"pc", "listener", "--type", ""}, []string{"HTTP", "TCP", "HTTP+TCP", "UNKNOWN"}, false},
		{[]string{"pc", "all", "--type", "h"}, []string{"HTTP", "HTTP+TCP"}, false},
		{[]string{"pc", "diff", "a.json", "b.json", "--type", ""}, []string{"bootstrap", "cluster", "listener", "route", "secret", "endpoint"}, false},
		{[]string{"pc", "cluster", "--direction", ""}, []string{"inbound", "outbound"}, false},
		{[]string{"pc", "endpoint", "--status", "un"}, []string{"unhealthy", "unknown"}, false},
		{[]string{"pc", "eds", "--status", "h"}, []string{"healthy"}, false},
		{[]string{"ps", "--fail-on", ""}, []string{"stale", "error", "notsent"}, false},
		{[]string{"pc", "log", "--level", ""}, logLevels, false},
		{[]string{"pc", "log", "--level", "http:d"}, []string{"http:debug"}, false},
		{[]string{"pc", "log", "--level", "debug,router=t"}, []string{"debug,router=trace"}, false},
	}
	for _, tt := range tests {
		got, _, d := complete(t, tt.args...)
		if !slices.Equal(got, tt.want) || (d&cobra.ShellCompDirectiveNoSpace != 0) != tt.noSpace {
			t.Errorf("%v: %q (directive %d), want %q", tt.args, got, d, tt.want)
		}
	}
}

// TestCompleteFromTheProxy completes --level with the loggers of the proxy named on the line,
// and --name, --fqdn and --cluster with the names of its configuration.
func TestCompleteFromTheProxy(t *testing.T) {
	_, url := startAdmin(t)
	tests := []struct {
		args    []string
		want    []string
		noSpace bool
	}{
		{[]string{"pc", "log", "--admin-url", url, "--level", "r"}, []string{"router:"}, true},
		{[]string{"pc", "log", "--admin-url", url, "--level", "c"}, []string{"critical", "config:", "connection:"}, true},
		{[]string{"pc", "log", "--admin-url", url, "--level", "debug,ht"}, []string{"debug,http:"}, true},
		{[]string{"pc", "log", "--level", "r"}, nil, false}, // no proxy named: only levels
		{[]string{"pc", "route", "-f", sampleDump, "--name", ""}, []string{"9080", "InboundPassthroughClusterIpv4", "inbound|9080||"}, false},
		{[]string{"pc", "route", "--admin-url", url, "--name", "9"}, []string{"9080"}, false},
		{[]string{"pc", "all", "-f", sampleDump, "--name", "i"}, []string{"inbound|9080||"}, false},
		{[]string{"pc", "route", "--name", ""}, nil, false}, // no proxy named
		{[]string{"route-check", "--file", sampleDump, "--route", "inb"}, []string{"inbound|9080||"}, false},
		{[]string{"pc", "cluster", "-f", sampleDump, "--fqdn", "p"}, []string{"productpage.default.svc.cluster.local", "prometheus_stats"}, false},
		{[]string{"pc", "cluster", "-f", sampleDump, "--fqdn", "P"}, []string{"PassthroughCluster"}, false},
		{[]string{"pc", "all", "-f", sampleDump, "--fqdn", "prod"}, []string{"productpage.default.svc.cluster.local"}, false},
		{[]string{"pc", "endpoint", "-f", sampleClusters, "--cluster", "out"}, []string{"outbound|9080||productpage.default.svc.cluster.local"}, false},
		{[]string{"pc", "endpoint", "-f", sampleDump, "--cluster", "a"}, []string{"agent"}, false},
		{[]string{"pc", "cluster", "-f", "/nonexistent.json", "--fqdn", ""}, nil, false},
	}
	for _, tt := range tests {
		got, _, d := complete(t, tt.args...)
		if !slices.Equal(got, tt.want) || (d&cobra.ShellCompDirectiveNoSpace != 0) != tt.noSpace {
			t.Errorf("%v: %q (directive %d), want %q", tt.args, got, d, tt.want)
		}
	}
}

// TestCompletionBounded: a proxy or an API server that never answers costs completion its
// timeout, no more, and completion still offers what it knows.
func TestCompletionBounded(t *testing.T) {
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer hang.Close()
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	os.WriteFile(kubeconfig, []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: %q}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`, hang.URL)), 0o600)
	for _, args := range [][]string{
		{"pc", "log", "--admin-url", hang.URL, "--level", ""},
		{"-c", kubeconfig, "pc", "cluster", ""},
		{"-c", kubeconfig, "-n", ""},
		{"-c", kubeconfig, "pc", "log", "web-1", "--level", "i"},
	} {
		start := time.Now()
		got, _, _ := complete(t, args...)
		if d := time.Since(start); d > defaultCompletionTimeout+2*time.Second {
			t.Errorf("%v took %s", args, d)
		}
		if args[len(args)-2] == "--level" && !slices.Contains(got, "info") && !slices.Contains(got, "trace") {
			t.Errorf("%v: the levels are still offered, got %q", args, got)
		}
	}
	// No Kubernetes configuration at all: nothing, quietly.
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "missing"))
	if got, _, _ := complete(t, "pc", "cluster", ""); len(got) != 0 {
		t.Errorf("without a kubeconfig: %q", got)
	}
}

// TestCompletionUnknownShell: a shell completion does not know is a usage error naming it,
// never a help text on stdout that a `source <(proxyctl completion SHELL)` would run.
func TestCompletionUnknownShell(t *testing.T) {
	code, out, errOut := run(t, "", "completion", "bsh")
	if code != ExitUsage || out != "" || !strings.HasPrefix(errOut, `error: unknown command "bsh" for "proxyctl completion"`) {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if code, out, _ := run(t, "", "completion", "bash"); code != 0 || !strings.Contains(out, "bash completion") {
		t.Errorf("completion bash: exit %d, %.80q", code, out)
	}
}
