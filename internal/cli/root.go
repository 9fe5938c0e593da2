// Package cli holds proxyctl's cobra commands: one file per command, each
// with its own options struct, and no package-level state.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/proxyctl/proxyctl/internal/safetext"
	"github.com/proxyctl/proxyctl/portforward"
)

// Exit codes, documented in docs/exit-codes.md.
const (
	ExitOK      = 0
	ExitRuntime = 1
	ExitUsage   = 2
	ExitFailOn  = 3
	// ExitInterrupted is the shell's code for a command ended by Ctrl-C (128 + SIGINT).
	ExitInterrupted = 130
)

// Streams are the standard streams a command reads and writes.
type Streams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
}

// usageError marks an error caused by how the command was invoked (exit 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// usageErrorf returns a usage error (exit code 2).
func usageErrorf(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// exitError carries a specific exit code and an optional message.
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}
func (e exitError) Unwrap() error { return e.err }

// NewRootCommand builds the proxyctl command tree.
func NewRootCommand(streams Streams) *cobra.Command {
	root := &cobra.Command{
		Use:   "proxyctl",
		Short: "Inspect the configuration and xDS sync state of Envoy proxies",
		Long: `proxyctl shows what an Envoy proxy is configured with, the way
"istioctl proxy-config" and "istioctl proxy-status" do: from a pod through a
Kubernetes port-forward, from an Envoy admin URL, from a saved config dump, or
from a capture bundle (proxyctl capture) that every view reads.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	root.SetFlagErrorFunc(flagError)
	makeGroup(root, false)
	o := &rootOptions{kube: portforward.NewKubeFlags(), completionTimeout: defaultCompletionTimeout}
	o.kube.AddFlags(root.PersistentFlags())
	root.PersistentFlags().StringVarP(&o.istioNamespace, "istio-namespace", "i", "istio-system", "namespace of Istio's control plane (istiod)")
	root.AddCommand(newProxyConfigCommand(streams, o), newProxyStatusCommand(streams, o), newRouteCheckCommand(streams, o),
		newVersionCommand(streams, o), newCaptureCommand(streams, o))
	// cobra's completion command, added now rather than when the root runs, so that it is a
	// group like the others: "completion bsh" is an unknown command (exit 2), not its help.
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() == "completion" {
			makeGroup(c, false)
		}
	}
	finishTree(root, o)
	return root
}

// rootOptions are the flags every command shares: how to reach Kubernetes and Istio.
type rootOptions struct {
	kube           *portforward.KubeFlags
	istioNamespace string
	// completionTimeout bounds what shell completion asks of Kubernetes or a proxy.
	completionTimeout time.Duration
}

// finishTree gives every command of the tree, whoever added it, what all commands share:
// usage errors for bad arguments, istioctl's -c for --kubeconfig where -c is free, and the
// completion of the flags every command inherits.
func finishTree(root *cobra.Command, o *rootOptions) {
	wrapArgValidators(root)
	addKubeconfigShorthands(root, o.kube)
	o.registerCompletions(root)
}

// addKubeconfigShorthands gives each runnable command -c as the short form of --kubeconfig, as
// istioctl has it, unless -c means something else there (route-check's -c/--config-path, as
// Envoy's router_check_tool has it): -c is a flag of each command, not a persistent flag of the
// root, so that a command's own -c never collides with it.
func addKubeconfigShorthands(cmd *cobra.Command, kube *portforward.KubeFlags) {
	if cmd.Name() == "completion" && cmd.Parent() != nil && !cmd.Parent().HasParent() {
		return // writing a completion script asks nothing of Kubernetes
	}
	if cmd.Runnable() && !shorthandTaken(cmd, "c") && cmd.Flags().Lookup("kubeconfig") == nil {
		kube.AddKubeconfigShorthand(cmd.Flags())
	}
	for _, c := range cmd.Commands() {
		addKubeconfigShorthands(c, kube)
	}
}

// shorthandTaken says whether cmd has, or inherits, a flag with this short form.
func shorthandTaken(cmd *cobra.Command, short string) bool {
	if cmd.Flags().ShorthandLookup(short) != nil {
		return true
	}
	for c := cmd; c != nil; c = c.Parent() {
		if c.PersistentFlags().ShorthandLookup(short) != nil {
			return true
		}
	}
	return false
}

// makeGroup makes cmd a command group (the root, proxy-config): alone it prints its help (unless
// it says otherwise); an argument that names none of its commands is refused with the nearest
// ones suggested; and with help, "help [COMMAND]" works under it as under the root (which has
// cobra's own).
func makeGroup(cmd *cobra.Command, help bool) {
	cmd.SuggestionsMinimumDistance = 2
	cmd.Args = func(c *cobra.Command, args []string) error {
		if len(args) > 0 {
			return unknownCommand(c, args[0])
		}
		return nil
	}
	if cmd.RunE == nil && cmd.Run == nil {
		cmd.RunE = func(c *cobra.Command, _ []string) error { return c.Help() }
	}
	if help {
		help := &cobra.Command{
			Use:   "help [command]",
			Short: "Help about any command of " + cmd.Name(),
			Args:  cobra.ArbitraryArgs,
			ValidArgsFunction: func(c *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
				if len(args) > 0 {
					return nil, cobra.ShellCompDirectiveNoFileComp
				}
				var names []string
				for _, sub := range cmd.Commands() {
					if sub.IsAvailableCommand() && strings.HasPrefix(sub.Name(), toComplete) {
						names = append(names, sub.Name()+"\t"+sub.Short)
					}
				}
				return names, cobra.ShellCompDirectiveNoFileComp
			},
			RunE: func(c *cobra.Command, args []string) error {
				target, rest, err := cmd.Find(args)
				if err != nil || len(rest) > 0 || target == nil {
					return unknownCommand(cmd, args[0])
				}
				return target.Help()
			},
		}
		cmd.SetHelpCommand(help)
		cmd.AddCommand(help)
	}
}

// unknownCommand is the usage error for an argument of a group that names none of its
// commands, with suggestions.
func unknownCommand(group *cobra.Command, name string) error {
	msg := fmt.Sprintf("unknown command %q for %q", name, group.CommandPath())
	if s := suggestions(group, name); len(s) > 0 {
		quoted := make([]string, len(s))
		for i, n := range s {
			quoted[i] = strconv.Quote(n)
		}
		msg += "; did you mean " + strings.Join(quoted, " or ") + "?"
	}
	return unknownCommandError{usageError{errors.New(msg)}, group}
}

// unknownCommandError is a usage error whose help is the group's.
type unknownCommandError struct {
	usageError
	group *cobra.Command
}

func (e unknownCommandError) Unwrap() error { return e.usageError }

// suggestions are the commands of a group a mistyped name may mean, as cobra finds them (at
// most SuggestionsMinimumDistance edits away, or a prefix) but among aliases too, each command
// suggested by the spelling nearest to what was typed ("listners": "listeners").
func suggestions(group *cobra.Command, typed string) []string {
	var out []string
	for _, c := range group.Commands() {
		if !c.IsAvailableCommand() {
			continue
		}
		best, bestDist := "", -1
		for _, name := range append([]string{c.Name()}, c.Aliases...) {
			d := editDistance(strings.ToLower(typed), strings.ToLower(name))
			if strings.HasPrefix(strings.ToLower(name), strings.ToLower(typed)) && name == c.Name() {
				d = 0
			}
			if name != c.Name() && 2*d >= len(name) {
				continue // a short alias ("s") is near anything short
			}
			if d <= group.SuggestionsMinimumDistance && (bestDist < 0 || d < bestDist) {
				best, bestDist = name, d
			}
		}
		if best != "" {
			out = append(out, best)
		}
	}
	return out
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur := make([]int, len(rb)+1)
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(rb)]
}

// flagError makes a bad flag a usage error. On a group, a flag error after an argument means the
// argument named no command (`pc listners -f dump.json`): that is the error to report.
func flagError(c *cobra.Command, err error) error {
	if c.HasSubCommands() {
		if args := c.Flags().Args(); len(args) > 0 {
			return unknownCommand(c, args[0])
		}
	}
	return usageError{err}
}

// wrapArgValidators turns positional-argument errors into usage errors.
func wrapArgValidators(cmd *cobra.Command) {
	if cmd.Args != nil {
		validate := cmd.Args
		cmd.Args = func(c *cobra.Command, args []string) error {
			if err := validate(c, args); err != nil {
				return usageError{err}
			}
			return nil
		}
	}
	for _, sub := range cmd.Commands() {
		wrapArgValidators(sub)
	}
}

// Run executes proxyctl with args and returns the process exit code.
func Run(args []string, streams Streams) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	// After the first signal, the default handling again: a second Ctrl-C ends proxyctl at
	// once, even while it waits on something that cannot be cancelled (a pipe that sends nothing).
	go func() {
		<-ctx.Done()
		stop()
	}()
	// Whatever writes to stderr, what reaches the terminal has its control characters escaped
	// (messages go through printLine, which also keeps each on one line).
	streams.ErrOut = safetext.NewWriter(streams.ErrOut)
	if f, ok := streams.Out.(*os.File); ok {
		growPipe(f)
	}
	root := NewRootCommand(streams)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err != nil && ctx.Err() != nil {
		// Ctrl-C or SIGTERM: whatever failed, it failed because it was stopped.
		printLine(streams.ErrOut, "error", "interrupted")
		return ExitInterrupted
	}
	if err != nil && cmd != nil && isUsageError(err) {
		var unknown unknownCommandError
		if errors.As(err, &unknown) {
			cmd = unknown.group
		}
		err = usageError{fmt.Errorf("%w (see %s --help)", err, cmd.CommandPath())}
	}
	return reportError(err, streams.ErrOut)
}

// isUsageError says whether err comes from how the command was invoked.
func isUsageError(err error) bool {
	var ue usageError
	return errors.As(err, &ue) || isCobraUsageError(err)
}

// reportError prints err as one line on w and maps it to an exit code.
func reportError(err error, w io.Writer) int {
	if err == nil {
		return ExitOK
	}
	var ee exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			printLine(w, "error", ee.err.Error())
		}
		return ee.code
	}
	printLine(w, "error", err.Error())
	if isUsageError(err) {
		return ExitUsage
	}
	return ExitRuntime
}

// printLine prints a message on stderr as one line, "KIND: MESSAGE": every error, warning and
// note goes through it, so that what a proxy, istiod or a dump put in the message (a control
// character, a line break, a 100 MB name) is escaped and clipped (see safetext.Line).
func printLine(w io.Writer, kind, msg string) {
	fmt.Fprintf(w, "%s: %s\n", kind, safetext.Line(msg))
}

// isCobraUsageError recognises the errors cobra returns for unknown commands.
func isCobraUsageError(err error) bool {
	return strings.HasPrefix(err.Error(), "unknown command ") || strings.HasPrefix(err.Error(), "unknown shorthand flag") ||
		strings.HasPrefix(err.Error(), "unknown flag")
}

// oneLine makes a message one line of stderr (see safetext.Line): escaped and clipped.
func oneLine(s string) string { return safetext.Line(s) }
