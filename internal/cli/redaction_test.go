package cli

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/proxyctl/proxyctl/configdump"
	"github.com/proxyctl/proxyctl/internal/envoytest"
	"github.com/proxyctl/proxyctl/internal/istiod/istiodtest"
	"github.com/proxyctl/proxyctl/internal/testutil"
)

// docRow is a row of docs/redaction.md: its ID and its cells.
type docRow struct {
	id    string
	cells []string
}

// redactionDocRows reads the rows of docs/redaction.md's tables.
func redactionDocRows(t *testing.T) []docRow {
	t.Helper()
	doc, err := os.ReadFile(testutil.Path("docs", "redaction.md"))
	if err != nil {
		t.Fatal(err)
	}
	var rows []docRow
	re := regexp.MustCompile(`^\| ([A-Z]\d+) \|(.*)\|$`)
	for _, line := range strings.Split(string(doc), "\n") {
		m := re.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		var cells []string
		for _, c := range strings.Split(m[2], " | ") {
			cells = append(cells, strings.TrimSpace(c))
		}
		rows = append(rows, docRow{m[1], cells})
	}
	return rows
}

// redactionDump is a config dump with a listener whose filters are the given typed configs,
// with the rest of the dump given.
func redactionDump(t *testing.T, filters []string, more ...string) string {
	t.Helper()
	var fs []string
	for i, f := range filters {
		fs = append(fs, fmt.Sprintf(`{"name": "f%d", "typed_config": %s}`, i, f))
	}
	configs := append([]string{`{"@type": "type.googleapis.com/envoy.admin.v3.ListenersConfigDump", "dynamic_listeners": [{"name": "l", "active_state": {"listener": {
    "@type": "type.googleapis.com/envoy.config.listener.v3.Listener", "name": "0.0.0.0_443", "address": {"socket_address": {"address": "0.0.0.0", "port_value": 443}},
    "filter_chains": [{"filters": [` + strings.Join(fs, ",\n") + `]}]}}}]}`}, more...)
	dump := `{"configs": [` + strings.Join(configs, ",\n") + `]}`
	if !json.Valid([]byte(dump)) {
		t.Fatalf("invalid test dump:\n%s", dump)
	}
	return dump
}

// secretValue is a JSON value for field fd holding marker as secret material, as a dump would.
func secretValue(fd protoreflect.FieldDescriptor, marker string) string {
	single := func(fd protoreflect.FieldDescriptor) string {
		switch fd.Kind() {
		case protoreflect.StringKind:
			return fmt.Sprintf("%q", marker)
		case protoreflect.BytesKind:
			return fmt.Sprintf("%q", base64.StdEncoding.EncodeToString([]byte(marker)))
		}
		md := fd.Message()
		switch md.FullName() {
		case "google.protobuf.Any":
			return fmt.Sprintf(`{"@type": "type.googleapis.com/example.hsm.v1.Config", "pin": %q, "slot": 3}`, marker)
		case "google.protobuf.Struct":
			return fmt.Sprintf(`{"pin": %q}`, marker)
		}
		if f := md.Fields().ByName("inline_string"); f != nil {
			return fmt.Sprintf(`{"inline_string": %q}`, marker)
		}
		for i := 0; i < md.Fields().Len(); i++ {
			if f := md.Fields().Get(i); f.Kind() == protoreflect.StringKind && !f.IsList() && !f.IsMap() {
				return fmt.Sprintf(`{%q: %q}`, f.Name(), marker)
			}
		}
		return "{}"
	}
	switch {
	case fd.IsMap():
		return fmt.Sprintf(`{"k": %s}`, single(fd.MapValue()))
	case fd.IsList():
		return "[" + single(fd) + "]"
	}
	return single(fd)
}

// leaked returns the markers found in out, as they are or in base64.
func leaked(out string, markers []string) []string {
	var found []string
	for _, m := range markers {
		if strings.Contains(out, m) || strings.Contains(out, base64.StdEncoding.EncodeToString([]byte(m))) {
			found = append(found, m)
		}
	}
	return found
}

