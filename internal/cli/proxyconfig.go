package cli

import (
	"context"
	"errors"
	"fmt"
	"github.com/spf13/pflag"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/proxyctl/proxyctl/configdump"
	"github.com/proxyctl/proxyctl/formatter"
	"github.com/proxyctl/proxyctl/internal/limits"
	"github.com/proxyctl/proxyctl/internal/safetext"
	"github.com/proxyctl/proxyctl/portforward"
)

func newProxyConfigCommand(streams Streams, root *rootOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "proxy-config",
		Aliases: []string{"pc"},
		Short:   "Retrieve information about the configuration of an Envoy proxy",
		Long: `Retrieve information about the configuration of an Envoy proxy: its clusters,
listeners, routes, endpoints, bootstrap, secrets and extension configs, as
"istioctl proxy-config" shows them.

The proxy is a pod (POD[.NAMESPACE] or TYPE/NAME[.NAMESPACE]), reached through a
Kubernetes port-forward to its Envoy admin port; any Envoy admin API
(--admin-url); or a saved config dump (-f FILE, "-" for stdin).`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usageErrorf("proxy-config needs a view: %s", strings.Join(viewNames(cmd), ", "))
		},
	}
	makeGroup(cmd, true)
	cmd.AddCommand(
		newClusterCommand(streams, root),
		newListenerCommand(streams, root),
		newRouteCommand(streams, root),
		newEndpointCommand(streams, root),
		newEdsCommand(streams, root),
		newBootstrapCommand(streams, root),
		newSecretCommand(streams, root),
		newEcdsCommand(streams, root),
		newAllCommand(streams, root),
		newLogCommand(streams, root),
		newRootCACompareCommand(streams, root),
		newDiffCommand(streams, root),
		newExplainCommand(streams, root),
	)
	return cmd
}

func viewNames(cmd *cobra.Command) []string {
	var names []string
	for _, c := range cmd.Commands() {
		if !c.Hidden && c.Name() != "help" {
			names = append(names, c.Name())
		}
	}
	return names
}

// maxInputFlag is --max-input: the largest document a command reads. Unset (0), each kind of
// document has its own default (package limits; docs/reliability.md).
type maxInputFlag struct{ n int64 }

func (f *maxInputFlag) String() string {
	if f.n == 0 {
		return "per document"
	}
	return strconv.FormatInt(f.n, 10)
}
func (f *maxInputFlag) Type() string { return "size" }
func (f *maxInputFlag) Set(s string) error {
	n, err := limits.ParseSize(s)
	if err != nil {
		return fmt.Errorf("--max-input: %w", err)
	}
	f.n = n
	return nil
}

var _ pflag.Value = (*maxInputFlag)(nil)

// maxInputUsage is --max-input's help, shared by every command that reads a document.
var maxInputUsage = fmt.Sprintf("largest document to read, in bytes or with a suffix (500Mi, 4Gi); default: by kind of document, %s for a config dump, %s for one in YAML, %s for istiod's syncz, %s for Envoy's /logging (docs/reliability.md)",
	limits.Size(limits.ConfigDump), limits.Size(limits.YAMLDump), limits.Size(limits.Syncz), limits.Size(limits.Logging))

// addMaxInputFlag registers --max-input.
func addMaxInputFlag(cmd *cobra.Command, f *maxInputFlag) {
	cmd.Flags().Var(f, "max-input", maxInputUsage)
}

// commonOptions are the flags every proxy-config view shares: where the dump comes from and
// how the result is printed.
type commonOptions struct {
	streams  Streams
	file     string
	adminURL string
	output   outputFlag
	timeout  time.Duration
	quiet    bool
	// keepUnknown: -o json|yaml keeps the fields this binary does not know (istioctl, and
	// proxyctl by default, leave them out).
	keepUnknown bool
	maxInput    maxInputFlag
	target      string
	// bundleProxy is the proxy named after -f BUNDLE: which of the bundle's proxies to read.
	bundleProxy string
	live        *liveOptions
	// release drops bytes of the loaded document from memory (see load).
	release func([]byte)
	// document reads another admin document of the proxy, while a view runs (see
	// optionalDocument): the certs of a bundle or of a live proxy.
	document func(path string) ([]byte, error)
}

func newCommonOptions(streams Streams, root *rootOptions, defaultOutput formatter.Format) *commonOptions {
	return &commonOptions{
		streams: streams,
		output:  newOutputFlag(defaultOutput),
		timeout: 30 * time.Second,
		live:    newLiveOptions(root),
	}
}

// addFlags adds the flags of a view: its source, -o, and --keep-unknown-fields (the views
// print resources; explain and version, which print their own objects, call
// addSourceFlags and the output flag alone).
func (o *commonOptions) addFlags(cmd *cobra.Command) {
	o.addSourceFlags(cmd, "f")
	o.output.addFlag(cmd)
	cmd.Flags().BoolVar(&o.keepUnknown, "keep-unknown-fields", false, "with -o json|yaml, print the fields and enum values this proxyctl does not know where they were (by default they are left out, as istioctl does)")
}

