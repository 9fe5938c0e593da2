package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/iotest"
	"time"

	"go.uber.org/goleak"

	"github.com/proxyctl/proxyctl/internal/gendump"
	"github.com/proxyctl/proxyctl/internal/istiod/istiodtest"
	"github.com/proxyctl/proxyctl/internal/kubetest"
)

// TestBadInput feeds broken and hostile documents to every kind of source: each gives one clear
// line on stderr and exit 1, never a panic.
func TestBadInput(t *testing.T) {
	sample, err := os.ReadFile(sampleDump)
	if err != nil {
		t.Fatal(err)
	}
	deep := `{"configs": [{"@type": "type.googleapis.com/envoy.admin.v3.ClustersConfigDump", "static_clusters": ` +
		strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}]}`
	deepInSection := `{"configs": [{"@type": "type.googleapis.com/envoy.admin.v3.ClustersConfigDump", "static_clusters": [{"cluster": {"@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster", "name": "x", "metadata": {"filter_metadata": {"x": ` +
		strings.Repeat(`{"a": `, 10000) + "1" + strings.Repeat("}", 10000) + `}}}}]}]}`
	garbage := make([]byte, 4096)
	for i := range garbage {
		garbage[i] = byte(i*7 + i/13)
	}
	cases := []struct {
		name  string
		input []byte
		want  string
	}{
		{"empty file", nil, "the document is empty"},
		{"only spaces", []byte("  \n\t "), "the document is empty"},
		{"not JSON", []byte("hello world"), `the document is not JSON: it starts with "hello"`},
		{"a JSON array", []byte(`[{"configs": []}]`), "the document is a JSON array"},
		{"an empty object", []byte(`{}`), `it has no "configs" array`},
		{"configs not an array", []byte(`{"configs": {"@type": "x"}}`), `"configs" is not an array`},
		{"configs a string", []byte(`{"configs": "all of them"}`), `"configs" is not an array`},
		{"truncated dump", sample[:len(sample)/2], "is it truncated?"},
		{"truncated in a string", []byte(`{"configs": [{"@type": "type.googleapis.com/envoy.adm`), "ends inside a string"},
		{"binary garbage", garbage, "the document is not JSON"},
		{"NUL bytes", make([]byte, 1000), "the document is not JSON"},
		{"10 000-deep nested value", []byte(deep), "nesting deeper than 1000 levels"},
		{"10 000-deep value in a resource", []byte(deepInSection), "nesting deeper than 1000 levels"},
		{"trailing data", append(append([]byte{}, sample...), []byte(`{"more": 1}`)...), "unexpected data after the top-level value"},
		{"wrong @type", []byte(`{"configs": [{"@type": "type.googleapis.com/envoy.admin.v3.ClustersConfigDump",
			"static_clusters": [{"cluster": {"@type": "type.googleapis.com/envoy.config.route.v3.RouteConfiguration", "name": "x"}}]}]}`),
			"has @type type.googleapis.com/envoy.config.route.v3.RouteConfiguration, want envoy.config.cluster.v3.Cluster"},
		{"a value of the wrong kind", []byte(`{"configs": [{"@type": "type.googleapis.com/envoy.admin.v3.ClustersConfigDump",
			"static_clusters": [{"cluster": {"@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster", "name": ["x"]}}]}]}`), "clusters section: static_clusters[0].cluster.name (line 2, column 109): want a string, got a list"},
		{"a key without its colon", []byte(`{"configs" []}`), `unexpected '[', want ':'`},
		{"two values without a comma", []byte(`{"configs": [] "more": 1}`), `unexpected '"', want ',' or '}'`},
		{"a trailing comma", []byte(`{"configs": [{"@type": "x"},]}`), `unexpected ']', want a value`},
		{"a misspelt literal", []byte(`{"configs": [], "x": nul}`), `unexpected "nul", want a value`},
		{"a bad number", []byte(`{"configs": [], "x": 01}`), `unexpected "01", want a value`},
		{"a bad escape", []byte(`{"configs": [{"@type": "x", "y": "\0"}]}`), `invalid escape \0 in a string`},
		{"a raw line break in a string", []byte("{\"configs\": [{\"@type\": \"x\", \"y\": \"two\nlines\"}]}"), "line 1, column 38: control character U+000A in a string"},
		{"a raw control byte in a long string", []byte("{\"configs\": [], \"y\": \"" + strings.Repeat("é", 20) + "\x01\"}"), "control character U+0001 in a string"},
		{"invalid YAML", []byte("configs:\n  - '@type': [unclosed\n"), "looks like YAML but is not"},
	}
	dir := t.TempDir()
	for i, tc := range cases {
		path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".json")
		if err := os.WriteFile(path, tc.input, 0o644); err != nil {
			t.Fatal(err)
		}
		admin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write(tc.input) }))
		defer admin.Close()
		for _, src := range []struct {
			name  string
			stdin string
			args  []string
		}{
			{"file", "", []string{"-f", path}},
			{"stdin", string(tc.input), []string{"-f", "-"}},
			{"admin URL", "", []string{"--admin-url", admin.URL}},
		} {
			t.Run(tc.name+"/"+src.name, func(t *testing.T) {
				code, out, errOut := run(t, src.stdin, append([]string{"pc", "cluster"}, src.args...)...)
				if code != ExitRuntime || out != "" || !strings.Contains(errOut, tc.want) || strings.Count(errOut, "\n") != 1 {
					t.Errorf("case %d: exit %d, stdout %.100q, stderr %q; want exit 1 and %q", i, code, out, errOut, tc.want)
				}
			})
		}
	}
}

