package cli

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/proxyctl/proxyctl/internal/safetext"
	"github.com/proxyctl/proxyctl/portforward"
)

// Envoy's log levels (spdlog's names, which Envoy's /logging takes); "warn" is read as warning.
var logLevels = []string{"trace", "debug", "info", "warning", "error", "critical", "off"}

type logOptions struct {
	streams  Streams
	live     *liveOptions
	adminURL string
	selector string
	level    string
	reset    bool
	timeout  time.Duration
	maxInput maxInputFlag
	target   string
	// changes are what --level or --reset ask for (see parseLevels).
	changes []levelChange
}

func newLogCommand(streams Streams, root *rootOptions) *cobra.Command {
	o := &logOptions{streams: streams, live: newLiveOptions(root), timeout: 30 * time.Second}
	cmd := &cobra.Command{
		Use:     "log [POD[.NAMESPACE] | TYPE/NAME[.NAMESPACE]] [-l SELECTOR]",
		Aliases: []string{"o"},
		Short:   "Read and set the log levels of Envoy proxies",
		Long: `Read and set the log levels of Envoy proxies (Envoy's POST /logging), of one pod,
of every pod matching a label selector (-l), or of an admin URL.

--level takes every spelling istioctl takes: LEVEL for every logger, LOGGER:LEVEL,
LOGGER=LEVEL or LOGGER::LEVEL for one, several separated by commas (debug,http:trace
sets every logger to debug, then http to trace). Levels: trace, debug, info,
warning (warn), error, critical, off. Every logger named is checked against the
proxy's own list before any level is changed, so a typo changes nothing.`,
		Example: `  # The log levels of a sidecar
  proxyctl proxy-config log productpage-v1-bd9c6d8f7-abcde.default

  # Every logger at debug
  proxyctl pc log productpage-v1-bd9c6d8f7-abcde --level debug

  # Two loggers, on every pod of an app
  proxyctl pc log -l app=reviews -n bookinfo --level http:debug,router:trace

  # Every logger at debug, but http at trace
  proxyctl pc log productpage-v1-bd9c6d8f7-abcde --level debug,http=trace

  # Back to the default level, warning
  proxyctl pc log productpage-v1-bd9c6d8f7-abcde -r`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.complete(cmd, args); err != nil {
				return err
			}
			return o.run(cmd.Context())
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&o.selector, "selector", "l", "", "set the levels of every Running pod matching this label selector")
	fs.StringVar(&o.level, "level", "", "the level of every logger (LEVEL), or of some (LOGGER:LEVEL, LOGGER=LEVEL, comma-separated); levels: "+strings.Join(logLevels, ", "))
	fs.BoolVarP(&o.reset, "reset", "r", false, "set every logger back to the default level, warning")
	fs.StringVar(&o.adminURL, "admin-url", "", "an Envoy admin API at this URL ([http://]HOST:PORT) instead of a pod")
	fs.DurationVar(&o.timeout, "timeout", o.timeout, "time limit for each proxy (and for listing the pods of -l)")
	addMaxInputFlag(cmd, &o.maxInput)
	o.live.addFlags(cmd)
	_ = cmd.RegisterFlagCompletionFunc("level", o.completeLevel)
	return cmd
}

func (o *logOptions) complete(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		o.target = args[0]
	}
	given := 0
	for _, s := range []string{o.target, o.selector, o.adminURL} {
		if s != "" {
			given++
		}
	}
	if given != 1 {
		return usageErrorf("name the proxies with one of: a pod (POD[.NAMESPACE] or TYPE/NAME[.NAMESPACE]), -l SELECTOR, --admin-url URL")
	}
	if o.timeout <= 0 {
		return usageErrorf("--timeout must be positive, got %s", o.timeout)
	}
	if o.reset && o.level != "" {
		return usageErrorf("give --level or --reset, not both")
	}
	if o.reset {
		o.changes = []levelChange{{level: "warning"}}
	} else if o.level != "" {
		changes, err := parseLevels(o.level)
		if err != nil {
			return usageError{err}
		}
		o.changes = changes
	}
	return o.live.complete(cmd)
}

// levelChange is one change --level asks for: a logger (every logger when empty) to a level.
type levelChange struct{ logger, level string }

