package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/proxyctl/proxyctl/internal/testutil"
)

// run runs proxyctl in-process and returns its exit code, stdout and stderr.
func run(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Run(args, Streams{In: strings.NewReader(stdin), Out: &out, ErrOut: &errOut})
	return code, out.String(), errOut.String()
}

var (
	sampleDump     = testutil.Path("testdata", "sample", "config_dump.json")
	sampleClusters = testutil.Path("testdata", "sample", "clusters.json")
	unknownDump    = testutil.Path("testdata", "dumps", "unknown-types.json")
	ecdsDump       = testutil.Path("testdata", "dumps", "ecds-waypoint.json")
	// losslessDump has, in every section, members, enum names and v2 fields this binary does
	// not know, at several depths, v2-era filters, two roots in ROOTCA and internal addresses.
	losslessDump = testutil.Path("testdata", "dumps", "lossless.json")
	// internalClusters is a /clusters document with internal, socket and pipe addresses.
	internalClusters = testutil.Path("testdata", "dumps", "clusters-internal.json")
)

// TestViewGoldens prints every view in every format on the project's fixtures and compares
// the output with testdata/golden/cli.
func TestViewGoldens(t *testing.T) {
	cases := []struct {
		name string
		args []string
	}{
		{"cluster", []string{"pc", "cluster", "-f", sampleDump}},
		{"cluster_json", []string{"pc", "clusters", "-f", sampleDump, "-o", "json"}},
		{"cluster_yaml", []string{"pc", "c", "-f", sampleDump, "-o", "yaml"}},
		{"cluster_filtered", []string{"pc", "cluster", "-f", sampleDump, "--direction", "outbound", "--port", "9080"}},
		{"listener", []string{"pc", "listener", "-f", sampleDump}},
		{"listener_nov", []string{"pc", "listeners", "-f", sampleDump, "--verbose=false"}},
		{"listener_json", []string{"pc", "l", "-f", sampleDump, "--port", "15021", "-o", "json"}},
		{"listener_yaml", []string{"pc", "l", "-f", sampleDump, "--port", "15021", "-o", "yaml"}},
		{"listener_http", []string{"pc", "listener", "-f", sampleDump, "--type", "http", "--verbose=false"}},
		{"listener_waypoint", []string{"pc", "listener", "-f", ecdsDump, "--waypoint"}},
		{"route", []string{"pc", "route", "-f", sampleDump}},
		{"route_nov", []string{"pc", "routes", "-f", sampleDump, "--verbose=false"}},
		{"route_json", []string{"pc", "r", "-f", sampleDump, "--name", "9080", "-o", "json"}},
		{"route_yaml", []string{"pc", "r", "-f", sampleDump, "--name", "9080", "-o", "yaml"}},
		{"endpoint_eds", []string{"pc", "endpoint", "-f", sampleDump}},
		{"endpoint_eds_json", []string{"pc", "endpoints", "-f", sampleDump, "--cluster", "agent", "-o", "json"}},
		{"endpoint_clusters", []string{"pc", "ep", "-f", sampleClusters}},
		{"endpoint_clusters_json", []string{"pc", "ep", "-f", sampleClusters, "--port", "15020", "-o", "json"}},
		{"endpoint_clusters_yaml", []string{"pc", "ep", "-f", sampleClusters, "--port", "15020", "-o", "yaml"}},
		{"endpoint_clusters_status", []string{"pc", "ep", "-f", sampleClusters, "--status", "healthy", "--address", "127.0.0.1"}},
		{"bootstrap", []string{"pc", "bootstrap", "-f", sampleDump}},
		{"bootstrap_short", []string{"pc", "b", "-f", sampleDump, "-o", "short"}},
		{"bootstrap_yaml", []string{"pc", "b", "-f", sampleDump, "-o", "yaml"}},
		{"secret", []string{"pc", "secret", "-f", sampleDump}},
		{"secret_json", []string{"pc", "secrets", "-f", sampleDump, "-o", "json"}},
		{"secret_yaml", []string{"pc", "s", "-f", sampleDump, "-o", "yaml"}},
		{"ecds", []string{"pc", "ecds", "-f", ecdsDump}},
		{"ecds_json", []string{"pc", "ec", "-f", ecdsDump, "-o", "json"}},
		{"ecds_yaml", []string{"pc", "ec", "-f", ecdsDump, "-o", "yaml"}},
		{"all", []string{"pc", "all", "-f", sampleDump}},
		{"all_headers", []string{"pc", "a", "-f", sampleDump, "--with-headers"}},
		{"all_filtered", []string{"pc", "all", "-f", sampleDump, "--port", "9080", "--verbose=false"}},
		{"unknown_cluster", []string{"pc", "cluster", "-f", unknownDump}},
		{"unknown_cluster_json", []string{"pc", "cluster", "-f", unknownDump, "-o", "json"}},
		{"unknown_listener", []string{"pc", "listener", "-f", unknownDump}},
		{"unknown_listener_json", []string{"pc", "listener", "-f", unknownDump, "-o", "json"}},
		{"unknown_bootstrap_json", []string{"pc", "bootstrap", "-f", unknownDump, "-o", "json"}},
		{"unknown_all", []string{"pc", "all", "-f", unknownDump, "--with-headers"}},
		{"unknown_secret_json", []string{"pc", "secret", "-f", unknownDump, "-o", "json"}},
		{"lossless_cluster", []string{"pc", "cluster", "-f", losslessDump}},
		{"lossless_cluster_json", []string{"pc", "cluster", "-f", losslessDump, "-o", "json", "--keep-unknown-fields"}},
		{"lossless_cluster_yaml", []string{"pc", "cluster", "-f", losslessDump, "-o", "yaml", "--keep-unknown-fields"}},
		{"lossless_cluster_dropped_json", []string{"pc", "cluster", "-f", losslessDump, "-o", "json"}},
		{"lossless_listener", []string{"pc", "listener", "-f", losslessDump}},
		{"lossless_listener_nov", []string{"pc", "listener", "-f", losslessDump, "--verbose=false"}},
		{"lossless_listener_json", []string{"pc", "listener", "-f", losslessDump, "-o", "json", "--keep-unknown-fields"}},
		{"lossless_route", []string{"pc", "route", "-f", losslessDump}},
		{"lossless_route_json", []string{"pc", "route", "-f", losslessDump, "-o", "json", "--keep-unknown-fields"}},
		{"lossless_endpoint", []string{"pc", "endpoint", "-f", losslessDump}},
		{"lossless_endpoint_json", []string{"pc", "endpoint", "-f", losslessDump, "-o", "json", "--keep-unknown-fields"}},
		{"lossless_endpoint_address", []string{"pc", "endpoint", "-f", losslessDump, "--address", "10.1.0.5"}},
		{"lossless_endpoint_address_internal", []string{"pc", "endpoint", "-f", losslessDump, "--address", "envoy://connect_originate/10.1.0.6:8080"}},
		{"lossless_all_endpoint_address", []string{"pc", "all", "-f", losslessDump, "--address", "10.1.0.5:8080"}},
		{"lossless_secret", []string{"pc", "secret", "-f", losslessDump}},
		{"lossless_secret_json", []string{"pc", "secret", "-f", losslessDump, "-o", "json", "--keep-unknown-fields"}},
		{"lossless_ecds_json", []string{"pc", "ecds", "-f", losslessDump, "-o", "json", "--keep-unknown-fields"}},
		{"lossless_bootstrap", []string{"pc", "bootstrap", "-f", losslessDump, "--keep-unknown-fields"}},
		{"lossless_bootstrap_yaml", []string{"pc", "bootstrap", "-f", losslessDump, "-o", "yaml", "--keep-unknown-fields"}},
		{"lossless_all", []string{"pc", "all", "-f", losslessDump, "--with-headers"}},
		{"internal_clusters", []string{"pc", "endpoint", "-f", internalClusters}},
		{"internal_clusters_json", []string{"pc", "endpoint", "-f", internalClusters, "-o", "json"}},
		{"internal_clusters_address", []string{"pc", "endpoint", "-f", internalClusters, "--address", "envoy://connect_originate/192.168.195.248:800"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := run(t, "", tc.args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			ext := ".out"
			switch {
			case strings.HasSuffix(tc.name, "_json") || tc.name == "bootstrap":
				ext = ".json"
				if !json.Valid([]byte(out)) {
					t.Fatalf("output is not JSON:\n%.500s", out)
				}
			case strings.HasSuffix(tc.name, "_yaml"):
				ext = ".yaml"
			}
			testutil.Golden(t, "cli/"+tc.name+ext, []byte(out))
		})
	}
}

// TestUnknownTypesKept checks that typed configs of types this binary does not know come out
// of -o json with exactly the values they had in the dump, and are listed once on stderr.
func TestUnknownTypesKept(t *testing.T) {
	raw, err := os.ReadFile(unknownDump)
	if err != nil {
		t.Fatal(err)
	}
	var dump struct {
		Configs []map[string]any `json:"configs"`
	}
	if err := json.Unmarshal(raw, &dump); err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]any{} // type URL -> payload in the dump
	collectTyped(dump.Configs, want)
	cases := []struct {
		view  string
		types []string
	}{
		{"cluster", []string{"type.googleapis.com/example.transport.v1alpha.QuantumTunnel"}},
		{"listener", []string{"type.googleapis.com/example.http.v2.Audit", "type.googleapis.com/example.network.v3.RateGuard"}},
		{"bootstrap", []string{"type.googleapis.com/example.future.v9.BootstrapThing"}},
	}
	for _, tc := range cases {
		t.Run(tc.view, func(t *testing.T) {
			code, out, errOut := run(t, "", "pc", tc.view, "-f", unknownDump, "-o", "json")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			var v any
			if err := json.Unmarshal([]byte(out), &v); err != nil {
				t.Fatalf("output is not JSON: %v", err)
			}
			got := map[string]map[string]any{}
			collectTyped(v, got)
			for _, url := range tc.types {
				if !reflect.DeepEqual(got[url], want[url]) {
					t.Errorf("%s: got %v, want the dump's %v", url, got[url], want[url])
				}
				if !strings.Contains(errOut, url) {
					t.Errorf("stderr does not list %s: %q", url, errOut)
				}
			}
			if n := strings.Count(errOut, "\n"); n != 1 {
				t.Errorf("want one line on stderr, got %d: %q", n, errOut)
			}
			// --quiet silences the note, and the view still prints.
			code, out2, errOut := run(t, "", "pc", tc.view, "-f", unknownDump, "-o", "json", "--quiet")
			if code != 0 || errOut != "" || out2 != out {
				t.Errorf("--quiet: exit %d, stderr %q, same output %v", code, errOut, out2 == out)
			}
		})
	}
}