// TestYAMLDump reads a dump written as YAML (as pc all -o yaml prints it) like the JSON one.
func TestYAMLDump(t *testing.T) {
	code, yamlDump, errOut := run(t, "", "pc", "all", "-f", sampleDump, "-o", "yaml")
	if code != 0 {
		t.Fatal(errOut)
	}
	path := filepath.Join(t.TempDir(), "dump.yaml")
	if err := os.WriteFile(path, []byte("# saved with proxyctl\n"+yamlDump), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, view := range []string{"cluster", "listener", "route", "secret", "all"} {
		_, want, _ := run(t, "", "pc", view, "-f", sampleDump, "-o", "json")
		for _, args := range [][]string{{"-f", path}, {"-f", "-"}} {
			code, got, errOut := run(t, yamlDump, append([]string{"pc", view, "-o", "json"}, args...)...)
			if view == "all" {
				// The whole dump, printed as read: the same document, its keys in YAML's order.
				want, got = normalizeJSON(t, want), normalizeJSON(t, got)
			}
			if code != 0 || got != want {
				t.Errorf("%s %v: exit %d %s\n%.300s", view, args, code, errOut, got)
			}
		}
	}
}

// endless is a reader that never ends: a start, then the same bytes forever. It counts what
// was read from it.
type endless struct {
	start, repeat []byte
	read          atomic.Int64
}

func (e *endless) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if off := e.read.Load(); off < int64(len(e.start)) {
			c := copy(p[n:], e.start[off:])
			n += c
			e.read.Add(int64(c))
			continue
		}
		c := copy(p[n:], e.repeat)
		n += c
		e.read.Add(int64(c))
	}
	return n, nil
}