// addSourceFlags adds the flags that say where the dump comes from and how it is read;
// fileShorthand is --file's one-letter form ("" for none: route-check gives -f to
// router_check_tool's --fail-under).
func (o *commonOptions) addSourceFlags(cmd *cobra.Command, fileShorthand string) {
	fs := cmd.Flags()
	fs.StringVarP(&o.file, "file", fileShorthand, "", `read the Envoy config dump (or /clusters?format=json document) from a file, "-" for stdin; or a capture bundle (proxyctl capture), naming one of its proxies as POD[.NAMESPACE] if it holds several`)
	fs.StringVar(&o.adminURL, "admin-url", "", "read from an Envoy admin API at this URL ([http://]HOST:PORT), no Kubernetes needed")
	fs.DurationVar(&o.timeout, "timeout", o.timeout, "time limit for reaching the proxy and fetching its configuration")
	fs.BoolVar(&o.quiet, "quiet", false, "do not list the unknown type URLs met on stderr")
	addMaxInputFlag(cmd, &o.maxInput)
	o.live.addFlags(cmd)
}

// complete checks that exactly one source of the dump was given.
func (o *commonOptions) complete(cmd *cobra.Command, args []string) error {
	if err := o.live.complete(cmd); err != nil {
		return err
	}
	if len(args) > 0 {
		o.target = args[0]
	}
	if err := o.takeBundleProxy(); err != nil {
		return err
	}
	given := 0
	for _, s := range []string{o.file, o.adminURL, o.target} {
		if s != "" {
			given++
		}
	}
	switch {
	case given == 0:
		return usageErrorf("name the proxy: a pod (POD[.NAMESPACE] or TYPE/NAME[.NAMESPACE]), --admin-url URL, or -f FILE")
	case given > 1:
		return usageErrorf("give only one of a pod, --admin-url and -f")
	case o.timeout <= 0:
		return usageErrorf("--timeout must be positive, got %s", o.timeout)
	}
	return o.output.check()
}

// readOptions are how the command reads its document.
func (o *commonOptions) readOptions() readOptions {
	return readOptions{maxInput: o.maxInput.n, note: func(s string) {
		if !o.quiet {
			printLine(o.streams.ErrOut, "note", s)
		}
	}}
}

// takeBundleProxy reads -f BUNDLE POD[.NAMESPACE]: with a bundle, the target names one of its
// proxies, not a pod to reach. Every command taking -f and a target calls it before counting
// the sources given.
func (o *commonOptions) takeBundleProxy() error {
	if o.file == "" || o.target == "" {
		return nil
	}
	if !isBundleFile(o.file) {
		name := o.file
		if name == "-" {
			name = "stdin"
		}
		return usageErrorf("give only one of a pod, --admin-url and --file: a proxy name (%s) goes with --file only to pick one of a capture bundle's proxies, and %s is not a bundle", o.target, name)
	}
	o.bundleProxy, o.target = o.target, ""
	return nil
}

// source returns where the dump comes from; the Kubernetes client is only built for pods.
func (o *commonOptions) source(ctx context.Context) (Source, error) {
	switch {
	case o.file != "":
		return openFile(fileOptions{path: o.file, stdin: o.streams.In, proxy: o.bundleProxy, namespace: o.live.root.kube.NamespaceFlag()})
	case o.adminURL != "":
		admin, err := newAdminURLSource(o.adminURL, o.maxInput.n)
		if err != nil {
			return nil, err // not a nil *AdminClient in a non-nil Source
		}
		return admin, nil
	}
	return o.live.podSource(ctx, o.target, o.maxInput.n, o.streams)
}

// load fetches the document at an admin path and parses it. It also returns how to drop a
// section's bytes from memory once a view is done with it.
func (o *commonOptions) load(ctx context.Context, path string) (*configdump.Dump, func([]byte), error) {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	src, err := o.source(ctx)
	if err != nil {
		return nil, nil, o.live.root.deadline(ctx, err, "reaching the proxy", o.timeout)
	}
	defer src.Close()
	return o.loadFrom(ctx, src, path)
}

// loadFrom reads and parses the document at an admin path from src.
func (o *commonOptions) loadFrom(ctx context.Context, src Source, path string) (*configdump.Dump, func([]byte), error) {
	d, release, err := loadDocument(ctx, src, path, o.readOptions())
	if err != nil {
		// Sources name themselves in their errors.
		return nil, nil, o.live.root.deadline(ctx, err, "fetching the configuration from "+src.String(), o.timeout)
	}
	return d, release, nil
}

// deadlineSlack is how early a deadline derived from --timeout may fire elsewhere: a gRPC
// server that times the call out from the grpc-timeout header it was sent answers
// DeadlineExceeded a little before proxyctl's own context expires.
const deadlineSlack = 100 * time.Millisecond

