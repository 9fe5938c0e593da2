package cli

import (
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"github.com/spf13/cobra"

	"github.com/proxyctl/proxyctl/configdump"
	"github.com/proxyctl/proxyctl/formatter"
)

type endpointOptions struct {
	*commonOptions
	filter configdump.EndpointFilter
	port   int
}

func newEndpointCommand(streams Streams, root *rootOptions) *cobra.Command {
	o := &endpointOptions{commonOptions: newCommonOptions(streams, root, formatter.Short)}
	cmd := &cobra.Command{
		Use:     "endpoint [POD[.NAMESPACE] | TYPE/NAME[.NAMESPACE]]",
		Aliases: []string{"endpoints", "ep"},
		Short:   "Retrieve information about the endpoints of an Envoy proxy's clusters",
		Long: `Retrieve information about the endpoints of an Envoy proxy's clusters.

From a pod or an admin URL, the view reads Envoy's /clusters?format=json, which
carries each host's health and outlier detection state. With -f it reads either
that document or a config dump's EDS section (/config_dump?include_eds), whichever
the file holds.`,
		Example: `  # Endpoints of a pod's sidecar
  proxyctl proxy-config endpoint productpage-v1-bd9c6d8f7-abcde.default

  # Healthy endpoints of one cluster
  proxyctl pc endpoint productpage-v1-bd9c6d8f7-abcde --cluster "outbound|9080||reviews.default.svc.cluster.local" --status healthy`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.complete(cmd, args); err != nil {
				return err
			}
			if err := completeEndpointFilter(&o.filter, o.port); err != nil {
				return err
			}
			return o.run(cmd, pathEndpoints, o.view)
		},
	}
	o.addFlags(cmd)
	addEndpointFilterFlags(cmd, &o.filter, &o.port)
	return cmd
}

func addEndpointFilterFlags(cmd *cobra.Command, f *configdump.EndpointFilter, port *int) {
	fs := cmd.Flags()
	if fs.Lookup("address") == nil {
		fs.StringVar(&f.Address, "address", "", "filter endpoints by address")
	}
	if fs.Lookup("port") == nil {
		fs.IntVar(port, "port", 0, "filter endpoints by port")
	}
	fs.StringVar(&f.Cluster, "cluster", "", "filter endpoints by cluster name")
	fs.StringVar(&f.Status, "status", "", "filter endpoints by health status: healthy, unhealthy, draining, timeout, degraded or unknown")
}

func completeEndpointFilter(f *configdump.EndpointFilter, port int) error {
	if port < 0 || port > 65535 {
		return usageErrorf("--port must be between 0 and 65535, got %d", port)
	}
	f.Port = uint32(port)
	if f.Status == "" {
		return nil
	}
	if _, ok := corev3.HealthStatus_value[strings.ToUpper(f.Status)]; !ok {
		return usageErrorf("unknown --status %q: use healthy, unhealthy, draining, timeout, degraded or unknown", f.Status)
	}
	return nil
}

func (o *endpointOptions) view(d *configdump.Dump) error {
	if d.Kind() == configdump.KindClusterStatus {
		statuses, err := d.ClusterStatuses()
		if err != nil {
			return err
		}
		if o.output.format == formatter.Short {
			return formatter.HostTable(o.streams.Out, configdump.HostEndpoints(statuses, o.filter))
		}
		return formatter.Resources(o.streams.Out, d, configdump.FilterClusterStatuses(statuses, o.filter), o.output.format)
	}
	clas, err := d.LoadAssignments()
	if err != nil {
		return err
	}
	// istioctl filters, then sorts.
	clas = configdump.FilterLoadAssignments(clas, o.filter)
	configdump.SortLoadAssignments(clas)
	if o.output.format == formatter.Short {
		return formatter.EndpointTable(o.streams.Out, clas, false)
	}
	return formatter.Resources(o.streams.Out, d, clas, o.output.format)
}