// TestHugeStream: a 2 GB stream (endless here) ends in a clear error with bounded memory: garbage
// at its first bytes, a document that does not end at the size limit, spooled to disk past 2 MB.
func TestHugeStream(t *testing.T) {
	garbage := &endless{repeat: bytes.Repeat([]byte{0}, 4096)}
	start := time.Now()
	code, _, errOut := runWithStdin(t, garbage, "pc", "cluster", "-f", "-")
	if code != ExitRuntime || !strings.Contains(errOut, "the document is not JSON") || garbage.read.Load() > 4<<20 {
		t.Errorf("garbage: exit %d, %s, read %d bytes", code, errOut, garbage.read.Load())
	}
	endlessString := &endless{
		start:  []byte(`{"configs": [{"@type": "type.googleapis.com/envoy.admin.v3.ClustersConfigDump", "version_info": "`),
		repeat: bytes.Repeat([]byte("a"), 1<<16),
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	code, _, errOut = runWithStdin(t, endlessString, "pc", "cluster", "-f", "-", "--max-input", "200000000")
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 50<<20 {
		t.Errorf("endless: allocated %d MB for a 200 MB stream; it should go to disk", alloc>>20)
	}
	if code != ExitRuntime || !strings.Contains(errOut, "more than the limit of 200000000 bytes (190.7 MiB) for a config dump; if it is one, raise --max-input") {
		t.Errorf("endless: exit %d, %s", code, errOut)
	}
	if n := endlessString.read.Load(); n > 200000000+2<<20 {
		t.Errorf("read %d bytes past the limit", n)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("took %s", d)
	}
}

// TestSlowPipe: a document that arrives a byte at a time, as from a slow pipe, is recognised
// as JSON or YAML all the same.
func TestSlowPipe(t *testing.T) {
	sample, err := os.ReadFile(sampleDump)
	if err != nil {
		t.Fatal(err)
	}
	_, yamlDump, _ := run(t, "", "pc", "all", "-f", sampleDump, "-o", "yaml")
	_, want, _ := run(t, "", "pc", "cluster", "-f", sampleDump)
	for name, doc := range map[string]string{"JSON": string(sample), "YAML": "# a comment\n" + yamlDump} {
		code, got, errOut := runWithStdin(t, iotest.OneByteReader(strings.NewReader(doc)), "pc", "cluster", "-f", "-")
		if code != 0 || got != want {
			t.Errorf("%s a byte at a time: exit %d, %s\n%.300s", name, code, errOut, got)
		}
	}
	code, _, errOut := runWithStdin(t, iotest.OneByteReader(strings.NewReader("hello world")), "pc", "cluster", "-f", "-")
	if code != ExitRuntime || !strings.Contains(errOut, `the document is not JSON: it starts with "hello"`) {
		t.Errorf("not a dump, a byte at a time: exit %d, %s", code, errOut)
	}
}

// normalizeJSON re-encodes a JSON document with sorted keys and no spaces.
func normalizeJSON(t *testing.T, doc string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(doc), &v); err != nil {
		t.Fatalf("%v: %.200s", err, doc)
	}
	out, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// TestLargeStream: a document bigger than what is kept in memory, read from a pipe or an admin
// API, prints what the same document read from a file prints.
func TestLargeStream(t *testing.T) {
	var doc bytes.Buffer
	if err := gendump.Write(&doc, gendump.Options{Services: 600, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	if doc.Len() < 3*spoolInMemory {
		t.Fatalf("the generated dump has %d bytes; want more than %d", doc.Len(), 3*spoolInMemory)
	}
	path := filepath.Join(t.TempDir(), "dump.json")
	if err := os.WriteFile(path, doc.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	admin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write(doc.Bytes()) }))
	defer admin.Close()
	for _, view := range [][]string{{"cluster"}, {"listener", "-o", "json"}, {"route", "--name", "9080"}, {"all"}} {
		_, want, _ := run(t, "", append([]string{"pc", "-f", path}, view...)...)
		if want == "" {
			t.Fatalf("%v: no output from the file", view)
		}
		for _, src := range []struct {
			name  string
			stdin io.Reader
			args  []string
		}{
			// A reader that is not an *os.File is read as a stream, as a pipe is.
			{"stdin", io.MultiReader(bytes.NewReader(doc.Bytes())), []string{"-f", "-"}},
			{"admin URL", nil, []string{"--admin-url", admin.URL}},
		} {
			code, got, errOut := runWithStdin(t, src.stdin, append(append([]string{"pc"}, src.args...), view...)...)
			if code != 0 || got != want {
				t.Errorf("%v from %s: exit %d, %s; output differs from the file's", view, src.name, code, errOut)
			}
		}
	}
}

func runWithStdin(t *testing.T, stdin io.Reader, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Run(args, Streams{In: stdin, Out: &out, ErrOut: &errOut})
	return code, out.String(), errOut.String()
}

// failingAdmin is an Envoy admin API that fails in one of the ways a network can.
type failingAdmin struct {
	name string
	h    http.HandlerFunc
	want string // in the error, whether the admin API is reached directly or through a pod
	// wantPod, when set, is in the error instead of want through a port-forward.
	wantPod string
}

func failingAdmins(t *testing.T) []failingAdmin {
	sample, err := os.ReadFile(sampleDump)
	if err != nil {
		t.Fatal(err)
	}
	return []failingAdmin{
		{"stalls mid-body", func(w http.ResponseWriter, r *http.Request) {
			w.Write(sample[:len(sample)/2])
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		}, "took longer than --timeout 1s", ""},
		{"closes before answering", func(http.ResponseWriter, *http.Request) {
			panic(http.ErrAbortHandler)
		}, "GET /config_dump: the connection closed before the answer was complete: EOF",
			"the port-forward to pod web-1 in namespace shop closed the connection to port 15000 before any answer: EOF; is Envoy's admin API listening there?"},
		{"closes early", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Length", "1000000")
			w.Write(sample[:1000])
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		}, "the connection closed before the answer was complete: unexpected EOF", ""},
		{"closes early, chunked", func(w http.ResponseWriter, _ *http.Request) {
			w.Write(sample[:1000])
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		}, "GET /config_dump", ""},
		{"answers 500", func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "envoy is overloaded\nmore details", http.StatusInternalServerError)
		}, "answered 500 Internal Server Error to GET /config_dump: envoy is overloaded", ""},
		{"answers HTML", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Write([]byte("<!DOCTYPE html><html><title>Sign in</title></html>"))
		}, "answered an HTML page", ""},
		{"answers HTML without saying so", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Write([]byte("<!DOCTYPE html><html><title>Sign in</title></html>"))
		}, "the document is not JSON", ""},
		{"sends 100 MB of garbage", func(w http.ResponseWriter, _ *http.Request) {
			junk := bytes.Repeat([]byte("\x00\xff garbage "), 1<<16)
			for sent := 0; sent < 100<<20; sent += len(junk) {
				if _, err := w.Write(junk); err != nil {
					return
				}
			}
		}, "the document is not JSON", ""},
		{"sends a never-ending document", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"configs": [`))
			for r.Context().Err() == nil {
				if _, err := w.Write([]byte(`{"@type": "type.googleapis.com/google.protobuf.Empty"},`)); err != nil {
					return
				}
			}
		}, "took longer than --timeout 1s", ""},
	}
}

// TestLiveFailures: admin APIs and istiod that fail in every way a network can end within
// --timeout, with a clear error, a non-zero exit and no goroutine left behind.
func TestLiveFailures(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	handlers := failingAdmins(t)
	for _, tc := range handlers {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.h)
			start := time.Now()
			code, out, errOut := run(t, "", "pc", "cluster", "--admin-url", srv.URL, "--timeout", "1s")
			srv.Close()
			if code != ExitRuntime || out != "" || !strings.Contains(errOut, tc.want) || strings.Count(errOut, "\n") != 1 {
				t.Errorf("exit %d, stdout %.100q, stderr %q; want exit 1 and %q", code, out, errOut, tc.want)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %s", d)
			}
			if left := spoolFiles(t); len(left) > 0 {
				t.Errorf("left open: %v", left)
			}
		})
	}
	t.Run("istiod hangs", func(t *testing.T) {
		hang := istiodtest.NewServer(t, istiodtest.Options{Delay: time.Hour})
		start := time.Now()
		code, out, errOut := run(t, "", "ps", "--istiod-url", hang.URL, "--timeout", "1s")
		if code != ExitRuntime || out != "" || !strings.Contains(errOut, "no answer in time") {
			t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("took %s", d)
		}
	})
	for _, xds := range []struct {
		name string
		o    istiodtest.XDSOptions
		want string
	}{
		{"istiod's xDS port hangs", istiodtest.XDSOptions{Hang: true}, "no answer in time"},
		{"istiod's xDS port answers other types without end", istiodtest.XDSOptions{OtherTypes: true}, "answers of other types and none of this one"},
		{"istiod's xDS port answers too much", istiodtest.XDSOptions{Syncz: []byte("[]"), Pad: 1 << 20}, "answer larger than 4096 bytes"},
	} {
		t.Run(xds.name, func(t *testing.T) {
			srv := istiodtest.NewXDSServer(t, xds.o)
			start := time.Now()
			code, out, errOut := run(t, "", "ps", "--xds-address", srv.Addr, "--plaintext", "--timeout", "1s", "--max-input", "4096")
			if code != ExitRuntime || out != "" || !strings.Contains(errOut, xds.want) || strings.Count(errOut, "\n") != 1 {
				t.Errorf("exit %d, stdout %q, stderr %q; want %q", code, out, errOut, xds.want)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %s", d)
			}
		})
	}
}

// TestInterrupt: Ctrl-C during a fetch ends proxyctl at once with "interrupted" and exit 130.
func TestInterrupt(t *testing.T) {
	arrived := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-r.Context().Done()
	}))
	defer srv.Close()
	type result struct {
		code        int
		out, errOut string
	}
	done := make(chan result)
	go func() {
		code, out, errOut := runWithStdin(t, nil, "pc", "cluster", "--admin-url", srv.URL, "--timeout", "1m")
		done <- result{code, out, errOut}
	}()
	<-arrived
	// Run listens for SIGINT until it returns, so the signal cannot reach the test binary.
	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-done:
		if r.code != ExitInterrupted || r.out != "" || r.errOut != "error: interrupted\n" {
			t.Errorf("exit %d, stdout %q, stderr %q; want exit 130 and error: interrupted", r.code, r.out, r.errOut)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("still running 10s after Ctrl-C")
	}
}

// TestLiveFailuresThroughPortForward: the same failures, reached through a real port-forward
// (the kubelet's SPDY server behind a stand-in API server): each ends within --timeout with a
// clear error, and leaves no goroutine and no listening port behind.
func TestLiveFailuresThroughPortForward(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	// The check for listening ports sees a listener of this process.
	before := listeningSockets(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if left := newSockets(before, listeningSockets(t)); len(left) != 1 {
		t.Fatalf("a new listener on %s shows as %v", ln.Addr(), left)
	}
	ln.Close()
	for _, tc := range failingAdmins(t) {
		t.Run(tc.name, func(t *testing.T) {
			admin := httptest.NewServer(tc.h)
			defer admin.Close()
			api := kubetest.NewServer(t, kubetest.Pod{Name: "web-1", Namespace: "shop",
				Forward: map[int32]string{15000: strings.TrimPrefix(admin.URL, "http://")}})
			before := listeningSockets(t)
			start := time.Now()
			code, out, errOut := run(t, "", "pc", "cluster", "web-1.shop", "--kubeconfig", api.Kubeconfig, "--timeout", "1s")
			want := tc.want
			if tc.wantPod != "" {
				want = tc.wantPod
			}
			if code != ExitRuntime || out != "" || !strings.Contains(errOut, want) || strings.Count(errOut, "\n") != 1 {
				t.Errorf("exit %d, stdout %.100q, stderr %q; want exit 1 and %q", code, out, errOut, want)
			}
			checkForwardEnded(t, api, "shop/pods/web-1", start, before)
		})
	}
	t.Run("istiod hangs", func(t *testing.T) {
		hang := istiodtest.NewServer(t, istiodtest.Options{Delay: time.Hour})
		api := kubetest.NewServer(t, kubetest.Pod{Name: "istiod-1", Namespace: "istio-system", Labels: map[string]string{"app": "istiod"},
			Forward: map[int32]string{15014: strings.TrimPrefix(hang.URL, "http://")}})
		before := listeningSockets(t)
		start := time.Now()
		code, out, errOut := run(t, "", "ps", "--kubeconfig", api.Kubeconfig, "--timeout", "1s")
		if code != ExitRuntime || out != "" || !strings.Contains(errOut, "no answer in time") {
			t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
		}
		checkForwardEnded(t, api, "istio-system/pods/istiod-1", start, before)
	})
	t.Run("istiod's xDS port hangs", func(t *testing.T) {
		hang := istiodtest.NewXDSServer(t, istiodtest.XDSOptions{Hang: true})
		api := kubetest.NewServer(t, kubetest.Pod{Name: "istiod-1", Namespace: "istio-system", Labels: map[string]string{"app": "istiod"},
			Forward: map[int32]string{15012: hang.Addr}})
		before := listeningSockets(t)
		start := time.Now()
		code, out, errOut := run(t, "", "ps", "--kubeconfig", api.Kubeconfig, "--plaintext", "--xds-port", "15012", "--timeout", "1s")
		if code != ExitRuntime || out != "" || !strings.Contains(errOut, "no answer in time") {
			t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
		}
		checkForwardEnded(t, api, "istio-system/pods/istiod-1", start, before)
	})
	t.Run("nothing listens on the admin port", func(t *testing.T) {
		api := kubetest.NewServer(t, kubetest.Pod{Name: "web-1", Namespace: "shop"})
		before := listeningSockets(t)
		code, _, errOut := run(t, "", "pc", "cluster", "web-1.shop", "--kubeconfig", api.Kubeconfig, "--timeout", "5s")
		want := "nothing is listening on port 15000 in pod web-1 in namespace shop"
		if code != ExitRuntime || !strings.Contains(errOut, want) {
			t.Errorf("exit %d, stderr %q; want %q", code, errOut, want)
		}
		if left := newSockets(before, listeningSockets(t)); len(left) > 0 {
			t.Errorf("still listening on %v", left)
		}
	})
}

// checkForwardEnded checks that a command which failed through a port-forward to pod
// (NS/pods/NAME) made one, ended within 5s of start, and left no listener beyond before.
func checkForwardEnded(t *testing.T, api *kubetest.Server, pod string, start time.Time, before []string) {
	t.Helper()
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s", d)
	}
	if !slices.Contains(api.Requests(), "POST /api/v1/namespaces/"+pod+"/portforward") {
		t.Errorf("no port-forward was made: %v", api.Requests())
	}
	if left := newSockets(before, listeningSockets(t)); len(left) > 0 {
		t.Errorf("still listening on %v", left)
	}
}

// listeningSockets returns the local addresses of the TCP sockets this process listens on,
// from /proc: the sockets of the network namespace that are listening, joined with the
// process's file descriptors.
func listeningSockets(t *testing.T) []string {
	t.Helper()
	byInode := map[string]string{}
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		data, err := os.ReadFile(table)
		if err != nil {
			t.Skipf("cannot read %s: %v", table, err)
		}
		for _, line := range strings.Split(string(data), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) > 9 && f[3] == "0A" { // TCP_LISTEN
				byInode[f[9]] = f[1]
			}
		}
	}
	var out []string
	for _, link := range openFiles(t) {
		if inode, ok := strings.CutPrefix(link, "socket:["); ok {
			if addr, ok := byInode[strings.TrimSuffix(inode, "]")]; ok {
				out = append(out, addr)
			}
		}
	}
	return out
}

// openFiles returns what this process's file descriptors point to, as /proc shows it
// ("socket:[123]", "/tmp/x (deleted)").
func openFiles(t *testing.T) []string {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot read /proc/self/fd: %v", err)
	}
	var out []string
	for _, fd := range fds {
		if link, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name())); err == nil {
			out = append(out, link)
		}
	}
	return out
}

// spoolFiles returns the temporary files proxyctl spools large streamed documents to that this
// process still holds open.
func spoolFiles(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, link := range openFiles(t) {
		if strings.Contains(filepath.Base(link), "proxyctl-") {
			out = append(out, link)
		}
	}
	return out
}

func newSockets(before, after []string) []string {
	var out []string
	for _, a := range after {
		if !slices.Contains(before, a) {
			out = append(out, a)
		}
	}
	return out
}

// TestLoadDocumentRelease: dropping the pages of a loaded document from memory never changes
// it, whether the document is a mapped file, a YAML file converted to JSON or a stream.
func TestLoadDocumentRelease(t *testing.T) {
	code, yamlDump, errOut := run(t, "", "pc", "all", "-f", sampleDump, "-o", "yaml")
	if code != 0 {
		t.Fatal(errOut)
	}
	yamlPath := filepath.Join(t.TempDir(), "dump.yaml")
	if err := os.WriteFile(yamlPath, []byte(yamlDump), 0o644); err != nil {
		t.Fatal(err)
	}
	jsonDump, err := os.ReadFile(sampleDump)
	if err != nil {
		t.Fatal(err)
	}
	sources := []struct {
		name string
		src  Source
	}{
		{"json file", &fileSource{path: sampleDump}},
		{"yaml file", &fileSource{path: yamlPath}},
		{"json stream", &fileSource{path: "-", stdin: strings.NewReader(string(jsonDump))}},
		{"yaml stream", &fileSource{path: "-", stdin: strings.NewReader(yamlDump)}},
	}
	for _, tc := range sources {
		d, release, err := loadDocument(context.Background(), tc.src, pathFullDump, readOptions{})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if len(d.Source()) < 4*os.Getpagesize() {
			t.Fatalf("%s: %d bytes, too small to have whole pages to drop", tc.name, len(d.Source()))
		}
		before := bytes.Clone(d.Source())
		release(d.Source())
		if !bytes.Equal(before, d.Source()) {
			t.Errorf("%s: releasing the document's pages changed it", tc.name)
		}
	}
}

// TestFileKinds: -f reads a FIFO (opened once: a writer must not see its reader go away) and a
// stdin redirected from a file past bytes another reader took, as it reads a plain file.
func TestFileKinds(t *testing.T) {
	_, want, _ := run(t, "", "pc", "cluster", "-f", sampleDump)
	dump, err := os.ReadFile(sampleDump)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()

	fifo := filepath.Join(dir, "dump.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("no FIFO here: %v", err)
	}
	wrote := make(chan error, 1)
	go func() {
		f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err == nil {
			_, err = f.Write(dump)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		wrote <- err
	}()
	code, got, errOut := run(t, "", "pc", "cluster", "-f", fifo)
	if code != 0 || got != want {
		t.Errorf("fifo: exit %d %s\n%.300s", code, errOut, got)
	}
	if err := <-wrote; err != nil {
		t.Errorf("the FIFO's writer: %v", err)
	}

	shared := filepath.Join(dir, "shared")
	if err := os.WriteFile(shared, append([]byte("a line another reader takes\n"), dump...), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(shared)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Seek(int64(len("a line another reader takes\n")), io.SeekStart); err != nil {
		t.Fatal(err)
	}
	var out, stderr bytes.Buffer
	if code := Run([]string{"pc", "cluster", "-f", "-"}, Streams{In: f, Out: &out, ErrOut: &stderr}); code != 0 || out.String() != want {
		t.Errorf("stdin past an offset: exit %d %s\n%.300s", code, stderr.String(), out.String())
	}
}

// TestSPIFFEValidator: a SPIFFE validator's trust domains are rows of pc secret; one that does
// not decode is an error locating the wrong value, not an empty row, in every format.
func TestSPIFFEValidator(t *testing.T) {
	dump := func(domains string) string {
		return `{"configs": [{"@type": "type.googleapis.com/envoy.admin.v3.SecretsConfigDump", "dynamic_active_secrets": [{"name": "ROOTCA", "secret": {"@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret", "name": "ROOTCA", "validation_context": {"custom_validator_config": {"name": "envoy.tls.cert_validator.spiffe", "typed_config": {"@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.SPIFFECertValidatorConfig", "trust_domains": ` + domains + `}}}}}]}]}`
	}
	code, out, errOut := run(t, dump(`[{"name": "cluster.local", "trust_bundle": {"inline_string": "x"}}]`), "pc", "secret", "-f", "-")
	if code != 0 || !strings.Contains(out, "cluster.local") {
		t.Errorf("valid validator: exit %d %s\n%s", code, errOut, out)
	}
	const want = "error: secrets section: dynamic_active_secrets[0].secret.validation_context.custom_validator_config.typed_config.trust_domains (line 1, column 464): want a list, got \"not a list\"\n"
	for _, format := range []string{"short", "json", "yaml"} {
		code, out, errOut = run(t, dump(`"not a list"`), "pc", "secret", "-f", "-", "-o", format)
		if code != ExitRuntime || out != "" || errOut != want {
			t.Errorf("broken validator, -o %s: exit %d, stdout %q, stderr %q", format, code, out, errOut)
		}
	}
}
