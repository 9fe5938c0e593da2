package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"

	"github.com/proxyctl/proxyctl/configdump"
	"github.com/proxyctl/proxyctl/formatter"
	"github.com/proxyctl/proxyctl/internal/diff"
	"github.com/proxyctl/proxyctl/portforward"
)

// Exit codes of pc diff (and ps POD --semantic), as diff(1) and kubectl diff: 0 the same,
// 1 different, 2 usage, ExitDiffTrouble when the comparison could not be made.
const (
	ExitDifferent   = 1
	ExitDiffTrouble = 3
)

// progressAbove: fetching more pods than this prints progress on stderr.
const progressAbove = 3

type diffOptions struct {
	*commonOptions
	types        []string
	name         string
	keepIdentity bool
	verbose      bool
	selector     string
	concurrency  int

	args []string
	opts diff.Options
}

const diffNoise = `Noise, left out by default:
  - every resource's last_updated and version_info, and the bootstrap's last_updated;
  - the order of resources, of map keys (metadata, typed_per_filter_config...), and of
    lists whose order Envoy ignores: filter chains (keyed by name, by their match when
    unnamed, by both when several share a name), virtual hosts (by name), localities,
    endpoints (by address), a bootstrap's
    static resources, a weighted cluster's clusters; lists whose order matters (filters,
    HTTP filters, routes) are keyed by name when every element has one, and a change of
    order is reported as "PATH (order)";
  - between two different proxies (replicas), each one's own identity: its pod name, pod
    IPs, Envoy node id and Kubernetes node name, wherever they appear (listener names and
    addresses, stat prefixes, metadata), are replaced by <POD_NAME>, <POD_IP>, <NODE_ID>,
    <NODE_NAME> (the other proxy's by <PEER_POD_IP>...), its node metadata
    ANNOTATIONS[kubernetes.io/config.seen] by <POD_SEEN>, and its workload certificate's
    serial number, validity and fingerprint by <CERT_...>; --keep-identity compares them as
    they are. Two dumps of the same proxy need no normalising.
Secrets are compared by what their certificates say (subject, issuer, serial, validity,
SANs, SHA-256 fingerprint), never by key material: fields Envoy marks sensitive show as
"[redacted]".`

