package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/proxyctl/proxyctl/configdump"
	"github.com/proxyctl/proxyctl/formatter"
	"github.com/proxyctl/proxyctl/internal/istiod"
	"github.com/proxyctl/proxyctl/portforward"
)

type proxyStatusOptions struct {
	streams    Streams
	root       *rootOptions
	live       *liveOptions
	revision   string
	istiodPort int
	istiodURLs []string
	verbosity  int
	output     outputFlag
	failOn     []string
	file       string
	timeout    time.Duration
	maxInput   int64

	failOnSet istiod.FailOn
}

func newProxyStatusCommand(streams Streams, root *rootOptions) *cobra.Command {
	o := &proxyStatusOptions{
		streams: streams, root: root, live: newLiveOptions(root), istiodPort: istiod.DefaultDebugPort,
		output: newOutputFlag(formatter.Short), timeout: 30 * time.Second, maxInput: defaultMaxInput,
	}
	cmd := &cobra.Command{
		Use:     "proxy-status [POD[.NAMESPACE]]",
		Aliases: []string{"ps"},
		Short:   "Show the xDS sync state of the mesh's proxies, or diff one proxy's configuration against istiod's",
		Long: `Without a pod, show the xDS sync state of every proxy connected to istiod, as
istiod's replicas report it (GET /debug/syncz on each, concurrently): which istiod
each proxy talks to, its version, and per xDS type whether what was sent is
acknowledged (SYNCED), not yet (STALE), rejected (ERROR) or nothing was sent.

With a pod, compare the clusters, listeners and routes istiod would send it with
what its Envoy holds, and show a unified diff of each that differs. --file reads
Envoy's side from a saved config dump instead of the pod.

istiod is found as the Running pods labelled app=istiod (and istio.io/rev=REV with
-r) in the Istio namespace (-i), reached by port-forward to --istiod-port; or given
with --istiod-url, without Kubernetes. A replica that fails is reported on stderr
and the others are still shown.`,
		Example: `  # Every proxy's sync state
  proxyctl proxy-status

  # The proxies of one namespace, one column per xDS type, as JSON for a script
  proxyctl ps -n bookinfo -v 1
  proxyctl ps -n bookinfo -o json | jq '.[] | select(.xds[].status != "SYNCED")'

  # Fail (exit 3) when a proxy is stale or has rejected a config
  proxyctl ps --fail-on stale --fail-on error

  # What differs between istiod and a proxy
  proxyctl ps productpage-v1-6b746f74dc-9stvs.bookinfo

  # Without Kubernetes: istiod's debug port and a saved dump
  proxyctl ps productpage-v1-6b746f74dc-9stvs.bookinfo --istiod-url http://127.0.0.1:15014 --file config_dump.json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.complete(cmd, args); err != nil {
				return err
			}
			if len(args) == 1 {
				return o.diff(cmd.Context(), args[0])
			}
			return o.status(cmd.Context())
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&o.revision, "revision", "r", "", "the istiod revision (istio.io/rev label) to ask")
	fs.IntVar(&o.istiodPort, "istiod-port", o.istiodPort, "istiod's debug port")
	fs.StringArrayVar(&o.istiodURLs, "istiod-url", nil, "an istiod debug API, [NAME=]http://HOST:PORT, instead of finding istiod pods (repeatable; NAME is shown in the ISTIOD column, else HOST:PORT)")
	fs.IntVarP(&o.verbosity, "verbosity", "v", 0, "1: one column per xDS type, with the age of each send")
	o.output.addFlag(cmd)
	o.output.addTableFlags(cmd)
	fs.StringArrayVar(&o.failOn, "fail-on", nil, "exit 3 when a shown proxy has this state: stale, error or notsent (repeatable)")
	_ = cmd.RegisterFlagCompletionFunc("fail-on", fixedValues(istiod.FailOnValues...))
	fs.StringVarP(&o.file, "file", "f", "", "with a pod: read Envoy's side of the diff from this config dump, or from the pod's proxy in this capture bundle, instead of the pod")
	fs.DurationVar(&o.timeout, "timeout", o.timeout, "time limit for the whole command")
	fs.Int64Var(&o.maxInput, "max-input", o.maxInput, "largest document, in bytes, read from istiod, a file or the admin API")
	o.live.addFlags(cmd)
	return cmd
}

func (o *proxyStatusOptions) complete(cmd *cobra.Command, args []string) error {
	o.live.alternatives = "--istiod-url" // istiod, found through Kubernetes
	if len(args) > 0 {
		o.live.alternatives = "--istiod-url, and -f for Envoy's side"
	}
	if err := o.live.complete(cmd); err != nil {
		return err
	}
	set, err := istiod.ParseFailOn(o.failOn)
	if err != nil {
		return usageError{err}
	}
	o.failOnSet = set
	switch {
	case o.timeout <= 0:
		return usageErrorf("--timeout must be positive, got %s", o.timeout)
	case o.verbosity < 0:
		return usageErrorf("--verbosity must be 0 or more, got %d", o.verbosity)
	case o.istiodPort <= 0 || o.istiodPort > 65535:
		return usageErrorf("--istiod-port must be between 1 and 65535, got %d", o.istiodPort)
	case len(args) == 0 && o.file != "":
		return usageErrorf("--file is Envoy's side of a diff: name the pod to compare too")
	case len(args) == 1 && (len(o.failOn) > 0 || o.output.format != formatter.Short || o.output.noHeaders || o.verbosity > 0):
		return usageErrorf("-o, --no-headers, -v and --fail-on apply to the status table, not to the diff of one pod")
	case o.output.format == formatter.Name && o.verbosity > 0:
		return usageErrorf("-v applies to the status table, not to -o name")
	}
	return o.output.check()
}

// istiods finds the istiod replicas to ask and reaches them; close ends the port-forwards.
func (o *proxyStatusOptions) istiods(ctx context.Context) (targets []istiod.Target, close func(), err error) {
	return reachIstiods(ctx, o.root, o.revision, o.istiodPort, o.istiodURLs, o.streams.ErrOut)
}

func (o *proxyStatusOptions) fetcher() *istiod.Fetcher {
	return &istiod.Fetcher{MaxBodyBytes: o.maxInput}
}

// status prints the sync state of every proxy.
func (o *proxyStatusOptions) status(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	targets, closeTargets, err := o.istiods(ctx)
	if err != nil {
		return deadline(err, "finding istiod", o.timeout)
	}
	defer closeTargets()
	res := o.fetcher().Syncz(ctx, targets, o.root.kube.NamespaceFlag())
	if err := res.Err(); err != nil {
		return deadline(err, "asking istiod", o.timeout)
	}
	for _, e := range res.Errors {
		fmt.Fprintf(o.streams.ErrOut, "warning: %s; its proxies are not shown\n", oneLine(e.Error()))
	}
	err = o.output.render(&o.streams.Out, func() error {
		output := string(o.output.format)
		if o.output.format == formatter.Short {
			output = "table"
		}
		return formatter.WriteProxyStatus(o.streams.Out, res.Rows, formatter.ProxyStatusOptions{Output: output, Verbosity: o.verbosity})
	})
	if err != nil {
		return err
	}
	if failing := o.failOnSet.Failing(res.Rows); len(failing) > 0 {
		what := fmt.Sprintf("%d proxies have", len(failing))
		if len(failing) == 1 {
			what = "1 proxy has"
		}
		return exitError{code: ExitFailOn, err: fmt.Errorf("%s a state --fail-on names (%s first)", what, failing[0].Name)}
	}
	return nil
}

// diff compares what istiod would send a proxy with what its Envoy holds.
func (o *proxyStatusOptions) diff(ctx context.Context, arg string) error {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	t, err := portforward.ParseTarget(arg, o.root.kube.NamespaceFlag())
	if err != nil {
		return usageError{err}
	}
	if t.Kind != "pod" {
		return usageErrorf("proxy-status compares one pod: give POD[.NAMESPACE], not %s/%s", t.Kind, t.Name)
	}
	if t.Namespace == "" {
		// The kubeconfig's namespace; "default" when there is none (--istiod-url and --file
		// need no Kubernetes), but a broken one is reported.
		_, ns, err := o.root.kube.Client()
		switch {
		case errors.Is(err, portforward.ErrNoKubeconfig):
			ns = "default"
		case err != nil:
			return err
		}
		t.Namespace = ns
	}
	proxyID := t.Name + "." + t.Namespace
	targets, closeTargets, err := o.istiods(ctx)
	if err != nil {
		return deadline(err, "finding istiod", o.timeout)
	}
	defer closeTargets()
	fromIstiod, err := o.fetcher().ConfigDump(ctx, targets, proxyID)
	if err != nil {
		return deadline(err, "asking istiod for "+proxyID, o.timeout)
	}
	istiodDump, err := configdump.Parse(fromIstiod.Body)
	if err != nil {
		return fmt.Errorf("parsing the config dump %s gave for %s: %w", fromIstiod.Istiod, proxyID, err)
	}
	envoyDump, err := o.envoyDump(ctx, t)
	if err != nil {
		return err
	}
	_, err = formatter.ProxyDiff(o.streams.Out, istiodDump, envoyDump, localZone())
	return err
}

// localZone is the time zone times are shown in: $TZ's when set, as at start-up.
func localZone() *time.Location {
	if tz, ok := os.LookupEnv("TZ"); ok {
		if loc, err := time.LoadLocation(tz); err == nil {
			return loc
		}
	}
	return time.Local
}

// envoyDump reads Envoy's config dump from --file or from the pod.
func (o *proxyStatusOptions) envoyDump(ctx context.Context, t portforward.Target) (*configdump.Dump, error) {
	var src Source
	if o.file != "" {
		fo := fileOptions{path: o.file, stdin: o.streams.In, max: o.maxInput}
		if isBundleFile(o.file) {
			// The bundle's proxy of that pod.
			fo.proxy, fo.orOnlyURL = t.Name+"."+t.Namespace, true
		}
		var err error
		src, err = openFile(fo)
		if err != nil {
			return nil, err
		}
	} else {
		kube, _, err := o.root.kube.Client()
		if err != nil {
			return nil, err
		}
		admin, err := o.live.openPod(ctx, kube, t, o.maxInput, o.streams)
		if err != nil {
			return nil, deadline(err, "reaching "+t.String(), o.timeout)
		}
		src = admin
	}
	defer src.Close()
	d, _, err := loadDocument(ctx, src, pathFullDump, o.maxInput)
	if err != nil {
		return nil, deadline(err, "fetching the configuration from "+src.String(), o.timeout)
	}
	return d, nil
}
