package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	"google.golang.org/protobuf/reflect/protoreflect"
	corev1 "k8s.io/api/core/v1"

	"github.com/proxyctl/proxyctl/configdump"
	"github.com/proxyctl/proxyctl/formatter"
	"github.com/proxyctl/proxyctl/internal/buildinfo"
	"github.com/proxyctl/proxyctl/internal/bundle"
	"github.com/proxyctl/proxyctl/internal/limits"
	"github.com/proxyctl/proxyctl/portforward"
)

type captureOptions struct {
	streams       Streams
	live          *liveOptions
	targets       []string
	selector      string
	allNamespaces bool
	output        string
	adminURLs     []string
	concurrency   int
	timeout       time.Duration
	maxInput      maxInputFlag
	// now is when the capture starts (the bundle's time and default name).
	now time.Time
}

func newCaptureCommand(streams Streams, root *rootOptions) *cobra.Command {
	o := &captureOptions{streams: streams, live: newLiveOptions(root), concurrency: 8, timeout: time.Minute}
	cmd := &cobra.Command{
		Use:   "capture [POD[.NAMESPACE] | TYPE/NAME[.NAMESPACE]]... [-l SELECTOR] [-A] [-o FILE]",
		Short: "Save what Envoy proxies' admin APIs say into a bundle every view reads",
		Long: `Save what Envoy proxies' admin APIs say into one bundle, a .tar.gz that every view
(and proxy-status POD --file) reads later with -f, offline, as if it asked the proxy.

For each proxy it fetches the config dump (with EDS), /clusters (endpoint health),
/server_info, /certs, /listeners, /runtime, /memory and /stats. A document the proxy's
Envoy does not serve (404) is recorded as missing; a proxy that cannot be reached, or whose
config dump cannot be fetched, is recorded as failed and the others are still captured.
The command then exits 1.

Secret material never enters the bundle: besides Envoy's own redaction, proxyctl redacts
every value Envoy's API marks sensitive, as the views do (docs/redaction.md).

Proxies are pods (POD[.NAMESPACE]), every pod of a workload or service (TYPE/NAME: all
its Running pods), the Running pods with an Envoy matching a label selector (-l, in one
namespace or, with -A, in all), or admin URLs (--admin-url, no Kubernetes needed). They
are captured --concurrency at a time, with a progress bar on stderr when it is a terminal.`,
		Example: `  # Every replica of a workload
  proxyctl capture deploy/web -n shop

  # The proxies of an app, into a file of your choosing
  proxyctl capture -l app=web -n shop -o incident-1234.tar.gz

  # Every proxy of the mesh
  proxyctl capture -A

  # An Envoy outside Kubernetes
  proxyctl capture --admin-url http://127.0.0.1:15000

  # Later, anywhere: the views read the bundle
  proxyctl pc cluster -f incident-1234.tar.gz web-1.shop
  proxyctl pc endpoint -f incident-1234.tar.gz web-1.shop --status unhealthy`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.targets = args
			if err := o.complete(cmd); err != nil {
				return err
			}
			return o.run(cmd.Context())
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&o.selector, "selector", "l", "", "capture the Running pods with an Envoy matching this label selector")
	fs.BoolVarP(&o.allNamespaces, "all-namespaces", "A", false, "with -l, or alone: look for pods in every namespace")
	fs.StringVarP(&o.output, "output", "o", "", `the bundle to write (default proxyctl-capture-TIME.tar.gz; a directory: that name in it; "-": stdout)`)
	fs.StringArrayVar(&o.adminURLs, "admin-url", nil, "capture the Envoy admin API at this URL (http://HOST:PORT), no Kubernetes needed (repeatable)")
	fs.IntVar(&o.concurrency, "concurrency", o.concurrency, "how many proxies to capture at once")
	fs.DurationVar(&o.timeout, "timeout", o.timeout, "time limit for capturing each proxy")
	addMaxInputFlag(cmd, &o.maxInput)
	o.live.addFlags(cmd)
	return cmd
}

