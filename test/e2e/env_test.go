//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Env is the running e2e environment: etcd, kube-apiserver and the fake kubelet, all on
// loopback, started by hack/e2e/env.sh.
type Env struct {
	// Dir holds pki/, logs/, the kubeconfigs and env (see hack/e2e/README.md).
	Dir string
	// Kubeconfig is the admin's: user e2e-admin in group system:masters.
	Kubeconfig string
	// LimitedKubeconfig authenticates LimitedUser by client certificate; that user may do
	// nothing but what a test grants it (see Grant).
	LimitedKubeconfig string
	// APIServer is the apiserver URL (https://127.0.0.1:PORT).
	APIServer string
	// NodeName is the Node of the fake kubelet; pods bound to it are run by the fake kubelet.
	NodeName string
	// Config and Client are the admin's.
	Config *rest.Config
	Client kubernetes.Interface

	root  string // repository root
	owned bool   // started by this process, so stopped by it
}

// env is the environment of this test binary, set up by TestMain.
var env *Env

// LimitedUser is the identity of Env.LimitedKubeconfig (client certificate CN); its only
// group besides system:authenticated is LimitedGroup.
const (
	LimitedUser  = "e2e-limited"
	LimitedGroup = "e2e-limited-group"
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) (code int) {
	// Ctrl-C or a kill: stop the environment before going. (If this process dies without a
	// chance to, env.sh's watchdog notices and stops it.)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sig)
	setupCtx, cancelSetup := context.WithCancel(context.Background())
	defer cancelSetup()

	var (
		mu       sync.Mutex
		ready    *Env
		tornDown bool
	)
	tearDown := func(failed bool) {
		mu.Lock()
		defer mu.Unlock()
		if tornDown || ready == nil {
			return
		}
		tornDown = true
		if failed {
			ready.PrintLogs(os.Stderr, 80)
		}
		if err := ready.tearDown(!failed); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		}
	}
	setupDone := make(chan struct{})
	go func() {
		s, ok := <-sig
		if !ok {
			return
		}
		fmt.Fprintf(os.Stderr, "e2e: got %v, tearing the environment down\n", s)
		cancelSetup() // a running env.sh gets SIGTERM and undoes what it started
		select {
		case <-setupDone:
		case <-time.After(30 * time.Second):
		}
		tearDown(true)
		os.Exit(130)
	}()

	e, err := setUp(setupCtx)
	close(setupDone)
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	mu.Lock()
	env, ready = e, e
	mu.Unlock()
	defer func() {
		if r := recover(); r != nil {
			tearDown(true)
			panic(r)
		}
	}()

	code = m.Run()
	removeProxyctl() // proxyctl_helpers_test.go: the binary built for the tests, the sample dump
	tearDown(code != 0)
	return code
}

// setUp reuses the environment named by E2E_DIR (left running), or builds the binaries if
// needed and starts a new one in a fresh directory under .cache/e2e.
func setUp(ctx context.Context) (*Env, error) {
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	e := &Env{root: root}
	if dir := os.Getenv("E2E_DIR"); dir != "" {
		// go test runs in the package directory: a relative path is taken from the repository root.
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(root, dir)
		}
		e.Dir = dir
		fmt.Fprintf(os.Stderr, "e2e: using the running environment in %s\n", e.Dir)
	} else {
		// Cached binaries make this instant; a cold build takes 3 to 6 minutes on 2 cores, which
		// counts against go test's -timeout: run hack/e2e/env.sh build first.
		if err := e.script(ctx, 30*time.Minute, nil, "build"); err != nil {
			return nil, err
		}
		cache := filepath.Join(root, ".cache", "e2e")
		if err := os.MkdirAll(cache, 0o755); err != nil {
			return nil, err
		}
		e.Dir, err = os.MkdirTemp(cache, "test.")
		if err != nil {
			return nil, err
		}
		e.owned = true
		ownerEnv := []string{fmt.Sprintf("E2E_OWNER_PID=%d", os.Getpid())}
		if err := e.script(ctx, 3*time.Minute, ownerEnv, "up", e.Dir); err != nil {
			e.PrintLogs(os.Stderr, 80)
			_ = e.tearDown(false)
			return nil, err
		}
	}
	if err := e.load(); err != nil {
		if e.owned {
			_ = e.tearDown(false)
		}
		return nil, err
	}
	return e, nil
}