func newDiffCommand(streams Streams, root *rootOptions) *cobra.Command {
	o := &diffOptions{commonOptions: newCommonOptions(streams, root, formatter.Short), concurrency: 4}
	o.output.extra = []formatter.Format{formatter.DiffOnly}
	cmd := &cobra.Command{
		Use:   "diff (A B | TYPE/NAME[.NAMESPACE] | -l SELECTOR)",
		Short: "Compare the configurations of two proxies, two dumps, or every replica of a workload",
		Long: `Compare two Envoy configurations semantically, resource by resource: clusters,
listeners, route configurations, secrets, EDS endpoints and the bootstrap. Each
resource is added, removed, or changed, with the paths of the fields that changed
(filter_chains[0.0.0.0_8080].filters[envoy.filters.network.http_connection_manager]
.typed_config.rds.route_config_name) and their old and new values.

Each of A and B is any proxy proxyctl reads: a pod (POD[.NAMESPACE], or TYPE/NAME
for one of its pods), a dump file (a path that exists, or ends in .json or .yaml; "-"
for stdin), or an Envoy admin URL (http://HOST:PORT). The two are fetched at once.

With one target naming several pods (TYPE/NAME, or -l SELECTOR in -n's namespace),
every Running pod is read (--concurrency at a time), the replicas are grouped by
identical configuration, and each group is compared with the largest one.

` + diffNoise + `

Output: a table (TYPE, NAME, CHANGE, FIELDS); --verbose adds each changed field's old
and new value and a unified diff of each resource's YAML (fields sorted); -o diff
prints the unified diffs alone; -o json|yaml a report (docs/diff-report.md), and
-o jsonpath=TEMPLATE a template over it; -o name the KIND/NAME of each resource that
differs (over replicas: pod/NAME.NAMESPACE of each pod outside the largest group).

Exit status, as diff(1) and kubectl diff: 0 the same, 1 different, 2 a usage error,
3 the comparison could not be made (a proxy could not be read, a pod failed).`,
		Example: `  # Two replicas of a deployment
  proxyctl pc diff web-7c9f6d-abcde web-7c9f6d-fghij -n shop

  # Every replica of a deployment, grouped by configuration
  proxyctl pc diff deploy/web -n shop

  # Before and after a change: a saved dump against the live proxy
  proxyctl pc all web-7c9f6d-abcde -o json > before.json
  kubectl apply -f virtualservice.yaml
  proxyctl pc diff before.json web-7c9f6d-abcde --verbose

  # Only the routes, as a unified diff
  proxyctl pc diff before.json after.json --type route -o diff

  # In a script
  proxyctl pc diff -l app=web -n shop -o json > diff.json; [ $? -le 1 ] || exit 1`,
		Args: cobra.MaximumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.complete(cmd, args); err != nil {
				return err
			}
			err := o.run(cmd.Context())
			var ee exitError
			var ue usageError
			if err != nil && !errors.As(err, &ee) && !errors.As(err, &ue) && cmd.Context().Err() == nil {
				return exitError{code: ExitDiffTrouble, err: err}
			}
			return err
		},
	}
	o.output.addFlag(cmd)
	o.output.addTableFlags(cmd)
	fs := cmd.Flags()
	fs.StringSliceVar(&o.types, "type", nil, "compare only these resource types: bootstrap, cluster, listener, route, secret, endpoint (comma-separated or repeated)")
	_ = cmd.RegisterFlagCompletionFunc("type", fixedValues("bootstrap", "cluster", "listener", "route", "secret", "endpoint"))
	fs.StringVar(&o.name, "name", "", "compare only the resources whose name matches this regular expression")
	fs.BoolVar(&o.keepIdentity, "keep-identity", false, "compare each proxy's own pod name, IPs and node id as they are")
	fs.BoolVar(&o.verbose, "verbose", false, "with the table, each changed field's old and new value and a unified diff of each resource")
	fs.StringVarP(&o.selector, "selector", "l", "", "compare every Running pod matching this label selector")
	fs.IntVar(&o.concurrency, "concurrency", o.concurrency, "pods read at once")
	fs.DurationVar(&o.timeout, "timeout", o.timeout, "time limit for reaching each proxy and fetching its configuration")
	fs.BoolVar(&o.quiet, "quiet", false, "do not print notes on stderr")
	addMaxInputFlag(cmd, &o.maxInput)
	o.live.addFlags(cmd)
	return cmd
}

func (o *diffOptions) complete(cmd *cobra.Command, args []string) error {
	if err := o.live.complete(cmd); err != nil {
		return err
	}
	o.args = args
	switch {
	case o.selector != "" && len(args) > 0:
		return usageErrorf("give -l SELECTOR or targets, not both")
	case o.selector == "" && len(args) == 0:
		return usageErrorf("name two proxies to compare (a pod, a dump file, - or an admin URL each), or a workload (TYPE/NAME) or -l SELECTOR naming several pods")
	case len(args) == 2 && args[0] == "-" && args[1] == "-":
		return usageErrorf("stdin (-) can be only one of the two sides")
	case o.timeout <= 0:
		return usageErrorf("--timeout must be positive, got %s", o.timeout)
	case o.concurrency <= 0:
		return usageErrorf("--concurrency must be positive, got %d", o.concurrency)
	case o.verbose && o.output.format != formatter.Short:
		return usageErrorf("--verbose adds to the table (-o short); -o %s prints what it prints", o.output.String())
	}
	if err := o.output.check(); err != nil {
		return err
	}
	if len(args) == 1 {
		t, err := portforward.ParseTarget(args[0], o.live.root.kube.NamespaceFlag())
		if err != nil || t.Kind == "pod" || args[0] == "-" || isPath(args[0]) || strings.Contains(args[0], "://") {
			return usageErrorf("one target must name several pods (TYPE/NAME, such as deploy/web, or -l SELECTOR); to compare %s, name a second proxy", args[0])
		}
	}
	for _, t := range o.types {
		k, err := diff.ParseKind(t)
		if err != nil {
			return usageError{fmt.Errorf("--type: %w", err)}
		}
		o.opts.Kinds = append(o.opts.Kinds, k)
	}
	if o.name != "" {
		re, err := regexp.Compile(o.name)
		if err != nil {
			return usageErrorf("--name %q is not a regular expression: %s", o.name, oneLine(err.Error()))
		}
		o.opts.Name = re
	}
	o.opts.KeepIdentity = o.keepIdentity
	o.opts.Documents = o.verbose || o.output.format == formatter.DiffOnly
	return nil
}

