package istiod

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/proxyctl/proxyctl/internal/testutil"

	"github.com/proxyctl/proxyctl/internal/istiod/istiodtest"
)

// checkGolden compares got with testdata/golden/proxystatus/name.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	testutil.Golden(t, "proxystatus/"+name, got)
}

func fixture(t *testing.T, name string) []byte {
	return istiodtest.ReadFixture(t, filepath.Join(fixtureDir, name))
}

var portRE = regexp.MustCompile(`127\.0\.0\.1:\d+`)

// normalize replaces each target's base URL by http://<name> and any other
// local port by PORT so messages are stable.
func normalize(s string, targets []Target) string {
	for _, t := range targets {
		s = strings.ReplaceAll(s, t.BaseURL, "http://<"+t.Name+">")
	}
	return portRE.ReplaceAllString(s, "127.0.0.1:PORT")
}

func TestSynczReplicas(t *testing.T) {
	a := istiodtest.NewServer(t, istiodtest.Options{Syncz: fixture(t, "namespaces/istiod-a.json")})
	b := istiodtest.NewServer(t, istiodtest.Options{Syncz: fixture(t, "namespaces/istiod-b.json")})
	slow := istiodtest.NewServer(t, istiodtest.Options{Syncz: fixture(t, "ages/istiod-fake-0.json"), Delay: time.Minute})
	garbage := istiodtest.NewServer(t, istiodtest.Options{Raw: fixture(t, "garbage.html")})
	unavailable := istiodtest.NewServer(t, istiodtest.Options{Status: 503})
	targets := []Target{
		{Name: "istiod-a", Namespace: "istio-system", BaseURL: a.URL},
		{Name: "istiod-down", Namespace: "istio-system", BaseURL: istiodtest.ClosedURL(t)},
		{Name: "istiod-slow", Namespace: "istio-system", BaseURL: slow.URL},
		{Name: "istiod-garbage", Namespace: "istio-system", BaseURL: garbage.URL},
		{Name: "istiod-b", Namespace: "istio-system", BaseURL: b.URL + "/"},
		{Name: "istiod-7d9f", Namespace: "istio-system", BaseURL: unavailable.URL},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	res := (&Fetcher{}).Syncz(ctx, targets, "")
	if elapsed := time.Since(start); elapsed > 30*time.Second {
		t.Errorf("took %v: the slow replica was not cut by the context", elapsed)
	}
	if err := res.Err(); err != nil {
		t.Fatalf("Err() = %v, want nil as two replicas answered", err)
	}
	if res.Asked != len(targets) {
		t.Errorf("Asked = %d", res.Asked)
	}
	wantRows := []string{
		"legacy-app-6d9b7f5c4-tq2wm.foo@istiod-a",
		"ratings-v1-5dc79b6bcd-8wqvn.foo@istiod-a",
		"reviews-v1-7f99cc4496-k2lpz.default@istiod-a",
		"reviews-v1-7f99cc4496-k2lpz.default@istiod-b",
		"waypoint-5f6d7c8b9-hq4rt.foo@istiod-b",
		"ztunnel-x7k2p.istio-system@istiod-b",
	}
	if got := names(res.Rows); !reflect.DeepEqual(got, wantRows) {
		t.Errorf("rows %v\nwant %v", got, wantRows)
	}
	var lines []string
	for _, e := range res.Errors {
		lines = append(lines, normalize(e.Error(), targets))
	}
	checkGolden(t, "fetch_errors.txt", []byte(strings.Join(lines, "\n")+"\n"))

	byName := map[string]*TargetError{}
	for _, e := range res.Errors {
		byName[e.Target.Name] = e
	}
	if e := byName["istiod-slow"]; e == nil || !errors.Is(e, context.DeadlineExceeded) {
		t.Errorf("slow replica error %v should wrap context.DeadlineExceeded", e)
	}
	var hse *HTTPStatusError
	if e := byName["istiod-7d9f"]; e == nil || !errors.As(e, &hse) || hse.Code != 503 {
		t.Errorf("503 replica error %v should be an *HTTPStatusError with code 503", e)
	}
	if got := a.Requests(); !reflect.DeepEqual(got, []string{"/debug/syncz"}) {
		t.Errorf("istiod-a requests = %v", got)
	}
	if got := b.Requests(); !reflect.DeepEqual(got, []string{"/debug/syncz"}) {
		t.Errorf("istiod-b requests = %v (trailing slash of the base URL)", got)
	}
}

func TestSynczNamespace(t *testing.T) {
	a := istiodtest.NewServer(t, istiodtest.Options{Syncz: fixture(t, "namespaces/istiod-a.json")})
	b := istiodtest.NewServer(t, istiodtest.Options{Syncz: fixture(t, "namespaces/istiod-b.json")})
	// An istiod that ignores ?namespace=: the rows are filtered anyway.
	deaf := istiodtest.NewServer(t, istiodtest.Options{Raw: fixture(t, "ages/istiod-fake-0.json")})
	targets := []Target{
		{Name: "istiod-a", BaseURL: a.URL},
		{Name: "istiod-b", BaseURL: b.URL},
		{Name: "istiod-deaf", BaseURL: deaf.URL},
	}
	tests := []struct {
		ns   string
		want []string
	}{
		{"foo", []string{
			"legacy-app-6d9b7f5c4-tq2wm.foo@istiod-a",
			"ratings-v1-5dc79b6bcd-8wqvn.foo@istiod-a",
			"waypoint-5f6d7c8b9-hq4rt.foo@istiod-b",
		}},
		{"default", []string{
			"details-v1-5f4d584748-x2x8j.default@istiod-deaf",
			"productpage-v1-6b746f74dc-9stvs.default@istiod-deaf",
			"reviews-v1-7f99cc4496-k2lpz.default@istiod-a",
			"reviews-v1-7f99cc4496-k2lpz.default@istiod-b",
		}},
		{"empty-ns", []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.ns, func(t *testing.T) {
			res := (&Fetcher{}).Syncz(context.Background(), targets, tt.ns)
			if len(res.Errors) > 0 {
				t.Fatalf("errors: %v", res.Errors)
			}
			if got := names(res.Rows); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("rows %v\nwant %v", got, tt.want)
			}
			reqs := a.Requests()
			if last := reqs[len(reqs)-1]; last != "/debug/syncz?namespace="+tt.ns {
				t.Errorf("request = %q", last)
			}
		})
	}
}

