package cli

import (
	"github.com/spf13/cobra"

	"github.com/proxyctl/proxyctl/configdump"
	"github.com/proxyctl/proxyctl/formatter"
)

type ecdsOptions struct {
	*commonOptions
}

func newEcdsCommand(streams Streams, root *rootOptions) *cobra.Command {
	o := &ecdsOptions{commonOptions: newCommonOptions(streams, root, formatter.Short)}
	cmd := &cobra.Command{
		Use:     "ecds [POD[.NAMESPACE] | TYPE/NAME[.NAMESPACE]]",
		Aliases: []string{"ec"},
		Short:   "Retrieve the extension configs (ECDS) of an Envoy proxy",
		Example: `  # Extension configs (Wasm plugins, telemetry filters) of a pod's sidecar
  proxyctl proxy-config ecds productpage-v1-bd9c6d8f7-abcde.default`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.complete(cmd, args); err != nil {
				return err
			}
			return o.run(cmd, pathEcds, o.view)
		},
	}
	o.addFlags(cmd)
	o.output.addTableFlags(cmd)
	return cmd
}

func (o *ecdsOptions) view(d *configdump.Dump) error {
	if err := d.CheckSection(configdump.EcdsSection); err != nil {
		return err
	}
	if o.output.format != formatter.Short && o.output.format != formatter.Name {
		ecds, err := d.Ecds()
		if err != nil {
			return err
		}
		return formatter.Message(o.streams.Out, d, ecds, o.output.format)
	}
	configs, err := d.EcdsConfigs()
	if err != nil {
		return err
	}
	if o.output.format == formatter.Name {
		return formatter.WriteNames(o.streams.Out, formatter.EcdsNames(configs))
	}
	return formatter.EcdsTable(o.streams.Out, configs)
}