// load reads Dir/env, written by env.sh up once everything was ready.
func (e *Env) load() error {
	data, err := os.ReadFile(filepath.Join(e.Dir, "env"))
	if err != nil {
		return fmt.Errorf("read the environment description: %w (is %s an environment that env.sh up started?)", err, e.Dir)
	}
	vars := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			vars[k] = v
		}
	}
	e.Kubeconfig = vars["KUBECONFIG"]
	e.LimitedKubeconfig = vars["E2E_KUBECONFIG_LIMITED"]
	e.APIServer = vars["E2E_APISERVER"]
	e.NodeName = vars["E2E_NODE_NAME"]
	if e.Kubeconfig == "" || e.NodeName == "" {
		return fmt.Errorf("%s/env lacks KUBECONFIG or E2E_NODE_NAME", e.Dir)
	}
	e.Config, err = clientcmd.BuildConfigFromFlags("", e.Kubeconfig)
	if err != nil {
		return fmt.Errorf("load %s: %w", e.Kubeconfig, err)
	}
	e.Config.QPS, e.Config.Burst = 100, 200
	e.Client, err = kubernetes.NewForConfig(e.Config)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := e.Client.CoreV1().Nodes().Get(ctx, e.NodeName, metaGet); err != nil {
		return fmt.Errorf("the environment in %s does not answer: %w", e.Dir, err)
	}
	return nil
}

// tearDown stops what this process started; purge also deletes its directory (logs included).
func (e *Env) tearDown(purge bool) error {
	if !e.owned {
		return nil
	}
	if err := e.script(context.Background(), time.Minute, nil, "down", e.Dir); err != nil {
		return err
	}
	if !purge {
		fmt.Fprintf(os.Stderr, "e2e: logs kept in %s/logs\n", e.Dir)
		return nil
	}
	return os.RemoveAll(e.Dir)
}

// script runs hack/e2e/env.sh with its output on stderr. Cancelling ctx (or the timeout)
// sends SIGTERM to its process group, so that its own traps stop what it started.
func (e *Env) script(ctx context.Context, timeout time.Duration, extraEnv []string, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(e.root, "hack", "e2e", "env.sh"), args...)
	cmd.Dir = e.root
	cmd.Env = append(os.Environ(), extraEnv...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = 20 * time.Second
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("hack/e2e/env.sh %s: stopped (%v)", strings.Join(args, " "), context.Cause(ctx))
		}
		return fmt.Errorf("hack/e2e/env.sh %s: %w", strings.Join(args, " "), err)
	}
	return nil
}

// PrintLogs writes the last lines of every process log of the environment.
func (e *Env) PrintLogs(w *os.File, lines int) {
	files, _ := filepath.Glob(filepath.Join(e.Dir, "logs", "*.log"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil || len(bytes.TrimSpace(data)) == 0 {
			continue
		}
		all := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		if len(all) > lines {
			all = all[len(all)-lines:]
		}
		fmt.Fprintf(w, "----- last %d lines of %s -----\n%s\n----- end of %s -----\n", len(all), f, strings.Join(all, "\n"), f)
	}
}

// LogFile returns the content of one process log: "etcd", "kube-apiserver" or "fakekubelet".
func (e *Env) LogFile(name string) string {
	data, _ := os.ReadFile(filepath.Join(e.Dir, "logs", name+".log"))
	return string(data)
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if data, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil {
			for _, line := range strings.Split(string(data), "\n") {
				if strings.TrimSpace(line) == "module github.com/proxyctl/proxyctl" {
					return dir, nil
				}
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("cannot find the repository root (go.mod of github.com/proxyctl/proxyctl) above the working directory")
		}
		dir = parent
	}
}
