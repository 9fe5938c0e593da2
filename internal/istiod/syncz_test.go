package istiod

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

const fixtureDir = "../../testdata/istiod"

func TestComputeStatus(t *testing.T) {
	tests := []struct {
		name string
		in   Resource
		want Status
	}{
		{"nothing sent", Resource{}, StatusNotSent},
		{"acked without send", Resource{Acked: "n1"}, StatusNotSent},
		{"synced", Resource{Sent: "n1", Acked: "n1"}, StatusSynced},
		{"stale", Resource{Sent: "n2", Acked: "n1"}, StatusStale},
		{"never acked", Resource{Sent: "n1"}, StatusStale},
		{"error wins over synced", Resource{Sent: "n1", Acked: "n1", LastError: "nack"}, StatusError},
		{"error wins over not sent", Resource{LastError: "nack"}, StatusError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ComputeStatus(tt.in); got != tt.want {
				t.Errorf("ComputeStatus(%+v) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestStatusLabel(t *testing.T) {
	if got := StatusNotSent.Label(); got != "NOT SENT" {
		t.Errorf("label = %q", got)
	}
	if got := StatusSynced.Label(); got != "SYNCED" {
		t.Errorf("label = %q", got)
	}
}

func TestShortTypeName(t *testing.T) {
	tests := map[string]string{
		TypeURLCluster:         "CDS",
		TypeURLListener:        "LDS",
		TypeURLEndpoint:        "EDS",
		TypeURLRoute:           "RDS",
		TypeURLExtensionConfig: "ECDS",
		TypeURLSecret:          "SDS",
		TypeURLAuthorization:   "WADS",
		TypeURLAddress:         "WDS",
		TypeURLNameTable:       "NDS",
		TypeURLProxyConfig:     "PCDS",
		"type.googleapis.com/envoy.service.runtime.v3.Runtime": "type.googleapis.com/envoy.service.runtime.v3.Runtime",
		"": "",
	}
	for in, want := range tests {
		if got := ShortTypeName(in); got != want {
			t.Errorf("ShortTypeName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSortSubscribed(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want []string
	}{
		{
			name: "leading four in fixed order, then by url",
			in: []string{TypeURLAddress, TypeURLExtensionConfig, TypeURLRoute, TypeURLSecret, TypeURLEndpoint,
				TypeURLNameTable, TypeURLListener, TypeURLProxyConfig, TypeURLCluster, TypeURLAuthorization},
			want: []string{TypeURLCluster, TypeURLListener, TypeURLEndpoint, TypeURLRoute,
				TypeURLExtensionConfig, TypeURLSecret, TypeURLProxyConfig, TypeURLNameTable, TypeURLAuthorization, TypeURLAddress},
		},
		{
			name: "unknown urls sort with the others",
			in:   []string{"zz.unknown", TypeURLAddress, "aa.unknown", TypeURLRoute},
			want: []string{TypeURLRoute, "aa.unknown", TypeURLAddress, "zz.unknown"},
		},
		{name: "empty", in: nil, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := append([]string(nil), tt.in...)
			SortSubscribed(got)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v\nwant %v", got, tt.want)
			}
		})
	}
}

func TestDecodeSyncz(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    int
		wantErr string
	}{
		{name: "empty array", in: "[]", want: 0},
		{name: "null", in: "null", want: 0},
		{name: "unknown fields kept out", in: `[{"proxy":"a.b","new":{"x":[1]},"resources":{"t":{"sent":"1","other":2}}}]`, want: 1},
		{name: "whitespace around", in: "\n [ {\"proxy\":\"a.b\"} ]\n", want: 1},
		{name: "empty body", in: "", wantErr: "empty answer"},
		{name: "html", in: "<html>hi</html>", wantErr: "not a syncz JSON array: invalid character '<'"},
		{name: "object", in: `{"proxy":"a.b"}`, wantErr: "not a syncz JSON array"},
		{name: "trailing data", in: `[] []`, wantErr: "trailing data"},
		{name: "truncated", in: `[{"proxy":"a`, wantErr: "not a syncz JSON array"},
		{name: "wrong field type", in: `[{"proxy":3}]`, wantErr: "not a syncz JSON array"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeSyncz(strings.NewReader(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.want {
				t.Errorf("got %d entries, want %d", len(got), tt.want)
			}
		})
	}
}

func TestRow(t *testing.T) {
	sent := "2024-03-04T09:37:44.5+01:00"
	tests := []struct {
		name string
		in   SynczEntry
		want ProxyStatus
	}{
		{
			name: "resources in subscribed order with times and errors",
			in: SynczEntry{
				ProxyID: "details-v1.default", ProxyType: "sidecar", ClusterID: "Kubernetes", IstioVersion: "1.20.1", ProxyVersion: "1.20.0",
				ClusterSent: "ignored-when-resources-set",
				Resources: map[string]Resource{
					TypeURLRoute:   {Sent: "r2", Acked: "r1", SentTime: sent, LastError: "nack"},
					TypeURLCluster: {Sent: "c1", Acked: "c1", SentTime: "not a time"},
					"x.unknown":    {},
				},
			},
			want: ProxyStatus{
				Name: "details-v1.default", Namespace: "default", Type: "sidecar", Cluster: "Kubernetes", Istiod: "istiod-0",
				IstioVersion: "1.20.1", ProxyVersion: "1.20.0",
				Types: []TypeStatus{
					{TypeURL: TypeURLCluster, Status: StatusSynced},
					{TypeURL: TypeURLRoute, Status: StatusError, SentTime: time.Date(2024, 3, 4, 8, 37, 44, 5e8, time.UTC), Error: "nack"},
					{TypeURL: "x.unknown", Status: StatusNotSent},
				},
			},
		},
		{
			name: "legacy nonce pairs when no resources",
			in: SynczEntry{
				ProxyID: "old", ProxyVersion: "1.9.0",
				ClusterSent: "c2", ClusterAcked: "c1", ListenerSent: "l1", ListenerAcked: "l1", RouteSent: "r1",
				ExtensionConfigAcked: "e0",
			},
			want: ProxyStatus{
				Name: "old", Istiod: "istiod-0", ProxyVersion: "1.9.0",
				Types: []TypeStatus{
					{TypeURL: TypeURLCluster, Status: StatusStale},
					{TypeURL: TypeURLListener, Status: StatusSynced},
					{TypeURL: TypeURLRoute, Status: StatusStale},
					{TypeURL: TypeURLExtensionConfig, Status: StatusNotSent},
				},
			},
		},
		{
			name: "watches nothing",
			in:   SynczEntry{ProxyID: "gw.istio-system", IstioVersion: "1.20"},
			want: ProxyStatus{Name: "gw.istio-system", Namespace: "istio-system", Istiod: "istiod-0", IstioVersion: "1.20", Types: []TypeStatus{}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.in.Row("istiod-0")
			for i := range got.Types {
				if !got.Types[i].SentTime.IsZero() {
					got.Types[i].SentTime = got.Types[i].SentTime.UTC()
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	tests := []struct {
		istio, proxy, want string
	}{
		{"1.20", "1.20.0", "1.20"},
		{"", "1.9.0", "1.9.0*"},
		{"", "", ""},
	}
	for _, tt := range tests {
		if got := (ProxyStatus{IstioVersion: tt.istio, ProxyVersion: tt.proxy}).Version(); got != tt.want {
			t.Errorf("Version(%q, %q) = %q, want %q", tt.istio, tt.proxy, got, tt.want)
		}
	}
}

// fixtureRows decodes fixture files, each reported by the istiod named after
// the file, into sorted rows.
func fixtureRows(t *testing.T, files ...string) []ProxyStatus {
	t.Helper()
	var rows []ProxyStatus
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(fixtureDir, f))
		if err != nil {
			t.Fatal(err)
		}
		entries, err := DecodeSyncz(strings.NewReader(string(b)))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		rows = append(rows, Rows(strings.TrimSuffix(filepath.Base(f), ".json"), entries)...)
	}
	SortRows(rows)
	return rows
}

func names(rows []ProxyStatus) []string {
	out := []string{}
	for _, r := range rows {
		out = append(out, r.Name+"@"+r.Istiod)
	}
	return out
}

func TestSortRows(t *testing.T) {
	rows := fixtureRows(t, "namespaces/istiod-b.json", "namespaces/istiod-a.json")
	want := []string{
		"legacy-app-6d9b7f5c4-tq2wm.foo@istiod-a",
		"ratings-v1-5dc79b6bcd-8wqvn.foo@istiod-a",
		"reviews-v1-7f99cc4496-k2lpz.default@istiod-a",
		"reviews-v1-7f99cc4496-k2lpz.default@istiod-b",
		"waypoint-5f6d7c8b9-hq4rt.foo@istiod-b",
		"ztunnel-x7k2p.istio-system@istiod-b",
	}
	if got := names(rows); !reflect.DeepEqual(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
}

func TestFilter(t *testing.T) {
	rows := fixtureRows(t, "namespaces/istiod-a.json", "namespaces/istiod-b.json")
	rows = append(rows, ProxyStatus{Name: "proxy1", Istiod: "istiod1"})
	tests := []struct {
		name string
		f    Filter
		want []string
	}{
		{name: "everything", f: Filter{}, want: names(rows)},
		{name: "namespace foo keeps ids without namespace", f: Filter{Namespace: "foo"}, want: []string{
			"legacy-app-6d9b7f5c4-tq2wm.foo@istiod-a", "ratings-v1-5dc79b6bcd-8wqvn.foo@istiod-a",
			"waypoint-5f6d7c8b9-hq4rt.foo@istiod-b", "proxy1@istiod1",
		}},
		{name: "proxy by id", f: Filter{Proxy: "reviews-v1-7f99cc4496-k2lpz.default"}, want: []string{
			"reviews-v1-7f99cc4496-k2lpz.default@istiod-a", "reviews-v1-7f99cc4496-k2lpz.default@istiod-b",
		}},
		{name: "proxy by pod and namespace", f: Filter{Namespace: "foo", Proxy: "waypoint-5f6d7c8b9-hq4rt"}, want: []string{
			"waypoint-5f6d7c8b9-hq4rt.foo@istiod-b",
		}},
		{name: "pod name alone does not match", f: Filter{Proxy: "waypoint-5f6d7c8b9-hq4rt"}, want: []string{}},
		{name: "unknown namespace", f: Filter{Namespace: "nope"}, want: []string{"proxy1@istiod1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := names(tt.f.Apply(rows)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v\nwant %v", got, tt.want)
			}
		})
	}
}

func TestVerboseColumns(t *testing.T) {
	rows := fixtureRows(t, "ages/istiod-fake-0.json")
	want := []string{TypeURLCluster, TypeURLExtensionConfig, TypeURLEndpoint, TypeURLListener, TypeURLRoute,
		TypeURLAuthorization, TypeURLAddress}
	if got := VerboseColumns(rows); !reflect.DeepEqual(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
	if got := VerboseColumns(nil); len(got) != 0 {
		t.Errorf("no rows: got %v", got)
	}
}

func TestParseFailOn(t *testing.T) {
	tests := []struct {
		in      []string
		want    FailOn
		wantErr string
	}{
		{in: nil, want: FailOn{}},
		{in: []string{"stale"}, want: FailOn{StatusStale: true}},
		{in: []string{"STALE", "error"}, want: FailOn{StatusStale: true, StatusError: true}},
		{in: []string{"notsent,not-sent", "not_sent"}, want: FailOn{StatusNotSent: true}},
		{in: []string{"stale, error ,notsent"}, want: FailOn{StatusStale: true, StatusError: true, StatusNotSent: true}},
		{in: []string{"synced"}, wantErr: `invalid --fail-on value "synced": use stale, error, notsent`},
		{in: []string{"stale", "bogus"}, wantErr: `invalid --fail-on value "bogus"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.in, "|"), func(t *testing.T) {
			got, err := ParseFailOn(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFailOn(t *testing.T) {
	multi := fixtureRows(t, "multipilot/istiod1.json", "multipilot/istiod2.json", "multipilot/istiod3.json", "multipilot/istiod4.json")
	ages := fixtureRows(t, "ages/istiod-fake-0.json")
	tests := []struct {
		name   string
		rows   []ProxyStatus
		values []string
		filter Filter
		want   []string
	}{
		{name: "no flag", rows: multi, values: nil, want: nil},
		{name: "stale", rows: multi, values: []string{"stale"}, want: []string{"proxy1@istiod1", "proxy2@istiod2", "proxy3@istiod3"}},
		{name: "error", rows: multi, values: []string{"error"}, want: []string{"proxy3@istiod3"}},
		{name: "notsent", rows: multi, values: []string{"notsent"}, want: []string{"proxy1@istiod1", "proxy3@istiod3"}},
		{name: "ignored types never fail", rows: multi[3:], values: []string{"stale", "error", "notsent"}, want: nil},
		{name: "all synced", rows: ages, values: []string{"stale"}, filter: Filter{Namespace: "istio-system"}, want: nil},
		{name: "shown rows only", rows: ages, values: []string{"error"}, filter: Filter{Namespace: "default"},
			want: []string{"details-v1-5f4d584748-x2x8j.default@istiod-fake-0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseFailOn(tt.values)
			if err != nil {
				t.Fatal(err)
			}
			shown := tt.filter.Apply(tt.rows)
			got := f.Failing(shown)
			var gotNames []string
			for _, r := range got {
				gotNames = append(gotNames, r.Name+"@"+r.Istiod)
			}
			if !reflect.DeepEqual(gotNames, tt.want) {
				t.Errorf("failing = %v, want %v", gotNames, tt.want)
			}
			if matched := len(f.Failing(shown)) > 0; matched != (len(tt.want) > 0) {
				t.Errorf("any failing = %v, want %v", matched, len(tt.want) > 0)
			}
		})
	}
}
