package cli

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/proxyctl/proxyctl/internal/bundle"
	"github.com/proxyctl/proxyctl/internal/envoytest"
	"github.com/proxyctl/proxyctl/internal/istiod/istiodtest"
	"github.com/proxyctl/proxyctl/internal/kubetest"
	"github.com/proxyctl/proxyctl/internal/testutil"
)

// sampleDocs are the sample proxy's other admin documents (make testdata), by admin path.
var sampleDocs = map[string]string{
	"server_info":           "server_info.json",
	"certs":                 "certs.json",
	"listeners?format=json": "listeners.json",
	"runtime":               "runtime.json",
	"memory":                "memory.json",
	"stats":                 "stats.txt",
}

// fullAdmin serves a proxy's every admin document: the config dump at dumpPath, the sample's
// /clusters and the sample's other documents.
func fullAdmin(t *testing.T, dumpPath string) (*envoytest.Admin, string) {
	t.Helper()
	read := func(p string) []byte {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	admin, err := envoytest.NewAdmin(read(dumpPath), read(sampleClusters))
	if err != nil {
		t.Fatal(err)
	}
	for path, file := range sampleDocs {
		admin.SetDocument(path, read(testutil.Path("testdata", "sample", file)))
	}
	srv := httptest.NewServer(admin)
	t.Cleanup(srv.Close)
	return admin, srv.URL
}

func hostOf(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// capture runs proxyctl capture into a new bundle and returns its path and the result.
func capture(t *testing.T, args ...string) (path string, code int, out, errOut string) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "bundle.tar.gz")
	code, out, errOut = run(t, "", append([]string{"capture", "-o", path}, args...)...)
	return path, code, out, errOut
}

// roundTripViews are the views, formats and filters a bundle must answer as the live proxy.
var roundTripViews = [][]string{
	{"cluster"}, {"cluster", "-o", "json"}, {"cluster", "-o", "yaml"}, {"cluster", "--direction", "outbound", "--port", "9080"},
	{"listener"}, {"listener", "-o", "json"}, {"listener", "-o", "yaml"}, {"listener", "--verbose=false"},
	{"route"}, {"route", "-o", "json"}, {"route", "-o", "yaml"}, {"route", "--name", "9080"},
	{"endpoint"}, {"endpoint", "-o", "json"}, {"endpoint", "-o", "yaml"}, {"endpoint", "--status", "healthy", "--port", "15020"},
	{"bootstrap"}, {"bootstrap", "-o", "short"}, {"bootstrap", "-o", "yaml"},
	{"secret"}, {"secret", "-o", "json"}, {"secret", "-o", "yaml"},
	{"all"}, {"all", "--with-headers"}, {"all", "-o", "json"}, {"all", "-o", "yaml"}, {"all", "--port", "9080", "--verbose=false"},
	{"cluster", "-o", "name"}, {"listener", "--no-headers"}, {"endpoint", "-o", "jsonpath={[*].name}"}, {"route", "-o", "name"},
}

// waypointViews are run on the second proxy, whose dump has ECDS and a waypoint's listeners.
var waypointViews = [][]string{{"ecds"}, {"ecds", "-o", "json"}, {"ecds", "-o", "yaml"}, {"listener", "--waypoint"}, {"all", "-o", "json"}}

// TestCaptureRoundTrip captures two proxies' admin APIs, then runs every view on the bundle:
// each prints exactly what it prints live (stdout, stderr and exit code), from a bundle of
// several proxies (named) and of one (unnamed).
func TestCaptureRoundTrip(t *testing.T) {
	_, sidecar := fullAdmin(t, sampleDump)
	_, waypoint := fullAdmin(t, ecdsDump)
	both, code, out, errOut := capture(t, "--admin-url", sidecar, "--admin-url", waypoint)
	if code != 0 || errOut != "" || !strings.Contains(out, "Wrote "+both+" (2 proxies, ") {
		t.Fatalf("capture: exit %d\n%s\n%s", code, out, errOut)
	}
	one, code, _, errOut := capture(t, "--admin-url", sidecar)
	if code != 0 {
		t.Fatalf("capture: exit %d: %s", code, errOut)
	}
	check := func(t *testing.T, view []string, url string, fromBundle ...string) {
		t.Helper()
		live := append(append([]string{"pc"}, view...), "--admin-url", url)
		lc, lout, lerr := run(t, "", live...)
		if lc != 0 || len(lout) < 50 {
			t.Fatalf("%v: exit %d, %d bytes: %s", live, lc, len(lout), lerr)
		}
		args := append(append([]string{"pc"}, view...), fromBundle...)
		bc, bout, berr := run(t, "", args...)
		if bc != lc || bout != lout || berr != lerr {
			t.Errorf("%v: exit %d, stderr %q; live: exit %d, stderr %q\n%s", args, bc, berr, lc, lerr, firstDiff(bout, lout))
		}
	}
	for _, view := range roundTripViews {
		t.Run(strings.Join(view, " "), func(t *testing.T) {
			check(t, view, sidecar, "-f", both, hostOf(t, sidecar))
			check(t, view, sidecar, "-f", one)
		})
	}
	for _, view := range waypointViews {
		t.Run("waypoint "+strings.Join(view, " "), func(t *testing.T) {
			check(t, view, waypoint, "-f", both, hostOf(t, waypoint))
		})
	}
}

