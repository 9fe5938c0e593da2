package cli

import "github.com/spf13/cobra"

func newProxyConfigCommand(streams Streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "proxy-config",
		Aliases: []string{"pc"},
		Short:   "Retrieve information about the configuration of an Envoy proxy",
	}
	_ = streams
	return cmd
}
