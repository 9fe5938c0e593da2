package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/proxyctl/proxyctl/portforward"
)

// TestErrors runs bad invocations and bad input: each must give one clear line on stderr,
// nothing on stdout, and the right exit code.
func TestErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	invalid := write("invalid.json", "{\n  \"configs\": [\n    {\"@type\": \"type.googleapis.com/envoy.admin.v3.ClustersConfigDump\",}\n  ]\n}\n")
	noClusters := write("no-clusters.json", `{"configs": [{"@type": "type.googleapis.com/envoy.admin.v3.BootstrapConfigDump", "bootstrap": {}}]}`)
	wrongType := write("wrong-type.json", `{"configs": [{"@type": "type.googleapis.com/envoy.admin.v3.ClustersConfigDump",
		"static_clusters": [{"cluster": {"@type": "type.googleapis.com/envoy.config.listener.v3.Listener", "name": "x"}}]}]}`)
	cases := []struct {
		name  string
		stdin string
		args  []string
		code  int
		want  string // in the one line on stderr
	}{
		{"bad output format", "", []string{"pc", "cluster", "-f", sampleDump, "-o", "xml"}, ExitUsage, `unknown output format "xml": use one of short, json, yaml`},
		{"missing file", "", []string{"pc", "cluster", "-f", filepath.Join(dir, "nope.json")}, ExitRuntime, "nope.json: no such file or directory"},
		{"invalid JSON", "", []string{"pc", "cluster", "-f", invalid}, ExitRuntime, "invalid JSON at line 3, column 71: unexpected '}', want a key"},
		{"missing section", "", []string{"pc", "cluster", "-f", noClusters}, ExitRuntime, "the config dump has no clusters section (envoy.admin.v3.ClustersConfigDump)"},
		{"missing EDS section", "", []string{"pc", "endpoint", "-f", noClusters}, ExitRuntime, "has no endpoints section"},
		{"wrong resource type", "", []string{"pc", "cluster", "-f", wrongType}, ExitRuntime, "clusters section: static_clusters[0].cluster: has @type type.googleapis.com/envoy.config.listener.v3.Listener, want envoy.config.cluster.v3.Cluster"},
		{"empty stdin", "", []string{"pc", "cluster", "-f", "-"}, ExitRuntime, "stdin: the document is empty"},
		{"not JSON on stdin", "hello", []string{"pc", "cluster", "-f", "-"}, ExitRuntime, "the document is not JSON"},
		{"array", "[1, 2]", []string{"pc", "cluster", "-f", "-"}, ExitRuntime, "is a JSON array"},
		{"no proxy named", "", []string{"pc", "cluster"}, ExitUsage, "name the proxy"},
		{"two sources", "", []string{"pc", "cluster", "-f", sampleDump, "--admin-url", "http://127.0.0.1:1"}, ExitUsage, "give only one of"},
		{"too many args", "", []string{"pc", "cluster", "a", "b"}, ExitUsage, "accepts at most 1 arg(s)"},
		{"unknown flag", "", []string{"pc", "cluster", "--bogus"}, ExitUsage, "unknown flag: --bogus"},
		{"unknown command", "", []string{"bogus"}, ExitUsage, `unknown command "bogus"`},
		{"bad listener type", "", []string{"pc", "listener", "-f", sampleDump, "--type", "UDP"}, ExitUsage, `unknown listener --type "UDP"`},
		{"bad status", "", []string{"pc", "endpoint", "-f", sampleDump, "--status", "sick"}, ExitUsage, `unknown --status "sick"`},
		{"bad port", "", []string{"pc", "listener", "-f", sampleDump, "--port", "70000"}, ExitUsage, "--port must be between 0 and 65535"},
		{"no view", "", []string{"pc"}, ExitUsage, "proxy-config needs a view"},
		{"input too large", "", []string{"pc", "cluster", "-f", sampleDump, "--max-input", "100"}, ExitRuntime, "more than the limit of 100"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := run(t, tc.stdin, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tc.code, errOut)
			}
			if out != "" {
				t.Errorf("stdout should be empty, got %q", out)
			}
			if !strings.Contains(errOut, tc.want) {
				t.Errorf("stderr %q does not contain %q", errOut, tc.want)
			}
			if n := strings.Count(errOut, "\n"); n != 1 || !strings.HasPrefix(errOut, "error: ") {
				t.Errorf("want one line starting with \"error: \", got %q", errOut)
			}
		})
	}
}

// TestDeadlineWords: a timeout is blamed on --timeout when proxyctl's own deadline fired, or
// when another one fired just before it (a gRPC server timing the call out from the
// grpc-timeout header it was sent), and not when an inner, shorter deadline fired.
func TestDeadlineWords(t *testing.T) {
	timedOut := fmt.Errorf("xDS x: no answer in time: %w", context.DeadlineExceeded)
	for _, tc := range []struct {
		name    string
		in      time.Duration // the context's deadline from now (0: none)
		err     error
		blamed  bool
		expired bool // wait for the context to expire first
	}{
		{"own deadline fired", 10 * time.Millisecond, timedOut, true, true},
		{"a server's, just before ours", 20 * time.Millisecond, timedOut, true, false},
		{"an inner one, long before ours", time.Hour, timedOut, false, false},
		{"no deadline at all", 0, timedOut, false, false},
		{"another error at the deadline", 20 * time.Millisecond, errors.New("refused"), false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			if tc.in > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.in)
				defer cancel()
			}
			if tc.expired {
				<-ctx.Done()
			}
			r := &rootOptions{kube: portforward.NewKubeFlags()}
			got := r.deadline(ctx, tc.err, "asking istiod", tc.in).Error()
			if blamed := strings.Contains(got, "took longer than --timeout"); blamed != tc.blamed {
				t.Errorf("%q: blames --timeout %v, want %v", got, blamed, tc.blamed)
			}
			if !strings.Contains(got, tc.err.Error()) {
				t.Errorf("%q lost the error %q", got, tc.err)
			}
		})
	}
}