func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("line %d:\n bundle: %s\n   live: %s", i+1, gl, wl)
		}
	}
	return "(same lines)"
}

// readManifest reads a bundle's manifest through the bundle package.
func readManifest(t *testing.T, path string) *bundle.Manifest {
	t.Helper()
	r, f, err := openBundle(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return r.Manifest()
}

// TestCaptureManifest: the manifest says where each proxy and document came from, and each
// document's size and sha256 are those of the bytes archived.
func TestCaptureManifest(t *testing.T) {
	_, url := fullAdmin(t, sampleDump)
	path, code, _, errOut := capture(t, "--admin-url", url)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	m := readManifest(t, path)
	if m.FormatVersion != bundle.FormatVersion || m.Kind != bundle.Kind || m.ProxyctlVersion == "" || m.Created.IsZero() || len(m.Proxies) != 1 {
		t.Fatalf("manifest %+v", m)
	}
	p := m.Proxies[0]
	host := hostOf(t, url)
	if p.Name != host || p.Dir != strings.ReplaceAll(host, ":", "_") || p.AdminURL != url || p.Status != bundle.ProxyOK ||
		p.NodeID != "sidecar~10.247.199.106~productpage-v1-jrvcrrr5rm-46qjt.default~default.svc.cluster.local" || p.EnvoyVersion != "1.32.3-dev/Clean/RELEASE/BoringSSL" {
		t.Errorf("proxy %+v", p)
	}
	var names []string
	for _, f := range p.Files {
		names = append(names, f.Name+" "+f.AdminPath+" "+f.Status)
	}
	want := []string{"server_info.json server_info ok", "config_dump.json config_dump?include_eds=true ok", "clusters.json clusters?format=json ok",
		"listeners.json listeners?format=json ok", "certs.json certs ok", "runtime.json runtime ok", "memory.json memory ok", "stats.txt stats ok"}
	if !slices.Equal(names, want) {
		t.Errorf("files %q, want %q", names, want)
	}
	// Every entry of the archive, as tar reads it, is what the manifest says.
	entries := tarEntries(t, path)
	for _, f := range p.Files {
		body, ok := entries[p.Dir+"/"+f.Name]
		if !ok || int64(len(body)) != f.Size || fmt.Sprintf("%x", sha256Sum(body)) != f.SHA256 {
			t.Errorf("%s: in the archive %v, %d bytes (manifest %d), sha256 %x (manifest %s)", f.Name, ok, len(body), f.Size, sha256Sum(body), f.SHA256)
		}
	}
	stats, _ := os.ReadFile(testutil.Path("testdata", "sample", "stats.txt"))
	if got := entries[p.Dir+"/stats.txt"]; !bytes.Equal(got, stats) {
		t.Errorf("stats.txt is not the document served")
	}
}

// tarEntries reads a .tar.gz whole, as tar xzf would.
func tarEntries(t *testing.T, path string) map[string][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	out := map[string][]byte{}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out[hdr.Name], _ = io.ReadAll(tr)
	}
}

