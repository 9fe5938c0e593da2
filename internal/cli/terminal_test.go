package cli

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/proxyctl/proxyctl/internal/istiod/istiodtest"
	"github.com/proxyctl/proxyctl/internal/safetext"
)

// evil is what a hostile proxy, istiod or dump puts in a name: an escape sequence that clears
// the screen and sets the terminal's title, a bidirectional override, and a line break followed
// by a forged row.
const evil = "x\x1b[2J\x1b]0;owned\x07\u202e\r\nforged.default.svc.cluster.local\t9080\t-\toutbound\tEDS\t"

// rawControl returns the control characters of s a terminal would act on (C0 but tab and
// newline, DEL, C1), and, unless onlyControls, the bidirectional override too.
func rawControl(s string, onlyControls bool) []rune {
	var found []rune
	for _, r := range s {
		switch {
		case r < 0x20 && r != '\t' && r != '\n', r == 0x7f, r >= 0x80 && r <= 0x9f, r == 0x202e && !onlyControls:
			found = append(found, r)
		}
	}
	return found
}

// checkTerminalSafe fails when out or errOut has a character a terminal acts on, or when the
// forged row appears as a line of its own. YAML output keeps the bidirectional override: the
// YAML library writes it as it is, and it does not act on the terminal (see reliability.md).
func checkTerminalSafe(t *testing.T, out, errOut string, yaml bool) {
	t.Helper()
	if c := rawControl(out, yaml); len(c) > 0 {
		t.Errorf("stdout has %q:\n%s", c, out)
	}
	if c := rawControl(errOut, false); len(c) > 0 {
		t.Errorf("stderr has %q:\n%s", c, errOut)
	}
	for _, l := range strings.Split(out+errOut, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "forged") {
			t.Errorf("a forged line: %q", l)
		}
	}
}

