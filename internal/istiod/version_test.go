package istiod

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestParseVersion(t *testing.T) {
	tests := []struct {
		text string
		want Version
		err  string
	}{
		{"1.24.2-0b8d1ecd5ef9b2bf4ee1b2a3f4c6f2e8a1b2c3d4-Clean", Version{Version: "1.24.2", GitRevision: "0b8d1ecd5ef9b2bf4ee1b2a3f4c6f2e8a1b2c3d4", BuildStatus: "Clean"}, ""},
		{"1.26.0-beta.1-abc123-Modified\n", Version{Version: "1.26.0-beta.1", GitRevision: "abc123", BuildStatus: "Modified"}, ""},
		{"1.20.0", Version{Version: "1.20.0"}, ""},
		{"", Version{}, "not istiod's"},
		{"<html>sign in</html>", Version{}, "not istiod's"},
	}
	for _, tt := range tests {
		got, err := ParseVersion(tt.text)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseVersion(%q) = %+v, %v; want error %q", tt.text, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseVersion(%q) = %+v, %v; want %+v", tt.text, got, err, tt.want)
		}
	}
}

func TestVersions(t *testing.T) {
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != VersionPath {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte("1.24.2-abc-Clean"))
	}))
	defer ok.Close()
	broken := httptest.NewServer(http.NotFoundHandler())
	defer broken.Close()
	targets := []Target{{Name: "istiod-a", Namespace: "istio-system", BaseURL: ok.URL}, {Name: "istiod-b", BaseURL: broken.URL}}
	versions, errs := (&Fetcher{}).Versions(context.Background(), targets)
	if len(versions) != 1 || versions[0] != (Version{Istiod: "istiod-a", Namespace: "istio-system", Version: "1.24.2", GitRevision: "abc", BuildStatus: "Clean"}) {
		t.Errorf("versions %+v", versions)
	}
	if len(errs) != 1 || errs[0].Target.Name != "istiod-b" || !strings.Contains(errs[0].Error(), "GET /version: 404") {
		t.Errorf("errors %v", errs)
	}
}
