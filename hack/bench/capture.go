package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/proxyctl/proxyctl/internal/gendump"
)

// The `proxyctl capture` line: 50 stand-in Envoy admin APIs in this process, one serving the
// generated dump of the size being measured (the largest document) and its other documents,
// the others a sidecar of a small mesh, each answering after a delay as a port-forward would.
// It is measured against what it cannot beat: the single slowest proxy captured alone (run 3
// times over: 50 proxies are 7 rounds of --concurrency 8, which latency alone makes slower),
// plus archiving every document captured (floor -targz: read them and write a .tar.gz).
const (
	captureProxies = 50
	// captureSmall is the size of the other proxies' dumps: a sidecar of a mid-sized mesh.
	captureSmall = 2e6
)

// captureDocs are the files of a proxy, by admin path, as written under the bench directory.
type captureDocs map[string]string

// endpoints are what a stand-in serves: the admin paths proxyctl capture fetches.
var captureEndpoints = []struct{ path, doc, ext string }{
	{"/config_dump", "config_dump", "json"},
	{"/clusters", "clusters", "json"},
	{"/server_info", "server_info", "json"},
	{"/certs", "certs", "json"},
	{"/listeners", "listeners", "json"},
	{"/runtime", "runtime", "json"},
	{"/memory", "memory", "json"},
	{"/stats", "stats", "txt"},
}

// ensureCaptureDocs writes every admin document of a mesh of about size bytes of dump, under
// prefix, unless present; the dump and /clusters of a measured size are the ones given.
func ensureCaptureDocs(c config, prefix string, size int64, given map[string]string) (captureDocs, error) {
	docs := captureDocs{}
	missing := false
	for _, e := range captureEndpoints {
		p := given[e.doc]
		if p == "" {
			p = prefix + "-" + e.doc + "." + e.ext
		}
		docs[e.path] = p
		missing = missing || !exists(p)
	}
	if !missing && !c.regen {
		return docs, nil
	}
	n, err := gendump.ServicesForSize(size, c.seed, gendump.Write)
	if err != nil {
		return nil, err
	}
	for _, e := range captureEndpoints {
		if given[e.doc] != "" {
			continue
		}
		write := gendump.Writers[e.doc]
		if err := writeFileAtomic(docs[e.path], func(w io.Writer) error { return write(w, gendump.Options{Services: n, Seed: c.seed}) }); err != nil {
			return nil, err
		}
	}
	return docs, nil
}

// serveAdmin starts a stand-in admin API serving docs, each answer after delay.
func serveAdmin(docs captureDocs, delay time.Duration) (string, func(), error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		file, ok := docs[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
		http.ServeFile(w, r, file)
	})}
	go srv.Serve(l)
	return "http://" + l.Addr().String(), func() { srv.Close() }, nil
}

// benchCapture measures the capture line on the documents of one size.
func benchCapture(c config, b benchCmd, files dumpFiles, label string, progress io.Writer) (row, string, error) {
	fi, err := os.Stat(files.dump)
	if err != nil {
		return row{}, "", err
	}
	big, err := ensureCaptureDocs(c, files.prefix, fi.Size(), map[string]string{"config_dump": files.dump, "clusters": files.clusters})
	if err != nil {
		return row{}, "", err
	}
	smallSize := min(int64(captureSmall), fi.Size()/4)
	small, err := ensureCaptureDocs(c, filepath.Join(c.dir, fmt.Sprintf("seed%d-capture-%dkB", c.seed, smallSize/1000)), smallSize, nil)
	if err != nil {
		return row{}, "", err
	}
	var urls []string
	var all []string // every document served, for the archiving floor
	for i := range captureProxies {
		docs, delay := small, time.Duration(10+(i*7)%40)*time.Millisecond
		if i == 0 {
			docs, delay = big, 50*time.Millisecond
		}
		u, stop, err := serveAdmin(docs, delay)
		if err != nil {
			return row{}, "", err
		}
		defer stop()
		urls = append(urls, u)
		for _, e := range captureEndpoints {
			all = append(all, docs[e.path])
		}
	}
	out := filepath.Join(c.dir, "capture-bench.tar.gz")
	defer os.Remove(out)
	capture := func(urls []string) []string {
		args := []string{"capture", "-o", out}
		for _, u := range urls {
			args = append(args, "--admin-url", u)
		}
		return args
	}
	for _, w := range []string{files.dump, files.clusters} {
		if err := warm(w); err != nil {
			return row{}, "", err
		}
	}
	slowest, err := measureAlone(c, c.bin, capture(urls[:1]))
	if err != nil {
		return row{}, "", fmt.Errorf("capturing the largest proxy alone: %w", err)
	}
	archive, err := measureAlone(c, c.floor, append([]string{"-targz"}, all...))
	if err != nil {
		return row{}, "", fmt.Errorf("floor -targz: %w", err)
	}
	fmt.Fprintf(progress, "%s %s ... ", label, b.name)
	var m measurement
	m.usage, m.err = measureAlone(c, c.bin, capture(urls))
	m.floor = usage{wall: 3*slowest.wall + archive.wall, cpu: 3*slowest.cpu + archive.cpu}
	r := row{dump: label, command: b.name, m: m, fileSize: fi.Size(), target: targetFor(0, b)}
	r.pass, r.verdict = judge(r)
	fmt.Fprintf(progress, "%s %s %s\n", fmtDur(m.wall), fmtBytes(m.rss), r.verdict)
	note := fmt.Sprintf("capture: %d stand-in admin APIs, one serving the %s dump (the largest document) and its other documents, %d a %s sidecar's, 10-50 ms a request; "+
		"the largest captured alone takes %s, archiving every document (floor -targz) %s; the floor column is 3x the one plus the other, RSS/file is against the largest document",
		captureProxies, fmtBytes(fi.Size()), captureProxies-1, fmtBytes(smallSize), fmtDur(slowest.wall), fmtDur(archive.wall))
	return r, note, nil
}
