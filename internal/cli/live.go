package cli

import (
	"context"
	"errors"

	"github.com/spf13/cobra"
)

// liveOptions reach a proxy in a pod through Kubernetes.
type liveOptions struct{}

func newLiveOptions() *liveOptions { return &liveOptions{} }

func (l *liveOptions) addFlags(cmd *cobra.Command) {}

func (l *liveOptions) podSource(ctx context.Context, target string, max int64, streams Streams) (Source, error) {
	return nil, errors.New("pods are not supported yet")
}

func newAdminURLSource(url string, max int64) (Source, error) {
	return nil, errors.New("admin URLs are not supported yet")
}