// TestCaptureThreeProxiesOneFailing: of three proxies, one does not answer and another lacks
// two endpoints (a 404, recorded; a 500, an error): the bundle holds the others, records
// everything, the end of the run reports it, and the exit code is 1.
func TestCaptureThreeProxiesOneFailing(t *testing.T) {
	_, good := fullAdmin(t, sampleDump)
	partialAdmin, partial := fullAdmin(t, sampleDump)
	partialAdmin.SetStatus("memory", http.StatusNotFound)
	partialAdmin.SetStatus("stats", http.StatusInternalServerError)
	closed := httptest.NewServer(http.NotFoundHandler())
	down := closed.URL
	closed.Close()

	path, code, out, errOut := capture(t, "--admin-url", good, "--admin-url", partial, "--admin-url", down)
	if code != ExitRuntime {
		t.Fatalf("exit %d, want 1\n%s\n%s", code, out, errOut)
	}
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	slices.Sort(lines[:2]) // in the order of the proxies' names
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "error: "+hostOf(t, down)+": nothing answers at ") ||
		!strings.HasPrefix(lines[1], "warning: "+hostOf(t, partial)+": could not capture stats: ") || !strings.Contains(lines[1], "500 Internal Server Error") ||
		lines[2] != "error: 2 of 3 proxies were not captured whole; the bundle records why" {
		t.Errorf("stderr:\n%s", errOut)
	}
	for _, want := range []string{"failed", "partial", "memory (404), stats (error)", "Wrote " + path + " (3 proxies, 1 failed, "} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	m := readManifest(t, path)
	status := map[string]bundle.Proxy{}
	for _, p := range m.Proxies {
		status[p.Name] = p
	}
	if p := status[hostOf(t, down)]; p.Status != bundle.ProxyFailed || !strings.Contains(p.Error, "nothing answers") || len(p.Files) != 1 {
		t.Errorf("the proxy that does not answer: %+v", p)
	}
	p := status[hostOf(t, partial)]
	if p.Status != bundle.ProxyPartial || p.File("memory.json").Status != bundle.FileNotFound || p.File("memory.json").HTTPStatus != 404 ||
		p.File("stats.txt").Status != bundle.FileError || p.File("stats.txt").HTTPStatus != 500 || p.File("config_dump.json").Status != bundle.FileOK {
		t.Errorf("the partial proxy: %+v", p)
	}
	if p := status[hostOf(t, good)]; p.Status != bundle.ProxyOK {
		t.Errorf("the good proxy: %+v", p)
	}

	// Reading it: the good and the partial proxies are there; the failed one says why; a name
	// is needed, and a wrong one lists them.
	_, live, _ := run(t, "", "pc", "cluster", "--admin-url", good)
	for _, name := range []string{hostOf(t, good), hostOf(t, partial)} {
		if code, out, errOut := run(t, "", "pc", "cluster", "-f", path, name); code != 0 || out != live {
			t.Errorf("pc cluster -f BUNDLE %s: exit %d: %s", name, code, errOut)
		}
	}
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"pc", "cluster", "-f", path, hostOf(t, down)}, ExitRuntime, "was not captured in bundle " + path + ": nothing answers at"},
		{[]string{"pc", "cluster", "-f", path}, ExitUsage, "holds 3 proxies: name one (POD[.NAMESPACE] or HOST:PORT): "},
		{[]string{"pc", "cluster", "-f", path, "web-9.shop"}, ExitRuntime, `has no proxy "web-9.shop"; it holds: `},
		{[]string{"pc", "endpoint", "-f", path, hostOf(t, partial), "-o", "json"}, 0, ""},
		{[]string{"pc", "cluster", "-f", sampleDump, "web-1"}, ExitUsage, "give only one of a pod, --admin-url and --file: a proxy name (web-1) goes with --file only to pick one of a capture bundle's proxies, and " + sampleDump + " is not a bundle"},
	}
	for _, tc := range cases {
		code, _, errOut := run(t, "", tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.want) || strings.Count(errOut, "\n") > 1 {
			t.Errorf("%v: exit %d (want %d), stderr %q (want %q)", tc.args, code, tc.code, errOut, tc.want)
		}
	}
	// A document the bundle lacks is an error naming why.
	mem := bundleWithout(t, "clusters?format=json")
	if code, _, errOut := run(t, "", "pc", "endpoint", "-f", mem); code != ExitRuntime || !strings.Contains(errOut, "has no /clusters?format=json document: its Envoy answered 404 Not Found when it was captured") {
		t.Errorf("endpoint without /clusters: exit %d: %s", code, errOut)
	}
}

// bundleWithout captures the sample proxy with one document answering 404.
func bundleWithout(t *testing.T, path string) string {
	t.Helper()
	admin, url := fullAdmin(t, sampleDump)
	p, _, _ := strings.Cut(path, "?")
	admin.SetStatus(p, http.StatusNotFound)
	b, code, _, errOut := capture(t, "--admin-url", url)
	if code != 0 {
		t.Fatalf("capture: exit %d: %s", code, errOut)
	}
	return b
}

// TestCaptureDamagedBundle: a truncated or corrupt bundle, or one of a newer format, gives a
// one-line error naming the problem, never a panic or wrong output.
func TestCaptureDamagedBundle(t *testing.T) {
	_, url := fullAdmin(t, sampleDump)
	path, code, _, errOut := capture(t, "--admin-url", url)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// A byte of the config dump's compressed data, well inside its member.
	m := readManifest(t, path)
	base := int64(len(data)) - m.BodySize
	flipped := bytes.Clone(data)
	flipped[base+m.Proxies[0].File("config_dump.json").Offset+2000] ^= 0xff
	cases := []struct {
		name string
		path string
		want string
	}{
		{"truncated", write("truncated.tar.gz", data[:len(data)*2/3]), "is truncated: it has "},
		{"truncated in the manifest", write("short.tar.gz", data[:200]), "is truncated"},
		{"corrupt", write("corrupt.tar.gz", flipped), "is corrupt"},
		{"gzipped dump", write("dump.json.gz", gzipBytes(t, readFile(t, sampleDump))), "is gzip data but not a capture bundle (no tar archive in it); if it is a compressed config dump, gunzip it first"},
		{"newer format", write("newer.tar.gz", newerBundle(t)), "cannot be read: it was written by proxyctl v9.1.0 in bundle format 2, and this proxyctl reads formats up to 1; upgrade proxyctl to read it"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, view := range [][]string{{"pc", "cluster"}, {"pc", "all", "-o", "json"}, {"pc", "secret"}} {
				code, out, errOut := run(t, "", append(view, "-f", tc.path)...)
				if code != ExitRuntime || out != "" || !strings.Contains(errOut, tc.want) || strings.Count(errOut, "\n") != 1 || !strings.HasPrefix(errOut, "error: bundle "+tc.path+" ") {
					t.Errorf("%v: exit %d, stdout %d bytes, stderr %q (want %q)", view, code, len(out), errOut, tc.want)
				}
			}
		})
	}
}

