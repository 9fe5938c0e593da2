package cli

import (
	"context"
	"crypto/x509"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/proxyctl/proxyctl/configdump"
	"github.com/proxyctl/proxyctl/formatter"
)

type rootCAOptions struct {
	streams  Streams
	live     *liveOptions
	timeout  time.Duration
	maxInput maxInputFlag
}

func newRootCACompareCommand(streams Streams, root *rootOptions) *cobra.Command {
	o := &rootCAOptions{streams: streams, live: newLiveOptions(root), timeout: 30 * time.Second}
	cmd := &cobra.Command{
		Use:     "rootca-compare POD1[.NAMESPACE] POD2[.NAMESPACE]",
		Aliases: []string{"rc"},
		Short:   "Compare the root CAs of two proxies",
		Long: `Compare the ROOTCA secrets of two proxies: whether they trust the same roots, and so
can verify each other's certificates. During a root rotation a proxy trusts several roots;
the command says which are shared. It exits 1 when the proxies share no root.`,
		Example: `  proxyctl proxy-config rootca-compare productpage-v1-bd9c6d8f7-abcde.default reviews-v1-5f4d584748-x2x8j.default`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 2 {
				return fmt.Errorf("rootca-compare compares two pods: give POD1[.NAMESPACE] POD2[.NAMESPACE] (got %d)", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.live.complete(cmd); err != nil {
				return err
			}
			return o.run(cmd.Context(), args[0], args[1])
		},
	}
	cmd.Flags().DurationVar(&o.timeout, "timeout", o.timeout, "time limit for reaching both proxies")
	addMaxInputFlag(cmd, &o.maxInput)
	o.live.addFlags(cmd)
	return cmd
}

func (o *rootCAOptions) run(ctx context.Context, a, b string) error {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	rootsA, nameA, err := o.roots(ctx, a)
	if err != nil {
		return err
	}
	rootsB, nameB, err := o.roots(ctx, b)
	if err != nil {
		return err
	}
	cmp := configdump.CompareRoots(rootsA, rootsB)
	if err := formatter.RootCAComparison(o.streams.Out, nameA, nameB, cmp); err != nil {
		return err
	}
	if len(cmp.Shared) == 0 {
		// The comparison is printed; stderr still ends with the error line every failure has.
		return fmt.Errorf("%s and %s share no root CA: they cannot verify each other's certificates", nameA, nameB)
	}
	return nil
}

func (o *rootCAOptions) roots(ctx context.Context, target string) ([]*x509.Certificate, string, error) {
	src, err := o.live.podSource(ctx, target, o.maxInput.n, o.streams)
	if err != nil {
		return nil, "", o.live.root.deadline(ctx, err, "reaching "+target, o.timeout)
	}
	defer src.Close()
	d, _, err := loadDocument(ctx, src, pathSecrets, readOptions{maxInput: o.maxInput.n})
	if err != nil {
		return nil, "", o.live.root.deadline(ctx, err, "reading the secrets of "+src.String(), o.timeout)
	}
	roots, err := d.RootCAs()
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", src, err)
	}
	return roots, fmt.Sprint(src), nil
}
