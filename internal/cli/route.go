package cli

import (
	"io"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"github.com/spf13/cobra"

	"github.com/proxyctl/proxyctl/configdump"
	"github.com/proxyctl/proxyctl/formatter"
)

type routeOptions struct {
	*commonOptions
	filter  configdump.RouteFilter
	verbose bool
}

func newRouteCommand(streams Streams, root *rootOptions) *cobra.Command {
	o := &routeOptions{commonOptions: newCommonOptions(streams, root, formatter.Short), verbose: true}
	cmd := &cobra.Command{
		Use:     "route [POD[.NAMESPACE] | TYPE/NAME[.NAMESPACE]]",
		Aliases: []string{"routes", "r"},
		Short:   "Retrieve information about the route configuration of an Envoy proxy",
		Example: `  # Routes of a pod's sidecar, one row per route
  proxyctl proxy-config route productpage-v1-bd9c6d8f7-abcde.default

  # The route configuration named 9080, as JSON
  proxyctl pc route productpage-v1-bd9c6d8f7-abcde --name 9080 -o json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.complete(cmd, args); err != nil {
				return err
			}
			return o.run(cmd, pathRoutes, o.view)
		},
	}
	o.addFlags(cmd)
	o.output.addTableFlags(cmd)
	addRouteFilterFlags(cmd, &o.filter, o.completeFromDump(pathRoutes, routeNames))
	cmd.Flags().BoolVar(&o.verbose, "verbose", true, "show one row per route, with its virtual host, domains, match and virtual service")
	return cmd
}

// addRouteFilterFlags registers --name; names completes it.
func addRouteFilterFlags(cmd *cobra.Command, f *configdump.RouteFilter, names cobra.CompletionFunc) {
	cmd.Flags().StringVar(&f.Name, "name", "", "filter route configurations by name")
	_ = cmd.RegisterFlagCompletionFunc("name", names)
}

func (o *routeOptions) view(d *configdump.Dump) error {
	res, err := d.RouteConfigResources()
	if err != nil {
		return err
	}
	return writeList(o.streams.Out, d, res, o.output.format, routeList(o.filter, o.verbose, false))
}

// routeList lists route configurations as istioctl does: sorted, then filtered.
func routeList(f configdump.RouteFilter, verbose, withName bool) listView[*routev3.RouteConfiguration, configdump.RouteKey] {
	return listView[*routev3.RouteConfiguration, configdump.RouteKey]{
		order:    configdump.RouteOrder,
		less:     configdump.RouteKey.Less,
		sortJSON: true,
		show:     func(r *routev3.RouteConfiguration) (*routev3.RouteConfiguration, bool) { return r, f.Match(r) },
		asIs:     true,
		rows:     func(r *routev3.RouteConfiguration) []string { return formatter.RouteRows(r, verbose, withName) },
		table:    func(w io.Writer, rows []string) error { return formatter.RouteTable(w, rows, verbose) },
		names: func(r *routev3.RouteConfiguration) []string {
			return []string{formatter.ResourceName("route", r.GetName())}
		},
		keyFields:  configdump.Fields("name"),
		nameFields: configdump.Fields("name"),
		rowFields: configdump.Fields("name", "virtual_hosts.name", "virtual_hosts.domains", "virtual_hosts.routes.match",
			"virtual_hosts.routes.route.cluster", "virtual_hosts.routes.metadata.filter_metadata.istio.config"),
	}
}