func sha256Sum(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func gzipBytes(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// newerBundle is a bundle as a future proxyctl would write it: format version 2.
func newerBundle(t *testing.T) []byte {
	t.Helper()
	manifest, _ := json.Marshal(map[string]any{"kind": bundle.Kind, "format_version": 2, "proxyctl_version": "v9.1.0",
		"proxies": []map[string]any{{"name": "web-1.shop", "dir": "shop/web-1", "status": "ok", "files": []any{}, "shards": 4}}})
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	tw.WriteHeader(&tar.Header{Name: "manifest.json", Mode: 0o644, Size: int64(len(manifest)), Typeflag: tar.TypeReg})
	tw.Write(manifest)
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

// TestCaptureNoSecrets: secret material in the clear in a proxy's config dump and server_info
// never enters the bundle; what was redacted is counted in the manifest.
func TestCaptureNoSecrets(t *testing.T) {
	dumpPath, secrets := secretsDump(t)
	admin, url := fullAdmin(t, dumpPath)
	// A server_info whose command line carries a secret in a field Envoy does not mark
	// sensitive is kept as it is (the rules are the views'); one in the node's metadata too.
	admin.SetDocument("server_info", []byte(`{"version": "x", "state": "LIVE", "node": {"id": "sidecar~1~a.b~b.svc"}}`))
	path, code, _, errOut := capture(t, "--admin-url", url)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var all []byte
	for _, body := range tarEntries(t, path) {
		all = append(all, body...)
		all = append(all, '\n')
	}
	for _, s := range secrets {
		for _, form := range []string{s, base64.StdEncoding.EncodeToString([]byte(s))} {
			if bytes.Contains(all, []byte(form)) {
				t.Errorf("the bundle holds %q", form)
			}
		}
	}
	if !bytes.Contains(all, []byte(`"[redacted]"`)) {
		t.Error("nothing redacted in the bundle")
	}
	m := readManifest(t, path)
	if n := m.Proxies[0].File("config_dump.json").Redacted; n < len(secrets) {
		t.Errorf("the manifest counts %d redactions, want at least %d", n, len(secrets))
	}
	// And the views on the bundle print what they print live.
	for _, view := range []string{"all", "secret", "bootstrap"} {
		_, want, _ := run(t, "", "pc", view, "--admin-url", url, "-o", "json", "--quiet")
		if _, got, _ := run(t, "", "pc", view, "-f", path, "-o", "json", "--quiet"); got != want {
			t.Errorf("pc %s -o json differs on the bundle:\n%s", view, firstDiff(got, want))
		}
	}
}

// TestCaptureUnreadableDocument: a document that is not the JSON it should be cannot be
// checked for secrets, so it is left out, with the reason; the others are kept.
func TestCaptureUnreadableDocument(t *testing.T) {
	admin, url := fullAdmin(t, sampleDump)
	admin.SetDocument("certs", []byte(`{"certificates": [{"cert_chain": [{"path": "/etc/key.pem", "serial_number": 5}]}]} trailing`))
	path, code, _, errOut := capture(t, "--admin-url", url)
	if code != ExitRuntime || !strings.Contains(errOut, "could not capture certs: /certs of "+hostOf(t, url)+" cannot be checked for secrets, so it is left out") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	p := readManifest(t, path).Proxies[0]
	if f := p.File("certs.json"); p.Status != bundle.ProxyPartial || f.Status != bundle.FileError || f.Size != 0 {
		t.Errorf("proxy %+v", p)
	}
	if _, ok := tarEntries(t, path)[p.Dir+"/certs.json"]; ok {
		t.Error("the unreadable document is in the archive")
	}
}

// TestCaptureOddConfigDump: a config dump that is not one, or not JSON, is left out (its
// secrets could not be found where they are stored), and the proxy fails.
func TestCaptureOddConfigDump(t *testing.T) {
	for name, doc := range map[string]string{
		"YAML":           "configs:\n- '@type': type.googleapis.com/envoy.admin.v3.SecretsConfigDump\n  static_secrets: []\n",
		"cluster status": `{"cluster_statuses": []}`,
		"empty":          "",
	} {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/config_dump" {
					http.NotFound(w, r)
					return
				}
				w.Write([]byte(doc))
			}))
			defer srv.Close()
			_, code, _, errOut := capture(t, "--admin-url", srv.URL)
			if code != ExitRuntime || !strings.Contains(errOut, "the config dump of "+hostOf(t, srv.URL)+" does not parse, so it is left out: ") {
				t.Errorf("exit %d: %s", code, errOut)
			}
		})
	}
}