// atDeadline says whether ctx's deadline is (all but) reached.
func atDeadline(ctx context.Context) bool {
	dl, ok := ctx.Deadline()
	return ok && time.Until(dl) < deadlineSlack
}

// deadline explains an error caused by a time limit running out: --timeout, when ctx (bounded
// by it) is past its deadline; kubectl's --request-timeout, which bounds each Kubernetes API
// request, when a request timed out while ctx had time left.
func (r *rootOptions) deadline(ctx context.Context, err error, doing string, timeout time.Duration) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) && atDeadline(ctx):
		return fmt.Errorf("%s took longer than --timeout %s: %w", doing, timeout, err)
	case portforward.IsTimeout(err):
		if rt := r.kube.RequestTimeout(); rt > 0 {
			return fmt.Errorf("%s: a Kubernetes API request took longer than --request-timeout %s (raise it, or leave it out: --timeout %s bounds the whole command): %w", doing, rt, timeout, err)
		}
	}
	return err
}

// sourceOf returns the source a positional argument names, for commands that take several
// proxies (pc diff A B): "-" is stdin, http:// or https:// an admin API, a path that exists a
// dump file, and anything else a pod target (POD[.NAMESPACE] or TYPE/NAME[.NAMESPACE]).
func (o *commonOptions) sourceOf(ctx context.Context, arg string) (Source, error) {
	switch {
	case arg == "-":
		return &fileSource{path: arg, stdin: o.streams.In}, nil
	case strings.HasPrefix(arg, "http://") || strings.HasPrefix(arg, "https://"):
		admin, err := newAdminURLSource(arg, o.maxInput.n)
		if err != nil {
			return nil, err
		}
		return admin, nil
	case isPath(arg):
		// A capture bundle of one proxy is that proxy.
		return openFile(fileOptions{path: arg, stdin: o.streams.In})
	}
	return o.live.podSource(ctx, arg, o.maxInput.n, o.streams)
}

// isPath reports whether arg names a file: something on disk (a directory is refused by the
// file source with a clear message), or what can only be a path (./x, /x, x.json, x.yaml),
// which the file source reports missing rather than taking it for a pod.
func isPath(arg string) bool {
	if _, err := os.Stat(arg); err == nil {
		return true
	}
	for _, p := range []string{"/", "./", "../", "~/"} {
		if strings.HasPrefix(arg, p) {
			return true
		}
	}
	for _, s := range []string{".json", ".yaml", ".yml"} {
		if strings.HasSuffix(arg, s) {
			return true
		}
	}
	return false
}

// run loads the document a view needs, runs the view, and reports the unknown types met.
// The source stays open while the view runs, for the other documents it may read.
func (o *commonOptions) run(cmd *cobra.Command, path string, view func(d *configdump.Dump) error) error {
	ctx, cancel := context.WithTimeout(cmd.Context(), o.timeout)
	defer cancel()
	src, err := o.source(ctx)
	if err != nil {
		return o.live.root.deadline(ctx, err, "reaching the proxy", o.timeout)
	}
	defer src.Close()
	d, release, err := o.loadFrom(ctx, src, path)
	if err != nil {
		return err
	}
	o.release = release
	d.ReleaseWith(release) // the pages of the resources a view is done with are given back
	o.document = func(path string) ([]byte, error) {
		data, err := optionalDocument(ctx, src, path, o.readOptions())
		return data, o.live.root.deadline(ctx, err, "fetching /"+path+" from "+src.String(), o.timeout)
	}
	if !o.keepUnknown {
		d.DropUnknownFields()
	}
	if o.output.format != formatter.JSONPath {
		defer limitHeap(len(d.Source()))()
	}
	if err := o.output.render(&o.streams.Out, func() error { return view(d) }); err != nil {
		return err
	}
	if unknown := d.UnknownTypes(); len(unknown) > 0 && !o.quiet {
		printLine(o.streams.ErrOut, "note", unknownTypesNote(unknown))
	}
	return nil
}

// maxNotedTypes is how many unknown type URLs the note names.
const maxNotedTypes = 10

// unknownTypesNote is the note on the unknown types met (see typeNames).
func unknownTypesNote(unknown []string) string {
	return fmt.Sprintf("kept %d type(s) this proxyctl does not know as they are: %s", len(unknown), typeNames(unknown))
}

// typeNames lists type URLs for a note: each cut to a few hundred bytes, at most maxNotedTypes
// of them (a dump may hold a 100 MB type URL, or thousands of them).
func typeNames(urls []string) string {
	names := make([]string, 0, min(len(urls), maxNotedTypes))
	for _, u := range urls[:min(len(urls), maxNotedTypes)] {
		names = append(names, safetext.Name(u))
	}
	more := ""
	if len(urls) > maxNotedTypes {
		more = fmt.Sprintf(" and %d more", len(urls)-maxNotedTypes)
	}
	return strings.Join(names, ", ") + more
}
