package formatter

import (
	"bytes"
	"context"
	cryptotls "crypto/tls"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/proxyctl/proxyctl/internal/testutil"

	"sigs.k8s.io/yaml"

	"github.com/proxyctl/proxyctl/internal/istiod"
	"github.com/proxyctl/proxyctl/internal/istiod/istiodtest"
)

const (
	// psReferenceDir holds the reference istioctl outputs (read, never copied).
	psReferenceDir = "../../shared/reference/proxy-status"
	psFixtureDir   = "../testdata/istiod"
)

// psNow is "now" for ages: 5m1s after the send times of the ages fixture.
var psNow = time.Date(2024, 3, 4, 8, 42, 45, 0, time.UTC)

// psGolden compares got with testdata/golden/proxystatus/name.
func psGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	testutil.Golden(t, "proxystatus/"+name, got)
}

// psReplica is one fake istiod: its name and its syncz fixture.
type psReplica struct{ name, fixture string }

// psFetch starts one fake istiod per replica, fetches /debug/syncz from all of
// them the way the command does, and fails the test if any replica fails.
func psFetch(t *testing.T, ns string, replicas ...psReplica) []istiod.ProxyStatus {
	t.Helper()
	var targets []istiod.Target
	for _, r := range replicas {
		s := istiodtest.NewServer(t, istiodtest.Options{Syncz: istiodtest.ReadFixture(t, filepath.Join(psFixtureDir, r.fixture))})
		targets = append(targets, istiod.Target{Name: r.name, Namespace: "istio-system", BaseURL: s.URL})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res := (&istiod.Fetcher{}).Syncz(ctx, targets, ns)
	for _, e := range res.Errors {
		t.Errorf("replica failed: %v", e)
	}
	return res.Rows
}

// psFetchXDS is psFetch over istiod's xDS debug API: one fake istiod xDS port per replica
// serving the same state, asked in plain text, or over TLS with a token when tls is set; the
// replicas are named by the id they report, as --xds-address without a name shows them.
func psFetchXDS(t *testing.T, ns string, tls bool, replicas ...psReplica) []istiod.ProxyStatus {
	t.Helper()
	var ca *istiodtest.CA
	var x *istiod.XDS
	if tls {
		ca = istiodtest.NewCA(t)
		x = &istiod.XDS{
			TLS:   &cryptotls.Config{RootCAs: ca.Pool(), ServerName: "istiod.istio-system.svc", MinVersion: cryptotls.VersionTLS12},
			Token: func(context.Context) (string, error) { return "token", nil },
		}
	}
	var targets []istiod.Target
	for _, r := range replicas {
		s := istiodtest.NewXDSServer(t, istiodtest.XDSOptions{
			Syncz: istiodtest.ReadFixture(t, filepath.Join(psFixtureDir, r.fixture)), ID: r.name, CA: ca, Token: map[bool]string{true: "token"}[tls],
		})
		targets = append(targets, istiod.Target{Name: s.Addr, XDSAddress: s.Addr, XDS: x, NameFromServer: true})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res := (&istiod.Fetcher{}).Syncz(ctx, targets, ns)
	for _, e := range res.Errors {
		t.Errorf("replica failed: %v", e)
	}
	return res.Rows
}

// psTransports fetch the same state over HTTP, over xDS in plain text and over xDS with TLS.
var psTransports = map[string]func(t *testing.T, ns string, replicas ...psReplica) []istiod.ProxyStatus{
	"http": psFetch,
	"xds": func(t *testing.T, ns string, r ...psReplica) []istiod.ProxyStatus {
		return psFetchXDS(t, ns, false, r...)
	},
	"xds-tls": func(t *testing.T, ns string, r ...psReplica) []istiod.ProxyStatus {
		return psFetchXDS(t, ns, true, r...)
	},
}

var (
	psMultiPilot = []psReplica{
		{"istiod1", "multipilot/istiod1.json"},
		{"istiod2", "multipilot/istiod2.json"},
		{"istiod3", "multipilot/istiod3.json"},
		{"istiod4", "multipilot/istiod4.json"},
	}
	psSinglePilot = []psReplica{{"istiod1", "singlepilot/istiod1.json"}}
	psAges        = []psReplica{{"istiod-fake-0", "ages/istiod-fake-0.json"}}
	psNamespaces  = []psReplica{
		{"istiod-6c7b8d9f4-2xkqp", "namespaces/istiod-a.json"},
		{"istiod-6c7b8d9f4-9mzwl", "namespaces/istiod-b.json"},
	}
)

// psReference reads a reference output; "README.md#default" is the default
// table for the ages state, in the README's last section.
func psReference(t *testing.T, name string) ([]byte, bool) {
	t.Helper()
	file, section, _ := strings.Cut(name, "#")
	b, err := os.ReadFile(filepath.Join(psReferenceDir, file))
	if errors.Is(err, os.ErrNotExist) {
		t.Logf("reference %s not found in %s: checked against the golden file only", file, psReferenceDir)
		return nil, false
	}
	if err != nil {
		t.Fatal(err)
	}
	if section == "" {
		return b, true
	}
	const heading = "## Default table for the state of verbose_with_ages.txt\n```\n"
	_, rest, ok := strings.Cut(string(b), heading)
	if !ok {
		t.Fatalf("%s: no section %q", file, heading)
	}
	table, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatalf("%s: unterminated code block", file)
	}
	return []byte(table), true
}

// TestProxyStatusReference reproduces every reference table byte for byte
// from equivalent syncz fixtures served by fake istiod replicas, over HTTP
// and over xDS: both transports print the same bytes.
func TestProxyStatusReference(t *testing.T) {
	tests := []struct {
		reference string
		golden    string
		replicas  []psReplica
		verbosity int
	}{
		{"multiXdsStatusMultiPilot.txt", "multipilot.txt", psMultiPilot, 0},
		{"multiXdsStatusMultiPilot_verbose.txt", "multipilot_istiod1_verbose.txt", psMultiPilot[:1], 1},
		{"multiXdsStatusSinglePilot.txt", "singlepilot.txt", psSinglePilot, 0},
		{"verbose_with_ages.txt", "ages_verbose.txt", psAges, 1},
		{"README.md#default", "ages.txt", psAges, 0},
	}
	for _, tt := range tests {
		for transport, fetch := range psTransports {
			t.Run(tt.reference+"/"+transport, func(t *testing.T) {
				rows := fetch(t, "", tt.replicas...)
				var out bytes.Buffer
				if err := WriteProxyStatus(&out, rows, ProxyStatusOptions{Verbosity: tt.verbosity, Now: psNow}); err != nil {
					t.Fatal(err)
				}
				psGolden(t, tt.golden, out.Bytes())
				if want, ok := psReference(t, tt.reference); ok && !bytes.Equal(out.Bytes(), want) {
					t.Errorf("does not match reference %s\n--- got\n%s--- want\n%s", tt.reference, out.Bytes(), want)
				}
			})
		}
	}
}

func TestProxyStatusViews(t *testing.T) {
	tests := []struct {
		golden    string
		replicas  []psReplica
		namespace string
		opts      ProxyStatusOptions
	}{
		{"namespaces.txt", psNamespaces, "", ProxyStatusOptions{}},
		{"namespaces_verbose.txt", psNamespaces, "", ProxyStatusOptions{Verbosity: 1, Now: psNow}},
		{"namespaces_foo.txt", psNamespaces, "foo", ProxyStatusOptions{Output: "table"}},
		{"namespaces_foo_verbose.txt", psNamespaces, "foo", ProxyStatusOptions{Verbosity: 1, Now: psNow}},
		{"namespaces.json", psNamespaces, "", ProxyStatusOptions{Output: "json"}},
		{"namespaces.yaml", psNamespaces, "", ProxyStatusOptions{Output: "yaml"}},
		{"namespaces_foo.json", psNamespaces, "foo", ProxyStatusOptions{Output: "json"}},
		{"namespaces_foo.yaml", psNamespaces, "foo", ProxyStatusOptions{Output: "yaml"}},
		{"multipilot.json", psMultiPilot, "", ProxyStatusOptions{Output: "json"}},
		{"multipilot_verbose.txt", psMultiPilot, "", ProxyStatusOptions{Verbosity: 1}},
		{"ages.json", psAges, "", ProxyStatusOptions{Output: "json", Verbosity: 1}},
		{"ages_default.yaml", psAges, "default", ProxyStatusOptions{Output: "yaml"}},
		{"empty.txt", psAges, "nobody", ProxyStatusOptions{}},
		{"empty_verbose.txt", psAges, "nobody", ProxyStatusOptions{Verbosity: 1}},
		{"empty.json", psAges, "nobody", ProxyStatusOptions{Output: "json"}},
		{"empty.yaml", psAges, "nobody", ProxyStatusOptions{Output: "yaml"}},
	}
	for _, tt := range tests {
		for transport, fetch := range psTransports {
			// -o json|yaml carry the proxy type and Envoy version, which only the HTTP answer
			// has; so does VERSION for a proxy that reports no Istio version (1.9.0*, in the
			// namespaces fixtures).
			if transport != "http" && (tt.opts.Output != "" && tt.opts.Output != "table" || tt.replicas[0] == psNamespaces[0]) {
				continue
			}
			t.Run(tt.golden+"/"+transport, func(t *testing.T) {
				rows := fetch(t, tt.namespace, tt.replicas...)
				var out bytes.Buffer
				if err := WriteProxyStatus(&out, rows, tt.opts); err != nil {
					t.Fatal(err)
				}
				psGolden(t, tt.golden, out.Bytes())
			})
		}
	}
}

// TestProxyStatusPartial shows the replicas that answered when others fail.
func TestProxyStatusPartial(t *testing.T) {
	var targets []istiod.Target
	for _, r := range psNamespaces {
		s := istiodtest.NewServer(t, istiodtest.Options{Syncz: istiodtest.ReadFixture(t, filepath.Join(psFixtureDir, r.fixture))})
		targets = append(targets, istiod.Target{Name: r.name, BaseURL: s.URL})
	}
	garbage := istiodtest.NewServer(t, istiodtest.Options{Raw: []byte("<html>hello</html>")})
	slow := istiodtest.NewServer(t, istiodtest.Options{Delay: time.Minute})
	targets = append(targets,
		istiod.Target{Name: "istiod-down", BaseURL: istiodtest.ClosedURL(t)},
		istiod.Target{Name: "istiod-garbage", BaseURL: garbage.URL},
		istiod.Target{Name: "istiod-slow", BaseURL: slow.URL},
	)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	res := (&istiod.Fetcher{}).Syncz(ctx, targets, "")
	if len(res.Errors) != 3 || res.Err() != nil {
		t.Fatalf("errors %v, Err() %v: want 3 failed replicas and no overall error", res.Errors, res.Err())
	}
	var out bytes.Buffer
	if err := WriteProxyStatus(&out, res.Rows, ProxyStatusOptions{}); err != nil {
		t.Fatal(err)
	}
	psGolden(t, "namespaces.txt", out.Bytes())
}

// TestProxyStatusYAMLIsJSON checks that YAML carries the same data as JSON.
func TestProxyStatusYAMLIsJSON(t *testing.T) {
	rows := psFetch(t, "", psNamespaces...)
	var j, y bytes.Buffer
	if err := WriteProxyStatusJSON(&j, rows); err != nil {
		t.Fatal(err)
	}
	if err := WriteProxyStatusYAML(&y, rows); err != nil {
		t.Fatal(err)
	}
	var fromJSON, fromYAML []ProxyStatusRow
	if err := json.Unmarshal(j.Bytes(), &fromJSON); err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(y.Bytes(), &fromYAML); err != nil {
		t.Fatal(err)
	}
	if len(fromJSON) != len(rows) || !reflect.DeepEqual(fromJSON, fromYAML) {
		t.Errorf("yaml and json differ\njson %+v\nyaml %+v", fromJSON, fromYAML)
	}
}

func TestProxyStatusCells(t *testing.T) {
	sent := psNow.Add(-5*time.Minute - time.Second)
	tests := []struct {
		name string
		in   istiod.TypeStatus
		want string
	}{
		{"synced with age", istiod.TypeStatus{Status: istiod.StatusSynced, SentTime: sent}, "SYNCED (5m1s)"},
		{"stale with age", istiod.TypeStatus{Status: istiod.StatusStale, SentTime: psNow.Add(-26 * time.Hour)}, "STALE (26h)"},
		{"error with age", istiod.TypeStatus{Status: istiod.StatusError, SentTime: psNow.Add(-90 * time.Second)}, "ERROR (90s)"},
		{"no send time", istiod.TypeStatus{Status: istiod.StatusSynced}, "SYNCED"},
		{"future send time", istiod.TypeStatus{Status: istiod.StatusSynced, SentTime: psNow.Add(time.Minute)}, "SYNCED (0s)"},
		{"not sent", istiod.TypeStatus{Status: istiod.StatusNotSent, SentTime: sent}, "NOT SENT"},
		{"ignored", istiod.TypeStatus{Status: istiod.StatusIgnored}, "IGNORED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := statusCell(tt.in, psNow); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestProxyStatusUnknownOutput(t *testing.T) {
	err := WriteProxyStatus(&bytes.Buffer{}, nil, ProxyStatusOptions{Output: "xml"})
	want := `unknown output format "xml": use json or yaml, or leave -o out for a table`
	if err == nil || err.Error() != want {
		t.Errorf("err = %v, want %s", err, want)
	}
}

// TestProxyStatusControlCharacters: text from istiod with control characters (a hostile or
// broken server) is escaped in the tables, never printed raw.
func TestProxyStatusControlCharacters(t *testing.T) {
	rows := []istiod.ProxyStatus{{
		Name: "evil\x1b[2J.default", Cluster: "c\tluster", Istiod: "istiod\r", IstioVersion: "1.2\u0085",
		Types: []istiod.TypeStatus{{TypeURL: "type.googleapis.com/x\x07y", Status: istiod.StatusSynced}},
	}}
	for _, v := range []int{0, 1} {
		var out bytes.Buffer
		if err := WriteProxyStatus(&out, rows, ProxyStatusOptions{Verbosity: v, Now: psNow}); err != nil {
			t.Fatal(err)
		}
		got := out.String()
		for _, want := range []string{`evil\x1b[2J.default`, `c\x09luster`, `istiod\x0d`, `1.2\x85`, `x\x07y`} {
			if !strings.Contains(got, want) {
				t.Errorf("-v %d: %q lacks %q", v, got, want)
			}
		}
		for _, r := range strings.TrimRight(got, "\n") {
			if r != '\n' && (r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0)) {
				t.Errorf("-v %d: raw control character %U in %q", v, r, got)
			}
		}
	}
}
