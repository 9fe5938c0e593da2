package cli

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/proxyctl/proxyctl/internal/envoytest"
	"github.com/proxyctl/proxyctl/internal/gendump"
	"github.com/proxyctl/proxyctl/internal/kubetest"
)

// hostileBody is how a hostile server sends an answer.
type hostileBody int

const (
	endlessBody  hostileBody = iota // the same bytes forever, as fast as they are taken
	trickleBody                     // a byte every 20 ms, forever
	announceBody                    // a Content-Length of 3 GiB, then nothing
)

// hostileHandler answers every request with start and then body's way of going on with item.
func hostileHandler(body hostileBody, start, item string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if body == announceBody {
			w.Header().Set("Content-Length", "3221225472")
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			<-r.Context().Done()
			return
		}
		w.Write([]byte(start))
		chunk := []byte(strings.Repeat(item, max(1, 64<<10/len(item))))
		for r.Context().Err() == nil {
			if body == trickleBody { // spaces: valid JSON, and never the end of it
				if _, err := w.Write([]byte(" ")); err != nil {
					return
				}
				w.(http.Flusher).Flush()
				time.Sleep(20 * time.Millisecond)
				continue
			}
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}
}

// bodyEndpoint is one way proxyctl reads a body: the command, run against a hostile server at
// url (directly, or through a port-forward of the stand-in API server at kubeconfig).
type bodyEndpoint struct {
	name        string
	start, item string
	args        func(url, kubeconfig string) []string
	// defaultLimit is in the error for an announced 3 GiB with no --max-input.
	defaultLimit string
}

func bodyEndpoints(t *testing.T) []bodyEndpoint {
	dump := `{"configs": [`
	dumpItem := `{"@type": "type.googleapis.com/google.protobuf.Empty"},`
	syncz := `[`
	synczItem := `{"proxy": "web-1.shop", "istiodVersion": "1.24.0", "clusterID": "Kubernetes"},`
	logging := "active loggers:\n"
	loggingItem := "  admin: warning\n"
	return []bodyEndpoint{
		{"admin URL config dump", dump, dumpItem, func(u, _ string) []string { return []string{"pc", "cluster", "--admin-url", u} }, "2147483648 bytes (2 GiB)"},
		{"pod config dump", dump, dumpItem, func(_, k string) []string { return []string{"pc", "cluster", "web-1.shop", "--kubeconfig", k} }, "2147483648 bytes (2 GiB)"},
		{"istiod URL syncz", syncz, synczItem, func(u, _ string) []string { return []string{"ps", "--istiod-url", u} }, "33554432 bytes (32 MiB)"},
		{"istiod pod syncz", syncz, synczItem, func(_, k string) []string { return []string{"ps", "--kubeconfig", k} }, "33554432 bytes (32 MiB)"},
		{"istiod config dump", dump, dumpItem, func(u, _ string) []string {
			return []string{"ps", "web-1.shop", "--istiod-url", u, "--file", sampleDump}
		}, "2147483648 bytes (2 GiB)"},
		{"admin URL /logging", logging, loggingItem, func(u, _ string) []string { return []string{"pc", "log", "--admin-url", u} }, "1048576 bytes (1 MiB)"},
		{"pod /logging", logging, loggingItem, func(_, k string) []string { return []string{"pc", "log", "web-1.shop", "--kubeconfig", k} }, "1048576 bytes (1 MiB)"},
	}
}