func TestSynczErrors(t *testing.T) {
	big := istiodtest.NewServer(t, istiodtest.Options{Syncz: fixture(t, "namespaces/istiod-a.json")})
	notFound := istiodtest.NewServer(t, istiodtest.Options{Status: 404})
	tests := []struct {
		name    string
		fetcher *Fetcher
		targets []Target
		ns      string
		wantErr string
	}{
		{
			name:    "no targets",
			fetcher: &Fetcher{},
			wantErr: "no istiod to ask: check -i/--istio-namespace and -r/--revision, or give --istiod-url",
		},
		{
			name:    "answer too large",
			fetcher: &Fetcher{MaxBodyBytes: 100},
			targets: []Target{{Name: "istiod-0", Namespace: "istio-system", BaseURL: big.URL}},
			wantErr: "no istiod answered (asked 1): istiod istiod-0 in istio-system: GET /debug/syncz: document too large: more than the limit of 100 bytes (100 B) for istiod's /debug/syncz answer; if it is one, raise --max-input",
		},
		{
			name:    "not found with namespace in the request",
			fetcher: nil,
			targets: []Target{{Name: "istiod-0", BaseURL: notFound.URL}},
			ns:      "foo",
			wantErr: "no istiod answered (asked 1): istiod istiod-0: GET /debug/syncz?namespace=foo: 404 Not Found",
		},
		{
			name:    "bad base url",
			fetcher: &Fetcher{},
			targets: []Target{{Name: "istiod-0", BaseURL: "localhost:15014"}, {Name: "istiod-1", BaseURL: "::"}},
			wantErr: `no istiod answered (asked 2): istiod istiod-0: GET /debug/syncz: invalid base URL "localhost:15014": want http://HOST:PORT; ` +
				`istiod istiod-1: GET /debug/syncz: invalid base URL "::": want http://HOST:PORT`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := tt.fetcher.Syncz(context.Background(), tt.targets, tt.ns)
			err := res.Err()
			if err == nil || err.Error() != tt.wantErr {
				t.Fatalf("err = %v\nwant %s", err, tt.wantErr)
			}
			var all *AllFailedError
			if len(tt.targets) > 0 && !errors.As(err, &all) {
				t.Errorf("err is not an *AllFailedError")
			}
		})
	}
}