func (o *captureOptions) complete(cmd *cobra.Command) error {
	if err := o.live.complete(cmd); err != nil {
		return err
	}
	switch {
	case len(o.targets) == 0 && o.selector == "" && !o.allNamespaces && len(o.adminURLs) == 0:
		return usageErrorf("name the proxies to capture: pods (POD[.NAMESPACE] or TYPE/NAME[.NAMESPACE]), -l SELECTOR, -A, or --admin-url URL")
	case len(o.targets) > 0 && (o.selector != "" || o.allNamespaces):
		return usageErrorf("name pods, or select them with -l or -A, not both")
	case o.allNamespaces && o.live.root.kube.NamespaceFlag() != "":
		return usageErrorf("give -n or -A, not both")
	case o.concurrency < 1:
		return usageErrorf("--concurrency must be at least 1, got %d", o.concurrency)
	case o.timeout <= 0:
		return usageErrorf("--timeout must be positive, got %s", o.timeout)
	case o.output == "-" && isTerminal(o.streams.Out):
		return usageErrorf("-o - writes the bundle to stdout, which is a terminal: redirect it, or give a file")
	}
	o.now = time.Now().UTC().Truncate(time.Second)
	return nil
}

// captureTarget is one proxy to capture.
type captureTarget struct {
	proxy bundle.Proxy
	// open reaches its admin API.
	open func(ctx context.Context) (adminAPI, error)
	// skip, when set, is why the proxy is recorded as failed without being tried.
	skip error
}

// adminAPI is an Envoy admin API: an admin URL, or a pod's through a port-forward.
type adminAPI interface {
	Open(ctx context.Context, path string) (io.ReadCloser, error)
	String() string
	Close() error
}

// resolve lists the proxies to capture: the admin URLs, then the pods, sorted by name.
func (o *captureOptions) resolve(ctx context.Context) ([]captureTarget, error) {
	var out []captureTarget
	seen := map[string]bool{}
	for _, raw := range o.adminURLs {
		client, err := newAdminURLSource(raw, o.maxInput.n)
		if err != nil {
			return nil, err
		}
		u := client.BaseURL()
		name := u.Host
		if seen[name] {
			return nil, usageErrorf("--admin-url %s is given twice (the bundle names proxies by HOST:PORT)", name)
		}
		seen[name] = true
		dir := strings.NewReplacer(":", "_", "[", "", "]", "").Replace(name)
		out = append(out, captureTarget{
			proxy: bundle.Proxy{Name: name, Dir: dir, AdminURL: u.Redacted()},
			open:  func(context.Context) (adminAPI, error) { return client, nil },
		})
	}
	if len(o.targets) == 0 && o.selector == "" && !o.allNamespaces {
		return out, nil
	}
	kube, ns, err := o.live.root.kube.Client()
	if err != nil {
		return nil, err
	}
	var pods []corev1.Pod
	var explicit map[string]bool // pods named one by one: recorded as failed when not capturable
	if len(o.targets) > 0 {
		explicit = map[string]bool{}
		for _, arg := range o.targets {
			t, err := portforward.ParseTarget(arg, o.live.root.kube.NamespaceFlag())
			if err != nil {
				return nil, usageError{err}
			}
			if t.Namespace == "" {
				t.Namespace = ns
			}
			found, _, err := kube.Pods(ctx, t)
			if t.Kind == "pod" && errors.Is(err, portforward.ErrNotFound) {
				// A pod named that does not exist is recorded as failed, as one that cannot
				// be reached; the others are still captured.
				key := t.Namespace + "/" + t.Name
				if !seen[key] {
					seen[key] = true
					out = append(out, captureTarget{proxy: bundle.Proxy{Name: t.Name + "." + t.Namespace, Dir: key, Namespace: t.Namespace, Pod: t.Name}, skip: err})
				}
				continue
			}
			if err != nil {
				return nil, err
			}
			if len(found) == 0 {
				return nil, fmt.Errorf("%s has no pods", t)
			}
			if t.Kind == "pod" {
				explicit[t.Namespace+"/"+t.Name] = true
			}
			pods = append(pods, found...)
		}
	} else {
		if o.allNamespaces {
			ns = ""
		}
		if pods, err = kube.ListPods(ctx, ns, o.selector); err != nil {
			where := "namespace " + ns
			if ns == "" {
				where = "any namespace"
			}
			return nil, fmt.Errorf("listing the pods of %s: %w", where, err)
		}
	}
	skipped := map[string][]string{} // by reason
	for _, pod := range pods {
		key := pod.Namespace + "/" + pod.Name
		if seen[key] {
			continue
		}
		seen[key] = true
		t := captureTarget{proxy: bundle.Proxy{Name: pod.Name + "." + pod.Namespace, Dir: pod.Namespace + "/" + pod.Name, Namespace: pod.Namespace, Pod: pod.Name}}
		if err := portforward.CheckPod(&pod, o.live.adminPort, o.live.adminPortSet); err != nil {
			if !explicit[key] {
				// Selected pods that are not running, or run no Envoy, are left out.
				why := "not Running"
				if errors.Is(err, portforward.ErrNoAdminPort) {
					why = "without an Envoy"
				}
				skipped[why] = append(skipped[why], pod.Name+"."+pod.Namespace)
				continue
			}
			t.skip = err
		}
		pt := portforward.Target{Kind: "pod", Name: pod.Name, Namespace: pod.Namespace}
		t.open = func(ctx context.Context) (adminAPI, error) {
			return o.live.openPod(ctx, kube, pt, o.maxInput.n, o.streams)
		}
		out = append(out, t)
	}
	for _, why := range []string{"not Running", "without an Envoy"} {
		if names := skipped[why]; len(names) > 0 {
			list := strings.Join(names[:min(len(names), 3)], ", ")
			if len(names) > 3 {
				list += fmt.Sprintf(" and %d more", len(names)-3)
			}
			fmt.Fprintf(o.streams.ErrOut, "note: left out %d selected pod(s) %s: %s\n", len(names), why, list)
		}
	}
	if len(out) == 0 {
		what := fmt.Sprintf("matching %q", o.selector)
		if o.selector == "" {
			what = "at all"
		}
		where := "in namespace " + ns
		if ns == "" {
			where = "in any namespace"
		}
		return nil, fmt.Errorf("no Running pod with an Envoy %s %s (%d pods match): check -l, -n and --proxy-admin-port", what, where, len(pods))
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].proxy.Name < out[j].proxy.Name })
	return out, nil
}