func (o *diffOptions) run(ctx context.Context) error {
	if len(o.args) == 2 {
		return o.runPair(ctx)
	}
	return o.runReplicas(ctx)
}

// side is one proxy read and indexed.
type diffSide struct {
	name     string
	prepared *diff.Prepared
	dump     *configdump.Dump
}

// readSide fetches a proxy's whole config dump (EDS included) from src and indexes it.
func (o *diffOptions) readSide(ctx context.Context, src Source, known diff.Identity) (diffSide, error) {
	d, release, err := o.loadFrom(ctx, src, pathAll)
	if err != nil {
		return diffSide{}, err
	}
	if pod, ok := src.(*portforward.PodAdmin); ok {
		known = known.Merge(diff.Identity{PodNames: []string{pod.Pod}, IPs: pod.IPs, NodeName: pod.Node})
	}
	p, err := diff.Prepare(diff.Side{Dump: d, Identity: known, Release: release}, o.opts)
	if err != nil {
		return diffSide{}, fmt.Errorf("reading the configuration from %s: %w", src, err)
	}
	return diffSide{name: src.String(), prepared: p, dump: d}, nil
}

// runPair compares two proxies, read at once; or two capture bundles, proxy by proxy.
func (o *diffOptions) runPair(ctx context.Context) error {
	if from, to, ok, err := bundlePair(o.args[0], o.args[1]); err != nil || ok {
		if err != nil {
			return err
		}
		return o.runBundles(ctx, from, to)
	}
	var sides [2]diffSide
	var errs [2]error
	var wg sync.WaitGroup
	for i, arg := range o.args {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(ctx, o.timeout)
			defer cancel()
			src, err := o.sourceOf(ctx, arg)
			if err != nil {
				errs[i] = o.live.root.deadline(ctx, err, "reaching "+arg, o.timeout)
				return
			}
			defer src.Close()
			sides[i], errs[i] = o.readSide(ctx, src, diff.Identity{})
		}()
	}
	wg.Wait()
	if err := errors.Join(errs[0], errs[1]); err != nil {
		var ue usageError
		for _, e := range errs {
			if errors.As(e, &ue) {
				return e
			}
		}
		return err
	}
	res, err := diff.Compare(sides[0].prepared, sides[1].prepared, o.opts)
	if err != nil {
		return err
	}
	if err := o.nothingCompared(res); err != nil {
		return err
	}
	names := formatter.DiffSides{From: sides[0].name, To: sides[1].name}
	if err := o.print(o.streams.Out, res, names); err != nil {
		return err
	}
	o.notes(res, sides[0].dump, sides[1].dump)
	if !res.Same() {
		return exitError{code: ExitDifferent}
	}
	return nil
}

// nothingCompared is the error of a comparison that could look at nothing: a side that is
// not a config dump, or --name and --type that select no resource of either side (a typo
// in a CI gate must not pass as "no differences").
func (o *diffOptions) nothingCompared(res *diff.Result) error {
	if len(res.Compared) == 0 {
		why := "the two documents have no section in common to compare"
		if len(res.Notes) > 0 {
			why += " (" + res.Notes[0].Text + ")"
		}
		return fmt.Errorf("%s: compare two config dumps (/config_dump?include_eds)", why)
	}
	total := 0
	for _, n := range res.Compared {
		total += n
	}
	if total > 0 || (o.name == "" && len(o.types) == 0) {
		return nil
	}
	var filters []string
	if o.name != "" {
		filters = append(filters, fmt.Sprintf("--name %q", o.name))
	}
	if len(o.types) > 0 {
		filters = append(filters, "--type "+strings.Join(o.types, ","))
	}
	verb := "selects"
	if len(filters) > 1 {
		verb = "select"
	}
	return fmt.Errorf("%s %s no resource of either side: nothing was compared (pc cluster, pc listener... list the names)", strings.Join(filters, " and "), verb)
}

