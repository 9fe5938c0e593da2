package cli

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/proxyctl/proxyctl/internal/istiod/istiodtest"
)

// secretsDump is a config dump holding secret material in the clear, in every place Envoy's
// API marks sensitive that a proxy commonly has: SDS secrets, inline TLS contexts of listeners
// and clusters, the bootstrap's static secrets, a generic secret, session ticket keys and a
// private key provider of a type this binary does not know, and a member this binary does not
// know under a sensitive field.
func secretsDump(t *testing.T) (path string, secrets []string) {
	t.Helper()
	secret := func(n int) string {
		return fmt.Sprintf("-----BEGIN PRIVATE KEY-----SECRET-%02d-----END PRIVATE KEY-----", n)
	}
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for i := 1; i <= 9; i++ {
		secrets = append(secrets, secret(i))
	}
	dump := fmt.Sprintf(`{"configs": [
  {"@type": "type.googleapis.com/envoy.admin.v3.BootstrapConfigDump", "bootstrap": {
    "node": {"id": "sidecar~10.0.0.1~web.shop~shop.svc.cluster.local"},
    "static_resources": {"secrets": [{"name": "static", "tls_certificate": {"private_key": {"inline_string": %q}, "password": {"inline_string": %q}}}]}}},
  {"@type": "type.googleapis.com/envoy.admin.v3.ClustersConfigDump", "dynamic_active_clusters": [{"cluster": {
    "@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster", "name": "outbound|443||db.shop.svc.cluster.local", "type": "EDS",
    "transport_socket": {"name": "tls", "typed_config": {"@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext", "common_tls_context": {"tls_certificates": [{"private_key": {"inline_bytes": %q}}]}}}}}]},
  {"@type": "type.googleapis.com/envoy.admin.v3.ListenersConfigDump", "dynamic_listeners": [{"name": "l", "active_state": {"listener": {
    "@type": "type.googleapis.com/envoy.config.listener.v3.Listener", "name": "0.0.0.0_443", "address": {"socket_address": {"address": "0.0.0.0", "port_value": 443}},
    "filter_chains": [{"transport_socket": {"name": "tls", "typed_config": {"@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
      "common_tls_context": {"tls_certificates": [{"private_key": {"inline_bytes": %q}}]},
      "session_ticket_keys": {"keys": [{"inline_bytes": %q}]}}},
      "filters": [{"name": "envoy.filters.network.tcp_proxy", "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy", "stat_prefix": "tls", "cluster": "outbound|443||db.shop.svc.cluster.local"}}]}]}}}]},
  {"@type": "type.googleapis.com/envoy.admin.v3.SecretsConfigDump", "dynamic_active_secrets": [
    {"name": "default", "secret": {"@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret", "name": "default",
      "tls_certificate": {"certificate_chain": {"inline_bytes": %q}, "private_key": {"inline_bytes": %q},
        "private_key_provider": {"provider_name": "hsm", "typed_config": {"@type": "type.googleapis.com/example.hsm.v1.Config", "pin": %q, "slot": 3}}}}},
    {"name": "token", "secret": {"@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret", "name": "token",
      "generic_secret": {"secret": {"inline_string": %q, "future_source": {"blob": %q}}}}}]}
]}`, secret(1), secret(2), b64(secret(3)), b64(secret(4)), b64(secret(5)), b64("not a secret either"), b64(secret(6)), secret(7), secret(8), secret(9))
	path = filepath.Join(t.TempDir(), "secrets.json")
	if err := os.WriteFile(path, []byte(dump), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, secrets
}

// TestNoSecretInOutput: no view, in no format, prints secret material, and what is redacted
// shows as Envoy shows it ("[redacted]", or its base64 in bytes fields).
func TestNoSecretInOutput(t *testing.T) {
	path, secrets := secretsDump(t)
	leaks := func(out string) []string {
		var found []string
		for _, s := range secrets {
			for _, form := range []string{s, base64.StdEncoding.EncodeToString([]byte(s)), "SECRET-" + s[len("-----BEGIN PRIVATE KEY-----SECRET-"):][:2]} {
				if strings.Contains(out, form) {
					found = append(found, form)
				}
			}
		}
		return found
	}
	for _, view := range []string{"all", "cluster", "listener", "secret", "bootstrap"} {
		for _, format := range []string{"short", "json", "yaml"} {
			t.Run(view+" "+format, func(t *testing.T) {
				code, out, errOut := run(t, "", "pc", view, "-f", path, "-o", format, "--quiet")
				if code != 0 {
					t.Fatalf("exit %d: %s", code, errOut)
				}
				if l := leaks(out); len(l) > 0 {
					t.Errorf("secret material printed: %v", l)
				}
				if format != "short" && view != "cluster" && view != "listener" && !strings.Contains(out, "[redacted]") && !strings.Contains(out, redactedB64) {
					t.Errorf("no [redacted] in the output:\n%s", out)
				}
			})
		}
	}
	// proxy-status diffs print both sides whole: istiod's holds the secrets here.
	dump, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	srv := istiodtest.NewServer(t, istiodtest.Options{ConfigDumps: map[string][]byte{"web.shop": dump}})
	code, out, errOut := run(t, "", "ps", "web.shop", "--file", sampleDump, "--istiod-url", srv.URL)
	if code != 0 || !strings.Contains(out, "Clusters Don't Match") || !strings.Contains(out, `"inlineBytes": "`+redactedB64+`"`) {
		t.Errorf("ps diff: exit %d, %s\n%s", code, errOut, out)
	}
	if l := leaks(out); len(l) > 0 {
		t.Errorf("ps diff: secret material printed: %v", l)
	}
	// What is not secret is still there.
	_, out, _ = run(t, "", "pc", "secret", "-f", path, "-o", "json")
	if !strings.Contains(out, base64.StdEncoding.EncodeToString([]byte("not a secret either"))) || !strings.Contains(out, `"slot": 3`) {
		t.Errorf("non-secret values are gone:\n%s", out)
	}
	_, out, _ = run(t, "", "pc", "all", "-f", path, "-o", "json")
	if !strings.Contains(out, `"certificate_chain": {"inline_bytes": "`+base64.StdEncoding.EncodeToString([]byte("not a secret either"))+`"}`) ||
		!strings.Contains(out, `"pin": "[redacted]", "slot": 3}`) {
		t.Errorf("all -o json did not keep the dump as it is but for its secrets:\n%s", out)
	}
}

var redactedB64 = base64.StdEncoding.EncodeToString([]byte("[redacted]"))
