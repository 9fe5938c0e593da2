// Package cli holds proxyctl's cobra commands: one file per command, each
// with its own options struct, and no package-level state.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

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
		SilenceUsage:      true,
		SilenceErrors:     true,
		CompletionOptions: cobra.CompletionOptions{HiddenDefaultCmd: true},
	}
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	o := &rootOptions{kube: portforward.NewKubeFlags()}
	o.kube.AddFlags(root.PersistentFlags())
	root.PersistentFlags().StringVarP(&o.istioNamespace, "istio-namespace", "i", "istio-system", "namespace of Istio's control plane (istiod)")
	root.AddCommand(newProxyConfigCommand(streams, o), newProxyStatusCommand(streams, o), newCaptureCommand(streams, o))
	wrapArgValidators(root)
	return root
}

// rootOptions are the flags every command shares: how to reach Kubernetes and Istio.
type rootOptions struct {
	kube           *portforward.KubeFlags
	istioNamespace string
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
	root := NewRootCommand(streams)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err != nil && ctx.Err() != nil {
		// Ctrl-C or SIGTERM: whatever failed, it failed because it was stopped.
		fmt.Fprintln(streams.ErrOut, "error: interrupted")
		return ExitInterrupted
	}
	return reportError(err, streams.ErrOut)
}

// reportError prints err as one line on w and maps it to an exit code.
func reportError(err error, w io.Writer) int {
	if err == nil {
		return ExitOK
	}
	var ee exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintf(w, "error: %s\n", oneLine(ee.err.Error()))
		}
		return ee.code
	}
	fmt.Fprintf(w, "error: %s\n", oneLine(err.Error()))
	var ue usageError
	if errors.As(err, &ue) || isCobraUsageError(err) {
		return ExitUsage
	}
	return ExitRuntime
}

// isCobraUsageError recognises the errors cobra returns for unknown commands.
func isCobraUsageError(err error) bool {
	return strings.HasPrefix(err.Error(), "unknown command ") || strings.HasPrefix(err.Error(), "unknown shorthand flag") ||
		strings.HasPrefix(err.Error(), "unknown flag")
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}
