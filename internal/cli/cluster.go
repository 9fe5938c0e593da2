package cli

import (
	"io"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	"github.com/spf13/cobra"

	"github.com/proxyctl/proxyctl/configdump"
	"github.com/proxyctl/proxyctl/formatter"
)

type clusterOptions struct {
	*commonOptions
	filter configdump.ClusterFilter
}

func newClusterCommand(streams Streams, root *rootOptions) *cobra.Command {
	o := &clusterOptions{commonOptions: newCommonOptions(streams, root, formatter.Short)}
	cmd := &cobra.Command{
		Use:     "cluster [POD[.NAMESPACE] | TYPE/NAME[.NAMESPACE]]",
		Aliases: []string{"clusters", "c"},
		Short:   "Retrieve information about the cluster configuration of an Envoy proxy",
		Example: `  # Clusters of a pod's sidecar
  proxyctl proxy-config cluster productpage-v1-bd9c6d8f7-abcde.default

  # Outbound clusters of port 9080, as JSON
  proxyctl pc cluster productpage-v1-bd9c6d8f7-abcde --port 9080 --direction outbound -o json

  # From a saved config dump
  proxyctl pc cluster -f config_dump.json --fqdn reviews.default.svc.cluster.local`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.complete(cmd, args); err != nil {
				return err
			}
			if err := checkPort(o.filter.Port); err != nil {
				return err
			}
			return o.run(cmd, pathClusters, o.view)
		},
	}
	o.addFlags(cmd)
	o.output.addTableFlags(cmd)
	addClusterFilterFlags(cmd, &o.filter, o.completeFromDump(pathClusters, fqdnNames))
	return cmd
}

// addClusterFilterFlags registers the cluster filters; fqdns completes --fqdn.
func addClusterFilterFlags(cmd *cobra.Command, f *configdump.ClusterFilter, fqdns cobra.CompletionFunc) {
	fs := cmd.Flags()
	fs.StringVar(&f.FQDN, "fqdn", "", "filter clusters by a substring of the SERVICE FQDN field")
	fs.StringVar(&f.Subset, "subset", "", "filter clusters by a substring of the SUBSET field")
	fs.StringVar(&f.Direction, "direction", "", "filter clusters by the DIRECTION field (inbound, outbound...)")
	if fs.Lookup("port") == nil {
		fs.IntVar(&f.Port, "port", 0, "filter clusters by the PORT field")
	}
	_ = cmd.RegisterFlagCompletionFunc("fqdn", fqdns)
	_ = cmd.RegisterFlagCompletionFunc("direction", fixedValues("inbound", "outbound"))
}

func (o *clusterOptions) view(d *configdump.Dump) error {
	res, err := d.ClusterResources()
	if err != nil {
		return err
	}
	return writeList(o.streams.Out, d, res, o.output.format, clusterList(o.filter, false))
}

// clusterList lists clusters as istioctl does: sorted, then filtered (table and JSON).
func clusterList(f configdump.ClusterFilter, withName bool) listView[*clusterv3.Cluster, configdump.SubsetKey] {
	return listView[*clusterv3.Cluster, configdump.SubsetKey]{
		order:      func(c *clusterv3.Cluster) configdump.SubsetKey { return configdump.ClusterOrder(c.GetName()) },
		less:       configdump.SubsetKey.Less,
		sortJSON:   true,
		show:       func(c *clusterv3.Cluster) (*clusterv3.Cluster, bool) { return c, f.Match(c) },
		asIs:       true,
		rows:       func(c *clusterv3.Cluster) []string { return []string{formatter.ClusterRow(c, withName)} },
		table:      func(w io.Writer, rows []string) error { return formatter.ClusterTable(w, rows, withName) },
		names:      func(c *clusterv3.Cluster) []string { return []string{formatter.ResourceName("cluster", c.GetName())} },
		keyFields:  configdump.Fields("name"),
		rowFields:  configdump.Fields("name", "type", "metadata.filter_metadata.istio.config"), // the columns (see formatter.ClusterRow)
		nameFields: configdump.Fields("name"),
	}
}
