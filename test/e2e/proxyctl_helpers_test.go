//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/proxyctl/proxyctl/internal/envoytest"
)

// The proxyctl binary under test, built once per test binary by proxyctlBinary and removed by
// removeProxyctl (called from TestMain).
var built struct {
	once sync.Once
	dir  string // holds the binary and an empty HOME
	bin  string
	home string
	err  error
}

// proxyctlBinary builds ./cmd/proxyctl from the module root (once) and returns its path.
// $E2E_PROXYCTL names a binary to test instead (say, a release build); it is used as is.
func proxyctlBinary(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		built.dir, built.err = os.MkdirTemp("", "proxyctl-e2e-")
		if built.err != nil {
			return
		}
		built.home = filepath.Join(built.dir, "home")
		if built.err = os.Mkdir(built.home, 0o755); built.err != nil {
			return
		}
		if bin := os.Getenv("E2E_PROXYCTL"); bin != "" {
			built.bin, built.err = filepath.Abs(bin)
			fmt.Fprintf(os.Stderr, "e2e: testing %s ($E2E_PROXYCTL)\n", built.bin)
			return
		}
		built.bin = filepath.Join(built.dir, "proxyctl")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		start := time.Now()
		cmd := exec.CommandContext(ctx, "go", "build", "-o", built.bin, "./cmd/proxyctl")
		cmd.Dir = env.root
		out, err := cmd.CombinedOutput()
		if err != nil {
			built.err = fmt.Errorf("go build ./cmd/proxyctl: %v\n%s", err, out)
			return
		}
		fmt.Fprintf(os.Stderr, "e2e: built proxyctl in %s\n", time.Since(start).Round(time.Millisecond))
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.bin
}

// removeProxyctl deletes the binary built by proxyctlBinary and the dump sampleFiles wrote.
func removeProxyctl() {
	if built.dir != "" {
		_ = os.RemoveAll(built.dir)
	}
	if samples.dump != "" {
		_ = os.RemoveAll(filepath.Dir(samples.dump))
	}
}

// Result is how one proxyctl run ended.
type Result struct {
	Args           []string
	Code           int
	Stdout, Stderr string
	Elapsed        time.Duration
}

func (r Result) String() string {
	return fmt.Sprintf("proxyctl %s: exit %d after %s\nstdout:\n%s\nstderr:\n%s",
		strings.Join(r.Args, " "), r.Code, r.Elapsed.Round(time.Millisecond), clip(r.Stdout, 2000), r.Stderr)
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + fmt.Sprintf("... (%d bytes)", len(s))
	}
	return s
}

// ErrorLine is the "error: " line of stderr ("" when there is none).
func (r Result) ErrorLine() string {
	for _, l := range strings.Split(r.Stderr, "\n") {
		if strings.HasPrefix(l, "error: ") {
			return l
		}
	}
	return ""
}

// RunOptions say how to run proxyctl.
type RunOptions struct {
	// Kubeconfig is passed as --kubeconfig; empty means the admin's, NoKubeconfig none at all.
	Kubeconfig string
	// Env is added to the minimal environment (PATH and an empty HOME).
	Env []string
	// Limit kills proxyctl after this long (default 60s): every case ends within its limit.
	Limit time.Duration
}

// NoKubeconfig as RunOptions.Kubeconfig runs proxyctl without --kubeconfig.
const NoKubeconfig = "-"

// Proxyctl runs the binary as the admin, with --kubeconfig first.
func Proxyctl(t *testing.T, args ...string) Result {
	t.Helper()
	return ProxyctlWith(t, RunOptions{}, args...)
}

