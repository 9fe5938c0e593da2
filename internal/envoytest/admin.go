// Package envoytest is a stand-in for Envoy's admin API, for tests: it serves a config dump
// the way Envoy does (masks, include_eds), the /clusters?format=json document, /logging, and
// any other document set with SetDocument (/server_info, /certs, /stats...).
package envoytest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"
)

// Admin serves one proxy's admin API.
type Admin struct {
	dump     map[string]any
	clusters []byte

	mu       sync.Mutex
	levels   map[string]string
	requests []string
	docs     map[string][]byte // by path and query, without the leading slash
	status   map[string]int    // by path, without the query
	delay    time.Duration
}

// Loggers are the loggers the stand-in knows, all at "warning" at first.
var Loggers = []string{"admin", "config", "connection", "http", "router", "upstream", "wasm"}

// NewAdmin serves a config dump (JSON) and a /clusters?format=json document.
func NewAdmin(dump, clusters []byte) (*Admin, error) {
	a := &Admin{clusters: clusters, levels: map[string]string{}, docs: map[string][]byte{}, status: map[string]int{}}
	if err := json.Unmarshal(dump, &a.dump); err != nil {
		return nil, fmt.Errorf("envoytest: config dump: %w", err)
	}
	for _, l := range Loggers {
		a.levels[l] = "warning"
	}
	return a, nil
}

// Requests lists the requests served so far, as "METHOD /path?query".
func (a *Admin) Requests() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.requests...)
}

// Levels returns the current level of each logger.
func (a *Admin) Levels() map[string]string {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := map[string]string{}
	for k, v := range a.levels {
		out[k] = v
	}
	return out
}

// SetDocument serves body at an admin path and query, such as "server_info" or
// "listeners?format=json" (text/plain for "stats", else JSON).
func (a *Admin) SetDocument(path string, body []byte) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.docs[strings.TrimPrefix(path, "/")] = body
}

// SetStatus makes the admin path (without a query) answer with that HTTP status: 500, say.
func (a *Admin) SetStatus(path string, code int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.status[strings.TrimPrefix(path, "/")] = code
}

// SetDelay makes every answer wait d first (or until the client goes away): a slow proxy.
func (a *Admin) SetDelay(d time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.delay = d
}

func (a *Admin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	a.requests = append(a.requests, r.Method+" "+r.URL.RequestURI())
	delay, code := a.delay, a.status[strings.TrimPrefix(r.URL.Path, "/")]
	doc, isDoc := a.docs[strings.TrimPrefix(r.URL.RequestURI(), "/")]
	a.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	if code != 0 {
		http.Error(w, fmt.Sprintf("envoytest: %s answers %d", r.URL.Path, code), code)
		return
	}
	if isDoc {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/stats" {
			w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
		}
		w.Write(doc)
		return
	}
	switch r.URL.Path {
	case "/config_dump":
		a.configDump(w, r.URL.Query())
	case "/clusters":
		if r.URL.Query().Get("format") != "json" {
			http.Error(w, "only format=json here", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(a.clusters)
	case "/logging":
		a.logging(w, r)
	case "/server_info":
		a.serverInfo(w)
	default:
		http.NotFound(w, r)
	}
}

// configDump applies include_eds and mask as Envoy does: without include_eds the EDS section
// is left out; a mask keeps, in each section, only the named fields (and its @type).
func (a *Admin) configDump(w http.ResponseWriter, q url.Values) {
	configs, _ := a.dump["configs"].([]any)
	var out []any
	var mask map[string]bool
	if m := q.Get("mask"); m != "" {
		mask = map[string]bool{"@type": true}
		for _, f := range strings.Split(m, ",") {
			mask[f] = true
		}
	}
	for _, c := range configs {
		section, ok := c.(map[string]any)
		if !ok {
			continue
		}
		if t, _ := section["@type"].(string); strings.HasSuffix(t, "EndpointsConfigDump") && !q.Has("include_eds") {
			continue
		}
		if mask != nil {
			trimmed := map[string]any{}
			for k, v := range section {
				if mask[k] {
					trimmed[k] = v
				}
			}
			section = trimmed
		}
		out = append(out, section)
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	enc.Encode(map[string]any{"configs": out})
}

// serverInfo answers /server_info as Envoy does: its version string
// (REVISION/VERSION/STATUS/TYPE/SSL, from the bootstrap's user_agent_build_version) and node.
func (a *Admin) serverInfo(w http.ResponseWriter) {
	var node map[string]any
	configs, _ := a.dump["configs"].([]any)
	for _, c := range configs {
		section, _ := c.(map[string]any)
		if strings.HasSuffix(fmt.Sprint(section["@type"]), ".BootstrapConfigDump") {
			b, _ := section["bootstrap"].(map[string]any)
			node, _ = b["node"].(map[string]any)
		}
	}
	bv, _ := node["user_agent_build_version"].(map[string]any)
	ver, _ := bv["version"].(map[string]any)
	md, _ := bv["metadata"].(map[string]any)
	version := fmt.Sprintf("%v/%v.%v.%v", md["revision.sha"], num(ver["major_number"]), num(ver["minor_number"]), num(ver["patch"]))
	if l, ok := md["build.label"]; ok {
		version += fmt.Sprintf("-%v", l)
	}
	for _, k := range []string{"revision.status", "build.type", "ssl.version"} {
		if v, ok := md[k]; ok {
			version += fmt.Sprintf("/%v", v)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"version": version, "state": "LIVE", "hot_restart_version": "11.104",
		"command_line_options": map[string]any{"base_id": "0", "concurrency": 2, "log_level": "warning"},
		"node":                 node,
	})
}

func num(v any) any {
	if v == nil {
		return 0
	}
	return v
}

// logging changes levels (POST only) and answers with the active loggers, as Envoy does.
func (a *Admin) logging(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "This endpoint requires POST", http.StatusMethodNotAllowed)
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for key, vals := range r.URL.Query() {
		level := vals[0]
		if key == "level" {
			for l := range a.levels {
				a.levels[l] = level
			}
			continue
		}
		if _, ok := a.levels[key]; !ok {
			http.Error(w, "error: unknown logger name", http.StatusNotFound)
			return
		}
		a.levels[key] = level
	}
	names := make([]string, 0, len(a.levels))
	for n := range a.levels {
		names = append(names, n)
	}
	sort.Strings(names)
	w.Header().Set("Content-Type", "text/plain")
	fmt.Fprintln(w, "active loggers:")
	for _, n := range names {
		fmt.Fprintf(w, "  %s: %s\n", n, a.levels[n])
	}
}