func (o *captureOptions) run(ctx context.Context) error {
	rctx, cancel := context.WithTimeout(ctx, o.timeout)
	targets, err := o.resolve(rctx)
	cancel()
	if err != nil {
		return o.live.root.deadline(ctx, err, "finding the pods", o.timeout)
	}
	out, err := o.create()
	if err != nil {
		return err
	}
	defer out.abort()
	body, err := os.CreateTemp("", "proxyctl-capture-*.body")
	if err != nil {
		return fmt.Errorf("making a temporary file for the bundle: %w; set $TMPDIR to a writable directory", err)
	}
	os.Remove(body.Name()) // gone however proxyctl ends
	defer body.Close()

	arch := newArchiver(bundle.NewWriter(body, o.now), 2*o.concurrency)
	prog := o.newProgress(len(targets))
	proxies := make([]bundle.Proxy, len(targets))
	sem := make(chan struct{}, o.concurrency)
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			proxies[i] = o.captureProxy(ctx, t, arch, prog)
			prog.proxyDone(proxies[i].Status == bundle.ProxyFailed)
		}()
	}
	wg.Wait()
	arch.close()
	prog.stop()
	if err := ctx.Err(); err != nil {
		return err // interrupted: Run says so
	}
	if arch.err != nil {
		return fmt.Errorf("writing the bundle: %w", arch.err)
	}
	var failed []bundle.Proxy
	for _, p := range proxies {
		if p.Status != bundle.ProxyOK {
			failed = append(failed, p)
		}
	}
	captured := 0
	for _, p := range proxies {
		if p.Status != bundle.ProxyFailed {
			captured++
		}
	}
	if captured == 0 {
		for _, p := range failed {
			fmt.Fprintf(o.streams.ErrOut, "error: %s: %s\n", p.Name, formatter.Printable(oneLine(p.Error)))
		}
		return exitError{code: ExitRuntime, err: fmt.Errorf("no proxy could be captured; no bundle written")}
	}
	m := &bundle.Manifest{ProxyctlVersion: buildVersion(), Created: o.now, Proxies: proxies}
	if err := arch.w.Finish(out.w, m); err != nil {
		return fmt.Errorf("writing the bundle %s: %w", out.name, err)
	}
	size, err := out.commit()
	if err != nil {
		return err
	}
	summary := o.streams.Out
	if out.name == "-" {
		summary = o.streams.ErrOut
	}
	if err := formatter.CaptureSummary(summary, summaryRows(proxies), out.name, size); err != nil {
		return err
	}
	for _, p := range failed {
		level := "error"
		if p.Status == bundle.ProxyPartial {
			level = "warning"
		}
		fmt.Fprintf(o.streams.ErrOut, "%s: %s: %s\n", level, p.Name, formatter.Printable(oneLine(p.Error)))
	}
	if len(failed) > 0 {
		return exitError{code: ExitRuntime, err: fmt.Errorf("%d of %d proxies were not captured whole; the bundle records why", len(failed), len(proxies))}
	}
	return nil
}

