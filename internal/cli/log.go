package cli

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/proxyctl/proxyctl/internal/safetext"
	"github.com/proxyctl/proxyctl/portforward"
)

// Envoy's log levels; "warn" is accepted for warning, as Envoy does.
var logLevels = []string{"trace", "debug", "info", "warning", "warn", "error", "critical", "off"}

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
	// reqs are the /logging calls --level or --reset ask for (see requests).
	reqs []string
}

func newLogCommand(streams Streams, root *rootOptions) *cobra.Command {
	o := &logOptions{streams: streams, live: newLiveOptions(root), timeout: 30 * time.Second}
	cmd := &cobra.Command{
		Use:   "log [POD[.NAMESPACE] | TYPE/NAME[.NAMESPACE]] [-l SELECTOR]",
		Short: "Read and set the log levels of Envoy proxies",
		Long: `Read and set the log levels of Envoy proxies (Envoy's POST /logging), of one pod,
of every pod matching a label selector (-l), or of an admin URL.`,
		Example: `  # The log levels of a sidecar
  proxyctl proxy-config log productpage-v1-bd9c6d8f7-abcde.default

  # Every logger at debug
  proxyctl pc log productpage-v1-bd9c6d8f7-abcde --level debug

  # Two loggers, on every pod of an app
  proxyctl pc log -l app=reviews -n bookinfo --level http:debug,router:trace

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
	fs.StringVar(&o.level, "level", "", "the level of every logger (LEVEL), or of some (LOGGER:LEVEL,...): "+strings.Join(logLevels, ", "))
	fs.BoolVarP(&o.reset, "reset", "r", false, "set every logger back to the default level, warning")
	fs.StringVar(&o.adminURL, "admin-url", "", "an Envoy admin API at this URL (http://HOST:PORT) instead of a pod")
	fs.DurationVar(&o.timeout, "timeout", o.timeout, "time limit for each proxy (and for listing the pods of -l)")
	addMaxInputFlag(cmd, &o.maxInput)
	o.live.addFlags(cmd)
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
	reqs, err := o.requests()
	if err != nil {
		return err
	}
	o.reqs = reqs
	return o.live.complete(cmd)
}

// requests are the /logging calls to make, the last one's answer being the levels shown.
func (o *logOptions) requests() ([]string, error) {
	if o.reset && o.level != "" {
		return nil, usageErrorf("give --level or --reset, not both")
	}
	switch {
	case o.reset:
		return []string{"logging?level=warning"}, nil
	case o.level == "":
		return []string{"logging"}, nil
	case !strings.Contains(o.level, ":"):
		if !validLevel(o.level) {
			return nil, usageErrorf("unknown log level %q: use one of %s", o.level, strings.Join(logLevels, ", "))
		}
		return []string{"logging?level=" + url.QueryEscape(o.level)}, nil
	}
	var reqs []string
	for _, pair := range strings.Split(o.level, ",") {
		logger, level, ok := strings.Cut(strings.TrimSpace(pair), ":")
		if !ok || logger == "" || !validLevel(level) {
			return nil, usageErrorf("invalid --level %q: write LEVEL or LOGGER:LEVEL,... with levels among %s", pair, strings.Join(logLevels, ", "))
		}
		reqs = append(reqs, "logging?"+url.QueryEscape(logger)+"="+url.QueryEscape(level))
	}
	return reqs, nil
}

func validLevel(l string) bool {
	for _, v := range logLevels {
		if l == v {
			return true
		}
	}
	return false
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
		return o.apply(ctx, admin, o.reqs, "")
	}
	if o.target != "" {
		kube, t, err := o.live.target(o.target)
		if err != nil {
			return err
		}
		return o.applyPod(ctx, kube, t, o.reqs, "")
	}
	kube, ns, err := o.live.root.kube.Client()
	if err != nil {
		return err
	}
	listCtx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	pods, err := explainedLister{kube, "--admin-url"}.ListPods(listCtx, ns, o.selector)
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
		if err := o.applyPod(ctx, kube, t, o.reqs, name+"."+ns+":\n"); err != nil {
			printLine(o.streams.ErrOut, "error", err.Error())
			failed++
		}
	}
	if failed > 0 {
		return exitError{code: ExitRuntime, err: fmt.Errorf("%d of %d pods failed", failed, len(names))}
	}
	return nil
}

func (o *logOptions) applyPod(ctx context.Context, kube *portforward.Kube, t portforward.Target, reqs []string, header string) error {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	admin, err := o.live.openPod(ctx, kube, t, o.maxInput.n, o.streams)
	if err != nil {
		return o.live.root.deadline(ctx, err, "reaching "+t.String(), o.timeout)
	}
	return o.apply(ctx, admin, o.reqs, header)
}

// apply makes the /logging calls and prints the levels Envoy answers with.
func (o *logOptions) apply(ctx context.Context, admin logAdmin, reqs []string, header string) error {
	defer admin.Close()
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.timeout)
		defer cancel()
	}
	doing := "setting the log levels of "
	if o.level == "" && !o.reset {
		doing = "reading the log levels of "
	}
	var answer []byte
	for _, r := range reqs {
		var err error
		if answer, err = admin.Post(ctx, r); err != nil {
			return o.live.root.deadline(ctx, err, doing+admin.String(), o.timeout)
		}
	}
	// Envoy's answer, lines of "logger: level", printed as it came, but for the control
	// characters a hostile admin API could put in it to act on the terminal or forge a line.
	_, err := fmt.Fprint(o.streams.Out, header+safetext.EscapeLines(strings.TrimRight(string(answer), "\n"))+"\n")
	return err
}
