// Package istiodtest runs fake istiod debug servers (real httptest servers)
// for tests: /debug/syncz from a fixture, filtered by ?namespace= the way
// istiod filters it, and /debug/config_dump?proxyID= for the proxies given.
package istiodtest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// Options describe how a fake istiod answers.
type Options struct {
	// Syncz is the /debug/syncz answer (a JSON array); nil serves "[]".
	Syncz []byte
	// ConfigDumps are the /debug/config_dump answers by proxy id; any other
	// proxy gets 404 "proxy not connected to this Pilot instance".
	ConfigDumps map[string][]byte
	// Status, when set, is the status of every answer (with a short body).
	Status int
	// Raw, when set, is served verbatim with 200 instead of any answer.
	Raw []byte
	// Delay holds every answer this long, or until the client gives up.
	Delay time.Duration
	// Version is the /version answer (VERSION-REVISION-STATUS); empty serves 404.
	Version string
}

// Server is a running fake istiod.
type Server struct {
	*httptest.Server
	mu       sync.Mutex
	requests []string
}

// Requests returns the request URIs (path?query) served so far.
func (s *Server) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requests...)
}

// NewServer starts a fake istiod; it is closed when the test ends.
func NewServer(t testing.TB, o Options) *Server {
	t.Helper()
	s := &Server{}
	done := make(chan struct{})
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests = append(s.requests, r.URL.RequestURI())
		s.mu.Unlock()
		if o.Delay > 0 {
			select {
			case <-time.After(o.Delay):
			case <-r.Context().Done():
				return
			case <-done:
				return
			}
		}
		switch {
		case o.Raw != nil:
			_, _ = w.Write(o.Raw)
		case o.Status != 0:
			http.Error(w, http.StatusText(o.Status), o.Status)
		case r.URL.Path == "/version" && o.Version != "":
			_, _ = w.Write([]byte(o.Version))
		case r.URL.Path == "/debug/syncz":
			serveSyncz(t, w, r, o.Syncz)
		case r.URL.Path == "/debug/config_dump":
			body, ok := o.ConfigDumps[r.URL.Query().Get("proxyID")]
			if !ok {
				http.Error(w, "proxy not connected to this Pilot instance", http.StatusNotFound)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(body)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(func() {
		close(done)
		s.Close()
	})
	return s
}

// serveSyncz writes the fixture, keeping only the proxies of ?namespace=
// (the part of the proxy id after the last dot) when it is set.
func serveSyncz(t testing.TB, w http.ResponseWriter, r *http.Request, fixture []byte) {
	w.Header().Set("Content-Type", "application/json")
	if fixture == nil {
		fixture = []byte("[]")
	}
	ns := r.URL.Query().Get("namespace")
	if ns == "" {
		_, _ = w.Write(fixture)
		return
	}
	var entries []map[string]any
	if err := json.Unmarshal(fixture, &entries); err != nil {
		t.Errorf("istiodtest: syncz fixture is not a JSON array: %v", err)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	kept := []map[string]any{}
	for _, e := range entries {
		id, _ := e["proxy"].(string)
		if i := strings.LastIndexByte(id, '.'); i >= 0 && id[i+1:] == ns {
			kept = append(kept, e)
		}
	}
	_ = json.NewEncoder(w).Encode(kept)
}

// ClosedURL returns the URL of a server that is no longer listening.
func ClosedURL(t testing.TB) string {
	t.Helper()
	s := httptest.NewServer(http.NotFoundHandler())
	u := s.URL
	s.Close()
	return u
}

// ReadFixture reads a fixture file, failing the test when it cannot.
func ReadFixture(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read fixture: %v", err)
	}
	return b
}
