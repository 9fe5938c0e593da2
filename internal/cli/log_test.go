package cli

import (
	"net/http/httptest"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/proxyctl/proxyctl/internal/envoytest"
)

// TestParseLevels: every spelling of --level istioctl accepts.
func TestParseLevels(t *testing.T) {
	all := func(l string) levelChange { return levelChange{level: l} }
	one := func(logger, l string) levelChange { return levelChange{logger: logger, level: l} }
	tests := []struct {
		in   string
		want []levelChange
		err  string
	}{
		{"debug", []levelChange{all("debug")}, ""},
		{"WARN", []levelChange{all("warning")}, ""},
		{"off", []levelChange{all("off")}, ""},
		{"http:debug", []levelChange{one("http", "debug")}, ""},
		{"http=debug", []levelChange{one("http", "debug")}, ""},
		{"misc::info", []levelChange{one("misc", "info")}, ""},
		{"envoy::http:trace", []levelChange{one("http", "trace")}, ""},
		{"debug,http:trace", []levelChange{all("debug"), one("http", "trace")}, ""},
		{"http:trace,debug", []levelChange{all("debug"), one("http", "trace")}, ""},
		{"http:debug, router=trace ,upstream::warn", []levelChange{one("http", "debug"), one("router", "trace"), one("upstream", "warning")}, ""},
		{"info,debug", []levelChange{all("debug")}, ""},
		{"http:debug,,", []levelChange{one("http", "debug")}, ""},
		{"loud", nil, `unknown log level "loud" in --level`},
		{"http", nil, `unknown log level "http" in --level`},
		{"http:loud", nil, `unknown log level "loud" for logger http`},
		{":debug", nil, `invalid --level ":debug"`},
		{"a=b=debug", nil, `invalid --level "a=b=debug"`},
		{",", nil, "names no level"},
	}
	for _, tt := range tests {
		got, err := parseLevels(tt.in)
		switch {
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("parseLevels(%q) = %v, %v; want error %q", tt.in, got, err, tt.err)
		case tt.err == "" && (err != nil || !reflect.DeepEqual(got, tt.want)):
			t.Errorf("parseLevels(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

// TestLogLevelSpellings sets levels through an admin API with each spelling: the proxy must end
// with the levels asked for, after exactly the /logging calls needed (the loggers named are
// checked first).
func TestLogLevelSpellings(t *testing.T) {
	tests := []struct {
		level    string
		requests []string
		want     map[string]string // loggers not named stay at warning
	}{
		{"debug", []string{"POST /logging?level=debug"}, map[string]string{"*": "debug"}},
		{"http:debug", []string{"POST /logging", "POST /logging?http=debug"}, map[string]string{"http": "debug"}},
		{"http=debug", []string{"POST /logging", "POST /logging?http=debug"}, map[string]string{"http": "debug"}},
		{"config::info", []string{"POST /logging", "POST /logging?config=info"}, map[string]string{"config": "info"}},
		{"debug,http:trace", []string{"POST /logging", "POST /logging?level=debug", "POST /logging?http=trace"},
			map[string]string{"*": "debug", "http": "trace"}},
		{"router:warn,wasm=error", []string{"POST /logging", "POST /logging?router=warning", "POST /logging?wasm=error"},
			map[string]string{"router": "warning", "wasm": "error"}},
	}
	dump, err := os.ReadFile(sampleDump)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.level, func(t *testing.T) {
			admin, err := envoytest.NewAdmin(dump, nil)
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(admin)
			defer srv.Close()
			code, out, errOut := run(t, "", "pc", "o", "--admin-url", srv.URL, "--level", tt.level)
			if code != 0 || !strings.HasPrefix(out, "active loggers:\n") {
				t.Fatalf("exit %d\n%s%s", code, out, errOut)
			}
			if got := admin.Requests(); !slices.Equal(got, tt.requests) {
				t.Errorf("requests %q, want %q", got, tt.requests)
			}
			for logger, level := range admin.Levels() {
				want, ok := tt.want[logger]
				if !ok {
					want, ok = tt.want["*"]
				}
				if !ok {
					want = "warning"
				}
				if level != want {
					t.Errorf("logger %s at %s, want %s", logger, level, want)
				}
				if !strings.Contains(out, "  "+logger+": "+want+"\n") {
					t.Errorf("output lacks %s: %s:\n%s", logger, want, out)
				}
			}
		})
	}
}

// TestLogValidatesLoggers: a logger the proxy lacks, even after valid ones, changes nothing.
func TestLogValidatesLoggers(t *testing.T) {
	admin, url := startAdmin(t)
	code, out, errOut := run(t, "", "pc", "log", "--admin-url", url, "--level", "debug,http:trace,nosuch:debug,bogus=info")
	if code != ExitRuntime || out != "" {
		t.Errorf("exit %d, stdout %q", code, out)
	}
	if !strings.Contains(errOut, "has no logger nosuch, bogus, so no level was changed; its loggers: admin, config, connection, http, router, upstream, wasm") {
		t.Errorf("stderr %q", errOut)
	}
	if got := admin.Requests(); !slices.Equal(got, []string{"POST /logging"}) {
		t.Errorf("requests %q: only the list may be read", got)
	}
	for logger, level := range admin.Levels() {
		if level != "warning" {
			t.Errorf("logger %s changed to %s", logger, level)
		}
	}
}