// TestEveryBodyBounded: every answer proxyctl reads (an admin API's or a pod's config dump and
// /logging, istiod's syncz and config dump, directly or through a port-forward) stops at its
// size limit or at --timeout, whichever comes first, with memory near the limit.
func TestEveryBodyBounded(t *testing.T) {
	for _, ep := range bodyEndpoints(t) {
		for _, tc := range []struct {
			name  string
			body  hostileBody
			flags []string
			want  string
		}{
			{"endless", endlessBody, []string{"--max-input", "4Mi", "--timeout", "20s"}, "more than the limit of 4194304 bytes (4 MiB)"},
			{"trickle", trickleBody, []string{"--timeout", "1s"}, "--timeout 1s"},
			{"announced 3 GiB", announceBody, []string{"--timeout", "20s"}, "more than the limit of " + ep.defaultLimit},
		} {
			t.Run(ep.name+"/"+tc.name, func(t *testing.T) {
				srv := httptest.NewServer(hostileHandler(tc.body, ep.start, ep.item))
				defer srv.Close()
				addr := strings.TrimPrefix(srv.URL, "http://")
				api := kubetest.NewServer(t,
					kubetest.Pod{Name: "web-1", Namespace: "shop", Forward: map[int32]string{15000: addr}},
					kubetest.Pod{Name: "istiod-1", Namespace: "istio-system", Labels: map[string]string{"app": "istiod"}, Forward: map[int32]string{15014: addr}})
				peak := heapPeak(t)
				start := time.Now()
				code, out, errOut := run(t, "", append(ep.args(srv.URL, api.Kubeconfig), tc.flags...)...)
				took := time.Since(start)
				if code != ExitRuntime || out != "" || !strings.Contains(errOut, tc.want) || strings.Count(errOut, "\n") != 1 {
					t.Errorf("exit %d, stdout %.100q, stderr %q; want exit 1 and %q", code, out, errOut, tc.want)
				}
				if took > 5*time.Second {
					t.Errorf("took %s", took)
				}
				if grew := peak(); grew > 48<<20 {
					t.Errorf("the heap grew by %d MB", grew>>20)
				}
			})
		}
	}
}

// heapPeak samples the live heap until the returned function is called, which returns how much
// it grew above where it was at the start.
func heapPeak(t *testing.T) func() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	base := m.HeapAlloc
	var peak uint64
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > base && m.HeapAlloc-base > peak {
				peak = m.HeapAlloc - base
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	return func() uint64 {
		close(stop)
		<-done
		return peak
	}
}

// TestDefaultLimits: without --max-input, each kind of document has its own limit; /logging's
// is small enough to reach here.
func TestDefaultLimits(t *testing.T) {
	srv := httptest.NewServer(hostileHandler(endlessBody, "active loggers:\n", "  admin: warning\n"))
	defer srv.Close()
	code, _, errOut := run(t, "", "pc", "log", "--admin-url", srv.URL, "--level", "debug")
	if want := "more than the limit of 1048576 bytes (1 MiB) for an answer of Envoy's /logging; if it is one, raise --max-input"; code != ExitRuntime || !strings.Contains(errOut, want) {
		t.Errorf("exit %d, %s; want %q", code, errOut, want)
	}
	// A YAML dump, converted in memory, has a lower limit than a JSON one.
	_, yamlDump, _ := run(t, "", "pc", "all", "-f", sampleDump, "-o", "yaml")
	path := filepath.Join(t.TempDir(), "dump.yaml")
	if err := os.WriteFile(path, []byte(yamlDump), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = run(t, "", "pc", "cluster", "-f", path, "--max-input", "1Ki")
	if !strings.Contains(errOut, "more than the limit of 1024 bytes (1 KiB) for a config dump in YAML") {
		t.Errorf("YAML file: exit %d, %s", code, errOut)
	}
	code, _, errOut = run(t, yamlDump, "pc", "cluster", "-f", "-", "--max-input", "1Ki")
	if !strings.Contains(errOut, "more than the limit of 1024 bytes (1 KiB) for a config dump") {
		t.Errorf("YAML stream: exit %d, %s", code, errOut)
	}
	for _, bad := range []string{"-1", "0", "lots", "1.5Ki"} {
		if code, _, errOut := run(t, "", "pc", "cluster", "-f", sampleDump, "--max-input", bad); code != ExitUsage || !strings.Contains(errOut, "--max-input") {
			t.Errorf("--max-input %s: exit %d, %s", bad, code, errOut)
		}
	}
	// A suffix reads as kubectl reads quantities.
	if code, _, errOut := run(t, "", "pc", "cluster", "-f", sampleDump, "--max-input", "1Mi"); code != 0 {
		t.Errorf("--max-input 1Mi: exit %d, %s", code, errOut)
	}
}

// TestYAMLNote: a large YAML dump says once, on stderr, how to read it faster.
func TestYAMLNote(t *testing.T) {
	var doc bytes.Buffer
	if err := gendump.Write(&doc, gendump.Options{Services: 200, Seed: 2}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "big.json")
	if err := os.WriteFile(path, doc.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	_, yamlDump, _ := run(t, "", "pc", "all", "-f", path, "-o", "yaml")
	if len(yamlDump) < yamlNoteSize {
		t.Fatalf("the YAML dump has %d bytes, want at least %d", len(yamlDump), yamlNoteSize)
	}
	yamlPath := filepath.Join(t.TempDir(), "big.yaml")
	if err := os.WriteFile(yamlPath, []byte(yamlDump), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"-f", yamlPath}, {"-f", "-"}} {
		code, _, errOut := run(t, yamlDump, append([]string{"pc", "cluster"}, args...)...)
		if code != 0 || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, "is YAML, which proxyctl reads about 20 times slower than JSON; convert it once: proxyctl pc all -f FILE -o json > dump.json") {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut)
		}
		if _, _, errOut := run(t, yamlDump, append([]string{"pc", "cluster", "--quiet"}, args...)...); errOut != "" {
			t.Errorf("--quiet: %q", errOut)
		}
	}
	if _, _, errOut := run(t, "", "pc", "cluster", "-f", path); errOut != "" {
		t.Errorf("JSON: %q", errOut)
	}
}

