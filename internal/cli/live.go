package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/proxyctl/proxyctl/portforward"
)

const defaultAdminPort = 15000

// liveOptions reach a proxy in a pod through Kubernetes.
type liveOptions struct {
	root         *rootOptions
	adminPort    int
	adminPortSet bool
}

func newLiveOptions(root *rootOptions) *liveOptions {
	return &liveOptions{root: root, adminPort: defaultAdminPort}
}

func (l *liveOptions) addFlags(cmd *cobra.Command) {
	cmd.Flags().IntVar(&l.adminPort, "proxy-admin-port", defaultAdminPort, "Envoy's admin port in the pod")
}

func (l *liveOptions) complete(cmd *cobra.Command) error {
	l.adminPortSet = cmd.Flags().Changed("proxy-admin-port")
	if l.adminPort <= 0 || l.adminPort > 65535 {
		return usageErrorf("--proxy-admin-port must be between 1 and 65535, got %d", l.adminPort)
	}
	return nil
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
		Note:         func(s string) { fmt.Fprintf(streams.ErrOut, "note: %s\n", s) },
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