// TestSecretFromCerts: a secret whose certificate is a file (which the config dump does not
// show) is completed from /certs, live and from a bundle alike; a dump file alone cannot.
func TestSecretFromCerts(t *testing.T) {
	dump := `{"configs": [{"@type": "type.googleapis.com/envoy.admin.v3.SecretsConfigDump", "dynamic_active_secrets": [
  {"name": "file-cert", "secret": {"@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret", "name": "file-cert",
    "tls_certificate": {"certificate_chain": {"filename": "/etc/certs/cert-chain.pem"}, "private_key": {"filename": "/etc/certs/key.pem"}}}},
  {"name": "file-root", "secret": {"@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret", "name": "file-root",
    "validation_context": {"trusted_ca": {"filename": "/etc/certs/root-cert.pem"}}}}]}]}`
	certs := `{"certificates": [{
  "ca_cert": [{"path": "/etc/certs/root-cert.pem", "serial_number": "5f1e", "valid_from": "2025-01-01T00:00:00Z", "expiration_time": "2035-01-01T00:00:00Z"}],
  "cert_chain": [{"path": "/etc/certs/cert-chain.pem", "serial_number": "1de11bc8082a47fe865640cf1e5e87eb", "subject_alt_names": [{"uri": "spiffe://cluster.local/ns/shop/sa/web"}],
    "valid_from": "2025-06-02T01:14:05Z", "expiration_time": "2099-06-03T01:14:05Z"}]}]}`
	dumpPath := filepath.Join(t.TempDir(), "dump.json")
	if err := os.WriteFile(dumpPath, []byte(dump), 0o644); err != nil {
		t.Fatal(err)
	}
	admin, url := fullAdmin(t, dumpPath)
	admin.SetDocument("certs", []byte(certs))
	code, live, errOut := run(t, "", "pc", "secret", "--admin-url", url)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	want := "RESOURCE NAME     TYPE           STATUS     VALID CERT     SERIAL NUMBER                        NOT AFTER                NOT BEFORE\n" +
		"file-cert         Cert Chain     ACTIVE     true           1de11bc8082a47fe865640cf1e5e87eb     2099-06-03T01:14:05Z     2025-06-02T01:14:05Z\n" +
		"file-root         CA             ACTIVE     true           00000000000000000000000000005f1e     2035-01-01T00:00:00Z     2025-01-01T00:00:00Z\n"
	if live != want {
		t.Errorf("live:\n%s\nwant:\n%s", live, want)
	}
	if reqs := admin.Requests(); !slices.Equal(reqs, []string{"GET /" + pathSecrets, "GET /certs"}) {
		t.Errorf("requests %v", reqs)
	}
	path, code, _, errOut := capture(t, "--admin-url", url)
	if code != 0 {
		t.Fatalf("capture: exit %d: %s", code, errOut)
	}
	if _, got, _ := run(t, "", "pc", "secret", "-f", path); got != live {
		t.Errorf("from the bundle:\n%s", got)
	}
	if _, got, _ := run(t, "", "pc", "all", "-f", path); !strings.Contains(got, "secret/file-cert     Cert Chain     ACTIVE     true           1de11bc8082a47fe865640cf1e5e87eb") {
		t.Errorf("pc all from the bundle:\n%s", got)
	}
	if _, got, _ := run(t, "", "pc", "secret", "-f", dumpPath); !strings.Contains(got, "\nfile-cert ") || strings.Join(strings.Fields(strings.Split(got, "\n")[1]), " ") != "file-cert ACTIVE false" {
		t.Errorf("from the dump alone:\n%s", got)
	}
}

// TestCaptureOtherCommands: route-check --file, version -f and pc explain -f read a bundle's
// proxy as they read it live (explain with the /clusters document's health, as live).
func TestCaptureOtherCommands(t *testing.T) {
	_, a := fullAdmin(t, sampleDump)
	_, b := fullAdmin(t, ecdsDump)
	path, code, _, errOut := capture(t, "--admin-url", a, "--admin-url", b)
	if code != 0 {
		t.Fatalf("capture: exit %d: %s", code, errOut)
	}
	for _, args := range [][]string{
		{"route-check", "--route", "9080", "-t", sampleTests, "--details"},
		{"version", "-o", "json"},
		{"pc", "explain", "--url", "http://productpage.default:9080/productpage"},
		{"pc", "explain", "--url", "http://productpage.default:9080/productpage", "-o", "json"},
	} {
		lc, live, lerr := run(t, "", append(args, "--admin-url", a)...)
		bc, got, berr := run(t, "", append(args, "--file", path, hostOf(t, a))...)
		// version names where it read the proxy: the bundle, not the URL.
		got = strings.ReplaceAll(got, hostOf(t, a)+" in bundle "+path, "admin API "+a)
		if lc != 0 || len(live) < 50 || bc != lc || got != live || berr != lerr {
			t.Errorf("%v: exit %d (live %d), stderr %q (live %q)\n%s", args, bc, lc, berr, lerr, firstDiff(got, live))
		}
	}
}