// ProxyctlWith runs the binary with an empty HOME and no $KUBECONFIG, so that no kubeconfig of
// the machine leaks in.
func ProxyctlWith(t *testing.T, o RunOptions, args ...string) Result {
	t.Helper()
	bin := proxyctlBinary(t)
	switch o.Kubeconfig {
	case "":
		args = append([]string{"--kubeconfig", env.Kubeconfig}, args...)
	case NoKubeconfig:
	default:
		args = append([]string{"--kubeconfig", o.Kubeconfig}, args...)
	}
	if o.Limit == 0 {
		o.Limit = time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.Limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = built.home
	cmd.Env = append([]string{"HOME=" + built.home, "PATH=" + os.Getenv("PATH")}, o.Env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	err := cmd.Run()
	r := Result{Args: args, Stdout: stdout.String(), Stderr: stderr.String(), Elapsed: time.Since(start)}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("proxyctl %s: still running after %s, killed\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), o.Limit, clip(r.Stdout, 2000), r.Stderr)
	case errors.As(err, &ee):
		r.Code = ee.ExitCode()
	case err != nil:
		t.Fatalf("proxyctl %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// The sample documents the Envoy stand-ins serve and the -f runs read.
var samples struct {
	once     sync.Once
	dump     string // path of the config dump: the sample plus ECDS sections
	clusters string // path of the /clusters?format=json sample
	err      error
}

// sampleFiles returns the config dump and /clusters document every stand-in serves. The dump is
// testdata/sample/config_dump.json with the EcdsConfigDump sections of
// testdata/dumps/ecds-waypoint.json appended (the sample has none, so `pc ecds` would have
// nothing to show).
func sampleFiles(t *testing.T) (dump, clusters string) {
	t.Helper()
	samples.once.Do(func() {
		samples.clusters = filepath.Join(env.root, "testdata", "sample", "clusters.json")
		var base, ecds struct {
			Configs []map[string]any `json:"configs"`
		}
		for path, into := range map[string]any{
			filepath.Join(env.root, "testdata", "sample", "config_dump.json"):  &base,
			filepath.Join(env.root, "testdata", "dumps", "ecds-waypoint.json"): &ecds,
		} {
			data, err := os.ReadFile(path)
			if err == nil {
				err = json.Unmarshal(data, into)
			}
			if err != nil {
				samples.err = fmt.Errorf("read %s: %w", path, err)
				return
			}
		}
		for _, c := range ecds.Configs {
			if c["@type"] == "type.googleapis.com/envoy.admin.v3.EcdsConfigDump" {
				base.Configs = append(base.Configs, c)
			}
		}
		data, err := json.MarshalIndent(base, "", " ")
		if err != nil {
			samples.err = err
			return
		}
		dir, err := os.MkdirTemp("", "proxyctl-e2e-dump-")
		if err != nil {
			samples.err = err
			return
		}
		samples.dump = filepath.Join(dir, "config_dump.json")
		samples.err = os.WriteFile(samples.dump, data, 0o644)
	})
	if samples.err != nil {
		t.Fatal(samples.err)
	}
	return samples.dump, samples.clusters
}

// Envoy is an Envoy admin API stand-in (internal/envoytest) serving the sample documents,
// reachable at Addr: the address a pod's port 15000 is forwarded to.
type Envoy struct {
	*envoytest.Admin
	Addr string
}

// StartEnvoy starts a stand-in for one proxy.
func StartEnvoy(t *testing.T) *Envoy {
	t.Helper()
	dumpPath, clustersPath := sampleFiles(t)
	dump, err := os.ReadFile(dumpPath)
	if err != nil {
		t.Fatal(err)
	}
	clusters, err := os.ReadFile(clustersPath)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := envoytest.NewAdmin(dump, clusters)
	if err != nil {
		t.Fatal(err)
	}
	return &Envoy{Admin: admin, Addr: ServeAdmin(t, admin)}
}

// Forward is the PodOptions.Forward of a pod whose port 15000 reaches the stand-in.
func (e *Envoy) Forward() map[int32]string { return map[int32]string{AdminPort: e.Addr} }

// Since returns the requests served after the first n.
func (e *Envoy) Since(n int) []string {
	r := e.Requests()
	if n > len(r) {
		return nil
	}
	return r[n:]
}

// CreateDaemonSet creates a DaemonSet and the one pod a DaemonSet controller would run on the
// fake kubelet's node (NAME-<5 random characters>), from o.
func (e *Env) CreateDaemonSet(t *testing.T, ns, name string, o PodOptions) *Workload {
	t.Helper()
	ctx := ctxFor(t)
	tmpl := e.template(name, o, nil)
	ds, err := e.Client.AppsV1().DaemonSets(ns).Create(ctx, &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": name}},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: tmpl.Labels},
			Template: tmpl,
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create daemonset %s/%s: %v", ns, name, err)
	}
	rev := shortHash(ns + "/" + name + "/ds")
	pods := e.podsFrom(t, ns, tmpl, o, []string{name + "-" + rand.String(5)}, ControllerRef(ds, "DaemonSet"), func(int) map[string]string {
		return map[string]string{"controller-revision-hash": rev, "pod-template-generation": "1"}
	})
	ready := int32(0)
	for _, p := range pods {
		if isReady(p) {
			ready++
		}
	}
	ds.Status = appsv1.DaemonSetStatus{CurrentNumberScheduled: 1, DesiredNumberScheduled: 1, NumberReady: ready,
		NumberAvailable: ready, UpdatedNumberScheduled: 1, ObservedGeneration: ds.Generation}
	if _, err := e.Client.AppsV1().DaemonSets(ns).UpdateStatus(ctx, ds, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("update daemonset status: %v", err)
	}
	return &Workload{Pods: pods, Selector: map[string]string{"app": name}}
}

// AddPods creates pods for a workload's selector (with its labels and owner), each from its own
// options: unlike the workload helpers, each pod may forward somewhere else, or be NotReady.
func (e *Env) AddPods(t *testing.T, ns string, w *Workload, owner metav1.OwnerReference, pods ...PodOptions) []*corev1.Pod {
	t.Helper()
	var labels map[string]string
	switch {
	case w.ReplicaSet != nil:
		labels = w.ReplicaSet.Spec.Selector.MatchLabels
	case w.StatefulSet != nil:
		labels = w.StatefulSet.Spec.Selector.MatchLabels
	default:
		labels = w.Selector
	}
	var out []*corev1.Pod
	for _, o := range pods {
		o.Labels = map[string]string{}
		for k, v := range labels {
			o.Labels[k] = v
		}
		o.OwnerReferences = []metav1.OwnerReference{owner}
		out = append(out, e.CreatePod(t, ns, o))
	}
	return out
}

// WriteKubeconfig writes (into t.TempDir) a copy of the admin's kubeconfig changed by edit.
func (e *Env) WriteKubeconfig(t *testing.T, edit func(cfg *clientcmdapi.Config)) string {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(e.Kubeconfig)
	if err != nil {
		t.Fatalf("load %s: %v", e.Kubeconfig, err)
	}
	edit(cfg)
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
	return path
}

// Hang is an admin API that accepts requests and never answers them (until the test ends or
// the client goes away).
func Hang(t *testing.T) (addr string, requests func() int) {
	t.Helper()
	release := make(chan struct{})
	var mu sync.Mutex
	n := 0
	addr = ServeAdmin(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		mu.Unlock()
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	// Registered after ServeAdmin's srv.Close, so run before it: Close waits for handlers.
	t.Cleanup(func() { close(release) })
	return addr, func() int { mu.Lock(); defer mu.Unlock(); return n }
}