// blockingReader is a stdin that sends nothing until the test ends; it says when it is read.
type blockingReader struct {
	reading chan struct{}
	done    chan struct{}
}

func newBlockingReader(t *testing.T) *blockingReader {
	b := &blockingReader{reading: make(chan struct{}), done: make(chan struct{})}
	t.Cleanup(func() { close(b.done) })
	return b
}

func (b *blockingReader) Read([]byte) (int, error) {
	select {
	case <-b.reading:
	default:
		close(b.reading)
	}
	<-b.done
	return 0, io.EOF
}

// TestStuckInput: a stdin or a FIFO that sends nothing (sleep 60 | proxyctl pc cluster -f -)
// ends at --timeout, on Ctrl-C (exit 130) and on SIGTERM, as a network fetch does.
func TestStuckInput(t *testing.T) {
	dir := t.TempDir()
	type stuck struct {
		args    []string
		stdin   io.Reader
		waiting <-chan struct{} // closed once proxyctl waits on the input
	}
	inputs := map[string]func(t *testing.T) stuck{
		"idle pipe on stdin": func(t *testing.T) stuck {
			pr, pw, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { pw.Close(); pr.Close() })
			b := newBlockingReader(t)
			// A real pipe's reader, seen through a reader that says when it is read.
			return stuck{[]string{"-f", "-"}, io.MultiReader(b, pr), b.reading}
		},
		"FIFO whose writer sends nothing": func(t *testing.T) stuck {
			fifo := filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_"))
			if err := syscall.Mkfifo(fifo, 0o600); err != nil {
				t.Skipf("no FIFO here: %v", err)
			}
			opened := make(chan struct{})
			go func() {
				f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
				close(opened)
				if err == nil {
					<-time.After(30 * time.Second)
					f.Close()
				}
			}()
			return stuck{[]string{"-f", fifo}, nil, opened}
		},
		"FIFO without a writer": func(t *testing.T) stuck {
			fifo := filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_"))
			if err := syscall.Mkfifo(fifo, 0o600); err != nil {
				t.Skipf("no FIFO here: %v", err)
			}
			t.Cleanup(func() { // release the open proxyctl left waiting
				if f, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
					f.Close()
				}
			})
			waiting := make(chan struct{})
			go func() { time.Sleep(300 * time.Millisecond); close(waiting) }()
			return stuck{[]string{"-f", fifo}, nil, waiting}
		},
	}
	for name, input := range inputs {
		t.Run(name+"/timeout", func(t *testing.T) {
			in := input(t)
			start := time.Now()
			code, out, errOut := runWithStdin(t, in.stdin, append([]string{"pc", "cluster", "--timeout", "500ms"}, in.args...)...)
			if code != ExitRuntime || out != "" || !strings.Contains(errOut, "took longer than --timeout 500ms") || strings.Count(errOut, "\n") != 1 {
				t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("took %s", d)
			}
		})
		for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
			t.Run(name+"/"+sig.String(), func(t *testing.T) {
				in := input(t)
				type result struct {
					code        int
					out, errOut string
				}
				done := make(chan result, 1)
				go func() {
					code, out, errOut := runWithStdin(t, in.stdin, append([]string{"pc", "cluster", "--timeout", "1m"}, in.args...)...)
					done <- result{code, out, errOut}
				}()
				<-in.waiting
				time.Sleep(100 * time.Millisecond) // proxyctl is in its read (or its open)
				// Run listens for the signal until it returns: it cannot reach the test binary.
				if err := syscall.Kill(os.Getpid(), sig); err != nil {
					t.Fatal(err)
				}
				select {
				case r := <-done:
					if r.code != ExitInterrupted || r.out != "" || r.errOut != "error: interrupted\n" {
						t.Errorf("exit %d, stdout %q, stderr %q; want exit 130 and error: interrupted", r.code, r.out, r.errOut)
					}
				case <-time.After(10 * time.Second):
					t.Fatalf("still running 10s after %s", sig)
				}
			})
		}
	}
}