func summaryRows(proxies []bundle.Proxy) []formatter.CaptureRow {
	var rows []formatter.CaptureRow
	for _, p := range proxies {
		r := formatter.CaptureRow{Proxy: p.Name, Status: p.Status, Envoy: p.EnvoyVersion, Total: len(bundle.Documents)}
		for _, f := range p.Files {
			switch f.Status {
			case bundle.FileOK:
				r.Documents++
				r.Size += f.Size
			case bundle.FileNotFound:
				r.Missing = append(r.Missing, strings.TrimSuffix(f.Name, filepath.Ext(f.Name))+" (404)")
			default:
				r.Missing = append(r.Missing, strings.TrimSuffix(f.Name, filepath.Ext(f.Name))+" (error)")
			}
		}
		rows = append(rows, r)
	}
	return rows
}

// captureProxy fetches every document of one proxy, handing each to the archiver as soon as
// it has arrived, and fetching the next meanwhile.
func (o *captureOptions) captureProxy(ctx context.Context, t captureTarget, arch *archiver, prog *progress) bundle.Proxy {
	p := t.proxy
	p.Status = bundle.ProxyFailed
	if t.skip != nil {
		p.Error = t.skip.Error()
		return p
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	admin, err := t.open(ctx)
	if err != nil {
		p.Error = o.live.root.deadline(ctx, err, "reaching "+p.Name, o.timeout).Error()
		return p
	}
	stopped := ""
	var pending []*archiveJob // in the order of p.Files
	for _, doc := range bundle.Documents {
		f, sp, stop := o.fetch(ctx, admin, p.Name, doc)
		var job *archiveJob
		if sp != nil {
			job = &archiveJob{path: p.Dir + "/" + doc.Name, proxy: p.Name, f: f, doc: doc, sp: sp, done: make(chan archiveResult, 1)}
			arch.submit(job)
		}
		p.Files, pending = append(p.Files, f), append(pending, job)
		if stop {
			// The proxy cannot be reached any more: the next fetches would fail the same way.
			stopped = f.Error
			break
		}
	}
	admin.Close() // the port-forward is not needed while the documents are archived
	var problems []string
	serverEnvoy := "" // /server_info's version, when the config dump has none
	for i, job := range pending {
		if job != nil {
			r := <-job.done
			p.Files[i] = r.f
			prog.add(r.f.Size)
			if r.nodeID != "" || r.envoy != "" {
				p.NodeID, p.EnvoyVersion = r.nodeID, r.envoy
			}
			if r.serverEnvoy != "" {
				serverEnvoy = r.serverEnvoy
			}
		}
		if f := p.Files[i]; f.Status == bundle.FileError {
			problems = append(problems, strings.TrimSuffix(f.Name, filepath.Ext(f.Name))+": "+f.Error)
		}
	}
	if p.EnvoyVersion == "" {
		p.EnvoyVersion = serverEnvoy
	}
	dump := p.File("config_dump.json")
	switch {
	case dump == nil || dump.Status != bundle.FileOK:
		p.Error = "its config dump could not be captured"
		switch {
		case dump != nil && dump.Error != "":
			p.Error = dump.Error
		case dump != nil && dump.Status == bundle.FileNotFound:
			p.Error = "its admin API answered 404 Not Found to /config_dump: is it Envoy's?"
		case stopped != "":
			p.Error = stopped
		}
	case len(problems) > 0:
		p.Status, p.Error = bundle.ProxyPartial, "could not capture "+strings.Join(problems, "; ")
	default:
		p.Status = bundle.ProxyOK
	}
	return p
}

// captureSpoolInMemory is how much of a fetched document stays in memory before it goes to a
// temporary file: little, as many are in flight at once.
const captureSpoolInMemory = 256 << 10

// fetch fetches one document into a spool, nil when it could not be fetched (f says why).
// stop is set when the proxy stopped answering (a transport error or the timeout, not an HTTP
// status).
func (o *captureOptions) fetch(ctx context.Context, admin adminAPI, proxy string, doc bundle.Document) (f bundle.File, sp *spool, stop bool) {
	f = bundle.File{Name: doc.Name, AdminPath: doc.AdminPath, Status: bundle.FileError}
	body, err := admin.Open(ctx, doc.AdminPath)
	var se *portforward.StatusError
	switch {
	case errors.As(err, &se):
		f.HTTPStatus, f.Error = se.Code, oneLine(err.Error())
		if se.Code == 404 {
			f.Status, f.Error = bundle.FileNotFound, ""
		}
		return f, nil, false
	case errors.Is(err, limits.ErrTooLarge):
		// Too large for --max-input: this document only; the proxy still answers.
		f.Error = oneLine(err.Error())
		return f, nil, false
	case err != nil:
		f.Error = oneLine(o.live.root.deadline(ctx, err, "fetching /"+doc.AdminPath+" from "+proxy, o.timeout).Error())
		return f, nil, true
	}
	defer body.Close()
	f.HTTPStatus = 200
	sp = &spool{limit: readOptions{maxInput: o.maxInput.n}.dumpLimit(), memMax: captureSpoolInMemory}
	buf := make([]byte, 64<<10)
	for {
		n, err := body.Read(buf)
		if n > 0 {
			if werr := sp.write(buf[:n]); werr != nil {
				sp.close()
				f.Error = oneLine(fmt.Sprintf("/%s of %s: %s", doc.AdminPath, proxy, werr))
				return f, nil, false
			}
		}
		if errors.Is(err, io.EOF) {
			return f, sp, false
		}
		if err != nil {
			sp.close()
			f.Error = oneLine(o.live.root.deadline(ctx, err, "fetching /"+doc.AdminPath+" from "+proxy, o.timeout).Error())
			return f, nil, !errors.Is(err, limits.ErrTooLarge)
		}
	}
}

// archiveJob is a fetched document on its way into the bundle.
type archiveJob struct {
	path, proxy string
	f           bundle.File
	doc         bundle.Document
	sp          *spool
	done        chan archiveResult
}

// archiveResult is the document's entry, and what it told of the proxy.
type archiveResult struct {
	f             bundle.File
	nodeID, envoy string // from the config dump's bootstrap
	serverEnvoy   string // from /server_info
}

// archiver redacts fetched documents, on all cores, and writes them into the bundle one at a
// time. Documents wait on disk (their spools), so memory holds the few being processed, each
// of them only in part: its pages are dropped as they are walked and written.
type archiver struct {
	jobs chan *archiveJob
	wg   sync.WaitGroup
	mu   sync.Mutex // guards w and err
	w    *bundle.Writer
	err  error // the first archive error: the bundle cannot be written
}

func newArchiver(w *bundle.Writer, queue int) *archiver {
	a := &archiver{w: w, jobs: make(chan *archiveJob, queue)}
	for range runtime.GOMAXPROCS(0) {
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			for j := range a.jobs {
				j.done <- a.process(j)
			}
		}()
	}
	return a
}