// redactionCheck runs views on a dump and fails when a marker shows, or when a kept value does
// not; want, when set, must show in every output.
type redactionCheck struct {
	dump          string
	views         [][]string // proxyctl arguments before -f -
	markers, kept []string
	want          string
}

func (c redactionCheck) run(t *testing.T) {
	t.Helper()
	views := c.views
	if views == nil {
		views = [][]string{{"pc", "all", "-o", "json"}, {"pc", "all", "-o", "yaml"}, {"pc", "listener", "-o", "json"}, {"pc", "listener", "-o", "yaml"}}
	}
	for _, v := range views {
		code, out, errOut := run(t, c.dump, append(append([]string{}, v...), "-f", "-", "--quiet")...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", v, code, errOut)
		}
		if l := leaked(out+errOut, c.markers); len(l) > 0 {
			t.Errorf("%v prints %v:\n%.3000s", v, l, out)
		}
		for _, k := range c.kept {
			if !strings.Contains(out, k) {
				t.Errorf("%v lost %q:\n%.3000s", v, k, out)
			}
		}
		if c.want != "" && !strings.Contains(out, c.want) {
			t.Errorf("%v: no %q in\n%.3000s", v, c.want, out)
		}
	}
}

const tlsSecret = "-----BEGIN PRIVATE KEY-----MARKER-%s-----END PRIVATE KEY-----"

func tlsContext(marker string) string {
	return fmt.Sprintf(`{"common_tls_context": {"tls_certificates": [{"certificate_chain": {"inline_string": "PUBLIC-CERT"}, "private_key": {"inline_string": %q}}]}}`, marker)
}

