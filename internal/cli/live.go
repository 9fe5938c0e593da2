package cli

import (
	"context"
	"strings"

	"github.com/spf13/cobra"

	"github.com/proxyctl/proxyctl/portforward"
)

// liveOptions reach a proxy in a pod through Kubernetes.
type liveOptions struct {
	root         *rootOptions
	adminPort    int
	adminPortSet bool
	// alternatives names what the command offers instead of a pod, for messages; "" means the
	// command's own --admin-url and -f, whichever it has (see complete).
	alternatives string
}

func newLiveOptions(root *rootOptions) *liveOptions {
	return &liveOptions{root: root}
}

// addFlags registers --proxy-admin-port, and completes the command's pod arguments.
func (l *liveOptions) addFlags(cmd *cobra.Command) {
	cmd.Flags().IntVar(&l.adminPort, "proxy-admin-port", 0, "Envoy's admin port in the pod (default: the one the pod's mesh uses: Istio 15000, Consul 19000, Kuma 9901, Envoy Gateway 19000, OSM 15000, or a container port named admin)")
	if cmd.ValidArgsFunction == nil {
		cmd.ValidArgsFunction = l.completeTarget
	}
}

func (l *liveOptions) complete(cmd *cobra.Command) error {
	l.adminPortSet = cmd.Flags().Changed("proxy-admin-port")
	if l.adminPortSet && (l.adminPort <= 0 || l.adminPort > 65535) {
		return usageErrorf("--proxy-admin-port must be between 1 and 65535, got %d", l.adminPort)
	}
	alternatives := l.alternatives
	if alternatives == "" {
		alternatives = flagAlternatives(cmd, "admin-url", "file")
	}
	l.root.kube.SetAlternatives(alternatives)
	return nil
}

// flagAlternatives names those of the flags that cmd has, as messages suggest them: "--admin-url
// or -f". Errors never suggest a flag the command lacks.
func flagAlternatives(cmd *cobra.Command, names ...string) string {
	var have []string
	for _, n := range names {
		if f := cmd.Flags().Lookup(n); f != nil {
			if f.Shorthand != "" {
				have = append(have, "-"+f.Shorthand)
			} else {
				have = append(have, "--"+n)
			}
		}
	}
	switch len(have) {
	case 0:
		return ""
	case 1:
		return have[0]
	}
	return strings.Join(have[:len(have)-1], ", ") + " or " + have[len(have)-1]
}

// target parses a pod target, filling in the default namespace.
func (l *liveOptions) target(arg string) (*portforward.Kube, portforward.Target, error) {
	t, err := portforward.ParseTarget(arg, l.root.kube.NamespaceFlag())
	if err != nil {
		return nil, t, usageError{err}
	}
	kube, ns, err := l.root.kube.Client()
	if err != nil {
		return nil, t, err
	}
	if t.Namespace == "" {
		t.Namespace = ns
	}
	return kube, t, nil
}

// podSource port-forwards to the admin port of the proxy a target names.
func (l *liveOptions) podSource(ctx context.Context, arg string, max int64, streams Streams) (Source, error) {
	kube, t, err := l.target(arg)
	if err != nil {
		return nil, err
	}
	return l.openPod(ctx, kube, t, max, streams)
}

// openPod port-forwards to the admin port of the proxy in the pod t; notes (which of several
// pods was picked) go to stderr.
func (l *liveOptions) openPod(ctx context.Context, kube *portforward.Kube, t portforward.Target, max int64, streams Streams) (*portforward.PodAdmin, error) {
	return kube.OpenPod(ctx, t, portforward.PodOptions{
		AdminPort:    l.adminPort,
		AdminPortSet: l.adminPortSet,
		MaxBytes:     max,
		Note:         func(s string) { printLine(streams.ErrOut, "note", s) },
	})
}

// newAdminURLSource is the admin API at --admin-url.
func newAdminURLSource(url string, max int64) (*portforward.AdminClient, error) {
	c, err := portforward.NewAdminClient(url, max)
	if err != nil {
		return nil, usageError{err}
	}
	return c, nil
}