// hang holds a request until the client gives up (the body read first: until then, the server
// cannot see the client go).
func hang(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	<-r.Context().Done()
}

// TestKubernetesCallsBounded: every Kubernetes API call (pod reads and lists, access reviews,
// the port-forward) ends at --timeout, and the message names the limit that fired:
// --timeout, or kubectl's --request-timeout when it is shorter.
func TestKubernetesCallsBounded(t *testing.T) {
	admin, err := envoytest.NewAdmin(mustRead(t, sampleDump), mustRead(t, sampleClusters))
	if err != nil {
		t.Fatal(err)
	}
	adminSrv := httptest.NewServer(admin)
	defer adminSrv.Close()
	addr := strings.TrimPrefix(adminSrv.URL, "http://")
	cases := []struct {
		name string
		args []string
		hang string // the request that hangs: METHOD and a path fragment
	}{
		{"pc: pod read", []string{"pc", "cluster", "web-1.shop"}, "GET /api/v1/namespaces/shop/pods/web-1"},
		{"pc: access review", []string{"pc", "cluster", "web-1.shop"}, "POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews"},
		{"pc: port-forward", []string{"pc", "cluster", "web-1.shop"}, "POST /api/v1/namespaces/shop/pods/web-1/portforward"},
		{"pc: workload pods", []string{"pc", "cluster", "svc/web.shop"}, "GET /api/v1/namespaces/shop/services/web"},
		{"log -l: pod list", []string{"pc", "log", "-l", "app=web", "-n", "shop"}, "GET /api/v1/namespaces/shop/pods"},
		{"ps: istiod list", []string{"ps"}, "GET /api/v1/namespaces/istio-system/pods"},
		{"ps: istiod pod read", []string{"ps"}, "GET /api/v1/namespaces/istio-system/pods/istiod-1"},
		{"rootca-compare: pod read", []string{"pc", "rootca-compare", "web-1.shop", "web-1.shop"}, "GET /api/v1/namespaces/shop/pods/web-1"},
	}
	for _, tc := range cases {
		for _, limit := range []struct {
			flags []string
			want  string
		}{
			{[]string{"--timeout", "1s"}, "took longer than --timeout 1s"},
			{[]string{"--timeout", "20s", "--request-timeout", "1s"}, "a Kubernetes API request took longer than --request-timeout 1s"},
		} {
			if len(limit.flags) > 2 && (strings.HasSuffix(tc.hang, "/portforward") || strings.Contains(tc.hang, "selfsubjectaccessreviews")) {
				// A port-forward is a stream: --request-timeout does not bound it; an access
				// review that fails is taken as allowed, and the port-forward tells.
				continue
			}
			t.Run(tc.name+"/"+limit.flags[len(limit.flags)-2], func(t *testing.T) {
				api := kubetest.NewServer(t,
					kubetest.Pod{Name: "web-1", Namespace: "shop", Labels: map[string]string{"app": "web"}, Forward: map[int32]string{15000: addr}},
					kubetest.Pod{Name: "istiod-1", Namespace: "istio-system", Labels: map[string]string{"app": "istiod"}})
				method, path, _ := strings.Cut(tc.hang, " ")
				api.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
					if r.Method == method && r.URL.Path == path {
						hang(w, r)
						return true
					}
					return false
				})
				start := time.Now()
				args := append(append([]string{}, tc.args...), "--kubeconfig", api.Kubeconfig)
				code, _, errOut := run(t, "", append(args, limit.flags...)...)
				if code != ExitRuntime || !strings.Contains(errOut, limit.want) || !strings.HasSuffix(errOut, "\n") {
					t.Errorf("exit %d, stderr %q; want %q", code, errOut, limit.want)
				}
				if strings.Contains(limit.want, "request-timeout") && strings.Contains(errOut, "took longer than --timeout") {
					t.Errorf("names --timeout for --request-timeout: %s", errOut)
				}
				if d := time.Since(start); d > 5*time.Second {
					t.Errorf("took %s", d)
				}
			})
		}
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