// TestCaptureProxyStatusFile: ps POD --file BUNDLE reads that pod's proxy from the bundle, as
// from its dump.
func TestCaptureProxyStatusFile(t *testing.T) {
	istiod := istiodtest.NewServer(t, istiodtest.Options{ConfigDumps: map[string][]byte{"productpage-v1-6b746f74dc-9stvs.default": readFile(t, sampleDump)}}).URL
	_, url := fullAdmin(t, sampleDump)
	path, code, _, errOut := capture(t, "--admin-url", url)
	if code != 0 {
		t.Fatalf("capture: exit %d: %s", code, errOut)
	}
	_, want, _ := run(t, "", "ps", "productpage-v1-6b746f74dc-9stvs.default", "--istiod-url", istiod, "--file", sampleDump)
	code, got, errOut := run(t, "", "ps", "productpage-v1-6b746f74dc-9stvs.default", "--istiod-url", istiod, "--file", path)
	if code != 0 || got != want || !strings.Contains(got, "Clusters Match") {
		t.Errorf("exit %d, stderr %q\n%s\nwant:\n%s", code, errOut, got, want)
	}
}

// TestCapturePods captures pods through Kubernetes (a stand-in API with the kubelet's
// port-forward): named pods, -l in a namespace, -A; pods without an Envoy or not Running are
// left out of a selection; a named pod that cannot be captured fails.
func TestCapturePods(t *testing.T) {
	_, url := fullAdmin(t, sampleDump)
	fwd := map[int32]string{15000: hostOf(t, url)}
	api := kubetest.NewServer(t,
		kubetest.Pod{Name: "web-1", Namespace: "shop", Labels: map[string]string{"app": "web"}, Forward: fwd},
		kubetest.Pod{Name: "web-2", Namespace: "shop", Labels: map[string]string{"app": "web"}, Forward: fwd},
		kubetest.Pod{Name: "web-3", Namespace: "prod", Labels: map[string]string{"app": "web"}, Forward: fwd},
		kubetest.Pod{Name: "db-0", Namespace: "shop", Labels: map[string]string{"app": "db"}})
	kc := "--kubeconfig=" + api.Kubeconfig
	names := func(path string) []string {
		var out []string
		for _, p := range readManifest(t, path).Proxies {
			out = append(out, p.Name+" "+p.Dir+" "+p.Status)
		}
		return out
	}
	cases := []struct {
		args []string
		code int
		want []string
	}{
		{[]string{"-l", "app=web", "-n", "shop"}, 0, []string{"web-1.shop shop/web-1 ok", "web-2.shop shop/web-2 ok"}},
		{[]string{"-l", "app=web", "-A"}, 0, []string{"web-1.shop shop/web-1 ok", "web-2.shop shop/web-2 ok", "web-3.prod prod/web-3 ok"}},
		{[]string{"web-3.prod", "web-1", "-n", "shop"}, usageErrorCode, nil}, // web-3.prod names another namespace than -n
		{[]string{"web-1.shop", "web-3.prod"}, 0, []string{"web-1.shop shop/web-1 ok", "web-3.prod prod/web-3 ok"}},
		{[]string{"web-1.shop", "db-0.shop"}, ExitRuntime, []string{"db-0.shop shop/db-0 failed", "web-1.shop shop/web-1 ok"}},
		// A pod named that does not exist is recorded as failed; the others are captured.
		{[]string{"web-1.shop", "web-9.shop"}, ExitRuntime, []string{"web-1.shop shop/web-1 ok", "web-9.shop shop/web-9 failed"}},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			path, code, out, errOut := capture(t, append(tc.args, kc)...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\n%s\n%s", code, tc.code, out, errOut)
			}
			if tc.want != nil && !slices.Equal(names(path), tc.want) {
				t.Errorf("proxies %q, want %q", names(path), tc.want)
			}
		})
	}
	// The views read a pod's proxy from the bundle as they read it live.
	path, _, _, _ := capture(t, "-l", "app=web", "-n", "shop", kc)
	_, want, _ := run(t, "", "pc", "cluster", "web-1.shop", kc)
	for _, name := range [][]string{{"web-1.shop"}, {"web-1", "-n", "shop"}, {"shop/web-1"}} {
		if code, got, errOut := run(t, "", append([]string{"pc", "cluster", "-f", path}, name...)...); code != 0 || got != want {
			t.Errorf("-f BUNDLE %v: exit %d: %s", name, code, errOut)
		}
	}
}

// usageErrorCode is ExitUsage, named for the table above.
const usageErrorCode = ExitUsage

// fakeTerminal is a stderr that says it is a terminal 60 columns wide.
type fakeTerminal struct{ bytes.Buffer }

func (*fakeTerminal) IsTerminal() bool { return true }
func (*fakeTerminal) Width() int       { return 60 }