// parseLevels reads --level as istioctl reads it, and as Envoy's loggers are named:
// comma-separated items, each LEVEL (every logger), or LOGGER:LEVEL, LOGGER=LEVEL or
// LOGGER::LEVEL (one logger); istioctl's PREFIX::LOGGER:LEVEL drops the prefix. The level for
// every logger comes first (the last one given, as istioctl keeps it), then the loggers in the
// order given.
func parseLevels(s string) ([]levelChange, error) {
	var all *levelChange
	var loggers []levelChange
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		sep := strings.LastIndexAny(item, ":=")
		if sep < 0 {
			level, ok := canonicalLevel(item)
			if !ok {
				return nil, fmt.Errorf("unknown log level %q in --level: use one of %s, or LOGGER:LEVEL", item, strings.Join(logLevels, ", "))
			}
			all = &levelChange{level: level}
			continue
		}
		logger, rawLevel := strings.TrimRight(item[:sep], ":="), item[sep+1:]
		if i := strings.LastIndex(logger, "::"); i >= 0 {
			logger = logger[i+2:]
		}
		level, ok := canonicalLevel(rawLevel)
		switch {
		case logger == "" || strings.ContainsAny(logger, ":="):
			return nil, fmt.Errorf("invalid --level %q: write LEVEL, or LOGGER:LEVEL with a logger name such as http", item)
		case !ok:
			return nil, fmt.Errorf("unknown log level %q for logger %s in --level: use one of %s", rawLevel, logger, strings.Join(logLevels, ", "))
		}
		loggers = append(loggers, levelChange{logger: logger, level: level})
	}
	if all == nil && len(loggers) == 0 {
		return nil, fmt.Errorf("--level %q names no level: write LEVEL or LOGGER:LEVEL,...", s)
	}
	var out []levelChange
	if all != nil {
		out = append(out, *all)
	}
	return append(out, loggers...), nil
}

// canonicalLevel is the level Envoy takes for a spelling ("WARN" is warning).
func canonicalLevel(s string) (string, bool) {
	l := strings.ToLower(strings.TrimSpace(s))
	if l == "warn" {
		l = "warning"
	}
	for _, v := range logLevels {
		if l == v {
			return l, true
		}
	}
	return "", false
}

// request is the /logging call that makes a change.
func (c levelChange) request() string {
	if c.logger == "" {
		return "logging?level=" + url.QueryEscape(c.level)
	}
	return "logging?" + url.QueryEscape(c.logger) + "=" + url.QueryEscape(c.level)
}

// loggerNames reads the logger names of Envoy's /logging answer ("active loggers:" then one
// "  NAME: LEVEL" line each).
func loggerNames(answer []byte) []string {
	var names []string
	for _, line := range strings.Split(string(answer), "\n") {
		if !strings.HasPrefix(line, "  ") {
			continue
		}
		if name, _, ok := strings.Cut(strings.TrimSpace(line), ": "); ok && name != "" {
			names = append(names, name)
		}
	}
	return names
}

// logAdmin is an admin API that can be posted to.
type logAdmin interface {
	Post(ctx context.Context, path string) ([]byte, error)
	String() string
	Close() error
}

func (o *logOptions) run(ctx context.Context) error {
	if o.adminURL != "" {
		admin, err := newAdminURLSource(o.adminURL, o.maxInput.n)
		if err != nil {
			return err
		}
		return o.apply(ctx, admin, "")
	}
	if o.target != "" {
		kube, t, err := o.live.target(o.target)
		if err != nil {
			return err
		}
		return o.applyPod(ctx, kube, t, "")
	}
	kube, ns, err := o.live.root.kube.Client()
	if err != nil {
		return err
	}
	listCtx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	pods, err := explainedLister{kube}.ListPods(listCtx, ns, o.selector)
	if err != nil {
		return o.live.root.deadline(listCtx, err, fmt.Sprintf("listing the pods with labels %s in namespace %s", o.selector, ns), o.timeout)
	}
	var names []string
	for _, p := range pods {
		if p.Status.Phase == "Running" {
			names = append(names, p.Name)
		}
	}
	if len(names) == 0 {
		return fmt.Errorf("no Running pod matches %s in namespace %s (%d pods match): check -l and -n", o.selector, ns, len(pods))
	}
	sort.Strings(names)
	failed := 0
	for _, name := range names {
		t := portforward.Target{Kind: "pod", Name: name, Namespace: ns}
		if err := o.applyPod(ctx, kube, t, name+"."+ns+":\n"); err != nil {
			printLine(o.streams.ErrOut, "error", err.Error())
			failed++
		}
	}
	if failed > 0 {
		return exitError{code: ExitRuntime, err: fmt.Errorf("%d of %d pods failed", failed, len(names))}
	}
	return nil
}

func (o *logOptions) applyPod(ctx context.Context, kube *portforward.Kube, t portforward.Target, header string) error {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	admin, err := o.live.openPod(ctx, kube, t, o.maxInput.n, o.streams)
	if err != nil {
		return o.live.root.deadline(ctx, err, "reaching "+t.String(), o.timeout)
	}
	return o.apply(ctx, admin, header)
}

