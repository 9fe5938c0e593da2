package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/proxyctl/proxyctl/configdump"
	"github.com/proxyctl/proxyctl/formatter"
)

type secretOptions struct {
	*commonOptions
}

func newSecretCommand(streams Streams, root *rootOptions) *cobra.Command {
	o := &secretOptions{commonOptions: newCommonOptions(streams, root, formatter.Short)}
	cmd := &cobra.Command{
		Use:     "secret [POD[.NAMESPACE] | TYPE/NAME[.NAMESPACE]]",
		Aliases: []string{"secrets", "s"},
		Short:   "Retrieve information about the secrets (certificates) of an Envoy proxy",
		Example: `  # Certificates of a pod's sidecar: type, validity, serial number
  proxyctl proxy-config secret productpage-v1-bd9c6d8f7-abcde.default

  # The secrets section as JSON (private keys are always redacted)
  proxyctl pc secret productpage-v1-bd9c6d8f7-abcde -o json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.complete(cmd, args); err != nil {
				return err
			}
			return o.run(cmd, pathSecrets, o.view)
		},
	}
	o.addFlags(cmd)
	o.output.addTableFlags(cmd)
	return cmd
}

func (o *secretOptions) view(d *configdump.Dump) error {
	if err := d.CheckSection(configdump.SecretsSection); err != nil {
		return err
	}
	if o.output.format != formatter.Short && o.output.format != formatter.Name {
		secrets, err := d.Secrets()
		if err != nil {
			return err
		}
		return formatter.Message(o.streams.Out, d, secrets, o.output.format)
	}
	items, err := o.secretItems(d, time.Now())
	if err != nil {
		return err
	}
	if o.output.format == formatter.Name {
		return formatter.WriteNames(o.streams.Out, formatter.SecretNames(items))
	}
	return formatter.SecretTable(o.streams.Out, items, false)
}

// secretItems lists the dump's secrets. Those whose certificate is a file, which the config
// dump does not show, are completed from Envoy's /certs when the source has it (a live proxy,
// a capture bundle; not a file): a failure there is a note, not an error.
func (o *commonOptions) secretItems(d *configdump.Dump, now time.Time) ([]configdump.SecretItem, error) {
	items, err := d.SecretItems(now)
	if err != nil || !configdump.NeedCerts(items) || o.document == nil {
		return items, err
	}
	doc, err := o.document("certs")
	var certs *configdump.Certs
	if err == nil && doc != nil {
		certs, err = configdump.ParseCerts(doc)
	}
	switch {
	case err != nil && !o.quiet:
		fmt.Fprintf(o.streams.ErrOut, "note: the certificates in files are not described: %s\n", oneLine(err.Error()))
	case certs != nil:
		certs.FillFromCerts(items, now)
	}
	return items, nil
}