// TestRedactionDoc checks docs/redaction.md row by row: every row has a case here and every
// case a row; the sensitive fields it lists are those of the API's descriptors, no more, no less.
func TestRedactionDoc(t *testing.T) {
	rows := redactionDocRows(t)
	cases := map[string]func(t *testing.T, row docRow){}

	// F: the sensitive fields, each redacted in every view of typed configs and in the raw dump.
	sensitive := map[string][]string{}
	for _, f := range configdump.SensitiveFields() {
		sensitive[string(f.Message)] = append(sensitive[string(f.Message)], f.Field)
	}
	listed := map[string]bool{}
	for _, r := range rows {
		if !strings.HasPrefix(r.id, "F") {
			continue
		}
		msg := strings.Trim(r.cells[0], "`")
		listed[msg] = true
		cases[r.id] = func(t *testing.T, r docRow) {
			var fields []string
			for _, f := range strings.Split(r.cells[1], ", ") {
				fields = append(fields, strings.Trim(f, "`"))
			}
			if want := sensitive[msg]; !slices.Equal(fields, want) {
				t.Fatalf("%s: the doc lists %v, the API marks %v", msg, fields, want)
			}
			md := configdump.MessageDescriptor(protoreflect.FullName(msg))
			if md == nil {
				t.Fatalf("%s: unknown message", msg)
			}
			var filters, markers []string
			for _, f := range fields {
				fd := md.Fields().ByName(protoreflect.Name(f))
				marker := fmt.Sprintf("SECRET-%s-%s", r.id, f)
				markers = append(markers, marker)
				filters = append(filters, fmt.Sprintf(`{"@type": "type.googleapis.com/%s", %q: %s}`, msg, f, secretValue(fd, marker)))
			}
			redactionCheck{dump: redactionDump(t, filters), markers: markers}.run(t)
		}
	}
	for msg := range sensitive {
		if !listed[msg] {
			t.Errorf("docs/redaction.md does not list %s (fields %v), which the API marks sensitive", msg, sensitive[msg])
		}
	}

	key := func(id string) string { return fmt.Sprintf(tlsSecret, id) }
	cases["H1"] = func(t *testing.T, _ docRow) {
		b64 := base64.StdEncoding.EncodeToString([]byte(key("H1")))
		f := fmt.Sprintf(`{"@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.TlsCertificate", "private_key": {"inline_bytes": %q}}`, b64)
		redactionCheck{dump: redactionDump(t, []string{f}), markers: []string{key("H1")}, want: "W3JlZGFjdGVkXQ=="}.run(t)
	}
	cases["H2"] = func(t *testing.T, _ docRow) {
		f := fmt.Sprintf(`{"@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.TlsCertificate", "private_key": {"filename": %q}, "password": {"inline_string": %q}}`, key("H2a"), key("H2b"))
		redactionCheck{dump: redactionDump(t, []string{f}), markers: []string{key("H2a"), key("H2b")}, want: "[redacted]"}.run(t)
	}
	cases["H3"] = func(t *testing.T, _ docRow) {
		f := `{"@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.TlsCertificate", "private_key": {"inline_bytes": "W3JlZGFjdGVkXQ=="}, "password": {"inline_string": "[redacted]"}}`
		redactionCheck{dump: redactionDump(t, []string{f}), views: [][]string{{"pc", "all", "-o", "json"}}, kept: []string{`"inline_bytes": "W3JlZGFjdGVkXQ=="`, `"inline_string": "[redacted]"`}}.run(t)
	}
	cases["H4"] = func(t *testing.T, _ docRow) {
		f := `{"@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.TlsCertificate", "private_key": {"inline_string": ""}}`
		redactionCheck{dump: redactionDump(t, []string{f}), views: [][]string{{"pc", "all", "-o", "json"}}, kept: []string{`"inline_string": ""`}}.run(t)
	}

	secretsPath, secrets := secretsDump(t)
	secretsDoc, err := os.ReadFile(secretsPath)
	if err != nil {
		t.Fatal(err)
	}
	cases["W1"] = func(t *testing.T, _ docRow) {
		var views [][]string
		for _, v := range []string{"cluster", "listener", "route", "bootstrap", "secret", "ecds"} {
			for _, o := range []string{"json", "yaml"} {
				views = append(views, []string{"pc", v, "-o", o})
			}
		}
		ecds := `{"@type": "type.googleapis.com/envoy.admin.v3.EcdsConfigDump", "ecds_filters": [{"ecds_filter": {"@type": "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig", "name": "e", "typed_config": ` +
			fmt.Sprintf(`{"@type": "type.googleapis.com/envoy.extensions.filters.http.basic_auth.v3.BasicAuth", "users": {"inline_string": %q}}`, key("W1e")) + `}}]}`
		routes := `{"@type": "type.googleapis.com/envoy.admin.v3.RoutesConfigDump", "dynamic_route_configs": [{"route_config": {"@type": "type.googleapis.com/envoy.config.route.v3.RouteConfiguration", "name": "r",
    "typed_per_filter_config": {"envoy.filters.http.basic_auth": ` + fmt.Sprintf(`{"@type": "type.googleapis.com/envoy.extensions.filters.http.basic_auth.v3.BasicAuthPerRoute", "users": {"inline_string": %q}}`, key("W1r")) + `}}}]}`
		eds := `{"@type": "type.googleapis.com/envoy.admin.v3.EndpointsConfigDump", "dynamic_endpoint_configs": [{"endpoint_config": {"@type": "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment", "cluster_name": "c",
    "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {"socket_address": {"address": "10.0.0.1", "port_value": 80}}}, "metadata": {"filter_metadata": {"x": {"k": "KEPT-EDS"}}}}]}]}}]}`
		dump := strings.Replace(string(secretsDoc), `{"configs": [`, `{"configs": [`+ecds+",\n"+routes+",\n"+eds+",\n", 1)
		redactionCheck{dump: dump, views: views, markers: append(secrets, key("W1e"), key("W1r"))}.run(t)
		// Endpoints: the EDS section and /clusters hold no sensitive field, but views still go
		// through the encoder: nothing else is lost.
		redactionCheck{dump: dump, views: [][]string{{"pc", "endpoint", "-o", "json"}, {"pc", "endpoint", "-o", "yaml"}}, markers: secrets, kept: []string{"KEPT-EDS"}}.run(t)
	}
	cases["W2"] = func(t *testing.T, _ docRow) {
		_, out, _ := run(t, string(secretsDoc), "pc", "all", "-f", "-", "-o", "json")
		var got, want any
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatal(err)
		}
		json.Unmarshal(secretsDoc, &want)
		redactionCheck{dump: string(secretsDoc), views: [][]string{{"pc", "all", "-o", "json"}, {"pc", "all", "-o", "yaml"}}, markers: secrets,
			kept: []string{base64.StdEncoding.EncodeToString([]byte("not a secret either"))}}.run(t)
		if !strings.Contains(out, `"certificate_chain": {"inline_bytes": "`+base64.StdEncoding.EncodeToString([]byte("not a secret either"))+`"}`) {
			t.Errorf("pc all -o json does not keep the dump's bytes:\n%s", out)
		}
		// Byte for byte but for the secrets: the same number of lines, the same keys.
		if strings.Count(out, "\n") != strings.Count(string(secretsDoc), "\n")+1 && strings.Count(out, "\n") != strings.Count(string(secretsDoc), "\n") {
			t.Errorf("pc all -o json does not keep the dump's layout:\n%s", out)
		}
	}
	cases["W3"] = func(t *testing.T, _ docRow) {
		typed := redactionDump(t, []string{fmt.Sprintf(`{"@type": "type.googleapis.com/xds.type.v3.TypedStruct", "type_url": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext", "value": %s}`, tlsContext(key("W3")))})
		for name, side := range map[string]string{"istiod's side": "istiod", "Envoy's side": "envoy"} {
			istiodDump, envoyDump := []byte(typed), string(secretsDoc)
			if side == "envoy" {
				istiodDump, envoyDump = secretsDoc, typed
			}
			path := filepath.Join(t.TempDir(), "envoy.json")
			if err := os.WriteFile(path, []byte(envoyDump), 0o644); err != nil {
				t.Fatal(err)
			}
			srv := istiodtest.NewServer(t, istiodtest.Options{ConfigDumps: map[string][]byte{"web.shop": istiodDump}})
			code, out, errOut := run(t, "", "ps", "web.shop", "--file", path, "--istiod-url", srv.URL)
			if code != 0 || !strings.Contains(out, "Don't Match") {
				t.Fatalf("%s: exit %d %s\n%s", name, code, errOut, out)
			}
			if l := leaked(out, append(secrets, key("W3"))); len(l) > 0 {
				t.Errorf("%s: the diff prints %v", name, l)
			}
		}
	}
	cases["W4"] = func(t *testing.T, _ docRow) {
		f := `{"@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext", ` + strings.TrimPrefix(tlsContext(key("W4")), "{")
		redactionCheck{dump: redactionDump(t, []string{f}), markers: []string{key("W4")}, kept: []string{"PUBLIC-CERT"}}.run(t)
	}
	cases["W5"] = func(t *testing.T, _ docRow) {
		var filters []string
		for _, ts := range []string{"xds.type.v3.TypedStruct", "udpa.type.v1.TypedStruct"} {
			filters = append(filters, fmt.Sprintf(`{"@type": "type.googleapis.com/%s", "type_url": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext", "value": %s}`, ts, tlsContext(key("W5-"+ts))))
		}
		cluster := `{"@type": "type.googleapis.com/envoy.admin.v3.ClustersConfigDump", "dynamic_active_clusters": [{"cluster": {"@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster", "name": "c",
    "transport_socket": {"name": "tls", "typed_config": {"@type": "type.googleapis.com/xds.type.v3.TypedStruct", "type_url": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext", "value": ` + tlsContext(key("W5c")) + `}}}}]}`
		views := [][]string{{"pc", "all", "-o", "json"}, {"pc", "all", "-o", "yaml"}, {"pc", "listener", "-o", "json"}, {"pc", "listener", "-o", "yaml"}, {"pc", "cluster", "-o", "json"}, {"pc", "cluster", "-o", "yaml"}}
		redactionCheck{dump: redactionDump(t, filters, cluster), views: views, markers: []string{key("W5-xds.type.v3.TypedStruct"), key("W5-udpa.type.v1.TypedStruct"), key("W5c")}, kept: []string{"PUBLIC-CERT"}}.run(t)
	}
	secretsSection := func(entries ...string) string {
		return `{"@type": "type.googleapis.com/envoy.admin.v3.SecretsConfigDump", "dynamic_active_secrets": [` + strings.Join(entries, ",\n") + `]}`
	}
	secretViews := [][]string{{"pc", "all", "-o", "json"}, {"pc", "all", "-o", "yaml"}, {"pc", "secret", "-o", "json"}, {"pc", "secret", "-o", "yaml"}, {"pc", "all"}, {"pc", "secret"}}
	cases["W6"] = func(t *testing.T, _ docRow) {
		s := secretsSection(fmt.Sprintf(`{"name": "b", "secret": {"name": "b", "tls_certificate": {"private_key": {"inline_string": %q}}}}`, key("W6")))
		redactionCheck{dump: redactionDump(t, nil, s), views: secretViews, markers: []string{key("W6")}}.run(t)
	}
	cases["W7"] = func(t *testing.T, _ docRow) {
		s := secretsSection(
			fmt.Sprintf(`{"name": "c", "secret": {"@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster", "name": "c", "tls_certificate": {"private_key": {"inline_string": %q}}}}`, key("W7s")))
		f := `{"@type": "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy", "stat_prefix": "x", ` + strings.TrimPrefix(tlsContext(key("W7f")), "{")
		redactionCheck{dump: redactionDump(t, []string{f}, s), views: secretViews, markers: []string{key("W7s"), key("W7f")}}.run(t)
	}
	cases["W8"] = func(t *testing.T, _ docRow) {
		s := secretsSection(
			fmt.Sprintf(`{"name": "d", "secret": {"@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster", "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret", "name": "d", "tls_certificate": {"private_key": {"inline_string": %q}}}}`, key("W8a")),
			fmt.Sprintf(`{"name": "e", "secret": {"@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret", "@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster", "name": "e", "tls_certificate": {"private_key": {"inline_string": %q}}}}`, key("W8b")))
		f := `{"@type": "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy", "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext", ` + strings.TrimPrefix(tlsContext(key("W8f")), "{")
		redactionCheck{dump: redactionDump(t, []string{f}, s), views: append(secretViews, []string{"pc", "listener", "-o", "json"}), markers: []string{key("W8a"), key("W8b"), key("W8f")}}.run(t)
	}
	cases["W9"] = func(t *testing.T, _ docRow) {
		unknown := `{"@type": "type.googleapis.com/example.tls.v1.Context", ` + strings.TrimPrefix(tlsContext(key("W9u")), "{")
		newer := `{"@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext", "future_field": {"nested": {"password": "` + key("W9n") + `", "filename": "/etc/keep/me.pem"}}}`
		dump := redactionDump(t, []string{unknown, newer})
		redactionCheck{dump: dump, markers: []string{key("W9u"), key("W9n")}, kept: []string{"PUBLIC-CERT"}}.run(t)
		// The views decode a known type, and drop the key it lacks; the raw dump keeps it.
		redactionCheck{dump: dump, views: [][]string{{"pc", "all", "-o", "json"}, {"pc", "all", "-o", "yaml"}}, markers: []string{key("W9u"), key("W9n")}, kept: []string{"/etc/keep/me.pem"}}.run(t)
	}
	cases["W10"] = func(t *testing.T, _ docRow) {
		f := fmt.Sprintf(`{"@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.TlsCertificate", "private_key_provider": {"provider_name": "hsm", "typed_config": {"@type": "type.googleapis.com/example.hsm.v1.Config", "pin": %q, "label": %q, "slot": 3}}}`, key("W10a"), key("W10b"))
		redactionCheck{dump: redactionDump(t, []string{f}), markers: []string{key("W10a"), key("W10b")}, kept: []string{"example.hsm.v1.Config", "3"}}.run(t)
	}
	cases["W11"] = func(t *testing.T, _ docRow) {
		closed := istiodtest.ClosedURL(t)
		withPassword := strings.Replace(closed, "http://", "http://admin:s3cret-W11@", 1)
		stall := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
		defer stall.Close()
		stalling := strings.Replace(stall.URL, "http://", "http://admin:s3cret-W11@", 1)
		for _, tc := range []struct {
			args []string
			// named: the message names the URL (with xxxxx for its password)
			named bool
		}{
			{[]string{"pc", "cluster", "--admin-url", withPassword}, false},
			{[]string{"pc", "cluster", "--admin-url", withPassword + "?x=1"}, true},
			{[]string{"pc", "cluster", "--admin-url", withPassword + "#top"}, true},
			{[]string{"pc", "cluster", "--admin-url", "admin:s3cret-W11@envoy:15000"}, false},
			{[]string{"pc", "cluster", "--admin-url", "admin:s3cret-W11@envoy:15000?x"}, true},
			{[]string{"pc", "cluster", "--admin-url", stalling, "--timeout", "200ms"}, true},
			{[]string{"pc", "log", "--admin-url", withPassword}, false},
			{[]string{"pc", "log", "--admin-url", stalling, "--timeout", "200ms"}, true},
			{[]string{"ps", "--istiod-url", withPassword}, false},
			{[]string{"ps", "--istiod-url", "admin:s3cret-W11@host:15014?x"}, true},
			{[]string{"ps", "--istiod-url", stalling, "--timeout", "200ms"}, false},
			{[]string{"ps", "web.shop", "--istiod-url", withPassword, "--file", sampleDump}, false},
		} {
			code, out, errOut := run(t, "", tc.args...)
			if code == 0 || strings.Contains(out+errOut, "s3cret") || tc.named && !strings.Contains(errOut, "admin:xxxxx@") {
				t.Errorf("%v: exit %d, stderr %q; want the password never, xxxxx where the URL is named", tc.args, code, errOut)
			}
		}
	}
	cases["W12"] = func(t *testing.T, _ docRow) {
		redactionCheck{dump: string(secretsDoc), views: [][]string{{"pc", "secret"}, {"pc", "all"}, {"pc", "cluster"}, {"pc", "listener"}, {"pc", "bootstrap", "-o", "short"}}, markers: secrets}.run(t)
	}
	cases["W13"] = func(t *testing.T, _ docRow) {
		// A proxy whose config dump holds secrets of every kind above, TypedStruct and wrong
		// @types included, captured into a bundle: no byte of the bundle holds one.
		var doc struct{ Configs []json.RawMessage }
		if err := json.Unmarshal(secretsDoc, &doc); err != nil {
			t.Fatal(err)
		}
		var others []string
		for _, c := range doc.Configs {
			if !bytes.Contains(c, []byte("ListenersConfigDump")) {
				others = append(others, string(c))
			}
		}
		hostile := redactionDump(t, []string{
			fmt.Sprintf(`{"@type": "type.googleapis.com/xds.type.v3.TypedStruct", "type_url": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext", "value": %s}`, tlsContext(key("W13t"))),
			`{"@type": "type.googleapis.com/example.tls.v1.Context", ` + strings.TrimPrefix(tlsContext(key("W13u")), "{"),
		}, others...)
		admin, err := envoytest.NewAdmin([]byte(hostile), mustRead(t, sampleClusters))
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(admin)
		defer srv.Close()
		path, code, _, errOut := capture(t, "--admin-url", srv.URL)
		if code != 0 {
			t.Fatalf("capture: exit %d %s", code, errOut)
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		plain, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		markers := append(append([]string{}, secrets...), key("W13t"), key("W13u"))
		if l := leaked(string(plain), markers); len(l) > 0 {
			t.Errorf("the bundle holds %v", l)
		}
		if !bytes.Contains(plain, []byte("[redacted]")) {
			t.Error("nothing redacted in the bundle")
		}
		// And the views read from it print none either.
		for _, v := range [][]string{{"pc", "all", "-o", "json"}, {"pc", "listener", "-o", "yaml"}, {"pc", "secret", "-o", "json"}} {
			code, out, errOut := run(t, "", append(v, "-f", path)...)
			if code != 0 || len(leaked(out, markers)) > 0 {
				t.Errorf("%v on the bundle: exit %d %s, leaks %v", v, code, errOut, leaked(out, markers))
			}
		}
	}
	cases["N1"] = func(t *testing.T, _ docRow) {
		routes := `{"@type": "type.googleapis.com/envoy.admin.v3.RoutesConfigDump", "dynamic_route_configs": [{"route_config": {"@type": "type.googleapis.com/envoy.config.route.v3.RouteConfiguration", "name": "r",
    "request_headers_to_add": [{"header": {"key": "authorization", "value": "Bearer KEPT-TOKEN"}}]}}]}`
		redactionCheck{dump: redactionDump(t, nil, routes), views: [][]string{{"pc", "all", "-o", "json"}, {"pc", "route", "-o", "json"}}, kept: []string{"Bearer KEPT-TOKEN"}}.run(t)
	}
	cases["N2"] = func(t *testing.T, _ docRow) {
		f := `{"@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext", "common_tls_context": {"validation_context": {"trusted_ca": {"inline_string": "PUBLIC-CA"}}, "tls_certificates": [{"certificate_chain": {"inline_string": "PUBLIC-CERT"}}]}}`
		redactionCheck{dump: redactionDump(t, []string{f}), kept: []string{"PUBLIC-CA", "PUBLIC-CERT"}}.run(t)
	}
	cases["N3"] = func(t *testing.T, _ docRow) {
		cluster := `{"@type": "type.googleapis.com/envoy.admin.v3.ClustersConfigDump", "dynamic_active_clusters": [{"cluster": {"@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster", "name": "c",
    "metadata": {"filter_metadata": {"app": {"password": "KEPT-METADATA"}}}}}]}`
		redactionCheck{dump: redactionDump(t, nil, cluster), views: [][]string{{"pc", "all", "-o", "json"}, {"pc", "cluster", "-o", "json"}}, kept: []string{"KEPT-METADATA"}}.run(t)
	}
	cases["N4"] = func(t *testing.T, _ docRow) {
		f := `{"@type": "type.googleapis.com/example.tls.v1.Context", "private_key": {"filename": "/etc/certs/KEPT-key.pem", "inline_string": "` + key("N4") + `"}}`
		redactionCheck{dump: redactionDump(t, []string{f}), markers: []string{key("N4")}, kept: []string{"/etc/certs/KEPT-key.pem"}}.run(t)
	}
	cases["N5"] = func(t *testing.T, _ docRow) {
		f := `{"@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.TlsCertificate", "private_key_provider": {"provider_name": "hsm", "typed_config": {"@type": "type.googleapis.com/example.hsm.v1.Config", "slot": 31337, "fips": true}}}`
		redactionCheck{dump: redactionDump(t, []string{f}), kept: []string{"31337", "true"}}.run(t)
	}

	var ids []string
	for _, r := range rows {
		ids = append(ids, r.id)
		tc, ok := cases[r.id]
		if !ok {
			t.Errorf("docs/redaction.md row %s has no case in TestRedactionDoc", r.id)
			continue
		}
		t.Run(r.id, func(t *testing.T) { tc(t, r) })
	}
	var extra []string
	for id := range cases {
		if !slices.Contains(ids, id) {
			extra = append(extra, id)
		}
	}
	sort.Strings(extra)
	if len(extra) > 0 {
		t.Errorf("cases without a row in docs/redaction.md: %v", extra)
	}
}