// collectTyped records every JSON object with an "@type" by its type URL.
func collectTyped(v any, into map[string]map[string]any) {
	switch v := v.(type) {
	case map[string]any:
		if url, ok := v["@type"].(string); ok {
			into[url] = v
		}
		for _, e := range v {
			collectTyped(e, into)
		}
	case []any:
		for _, e := range v {
			collectTyped(e, into)
		}
	case []map[string]any:
		for _, e := range v {
			collectTyped(e, into)
		}
	}
}

// TestRedactedBytesKept checks that Envoy's "[redacted]", which is not base64, is accepted and
// printed back unchanged.
func TestRedactedBytesKept(t *testing.T) {
	code, out, errOut := run(t, "", "pc", "secret", "-f", unknownDump, "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, `"inlineBytes": "[redacted]"`) {
		t.Errorf("the redacted private key is not printed back as it was:\n%s", out)
	}
}

// TestStdin reads the dump from stdin with -f -.
func TestStdin(t *testing.T) {
	raw, err := os.ReadFile(sampleDump)
	if err != nil {
		t.Fatal(err)
	}
	code, fromStdin, errOut := run(t, string(raw), "pc", "cluster", "-f", "-")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	_, fromFile, _ := run(t, "", "pc", "cluster", "-f", sampleDump)
	if fromStdin != fromFile || fromStdin == "" {
		t.Errorf("stdin and file outputs differ:\n%s\n---\n%s", fromStdin, fromFile)
	}
}