// TestCaptureProgress: on a terminal, with more than one proxy, stderr shows a progress line,
// erased at the end; off a terminal, or for one proxy, nothing.
func TestCaptureProgress(t *testing.T) {
	_, a := fullAdmin(t, sampleDump)
	_, b := fullAdmin(t, sampleDump)
	dir := t.TempDir()
	for _, tc := range []struct {
		urls     []string
		terminal bool
		want     bool
	}{{[]string{a, b}, true, true}, {[]string{a}, true, false}, {[]string{a, b}, false, false}} {
		var errOut io.Writer = &bytes.Buffer{}
		if tc.terminal {
			errOut = &fakeTerminal{}
		}
		args := []string{"capture", "-o", filepath.Join(dir, "b.tar.gz")}
		for _, u := range tc.urls {
			args = append(args, "--admin-url", u)
		}
		var out bytes.Buffer
		if code := Run(args, Streams{In: strings.NewReader(""), Out: &out, ErrOut: errOut}); code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		got := fmt.Sprint(errOut)
		drawn := strings.Contains(got, "\rcapturing 2/2 proxies [") && strings.HasSuffix(got, "\r"+strings.Repeat(" ", 59)+"\r")
		if drawn != tc.want || !tc.want && got != "" {
			t.Errorf("%d proxies, terminal %v: stderr %q", len(tc.urls), tc.terminal, got)
		}
	}
}

// TestCaptureUsage checks the usage errors and where the bundle goes.
func TestCaptureUsage(t *testing.T) {
	for _, args := range [][]string{
		{"capture"},
		{"capture", "web-1", "-l", "app=web"},
		{"capture", "-A", "-n", "shop"},
		{"capture", "--admin-url", "localhost:15000?x=1"},
		{"capture", "--admin-url", "http://a:1", "--admin-url", "http://a:1"},
		{"capture", "--admin-url", "http://a:1", "--concurrency", "0"},
	} {
		if code, _, errOut := run(t, "", args...); code != ExitUsage || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%v: exit %d, %q", args, code, errOut)
		}
	}
	_, url := fullAdmin(t, sampleDump)
	// A directory gets the default name; nothing is left behind but the bundle.
	dir := t.TempDir()
	code, out, errOut := run(t, "", "capture", "--admin-url", url, "-o", dir)
	entries, _ := os.ReadDir(dir)
	if code != 0 || len(entries) != 1 || !strings.HasPrefix(entries[0].Name(), "proxyctl-capture-") || !strings.HasSuffix(entries[0].Name(), "Z.tar.gz") ||
		!strings.Contains(out, "Wrote "+filepath.Join(dir, entries[0].Name())+" (1 proxy, ") {
		t.Errorf("exit %d, %v\n%s%s", code, entries, out, errOut)
	}
	// -o - writes the bundle to stdout, the summary to stderr.
	code, out, errOut = run(t, "", "capture", "--admin-url", url, "-o", "-")
	if code != 0 || !bundle.IsBundle([]byte(out)) || !strings.Contains(errOut, "Wrote - (1 proxy, ") {
		t.Errorf("-o -: exit %d, stdout %.20q, stderr %q", code, out, errOut)
	}
	// When no proxy can be captured, no bundle is written.
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	path := filepath.Join(dir, "none.tar.gz")
	code, _, errOut = run(t, "", "capture", "--admin-url", closed.URL, "-o", path)
	if _, err := os.Stat(path); code != ExitRuntime || err == nil || !strings.Contains(errOut, "no proxy could be captured; no bundle written") {
		t.Errorf("nothing captured: exit %d, %q, bundle written: %v", code, errOut, err == nil)
	}
}

// TestCaptureSummaryGolden pins the summary's layout.
func TestCaptureSummaryGolden(t *testing.T) {
	_, url := fullAdmin(t, sampleDump)
	path, code, out, errOut := capture(t, "--admin-url", url)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	out = strings.ReplaceAll(out, hostOf(t, url)+" ", "127.0.0.1:PORT"+strings.Repeat(" ", len(hostOf(t, url))-len("127.0.0.1:PORT")+1))
	out = strings.ReplaceAll(out, path, "BUNDLE")
	if i := strings.LastIndex(out, ", "); i > 0 {
		out = out[:i] + ", SIZE)\n" // the compressed size depends on the port in the manifest
	}
	testutil.Golden(t, "cli/capture_summary.out", []byte(out))
}

// TestCaptureURLPassword: the password of an admin URL enters neither the bundle (manifest,
// errors recorded) nor what is printed.
func TestCaptureURLPassword(t *testing.T) {
	admin, url := fullAdmin(t, sampleDump)
	admin.SetStatus("stats", http.StatusInternalServerError)
	withPassword := strings.Replace(url, "http://", "http://admin:s3cret@", 1)
	path, code, out, errOut := capture(t, "--admin-url", withPassword)
	if code != ExitRuntime || !strings.Contains(errOut, "admin:xxxxx@") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var all []byte
	for _, body := range tarEntries(t, path) {
		all = append(all, body...)
	}
	if bytes.Contains(all, []byte("s3cret")) || strings.Contains(out+errOut, "s3cret") {
		t.Errorf("the password is in the bundle or the output:\n%s%s", out, errOut)
	}
	if p := readManifest(t, path).Proxies[0]; p.Name != hostOf(t, url) || p.AdminURL != strings.Replace(url, "http://", "http://admin:xxxxx@", 1) {
		t.Errorf("proxy %s, admin URL %s", p.Name, p.AdminURL)
	}
}