// print writes one comparison in the chosen format.
func (o *diffOptions) print(w io.Writer, res *diff.Result, names formatter.DiffSides) error {
	return o.output.render(&w, func() error { return o.printAs(w, res, names) })
}

func (o *diffOptions) printAs(w io.Writer, res *diff.Result, names formatter.DiffSides) error {
	switch o.output.format {
	case formatter.JSON, formatter.YAML:
		return formatter.WriteStructured(w, formatter.NewDiffReport(res, names), o.output.format)
	case formatter.DiffOnly:
		return formatter.DiffUnified(w, res, names)
	case formatter.Name:
		return formatter.WriteNames(w, formatter.DiffNames(res))
	}
	if err := formatter.DiffTable(w, res); err != nil {
		return err
	}
	if o.verbose {
		return formatter.DiffDetails(w, res, names, true)
	}
	return nil
}

// notes prints what was not compared, and the types the dumps have that proxyctl does not
// know.
func (o *diffOptions) notes(res *diff.Result, dumps ...*configdump.Dump) {
	if o.quiet {
		return
	}
	for _, n := range res.Notes {
		printLine(o.streams.ErrOut, "note", fmt.Sprintf("%ss: %s", n.Kind, n.Text))
	}
	seen := map[string]bool{}
	var unknown []string
	for _, d := range dumps {
		for _, u := range d.UnknownTypes() {
			if !seen[u] {
				seen[u] = true
				unknown = append(unknown, u)
			}
		}
	}
	if len(unknown) > 0 {
		printLine(o.streams.ErrOut, "note", fmt.Sprintf("compared %d type(s) this proxyctl does not know as JSON: %s", len(unknown), typeNames(unknown)))
	}
}

// runReplicas reads every Running pod a workload or selector names, groups them by
// configuration and compares each group with the largest.
func (o *diffOptions) runReplicas(ctx context.Context) error {
	kube, ns, err := o.live.root.kube.Client()
	if err != nil {
		return err
	}
	var pods []corev1.Pod
	what := ""
	if o.selector != "" {
		what = fmt.Sprintf("pods matching %s in namespace %s", o.selector, ns)
		listCtx, cancel := context.WithTimeout(ctx, o.timeout)
		pods, err = kube.ListPods(listCtx, ns, o.selector)
		cancel()
		if err != nil {
			return fmt.Errorf("listing %s: %w", what, err)
		}
	} else {
		t, err := portforward.ParseTarget(o.args[0], o.live.root.kube.NamespaceFlag())
		if err != nil {
			return usageError{err}
		}
		if t.Namespace == "" {
			t.Namespace = ns
		}
		ns = t.Namespace
		what = t.String()
		listCtx, cancel := context.WithTimeout(ctx, o.timeout)
		pods, _, err = kube.Pods(listCtx, t)
		cancel()
		if err != nil {
			return err
		}
	}
	var running []string
	for _, p := range pods {
		if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
			running = append(running, p.Name)
		}
	}
	sort.Strings(running)
	if len(running) == 0 {
		return fmt.Errorf("%s: none of its %d pod(s) is Running; check kubectl get pods -n %s", what, len(pods), ns)
	}
	sides, failed := o.readPods(ctx, kube, ns, running)
	var groups []formatter.ReplicaGroup
	if len(sides) > 0 {
		prepared := make([]*diff.Prepared, len(sides))
		for i, s := range sides {
			prepared[i] = s.prepared
		}
		found, err := diff.GroupReplicas(prepared, o.opts)
		if err != nil {
			return err
		}
		for gi, g := range found {
			group := formatter.ReplicaGroup{}
			for _, m := range g.Members {
				group.Pods = append(group.Pods, sides[m].name)
			}
			if gi > 0 {
				ref := found[0].Members[0]
				if group.Diff, err = diff.Compare(sides[ref].prepared, sides[g.Members[0]].prepared, o.opts); err != nil {
					return err
				}
			}
			groups = append(groups, group)
		}
	}
	if err := o.printReplicas(what, ns, groups, failed); err != nil {
		return err
	}
	if len(groups) > 1 {
		var dumps []*configdump.Dump
		for _, s := range sides {
			dumps = append(dumps, s.dump)
		}
		o.notes(groups[1].Diff, dumps...)
	}
	switch {
	case len(failed) > 0:
		return exitError{code: ExitDiffTrouble, err: fmt.Errorf("%d of the %d Running pods of %s could not be read (%s first)", len(failed), len(running), what, failed[0].Pod)}
	case len(groups) > 1:
		return exitError{code: ExitDifferent}
	}
	return nil
}

