package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWrongTypeSameError: a value of the wrong JSON type, at the top of a resource or deep in
// one of its typed configs, fails every view that prints it with the same one-line error in
// every output format, naming the field's path and its line and column.
func TestWrongTypeSameError(t *testing.T) {
	cases := []struct {
		name  string
		views []string
		path  []any // into the lossless fixture
		value any
		want  string
	}{
		{"duration", []string{"cluster", "all"}, []any{"configs", 1, "dynamic_active_clusters", 0, "cluster", "connect_timeout"}, 5,
			`clusters section: dynamic_active_clusters[0].cluster.connect_timeout (line 1, column `},
		{"in a list", []string{"cluster", "all"}, []any{"configs", 1, "dynamic_active_clusters", 0, "cluster", "circuit_breakers", "thresholds", 0, "max_connections"}, "many",
			`clusters section: dynamic_active_clusters[0].cluster.circuit_breakers.thresholds[0].max_connections (line 1, column `},
		{"in a typed config", []string{"cluster", "all"}, []any{"configs", 1, "dynamic_active_clusters", 0, "cluster", "transport_socket", "typed_config", "common_tls_context", "alpn_protocols"}, "istio",
			`clusters section: dynamic_active_clusters[0].cluster.transport_socket.typed_config.common_tls_context.alpn_protocols (line 1, column `},
		{"in a v2 resource", []string{"cluster", "all"}, []any{"configs", 1, "static_clusters", 0, "cluster", "name"}, []any{"legacy"},
			`clusters section: static_clusters[0].cluster.name (line 1, column `},
		{"listener", []string{"listener", "all"}, []any{"configs", 2, "dynamic_listeners", 0, "active_state", "listener", "filter_chains", 0, "filters", 1, "typed_config", "stat_prefix"}, 8080,
			`listeners section: dynamic_listeners[0].active_state.listener.filter_chains[0].filters[1].typed_config.stat_prefix (line 1, column `},
		{"listener filter config", []string{"listener", "all"}, []any{"configs", 2, "dynamic_listeners", 0, "active_state", "listener", "filter_chains", 0, "filters", 1, "typed_config", "http_filters", 0, "name"}, true,
			`listeners section: dynamic_listeners[0].active_state.listener.filter_chains[0].filters[1].typed_config.http_filters[0].name (line 1, column `},
		{"route", []string{"route", "all"}, []any{"configs", 3, "dynamic_route_configs", 0, "route_config", "virtual_hosts", 0, "routes", 0, "route", "timeout"}, 0,
			`routes section: dynamic_route_configs[0].route_config.virtual_hosts[0].routes[0].route.timeout (line 1, column `},
		{"secret", []string{"secret", "all"}, []any{"configs", 4, "dynamic_active_secrets", 1, "secret", "validation_context", "trusted_ca"}, "pem",
			`secrets section: dynamic_active_secrets[1].secret.validation_context.trusted_ca (line 1, column `},
		{"endpoint", []string{"endpoint", "all"}, []any{"configs", 5, "dynamic_endpoint_configs", 0, "endpoint_config", "endpoints", 0, "lb_endpoints", 0, "endpoint", "address", "socket_address", "port_value"}, -1,
			`endpoints section: dynamic_endpoint_configs[0].endpoint_config.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value (line 1, column `},
		{"ecds", []string{"ecds", "all"}, []any{"configs", 6, "ecds_filters", 0, "ecds_filter", "typed_config", "config", "vm_config", "runtime"}, 8,
			`ecds section: ecds_filters[0].ecds_filter.typed_config.config.vm_config.runtime (line 1, column `},
		{"bootstrap", []string{"bootstrap", "all"}, []any{"configs", 0, "bootstrap", "static_resources", "clusters", 0, "transport_socket", "typed_config", "sni"}, 1,
			`bootstrap section: bootstrap.static_resources.clusters[0].transport_socket.typed_config.sni (line 1, column `},
	}
	raw, err := os.ReadFile(losslessDump)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, tc := range cases {
		var doc any
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatal(err)
		}
		set(t, doc, tc.path, tc.value)
		data, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(dir, tc.name+".json")
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, view := range tc.views {
			t.Run(tc.name+"/"+view, func(t *testing.T) {
				var first string
				for _, format := range []string{"short", "json", "yaml"} {
					code, out, errOut := run(t, "", "pc", view, "-f", file, "-o", format)
					if code != ExitRuntime || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, tc.want) || !strings.Contains(errOut, "): want ") {
						t.Fatalf("-o %s: exit %d, stdout %.200q, stderr %q; want exit 1 and %q", format, code, out, errOut, tc.want)
					}
					if first == "" {
						first = errOut
					} else if errOut != first {
						t.Errorf("-o %s: %q, but -o short said %q", format, errOut, first)
					}
				}
			})
		}
	}
}

// set replaces the value at path (keys and indexes) in a decoded JSON document.
func set(t *testing.T, doc any, path []any, value any) {
	t.Helper()
	for i, p := range path {
		last := i == len(path)-1
		switch k := p.(type) {
		case string:
			m, ok := doc.(map[string]any)
			if !ok {
				t.Fatalf("%v: not an object at %v", path, p)
			}
			if last {
				if _, ok := m[k]; !ok {
					t.Fatalf("%v: no member %s", path, k)
				}
				m[k] = value
				return
			}
			doc = m[k]
		case int:
			l, ok := doc.([]any)
			if !ok || k >= len(l) {
				t.Fatalf("%v: no element %d", path, k)
			}
			if last {
				l[k] = value
				return
			}
			doc = l[k]
		}
	}
}