// TestCaptureHostileProxies: every way an admin API can fail, at once, with one good proxy:
// each bad one is recorded as failed within --timeout, the good one is captured, nothing is
// left open (goroutines, temporary files), and the whole run stays bounded.
func TestCaptureHostileProxies(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) }) // after the servers' cleanups

	_, good := fullAdmin(t, sampleDump)
	args := []string{"--admin-url", good, "--timeout", "1s"}
	var wants []string
	for _, fa := range failingAdmins(t) {
		srv := httptest.NewServer(fa.h)
		defer srv.Close()
		args = append(args, "--admin-url", srv.URL)
		wants = append(wants, hostOf(t, srv.URL))
	}
	start := time.Now()
	path, code, out, errOut := capture(t, args...)
	if d := time.Since(start); d > 6*time.Second {
		t.Errorf("took %s", d)
	}
	if code != ExitRuntime || !strings.Contains(out, fmt.Sprintf("(%d proxies, %d failed, ", len(wants)+1, len(wants))) {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	for _, l := range strings.Split(strings.TrimSpace(errOut), "\n") {
		if strings.ContainsAny(l, "\r\x1b") {
			t.Errorf("a control character on stderr: %q", l)
		}
	}
	m := readManifest(t, path)
	for _, p := range m.Proxies {
		if want := p.Name != hostOf(t, good); want != (p.Status == bundle.ProxyFailed) || want && p.Error == "" {
			t.Errorf("%s: %s %q", p.Name, p.Status, p.Error)
		}
	}
	if left := spoolFiles(t); len(left) > 0 {
		t.Errorf("left open: %v", left)
	}
}

// TestCaptureInterrupt: Ctrl-C during a capture ends it with exit 130 and no bundle, whole or
// half written.
func TestCaptureInterrupt(t *testing.T) {
	arrived := make(chan struct{}, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-r.Context().Done()
	}))
	defer srv.Close()
	_, good := fullAdmin(t, sampleDump)
	dir := t.TempDir()
	done := make(chan int)
	go func() {
		code, _, _ := run(t, "", "capture", "--admin-url", good, "--admin-url", srv.URL, "-o", filepath.Join(dir, "b.tar.gz"))
		done <- code
	}()
	<-arrived
	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-done:
		entries, _ := os.ReadDir(dir)
		if code != ExitInterrupted || len(entries) != 0 {
			t.Errorf("exit %d, left %v", code, entries)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("still running 10s after Ctrl-C")
	}
}

// TestCaptureDocumentTooLarge: a document over --max-input fails alone; the proxy still
// answers, so the documents after it are fetched and recorded.
func TestCaptureDocumentTooLarge(t *testing.T) {
	// Each way a document is too large: /certs announces it (Content-Length), /clusters is
	// found to be as it is read.
	admin, _ := fullAdmin(t, sampleDump)
	big := []byte(`{"cluster_statuses": []}` + strings.Repeat(" ", 300<<10))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/certs":
			w.Header().Set("Content-Length", strconv.Itoa(len(big)))
			w.Write(big)
		case "/clusters":
			w.(http.Flusher).Flush() // chunked: no length announced
			w.Write(big)
		default:
			admin.ServeHTTP(w, r)
		}
	}))
	defer srv.Close()
	path, code, _, errOut := capture(t, "--admin-url", srv.URL, "--max-input", "250Ki")
	if code != ExitRuntime {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	m := readManifest(t, path)
	if len(m.Proxies) != 1 {
		t.Fatalf("proxies: %+v", m.Proxies)
	}
	p := m.Proxies[0]
	status := map[string]string{}
	for _, f := range p.Files {
		status[f.Name] = f.Status
		if f.Status == bundle.FileError && !strings.Contains(f.Error, "raise --max-input") {
			t.Errorf("%s: error %q does not say it is too large", f.Name, f.Error)
		}
	}
	want := map[string]string{
		"server_info.json": bundle.FileOK, "config_dump.json": bundle.FileOK, "clusters.json": bundle.FileError,
		"listeners.json": bundle.FileOK, "certs.json": bundle.FileError, "runtime.json": bundle.FileOK, "memory.json": bundle.FileOK, "stats.txt": bundle.FileOK,
	}
	for name, s := range want {
		if status[name] != s {
			t.Errorf("%s: status %q, want %q (files %+v)", name, status[name], s, p.Files)
		}
	}
	if p.Status != bundle.ProxyPartial || !strings.Contains(p.Error, "raise --max-input") {
		t.Errorf("proxy status %q, error %q", p.Status, p.Error)
	}
}