// readPods reads the pods, o.concurrency at a time; those that fail are reported on stderr
// and returned apart. Sides are in the order of names.
func (o *diffOptions) readPods(ctx context.Context, kube *portforward.Kube, ns string, names []string) ([]diffSide, []formatter.ReplicaFailure) {
	results := make([]diffSide, len(names))
	errs := make([]error, len(names))
	slots := make(chan struct{}, o.concurrency)
	var mu sync.Mutex
	done := 0
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				errs[i] = ctx.Err()
				return
			}
			defer func() { <-slots }()
			results[i], errs[i] = o.readPod(ctx, kube, portforward.Target{Kind: "pod", Name: name, Namespace: ns})
			mu.Lock()
			done++
			if len(names) > progressAbove && !o.quiet {
				fmt.Fprintf(o.streams.ErrOut, "read %d of %d pods (%s)\n", done, len(names), name)
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	var sides []diffSide
	var failed []formatter.ReplicaFailure
	for i, name := range names {
		if errs[i] != nil {
			fmt.Fprintf(o.streams.ErrOut, "warning: %s\n", oneLine(errs[i].Error()))
			failed = append(failed, formatter.ReplicaFailure{Pod: name, Error: oneLine(errs[i].Error())})
			continue
		}
		results[i].name = name
		sides = append(sides, results[i])
	}
	return sides, failed
}

func (o *diffOptions) readPod(ctx context.Context, kube *portforward.Kube, t portforward.Target) (diffSide, error) {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	admin, err := o.live.openPod(ctx, kube, t, o.maxInput.n, o.streams)
	if err != nil {
		return diffSide{}, o.live.root.deadline(ctx, err, "reaching "+t.String(), o.timeout)
	}
	defer admin.Close()
	return o.readSide(ctx, admin, diff.Identity{})
}

func (o *diffOptions) printReplicas(what, ns string, groups []formatter.ReplicaGroup, failed []formatter.ReplicaFailure) error {
	w := o.streams.Out
	return o.output.render(&w, func() error { return o.printReplicasAs(w, what, ns, groups, failed) })
}

func (o *diffOptions) printReplicasAs(w io.Writer, what, ns string, groups []formatter.ReplicaGroup, failed []formatter.ReplicaFailure) error {
	switch o.output.format {
	case formatter.JSON, formatter.YAML:
		return formatter.WriteStructured(w, formatter.NewReplicaReport(what, groups, failed), o.output.format)
	case formatter.Name:
		var names []string
		for _, g := range groups[min(1, len(groups)):] {
			for _, p := range g.Pods {
				names = append(names, formatter.ResourceName("pod", p+"."+ns))
			}
		}
		return formatter.WriteNames(w, names)
	}
	if len(groups) == 0 {
		return nil
	}
	if o.output.format == formatter.Short {
		if err := formatter.ReplicaTable(w, groups); err != nil {
			return err
		}
	}
	for i := 1; i < len(groups); i++ {
		names := formatter.DiffSides{From: groups[0].Pods[0], To: groups[i].Pods[0]}
		if o.output.format == formatter.Short {
			if err := formatter.ReplicaGroupHeader(w, i, groups); err != nil {
				return err
			}
		}
		if err := o.printAs(w, groups[i].Diff, names); err != nil {
			return err
		}
	}
	return nil
}