func TestConfigDump(t *testing.T) {
	dump := fixture(t, "configdump/reviews-v1.json")
	const proxy = "reviews-v1-7f99cc4496-k2lpz.default"
	unavailable := istiodtest.NewServer(t, istiodtest.Options{Status: 503})
	other := istiodtest.NewServer(t, istiodtest.Options{ConfigDumps: map[string][]byte{"other.default": dump}})
	empty := istiodtest.NewServer(t, istiodtest.Options{ConfigDumps: map[string][]byte{proxy: []byte("{}\n")}})
	emptyConfigs := istiodtest.NewServer(t, istiodtest.Options{ConfigDumps: map[string][]byte{proxy: []byte(`{"configs":[]}`)}})
	text := istiodtest.NewServer(t, istiodtest.Options{ConfigDumps: map[string][]byte{proxy: []byte("proxy not found\n")}})
	good := istiodtest.NewServer(t, istiodtest.Options{ConfigDumps: map[string][]byte{proxy: dump}})
	after := istiodtest.NewServer(t, istiodtest.Options{ConfigDumps: map[string][]byte{proxy: dump}})
	targets := []Target{
		{Name: "istiod-0", Namespace: "istio-system", BaseURL: unavailable.URL},
		{Name: "istiod-1", Namespace: "istio-system", BaseURL: other.URL},
		{Name: "istiod-2", Namespace: "istio-system", BaseURL: empty.URL},
		{Name: "istiod-3", Namespace: "istio-system", BaseURL: emptyConfigs.URL},
		{Name: "istiod-4", Namespace: "istio-system", BaseURL: text.URL},
		{Name: "istiod-5", Namespace: "istio-system", BaseURL: good.URL},
		{Name: "istiod-6", Namespace: "istio-system", BaseURL: after.URL},
	}
	f := &Fetcher{}
	res, err := f.ConfigDump(context.Background(), targets, proxy)
	if err != nil {
		t.Fatal(err)
	}
	if (res.Istiod.Name != "istiod-5" && res.Istiod.Name != "istiod-6") || !bytes.Equal(res.Body, dump) {
		t.Errorf("answered by %s with %d bytes, want istiod-5 or 6 with the dump", res.Istiod.Name, len(res.Body))
	}

	// Every replica is asked at once: one that hangs does not hold up the answer.
	hung := istiodtest.NewServer(t, istiodtest.Options{Delay: time.Hour})
	start := time.Now()
	res, err = f.ConfigDump(context.Background(), []Target{{Name: "istiod-hung", BaseURL: hung.URL}, {Name: "istiod-5", BaseURL: good.URL}}, proxy)
	if err != nil || res.Istiod.Name != "istiod-5" || time.Since(start) > 5*time.Second {
		t.Errorf("a hung replica first: answered by %s, %v, after %s", res.Istiod.Name, err, time.Since(start))
	}

	_, err = f.ConfigDump(context.Background(), targets[:5], proxy)
	if !errors.Is(err, ErrProxyNotConnected) {
		t.Fatalf("err = %v, want ErrProxyNotConnected", err)
	}
	var cde *ConfigDumpError
	if !errors.As(err, &cde) || len(cde.Errors) != 5 {
		t.Fatalf("err = %#v, want a *ConfigDumpError with 5 errors", err)
	}
	checkGolden(t, "configdump_errors.txt", []byte(normalize(err.Error(), targets)+"\n"))

	if _, err := f.ConfigDump(context.Background(), nil, proxy); err == nil || !strings.Contains(err.Error(), "no istiod to ask") {
		t.Errorf("no targets: err = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.ConfigDump(ctx, targets[5:], proxy); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: err = %v, want context.Canceled", err)
	}
}

