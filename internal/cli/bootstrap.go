package cli

import (
	"github.com/spf13/cobra"

	"github.com/proxyctl/proxyctl/configdump"
	"github.com/proxyctl/proxyctl/formatter"
)

type bootstrapOptions struct {
	*commonOptions
}

func newBootstrapCommand(streams Streams, root *rootOptions) *cobra.Command {
	o := &bootstrapOptions{commonOptions: newCommonOptions(streams, root, formatter.JSON)}
	cmd := &cobra.Command{
		Use:     "bootstrap [POD[.NAMESPACE] | TYPE/NAME[.NAMESPACE]]",
		Aliases: []string{"b"},
		Short:   "Retrieve the bootstrap configuration of an Envoy proxy",
		Long: `Retrieve the bootstrap configuration of an Envoy proxy, as JSON by default;
-o short prints the Istio and Envoy versions it names.`,
		Example: `  # The bootstrap of a pod's sidecar
  proxyctl proxy-config bootstrap productpage-v1-bd9c6d8f7-abcde.default

  # Its versions only
  proxyctl pc bootstrap productpage-v1-bd9c6d8f7-abcde -o short`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.complete(cmd, args); err != nil {
				return err
			}
			return o.run(cmd, pathBootstrap, o.view)
		},
	}
	o.addFlags(cmd)
	return cmd
}

func (o *bootstrapOptions) view(d *configdump.Dump) error {
	if err := d.CheckSection(configdump.BootstrapSection); err != nil {
		return err
	}
	b, err := d.Bootstrap()
	if err != nil {
		return err
	}
	if o.output.format == formatter.Short {
		return formatter.BootstrapSummary(o.streams.Out, configdump.BootstrapVersions(b))
	}
	return formatter.Message(o.streams.Out, d, b, o.output.format)
}
