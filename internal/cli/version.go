package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/proxyctl/proxyctl/configdump"
	"github.com/proxyctl/proxyctl/formatter"
	"github.com/proxyctl/proxyctl/internal/buildinfo"
	"github.com/proxyctl/proxyctl/internal/istiod"
)

type versionOptions struct {
	*commonOptions
	short      bool
	remote     bool
	revision   string
	istiodPort int
	istiodURLs []string
	root       *rootOptions
}

func newVersionCommand(streams Streams, root *rootOptions) *cobra.Command {
	o := &versionOptions{commonOptions: newCommonOptions(streams, root, formatter.Short), root: root}
	cmd := &cobra.Command{
		Use:   "version [POD[.NAMESPACE] | TYPE/NAME[.NAMESPACE]]",
		Short: "Print the version of proxyctl, and of a proxy and istiod",
		Long: `Print the version of proxyctl (set by make build, else the module's build info),
and with a proxy (a pod, --admin-url or -f) the Envoy and Istio versions it runs, from
Envoy's /server_info or, for a file, its bootstrap; with --remote, the version of
each istiod replica (its /version, on the debug port).`,
		Example: `  # This proxyctl
  proxyctl version --short

  # A sidecar's Envoy and Istio versions, and istiod's
  proxyctl version productpage-v1-bd9c6d8f7-abcde.default --remote

  # For a script
  proxyctl version -f config_dump.json -o jsonpath='{.proxyVersion.envoyVersion}'`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.complete(cmd, args); err != nil {
				return err
			}
			return o.run(cmd.Context())
		},
	}
	o.addSourceFlags(cmd, "f")
	o.output.addFlag(cmd)
	fs := cmd.Flags()
	fs.BoolVar(&o.short, "short", false, "print the version numbers only")
	fs.BoolVar(&o.remote, "remote", false, "also print the version of istiod's replicas")
	addIstiodFlags(cmd, &o.revision, &o.istiodPort, &o.istiodURLs)
	return cmd
}

func (o *versionOptions) complete(cmd *cobra.Command, args []string) error {
	proxy := len(args) > 0 || o.file != "" || o.adminURL != ""
	switch {
	case proxy && o.remote:
		o.live.alternatives = flagAlternatives(cmd, "admin-url", "file") + ", and --istiod-url for istiod"
	case o.remote:
		o.live.alternatives = "--istiod-url"
	}
	if proxy {
		if err := o.commonOptions.complete(cmd, args); err != nil {
			return err
		}
	} else if err := o.live.complete(cmd); err != nil {
		return err
	}
	switch {
	case (len(o.istiodURLs) > 0 || cmd.Flags().Changed("revision") || cmd.Flags().Changed("istiod-port")) && !o.remote:
		return usageErrorf("-r, --istiod-port and --istiod-url say how to reach istiod: give --remote too")
	case o.istiodPort <= 0 || o.istiodPort > 65535:
		return usageErrorf("--istiod-port must be between 1 and 65535, got %d", o.istiodPort)
	case o.timeout <= 0:
		return usageErrorf("--timeout must be positive, got %s", o.timeout)
	}
	return o.output.check()
}

// run prints what it learnt even when the proxy or istiod fails, then the failure.
func (o *versionOptions) run(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	v := formatter.VersionInfo{Client: buildinfo.Get()}
	var failure error
	if o.file != "" || o.adminURL != "" || o.target != "" {
		p, err := o.proxyVersion(ctx)
		if err != nil {
			failure = err
		}
		v.Proxy = p
	}
	if o.remote && failure == nil {
		versions, err := o.istiodVersions(ctx)
		if err != nil {
			failure = err
		}
		v.ControlPlane = versions
	}
	err := o.output.render(&o.streams.Out, func() error {
		return formatter.WriteVersion(o.streams.Out, v, o.output.format, o.short)
	})
	if failure != nil {
		return failure
	}
	return err
}

// proxyVersion asks the proxy for its /server_info, or reads the bootstrap of a file (or of a
// proxy whose /server_info fails).
func (o *versionOptions) proxyVersion(ctx context.Context) (*formatter.ProxyVersion, error) {
	src, err := o.source(ctx)
	if err != nil {
		return nil, o.live.root.deadline(ctx, err, "reaching the proxy", o.timeout)
	}
	defer src.Close()
	if _, isFile := src.(mapper); !isFile {
		if v, ok := serverInfoVersions(ctx, src); ok {
			return formatter.NewProxyVersion(src.String(), v), nil
		}
	}
	d, _, err := loadDocument(ctx, src, pathBootstrap, o.readOptions())
	if err != nil {
		return nil, o.live.root.deadline(ctx, err, "fetching the bootstrap from "+src.String(), o.timeout)
	}
	b, err := d.Bootstrap()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src, err)
	}
	v := configdump.BootstrapVersions(b)
	if b.GetBootstrap().GetNode().GetUserAgentBuildVersion() == nil {
		v.Envoy = "" // not "0.0.0", as istioctl's bootstrap summary has it: unknown
	}
	return formatter.NewProxyVersion(src.String(), v), nil
}

// serverInfoVersions reads Envoy's /server_info; ok is false when it cannot be had.
func serverInfoVersions(ctx context.Context, src Source) (configdump.Versions, bool) {
	body, err := src.Open(ctx, "server_info")
	if err != nil {
		return configdump.Versions{}, false
	}
	defer body.Close()
	data, err := io.ReadAll(io.LimitReader(body, 16<<20))
	if err != nil {
		return configdump.Versions{}, false
	}
	v, ok, err := configdump.ServerInfoVersions(data)
	return v, ok && err == nil
}

// istiodVersions asks each istiod replica for its version; one that fails is reported on stderr.
func (o *versionOptions) istiodVersions(ctx context.Context) ([]istiod.Version, error) {
	targets, closeTargets, err := reachIstiods(ctx, o.root, o.revision, o.istiodPort, o.istiodURLs, o.streams.ErrOut)
	if err != nil {
		return nil, o.live.root.deadline(ctx, err, "finding istiod", o.timeout)
	}
	defer closeTargets()
	versions, errs := (&istiod.Fetcher{}).Versions(ctx, targets)
	for _, e := range errs {
		if len(versions) > 0 {
			fmt.Fprintf(o.streams.ErrOut, "warning: %s\n", oneLine(e.Error()))
		}
	}
	if len(versions) == 0 && len(errs) > 0 {
		return nil, o.live.root.deadline(ctx, errs[0], "asking istiod for its version", o.timeout)
	}
	return versions, nil
}