// submit queues a document; it waits while the queue is full.
func (a *archiver) submit(j *archiveJob) { a.jobs <- j }

// close waits for the documents queued.
func (a *archiver) close() {
	close(a.jobs)
	a.wg.Wait()
}

// releaseBehind drops the pages of a mapped document once the archive has read past them.
type releaseBehind struct {
	r        *configdump.RedactedReader
	data     []byte
	released int
}

func (rb *releaseBehind) Read(p []byte) (int, error) {
	n, err := rb.r.Read(p)
	if off := rb.r.Offset(); off-rb.released >= 4<<20 || err != nil {
		releasePages(rb.data[rb.released:off])
		rb.released = off
	}
	return n, err
}

// process redacts a document and archives it. A document that cannot be checked for secrets
// (not the JSON it should be) is left out, with the reason.
func (a *archiver) process(j *archiveJob) archiveResult {
	res := archiveResult{f: j.f}
	f := &res.f
	defer j.sp.close()
	data, mapped, free, err := j.sp.document()
	if err != nil {
		f.Error = oneLine(fmt.Sprintf("keeping /%s of %s: %s", j.doc.AdminPath, j.proxy, err))
		return res
	}
	defer free()
	release := func([]byte) {}
	if mapped {
		release = releasePages // never on the heap: released pages read back as zeros
	}
	var replace []configdump.Replacement
	switch {
	case j.doc.Name == "config_dump.json":
		d, err := configdump.ParseWith(data, configdump.ParseOptions{ChunkDone: release})
		switch {
		case err != nil:
		case d.Kind() != configdump.KindConfigDump:
			err = errors.New("it is not a config dump")
		case !sameBytes(d.Source(), data):
			// YAML, converted: the redactions would be found in the JSON, not in what is stored.
			err = errors.New("it is not JSON")
		default:
			res.nodeID, res.envoy = d.Identity()
			replace, err = d.RedactionsWith(release)
		}
		if err != nil {
			f.Error = oneLine(fmt.Sprintf("the config dump of %s does not parse, so it is left out: %s", j.proxy, err))
			return res
		}
	case j.doc.Message != "":
		if replace, err = configdump.RedactionsOf(data, protoreflect.FullName(j.doc.Message)); err != nil {
			f.Error = oneLine(fmt.Sprintf("/%s of %s cannot be checked for secrets, so it is left out: %s", j.doc.AdminPath, j.proxy, err))
			return res
		}
		if j.doc.Name == "server_info.json" {
			if v, ok, err := configdump.ServerInfoVersions(data); ok && err == nil {
				res.serverEnvoy = v.Envoy
			}
		}
		release(data)
	}
	size := configdump.RedactedSize(int64(len(data)), replace)
	var src io.Reader = configdump.NewRedactedReader(data, replace)
	if mapped {
		src = &releaseBehind{r: src.(*configdump.RedactedReader), data: data}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.err != nil {
		f.Error = "the bundle could not be written"
		return res
	}
	if f.Offset, f.SHA256, a.err = a.w.Add(j.path, size, src); a.err != nil {
		f.Error = "the bundle could not be written"
		return res
	}
	f.Status, f.Size, f.Redacted = bundle.FileOK, size, len(replace)
	return res
}

// sameBytes tells whether a and b are the same memory.
func sameBytes(a, b []byte) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// document returns the spooled bytes, whether they are a mapping of the temporary file, and
// how to free them once archived (a mapping is unmapped, which also gives its disk back).
func (s *spool) document() (data []byte, mapped bool, free func(), err error) {
	if s.file == nil {
		return s.mem, false, func() { s.mem = nil }, nil
	}
	defer s.close()
	if data, ok := mapFile(s.file, s.n); ok {
		return data, true, func() { unmapFile(data) }, nil
	}
	data = make([]byte, s.n)
	_, err = s.file.ReadAt(data, 0)
	return data, false, func() {}, err
}

// output is the bundle being written: a temporary file beside the one named, renamed over it
// once complete (nothing half written is ever left under that name), or stdout.
type output struct {
	name string
	w    io.Writer
	file *os.File
	n    *countingWriter
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// create opens the output before any proxy is captured, so that an unwritable place fails at
// once.
func (o *captureOptions) create() (*output, error) {
	if o.output == "-" {
		cw := &countingWriter{w: o.streams.Out}
		return &output{name: "-", w: cw, n: cw}, nil
	}
	name := o.output
	def := "proxyctl-capture-" + o.now.Format("20060102T150405Z") + ".tar.gz"
	if name == "" {
		name = def
	} else if fi, err := os.Stat(name); err == nil && fi.IsDir() {
		name = filepath.Join(name, def)
	}
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".tmp*")
	if err != nil {
		return nil, fmt.Errorf("cannot write the bundle %s: %w", name, unwrapPath(err))
	}
	cw := &countingWriter{w: f}
	return &output{name: name, w: cw, file: f, n: cw}, nil
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// commit puts the bundle in place and returns its size.
func (out *output) commit() (int64, error) {
	if out.file == nil {
		return out.n.n, nil
	}
	f := out.file
	out.file = nil
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		os.Remove(f.Name())
		return 0, fmt.Errorf("writing the bundle %s: %w", out.name, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return 0, fmt.Errorf("writing the bundle %s: %w", out.name, err)
	}
	if err := os.Rename(f.Name(), out.name); err != nil {
		os.Remove(f.Name())
		return 0, fmt.Errorf("writing the bundle %s: %w", out.name, unwrapPath(err))
	}
	return out.n.n, nil
}

// abort removes a bundle not committed.
func (out *output) abort() {
	if out.file != nil {
		out.file.Close()
		os.Remove(out.file.Name())
	}
}

// buildVersion is proxyctl's version as `proxyctl version` prints it, with its commit.
func buildVersion() string {
	info := buildinfo.Get()
	if info.GitCommit != "" && !strings.Contains(info.Version, info.GitCommit) {
		return info.Version + " (" + info.GitCommit + ")"
	}
	return info.Version
}

// isTerminal tells whether w is a terminal (a test's stand-in says so itself).
func isTerminal(w io.Writer) bool {
	if u, ok := w.(interface{ Unwrap() io.Writer }); ok {
		w = u.Unwrap() // stderr, escaped (see Run)
	}
	if t, ok := w.(interface{ IsTerminal() bool }); ok {
		return t.IsTerminal()
	}
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// terminalWidth is the width of the terminal w, 80 when unknown.
func terminalWidth(w io.Writer) int {
	if u, ok := w.(interface{ Unwrap() io.Writer }); ok {
		w = u.Unwrap()
	}
	if t, ok := w.(interface{ Width() int }); ok {
		return t.Width()
	}
	if f, ok := w.(*os.File); ok {
		if width, _, err := term.GetSize(int(f.Fd())); err == nil && width > 0 {
			return width
		}
	}
	return 80
}

// progress draws the capture's progress on stderr, when it is a terminal and there is more
// than one proxy; redrawn at most ten times a second.
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	width int
	state formatter.CaptureProgress
	drawn time.Time
	on    bool
}

func (o *captureOptions) newProgress(total int) *progress {
	p := &progress{w: o.streams.ErrOut, state: formatter.CaptureProgress{Total: total}}
	if total > 1 && isTerminal(o.streams.ErrOut) {
		p.on, p.width = true, terminalWidth(o.streams.ErrOut)
		p.draw(true)
	}
	return p
}

func (p *progress) draw(force bool) {
	if !p.on || !force && time.Since(p.drawn) < 100*time.Millisecond {
		return
	}
	p.drawn = time.Now()
	formatter.WriteCaptureProgress(p.w, p.state, p.width)
}

func (p *progress) add(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.state.Bytes += n
	p.draw(false)
}

func (p *progress) proxyDone(failed bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.state.Done++
	if failed {
		p.state.Failed++
	}
	p.draw(true)
}

func (p *progress) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.on {
		formatter.ClearCaptureProgress(p.w, p.width)
		p.on = false
	}
}