// apply checks the loggers --level names against the proxy's own list, then makes the changes
// and prints the levels Envoy answers with. A logger the proxy lacks changes nothing.
func (o *logOptions) apply(ctx context.Context, admin logAdmin, header string) error {
	defer admin.Close()
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.timeout)
		defer cancel()
	}
	answer, err := o.check(ctx, admin)
	if err != nil {
		return err
	}
	for _, c := range o.changes {
		if answer, err = admin.Post(ctx, c.request()); err != nil {
			return o.live.root.deadline(ctx, err, "setting the log levels of "+admin.String(), o.timeout)
		}
	}
	// Envoy's answer, lines of "logger: level", printed as it came, but for the control
	// characters a hostile admin API could put in it to act on the terminal.
	_, err = fmt.Fprint(o.streams.Out, header+safetext.EscapeLines(strings.TrimRight(string(answer), "\n"))+"\n")
	return err
}

// check reads the proxy's loggers (POST /logging with no change) and refuses loggers it does
// not have; it returns the answer, the levels as they are. With no change asked for, that is
// all; with changes to every logger only, there is nothing to check and nothing is read.
func (o *logOptions) check(ctx context.Context, admin logAdmin) ([]byte, error) {
	named := false
	for _, c := range o.changes {
		named = named || c.logger != ""
	}
	if len(o.changes) > 0 && !named {
		return nil, nil
	}
	answer, err := admin.Post(ctx, "logging")
	if err != nil {
		return nil, o.live.root.deadline(ctx, err, "reading the log levels of "+admin.String(), o.timeout)
	}
	have := loggerNames(answer)
	if len(have) == 0 {
		return answer, nil // an answer of another shape: Envoy itself refuses unknown loggers
	}
	var unknown []string
	for _, c := range o.changes {
		if c.logger != "" && !slices.Contains(have, c.logger) {
			unknown = append(unknown, c.logger)
		}
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("%s has no logger %s, so no level was changed; its loggers: %s",
			admin.String(), strings.Join(unknown, ", "), strings.Join(have, ", "))
	}
	return answer, nil
}

// completeLevel completes --level: the levels, and the proxy's logger names (read from the proxy
// the command line names, when it answers within the completion timeout) as LOGGER: with the
// levels after it, item after item of a comma-separated list.
func (o *logOptions) completeLevel(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	directive := cobra.ShellCompDirectiveNoFileComp
	done, cur := "", toComplete
	if i := strings.LastIndexByte(toComplete, ','); i >= 0 {
		done, cur = toComplete[:i+1], toComplete[i+1:]
	}
	var out []string
	if sep := strings.LastIndexAny(cur, ":="); sep >= 0 {
		for _, l := range logLevels {
			if strings.HasPrefix(l, cur[sep+1:]) {
				out = append(out, done+cur[:sep+1]+l)
			}
		}
		return out, directive
	}
	for _, l := range logLevels {
		if strings.HasPrefix(l, cur) {
			out = append(out, done+l)
		}
	}
	for _, name := range o.proxyLoggers(cmd, args) {
		if strings.HasPrefix(name, cur) {
			out = append(out, done+name+":")
			directive |= cobra.ShellCompDirectiveNoSpace // the level follows
		}
	}
	return out, directive
}

// proxyLoggers reads the logger names of the proxy the command line names (--admin-url, a pod,
// or the first Running pod -l matches), or nothing, within the completion timeout.
func (o *logOptions) proxyLoggers(cmd *cobra.Command, args []string) []string {
	ctx, cancel := o.live.root.completionContext(cmd)
	defer cancel()
	quiet := Streams{In: o.streams.In, Out: io.Discard, ErrOut: io.Discard}
	o.live.adminPortSet = cmd.Flags().Changed("proxy-admin-port")
	var admin logAdmin
	switch {
	case o.adminURL != "":
		c, err := newAdminURLSource(o.adminURL, 0)
		if err != nil {
			return nil
		}
		admin = c
	case len(args) > 0 || o.selector != "":
		kube, ns, err := o.live.root.kube.Client()
		if err != nil {
			return nil
		}
		var t portforward.Target
		if len(args) > 0 {
			if kube, t, err = o.live.target(args[0]); err != nil {
				return nil
			}
		} else {
			pods, err := kube.ListPods(ctx, ns, o.selector)
			if err != nil {
				return nil
			}
			for _, p := range pods {
				if p.Status.Phase == "Running" && (t.Name == "" || p.Name < t.Name) {
					t = portforward.Target{Kind: "pod", Name: p.Name, Namespace: ns}
				}
			}
			if t.Name == "" {
				return nil
			}
		}
		p, err := o.live.openPod(ctx, kube, t, 0, quiet)
		if err != nil {
			return nil
		}
		admin = p
	default:
		return nil
	}
	defer admin.Close()
	answer, err := admin.Post(ctx, "logging")
	if err != nil {
		return nil
	}
	return loggerNames(answer)
}