func TestTargetFromURL(t *testing.T) {
	tests := []struct {
		in      string
		want    Target
		wantErr bool
	}{
		{in: "http://127.0.0.1:15014", want: Target{Name: "127.0.0.1:15014", BaseURL: "http://127.0.0.1:15014"}},
		{in: "http://istiod.istio-system:15014/", want: Target{Name: "istiod.istio-system:15014", BaseURL: "http://istiod.istio-system:15014"}},
		{in: "localhost:15014", want: Target{Name: "localhost:15014", BaseURL: "http://localhost:15014"}},
		{in: "https://mesh.example.com/istiod/", want: Target{Name: "mesh.example.com", BaseURL: "https://mesh.example.com/istiod"}},
		{in: "", wantErr: true},
		{in: "ftp://host:21", wantErr: true},
		{in: "http://", wantErr: true},
		{in: "http://host:15014/?x=1", wantErr: true},
		{in: "http://host:15014/#top", wantErr: true},
		{in: "http://host:15014?", wantErr: true},
		{in: "http://admin:s3cret@host:15014", want: Target{Name: "host:15014", BaseURL: "http://admin:s3cret@host:15014"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := TargetFromURL(tt.in)
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), "want http://HOST:PORT") || strings.Contains(err.Error(), "s3cret") {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Name != tt.want.Name || got.BaseURL != tt.want.BaseURL || got.Namespace != tt.want.Namespace {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestTargetFromURLFetches(t *testing.T) {
	s := istiodtest.NewServer(t, istiodtest.Options{Syncz: fixture(t, "multipilot/istiod4.json")})
	target, err := TargetFromURL(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	res := (&Fetcher{}).Syncz(context.Background(), []Target{target}, "")
	if len(res.Errors) != 0 || len(res.Rows) != 1 || res.Rows[0].Istiod != strings.TrimPrefix(s.URL, "http://") {
		t.Errorf("rows %+v errors %v", res.Rows, res.Errors)
	}
}

// TestSynczFailOn applies --fail-on to what the replicas that answered report.
func TestSynczFailOn(t *testing.T) {
	var targets []Target
	for _, n := range []string{"istiod1", "istiod2", "istiod3", "istiod4"} {
		s := istiodtest.NewServer(t, istiodtest.Options{Syncz: fixture(t, "multipilot/"+n+".json")})
		targets = append(targets, Target{Name: n, BaseURL: s.URL})
	}
	targets = append(targets, Target{Name: "istiod-down", BaseURL: istiodtest.ClosedURL(t)})
	res := (&Fetcher{}).Syncz(context.Background(), targets, "")
	if len(res.Rows) != 4 || len(res.Errors) != 1 {
		t.Fatalf("rows %v errors %v", names(res.Rows), res.Errors)
	}
	tests := []struct {
		values []string
		filter Filter
		want   bool
	}{
		{nil, Filter{}, false},
		{[]string{"error"}, Filter{}, true},
		{[]string{"error"}, Filter{Proxy: "proxy1"}, false},
		{[]string{"notsent"}, Filter{Proxy: "proxy1"}, true},
		{[]string{"stale", "error", "notsent"}, Filter{Proxy: "proxy4"}, false},
		{[]string{"stale"}, Filter{Proxy: "proxy2"}, true},
		{[]string{"error", "notsent"}, Filter{Proxy: "proxy2"}, false},
	}
	for _, tt := range tests {
		f, err := ParseFailOn(tt.values)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(f.Failing(tt.filter.Apply(res.Rows))) > 0; got != tt.want {
			t.Errorf("--fail-on %v on %+v = %v, want %v", tt.values, tt.filter, got, tt.want)
		}
	}
}

// TestSynczBounds: an answer is decoded as it arrives and bounded twice: by its size, and by
// the number of proxies it may list, so that tiny entries cannot take more memory than real ones.
func TestSynczBounds(t *testing.T) {
	for _, tc := range []struct {
		name, item, want string
	}{
		{"tiny entries", `{"proxy": "a"},`, "the answer lists more than 8192 proxies, one per 128 bytes of the limit of 1 MiB"},
		{"large entries", `{"proxy": "` + strings.Repeat("a", 1000) + `"},`, "GET /debug/syncz: document too large: more than the limit of 1048576 bytes (1 MiB)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Write([]byte("["))
				chunk := []byte(strings.Repeat(tc.item, 1000))
				for r.Context().Err() == nil {
					if _, err := w.Write(chunk); err != nil {
						return
					}
				}
			}))
			defer srv.Close()
			res := (&Fetcher{MaxBodyBytes: 1 << 20}).Syncz(context.Background(), []Target{{Name: "istiod-0", BaseURL: srv.URL}}, "")
			if err := res.Err(); err == nil || !strings.Contains(err.Error(), tc.want) || len(res.Rows) != 0 {
				t.Errorf("err %v, %d rows; want %q", err, len(res.Rows), tc.want)
			}
		})
	}
}

// TestFetchSendsUnsentAgain: a request the target's Unsent says never reached istiod (the
// kubelet reset a port-forward's streams) is sent once more; any other failure is not.
func TestFetchSendsUnsentAgain(t *testing.T) {
	dump := fixture(t, "configdump/reviews-v1.json")
	const proxy = "reviews-v1-7f99cc4496-k2lpz.default"
	good := istiodtest.NewServer(t, istiodtest.Options{ConfigDumps: map[string][]byte{proxy: dump}})
	for _, unsent := range []bool{true, false} {
		var conns atomic.Int32
		// The first connection is closed before any answer; the next are answered by good.
		drop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if conns.Add(1) == 1 {
				c, _, _ := w.(http.Hijacker).Hijack()
				c.Close()
				return
			}
			resp, err := http.Get(good.URL + r.URL.RequestURI())
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			w.WriteHeader(resp.StatusCode)
			_, _ = io.Copy(w, resp.Body)
		}))
		asked := 0
		target := Target{Name: "istiod-0", BaseURL: drop.URL, Unsent: func(error) bool { asked++; return unsent }}
		res, err := (&Fetcher{}).ConfigDump(context.Background(), []Target{target}, proxy)
		switch {
		case asked != 1:
			t.Errorf("unsent %v: asked %d times, want once", unsent, asked)
		case unsent && (err != nil || !bytes.Equal(res.Body, dump)):
			t.Errorf("unsent: %d bytes, %v; want the dump from the second request", len(res.Body), err)
		case !unsent && (err == nil || conns.Load() != 1):
			t.Errorf("sent: err %v after %d requests, want the first one's failure", err, conns.Load())
		}
		drop.Close()
	}
}
