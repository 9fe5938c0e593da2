package cli

import (
	"io"
	"strings"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	"github.com/spf13/cobra"

	"github.com/proxyctl/proxyctl/configdump"
	"github.com/proxyctl/proxyctl/formatter"
)

type listenerOptions struct {
	*commonOptions
	filter   configdump.ListenerFilter
	port     int
	verbose  bool
	waypoint bool
}

func newListenerCommand(streams Streams, root *rootOptions) *cobra.Command {
	o := &listenerOptions{commonOptions: newCommonOptions(streams, root, formatter.Short), verbose: true}
	cmd := &cobra.Command{
		Use:     "listener [POD[.NAMESPACE] | TYPE/NAME[.NAMESPACE]]",
		Aliases: []string{"listeners", "l"},
		Short:   "Retrieve information about the listener configuration of an Envoy proxy",
		Example: `  # Listeners of a pod's sidecar, one row per filter chain
  proxyctl proxy-config listener productpage-v1-bd9c6d8f7-abcde.default

  # The listener on 0.0.0.0:15001, as JSON
  proxyctl pc listener productpage-v1-bd9c6d8f7-abcde --address 0.0.0.0 --port 15001 -o json

  # HTTP listeners, one row each
  proxyctl pc listener -f config_dump.json --type HTTP --verbose=false`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.complete(cmd, args); err != nil {
				return err
			}
			if err := o.completeFilter(); err != nil {
				return err
			}
			return o.run(cmd, pathListeners, o.view)
		},
	}
	o.addFlags(cmd)
	o.output.addTableFlags(cmd)
	addListenerFilterFlags(cmd, &o.filter, &o.port)
	cmd.Flags().BoolVar(&o.verbose, "verbose", true, "show one row per filter chain, with its match and destination")
	cmd.Flags().BoolVar(&o.waypoint, "waypoint", false, "show the filter chains and filter chain matchers of a waypoint (ambient) proxy")
	return cmd
}

func addListenerFilterFlags(cmd *cobra.Command, f *configdump.ListenerFilter, port *int) {
	fs := cmd.Flags()
	fs.StringVar(&f.Address, "address", "", "filter listeners by address")
	fs.StringVar(&f.Type, "type", "", "filter listeners by type: HTTP, TCP, HTTP+TCP or UNKNOWN")
	if fs.Lookup("port") == nil {
		fs.IntVar(port, "port", 0, "filter listeners by port")
	}
	_ = cmd.RegisterFlagCompletionFunc("type", fixedValues("HTTP", "TCP", "HTTP+TCP", "UNKNOWN"))
}

// completeListenerFilter validates --type and --port for the listener filter.
func completeListenerFilter(f *configdump.ListenerFilter, port int) error {
	if err := checkPort(port); err != nil {
		return err
	}
	f.Port = uint32(port)
	if f.Type == "" {
		return nil
	}
	switch t := strings.ToUpper(f.Type); t {
	case "HTTP", "TCP", "HTTP+TCP", "UNKNOWN":
		f.Type = t
		return nil
	}
	return usageErrorf("unknown listener --type %q: use HTTP, TCP, HTTP+TCP or UNKNOWN", f.Type)
}

// checkPort validates a --port filter: 0 (no filter) to 65535, as on every view.
func checkPort(port int) error {
	if port < 0 || port > 65535 {
		return usageErrorf("--port must be between 0 and 65535, got %d", port)
	}
	return nil
}

func (o *listenerOptions) completeFilter() error { return completeListenerFilter(&o.filter, o.port) }

func (o *listenerOptions) view(d *configdump.Dump) error {
	res, err := d.ListenerResources()
	if err != nil {
		return err
	}
	v := listenerList(d, o.filter, o.verbose, false)
	if o.waypoint {
		v.less = configdump.ListenerKey.WaypointLess
		v.rows = func(l *listenerv3.Listener) []string { return formatter.WaypointRows(d, l) }
		v.table = formatter.WaypointListenerTable
	}
	return writeList(o.streams.Out, d, res, o.output.format, v)
}

// listenerList lists listeners as istioctl does: filtered, then sorted for the table; JSON
// keeps the dump's order.
func listenerList(d *configdump.Dump, f configdump.ListenerFilter, verbose, withName bool) listView[*listenerv3.Listener, configdump.ListenerKey] {
	var show func(l *listenerv3.Listener) (*listenerv3.Listener, bool)
	if f != (configdump.ListenerFilter{}) {
		show = func(l *listenerv3.Listener) (*listenerv3.Listener, bool) { return l, f.Match(l) }
	}
	return listView[*listenerv3.Listener, configdump.ListenerKey]{
		order:       configdump.ListenerOrder,
		less:        configdump.ListenerKey.Less,
		filterFirst: true,
		show:        show,
		rows:        func(l *listenerv3.Listener) []string { return formatter.ListenerRows(d, l, verbose, withName) },
		table: func(w io.Writer, rows []string) error {
			return formatter.ListenerTable(w, rows, verbose, withName)
		},
		names: func(l *listenerv3.Listener) []string {
			return []string{formatter.ResourceName("listener", l.GetName())}
		},
	}
}
