package cli

import (
	"strings"

	adminv3 "github.com/envoyproxy/go-control-plane/envoy/admin/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
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
	o.output.addTableFlags(cmd)
	addEndpointFilterFlags(cmd, &o.filter, &o.port, o.completeFromDump(pathEndpoints, endpointClusterNames))
	return cmd
}

// addEndpointFilterFlags registers the endpoint filters; clusters completes --cluster.
// newEdsCommand is istioctl's hidden `pc eds`: the endpoint view from the config dump's EDS
// section (/config_dump?include_eds) rather than from /clusters.
func newEdsCommand(streams Streams, root *rootOptions) *cobra.Command {
	o := &endpointOptions{commonOptions: newCommonOptions(streams, root, formatter.Short)}
	cmd := &cobra.Command{
		Use:    "eds [POD[.NAMESPACE] | TYPE/NAME[.NAMESPACE]]",
		Hidden: true,
		Short:  "Retrieve the endpoints of an Envoy proxy from its config dump's EDS section",
		Long: `Retrieve the endpoints of an Envoy proxy from its config dump's EDS section
(/config_dump?include_eds), as istioctl's hidden eds command does: the endpoint view
without /clusters' health and outlier detection state.`,
		Example: `  proxyctl pc eds productpage-v1-bd9c6d8f7-abcde.default --cluster "outbound|9080||reviews.default.svc.cluster.local" -o json`,
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.complete(cmd, args); err != nil {
				return err
			}
			if err := completeEndpointFilter(&o.filter, o.port); err != nil {
				return err
			}
			return o.run(cmd, pathEds, o.edsView)
		},
	}
	o.addFlags(cmd)
	o.output.addTableFlags(cmd)
	addEndpointFilterFlags(cmd, &o.filter, &o.port, o.completeFromDump(pathEds, endpointClusterNames))
	return cmd
}

// edsView is the endpoint view of the EDS section, whatever the document.
func (o *endpointOptions) edsView(d *configdump.Dump) error {
	res, err := d.LoadAssignmentResources()
	if err != nil {
		return err
	}
	return writeList(o.streams.Out, d, res, o.output.format, endpointList(o.filter, false))
}

func addEndpointFilterFlags(cmd *cobra.Command, f *configdump.EndpointFilter, port *int, clusters cobra.CompletionFunc) {
	fs := cmd.Flags()
	if fs.Lookup("address") == nil {
		fs.StringVar(&f.Address, "address", "", "filter endpoints by address: the IP, as Envoy's /clusters shows a host")
	}
	if fs.Lookup("port") == nil {
		fs.IntVar(port, "port", 0, "filter endpoints by port")
	}
	fs.StringVar(&f.Cluster, "cluster", "", "filter endpoints by cluster name")
	fs.StringVar(&f.Status, "status", "", "filter endpoints by health status: healthy, unhealthy, draining, timeout, degraded or unknown")
	_ = cmd.RegisterFlagCompletionFunc("cluster", clusters)
	_ = cmd.RegisterFlagCompletionFunc("status", fixedValues("healthy", "unhealthy", "draining", "timeout", "degraded", "unknown"))
}

func completeEndpointFilter(f *configdump.EndpointFilter, port int) error {
	if err := checkPort(port); err != nil {
		return err
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
		return o.hostsView(d)
	}
	res, err := d.LoadAssignmentResources()
	if err != nil {
		return err
	}
	f := o.filter
	f.HostAddress = true // --address matches as it does live, against /clusters
	return writeList(o.streams.Out, d, res, o.output.format, endpointList(f, false))
}

// endpointList lists the EDS section as istioctl does: each assignment reduced to its endpoints
// that pass the filter (and left out if none does), then sorted by cluster.
func endpointList(f configdump.EndpointFilter, withName bool) listView[*endpointv3.ClusterLoadAssignment, configdump.SubsetKey] {
	return listView[*endpointv3.ClusterLoadAssignment, configdump.SubsetKey]{
		order: func(c *endpointv3.ClusterLoadAssignment) configdump.SubsetKey {
			return configdump.ClusterOrder(c.GetClusterName())
		},
		less:        configdump.SubsetKey.Less,
		filterFirst: true,
		sortJSON:    true,
		show: func(c *endpointv3.ClusterLoadAssignment) (*endpointv3.ClusterLoadAssignment, bool) {
			return configdump.FilterLoadAssignment(c, f)
		},
		rows:      func(c *endpointv3.ClusterLoadAssignment) []string { return formatter.EndpointRows(c, withName) },
		table:     formatter.EndpointTable,
		names:     formatter.EndpointNames,
		keyFields: edsFields,
		rowFields: edsFields,
	}
}

// edsFields are what the endpoint view reads of a cluster load assignment.
var edsFields = configdump.Fields("cluster_name", "endpoints.locality", "endpoints.lb_endpoints.health_status",
	"endpoints.lb_endpoints.endpoint.address", "endpoints.lb_endpoints.endpoint.additional_addresses")

// hostFields are what the endpoint view reads of a cluster of Envoy's /clusters document.
var hostFields = configdump.Fields("name", "host_statuses.address", "host_statuses.health_status")

// hostsView prints Envoy's /clusters document: hosts with their health and outlier state,
// ordered by address across clusters; -o json|yaml lists the clusters with a matching host.
func (o *endpointOptions) hostsView(d *configdump.Dump) error {
	res, err := d.ClusterStatusResources()
	if err != nil {
		return err
	}
	if o.output.format != formatter.Short && o.output.format != formatter.Name {
		return writeList(o.streams.Out, d, res, o.output.format, listView[*adminv3.ClusterStatus, struct{}]{
			show: func(cs *adminv3.ClusterStatus) (*adminv3.ClusterStatus, bool) {
				return cs, o.filter.MatchClusterStatus(cs)
			},
		})
	}
	// A cluster is printed when a host of it passes the filter, as with -o json.
	type printed struct {
		hosts   []configdump.HostEndpoint
		unknown []string
	}
	var hosts []configdump.HostEndpoint
	err = configdump.EachChecked(res.Select(hostFields).Checked(), nil, func(cs *adminv3.ClusterStatus, unknown []string, failed error) (printed, error) {
		h := configdump.HostEndpoints(cs, o.filter)
		if failed != nil && len(h) > 0 {
			return printed{}, failed
		}
		if failed != nil {
			return printed{}, nil
		}
		return printed{h, unknown}, nil
	}, func(p printed) error {
		hosts = append(hosts, p.hosts...)
		if len(p.hosts) > 0 {
			d.NoteUnknownTypes(p.unknown)
		}
		return nil
	})
	if err != nil {
		return err
	}
	configdump.SortHostEndpoints(hosts)
	if o.output.format == formatter.Name {
		return formatter.WriteNames(o.streams.Out, formatter.HostNames(hosts))
	}
	return formatter.HostTable(o.streams.Out, hosts)
}