// TestTerminalSafety: whatever a dump, a proxy or istiod puts in a name, an error body, a status
// reason or a /logging answer reaches the terminal escaped, in every table and every message.
func TestTerminalSafety(t *testing.T) {
	q := fmt.Sprintf("%q", evil) // as a JSON string: the escapes decode to the raw characters
	q = strings.ReplaceAll(q, `\x1b`, `\u001b`)
	q = strings.ReplaceAll(q, `\a`, `\u0007`)
	dump := `{"configs": [
  {"@type": "type.googleapis.com/envoy.admin.v3.BootstrapConfigDump", "bootstrap": {"node": {"id": ` + q + `, "metadata": {"ISTIO_VERSION": ` + q + `}}}},
  {"@type": "type.googleapis.com/envoy.admin.v3.ClustersConfigDump", "dynamic_active_clusters": [
    {"cluster": {"@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster", "name": ` + q + `, "type": "EDS"}},
    {"cluster": {"@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster", "name": "outbound|9080||` + strings.Trim(q, `"`) + `", "type": "EDS"}}]},
  {"@type": "type.googleapis.com/envoy.admin.v3.ListenersConfigDump", "dynamic_listeners": [{"name": ` + q + `, "active_state": {"listener": {
    "@type": "type.googleapis.com/envoy.config.listener.v3.Listener", "name": ` + q + `, "address": {"socket_address": {"address": ` + q + `, "port_value": 80}},
    "filter_chains": [{"filters": [{"name": "envoy.filters.network.tcp_proxy", "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy", "stat_prefix": "x", "cluster": ` + q + `}}]}]}}}]},
  {"@type": "type.googleapis.com/envoy.admin.v3.RoutesConfigDump", "dynamic_route_configs": [{"route_config": {"@type": "type.googleapis.com/envoy.config.route.v3.RouteConfiguration", "name": ` + q + `,
    "virtual_hosts": [{"name": ` + q + `, "domains": [` + q + `], "routes": [{"match": {"prefix": ` + q + `}, "route": {"cluster": ` + q + `}}]}]}}]},
  {"@type": "type.googleapis.com/envoy.admin.v3.SecretsConfigDump", "dynamic_active_secrets": [{"name": ` + q + `, "secret": {"@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret", "name": ` + q + `}}]},
  {"@type": "type.googleapis.com/envoy.admin.v3.EndpointsConfigDump", "dynamic_endpoint_configs": [{"endpoint_config": {"@type": "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment", "cluster_name": ` + q + `,
    "endpoints": [{"locality": {"region": ` + q + `}, "lb_endpoints": [{"endpoint": {"address": {"socket_address": {"address": ` + q + `, "port_value": 80}}}}]}]}}]},
  {"@type": "type.googleapis.com/envoy.admin.v3.EcdsConfigDump", "ecds_filters": [{"ecds_filter": {"@type": "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig", "name": ` + q + `, "typed_config": {"@type": "type.googleapis.com/x` + strings.Trim(q, `"`) + `"}}}]},
  {"@type": "type.googleapis.com/x` + strings.Trim(q, `"`) + `"}
]}`
	clusters := `{"cluster_statuses": [{"name": ` + q + `, "host_statuses": [{"address": {"socket_address": {"address": ` + q + `, "port_value": 80}}, "health_status": {"eds_health_status": "HEALTHY"}}]}]}`
	for _, view := range []string{"all", "cluster", "listener", "route", "secret", "endpoint", "ecds", "bootstrap"} {
		for _, format := range []string{"short", "json", "yaml", "name"} {
			if format == "name" && view == "bootstrap" {
				continue // one document: no names to list
			}
			t.Run(view+" "+format, func(t *testing.T) {
				code, out, errOut := run(t, dump, "pc", view, "-f", "-", "-o", format)
				if code != 0 {
					t.Fatalf("exit %d: %s", code, errOut)
				}
				checkTerminalSafe(t, out, errOut, format == "yaml")
				if format == "short" && view == "cluster" && strings.Count(out, "\n") != 3 {
					t.Errorf("want a header and two rows:\n%s", out)
				}
			})
		}
	}
	t.Run("endpoint /clusters", func(t *testing.T) {
		code, out, errOut := run(t, clusters, "pc", "endpoint", "-f", "-")
		if code != 0 || strings.Count(out, "\n") != 2 {
			t.Fatalf("exit %d: %s\n%s", code, errOut, out)
		}
		checkTerminalSafe(t, out, errOut, false)
	})

	// A proxy's and istiod's answers: error bodies, status reasons, /logging, the ps table.
	admin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/logging" {
			fmt.Fprintf(w, "active loggers:\n  %s: debug\n", evil)
			return
		}
		http.Error(w, evil, http.StatusInternalServerError)
	}))
	defer admin.Close()
	syncz := fmt.Sprintf(`[{"proxy": %[1]s, "cluster_id": %[1]s, "istio_version": %[1]s, "proxy_type": "sidecar"}]`, q)
	istiod := istiodtest.NewServer(t, istiodtest.Options{Syncz: []byte(syncz)})
	badIstiod := istiodtest.NewServer(t, istiodtest.Options{Raw: []byte(evil)})
	reason := statusLineServer(t, "500 "+evil)
	// pc log prints Envoy's answer, lines of text, as it came: a line break is the answer's, but
	// no control character reaches the terminal.
	_, out, errOut := run(t, "", "pc", "log", "--admin-url", admin.URL)
	if c := rawControl(out+errOut, false); len(c) > 0 || !strings.Contains(out, `x\x1b[2J`) {
		t.Errorf("pc log: %q in\n%s%s", c, out, errOut)
	}
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"an error body", []string{"pc", "cluster", "--admin-url", admin.URL}},
		{"a status reason", []string{"pc", "cluster", "--admin-url", reason}},
		{"the ps table", []string{"ps", "--istiod-url", istiod.URL}},
		{"the ps -v table", []string{"ps", "--istiod-url", istiod.URL, "-v", "1"}},
		{"an istiod that answers garbage", []string{"ps", "--istiod-url", istiod.URL, "--istiod-url", "bad=" + badIstiod.URL}},
		{"an istiod's status reason", []string{"ps", "--istiod-url", reason}},
		{"a proxy id in the ps diff", []string{"ps", "web.shop", "--istiod-url", reason, "--file", sampleDump}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, out, errOut := run(t, "", tc.args...)
			if out == "" && errOut == "" {
				t.Fatal("no output")
			}
			checkTerminalSafe(t, out, errOut, false)
			if strings.Contains(out+errOut, "\x1b") || !strings.Contains(out+errOut, safetext.Escape("\x1b[2J")) {
				t.Errorf("want the escape sequence shown escaped:\n%s\n%s", out, errOut)
			}
		})
	}
}

// statusLineServer serves every request with a raw status line of its own, reason included.
func statusLineServer(t *testing.T, status string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				r := bufio.NewReader(conn)
				if _, err := http.ReadRequest(r); err != nil {
					return
				}
				fmt.Fprintf(conn, "HTTP/1.1 %s\r\nContent-Length: 5\r\nConnection: close\r\n\r\nbody\n", strings.ReplaceAll(strings.ReplaceAll(status, "\r", ""), "\n", ""))
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}
