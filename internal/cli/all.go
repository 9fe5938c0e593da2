package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/proxyctl/proxyctl/configdump"
	"github.com/proxyctl/proxyctl/formatter"
	"github.com/proxyctl/proxyctl/internal/parallel"
)

type allOptions struct {
	*commonOptions
	clusters    configdump.ClusterFilter
	listeners   configdump.ListenerFilter
	routes      configdump.RouteFilter
	endpoints   configdump.EndpointFilter
	port        int
	verbose     bool
	withHeaders bool
}

func newAllCommand(streams Streams, root *rootOptions) *cobra.Command {
	o := &allOptions{commonOptions: newCommonOptions(streams, root, formatter.Short), verbose: true}
	cmd := &cobra.Command{
		Use:     "all [POD[.NAMESPACE] | TYPE/NAME[.NAMESPACE]]",
		Aliases: []string{"a"},
		Short:   "Retrieve every view of an Envoy proxy's configuration at once",
		Long: `Retrieve every view of an Envoy proxy's configuration at once: bootstrap, clusters,
listeners, routes, secrets and endpoints (from the config dump's EDS section).
-o json and -o yaml print the whole config dump.`,
		Example: `  # Everything, with a header above each view
  proxyctl proxy-config all productpage-v1-bd9c6d8f7-abcde.default --with-headers

  # The whole config dump, EDS included
  proxyctl pc all productpage-v1-bd9c6d8f7-abcde -o json > config_dump.json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.complete(cmd, args); err != nil {
				return err
			}
			if err := completeListenerFilter(&o.listeners, o.port); err != nil {
				return err
			}
			if err := completeEndpointFilter(&o.endpoints, o.port); err != nil {
				return err
			}
			o.clusters.Port = o.port
			o.endpoints.Address = o.listeners.Address
			return o.run(cmd, pathAll, o.view)
		},
	}
	o.addFlags(cmd)
	o.output.addTableFlags(cmd)
	fs := cmd.Flags()
	fs.IntVar(&o.port, "port", 0, "filter clusters, listeners and endpoints by port")
	addClusterFilterFlags(cmd, &o.clusters, o.completeFromDump(pathAll, fqdnNames))
	addListenerFilterFlags(cmd, &o.listeners, &o.port)
	addRouteFilterFlags(cmd, &o.routes, o.completeFromDump(pathAll, routeNames))
	addEndpointFilterFlags(cmd, &o.endpoints, &o.port, o.completeFromDump(pathAll, endpointClusterNames))
	fs.BoolVar(&o.verbose, "verbose", true, "show listeners per filter chain and routes per route")
	fs.BoolVar(&o.withHeaders, "with-headers", false, "print a header above each view")
	return cmd
}

// allAtOnce is how many sections `all` reads at once: each already spreads its resources over
// the cores, so a second is enough to fill the first's serial parts; more would only hold more
// in memory.
const allAtOnce = 2

// errNoSection is the error for a document with none of the sections `all` shows, or, in -o
// json|yaml, that is no admin document at all.
var errNoSection = errors.New("the document has none of the sections `all` shows")

func (o *allOptions) view(d *configdump.Dump) error {
	f := o.output.format
	if f != formatter.Short && f != formatter.Name {
		// What is not an admin document at all, -o json|yaml refuses as the table does: configs
		// that are not objects, of no type, or of no known admin type (a document with only
		// sections the table does not show, ECDS say, is printed: it is a config dump).
		if !d.HasAdminSection() || d.Kind() == configdump.KindClusterStatus {
			return errNoSection
		}
		// The whole dump as it is, but never a secret in the clear: checked and searched for
		// secrets in one pass, then written in another, each dropping the pages behind it.
		redactions, err := d.Redactions()
		if err != nil {
			return err
		}
		return formatter.RawReleasing(o.streams.Out, d.Source(), d.ASCII(), redactions, o.output.format, o.release)
	}
	// The sections the table does not show are checked as -o json checks them.
	if err := d.CheckOthers(configdump.BootstrapSection, configdump.ClustersSection, configdump.ListenersSection,
		configdump.RoutesSection, configdump.SecretsSection, configdump.EndpointsSection); err != nil {
		return err
	}
	missingEDS := false
	sections := []struct {
		header  string
		section configdump.Section
		write   func(io.Writer) error
	}{
		{"BOOTSTRAP INFO", configdump.BootstrapSection, func(w io.Writer) error {
			if err := d.CheckSection(configdump.BootstrapSection); err != nil {
				return err
			}
			b, err := d.Bootstrap()
			if err != nil {
				return err
			}
			if f == formatter.Name {
				return nil // a proxy has one bootstrap: not a resource -o name lists
			}
			return formatter.BootstrapSummary(w, configdump.BootstrapVersions(b))
		}},
		{"CLUSTER INFO", configdump.ClustersSection, func(w io.Writer) error {
			res, err := d.ClusterResources()
			if err != nil {
				return err
			}
			return writeList(w, d, res, f, clusterList(o.clusters, true))
		}},
		{"LISTENER INFO", configdump.ListenersSection, func(w io.Writer) error {
			res, err := d.ListenerResources()
			if err != nil {
				return err
			}
			return writeList(w, d, res, f, listenerList(d, o.listeners, o.verbose, true))
		}},
		{"ROUTE INFO", configdump.RoutesSection, func(w io.Writer) error {
			res, err := d.RouteConfigResources()
			if err != nil {
				return err
			}
			return writeList(w, d, res, f, routeList(o.routes, o.verbose, true))
		}},
		{"SECRET INFO", configdump.SecretsSection, func(w io.Writer) error {
			if err := d.CheckSection(configdump.SecretsSection); err != nil {
				return err
			}
			items, err := o.secretItems(d, time.Now())
			if err != nil {
				return err
			}
			if f == formatter.Name {
				return formatter.WriteNames(w, formatter.SecretNames(items))
			}
			return formatter.SecretTable(w, items, true)
		}},
		{"ENDPOINTS INFO", configdump.EndpointsSection, func(w io.Writer) error {
			res, err := d.LoadAssignmentResources()
			if errors.Is(err, configdump.ErrMissingSection) && d.Kind() == configdump.KindConfigDump {
				// Like istioctl, a dump without EDS still ends with the endpoint table's header.
				missingEDS = true
				return formatter.EndpointTable(w, nil)
			}
			if err != nil {
				return err
			}
			return writeList(w, d, res, f, endpointList(o.endpoints, true))
		}},
	}
	// The sections are read at once and printed in order: each is spread over the cores
	// inside, but its serial parts (sorting, the table) would leave a core idle one after the
	// other. The next to print writes to the output; the others into a buffer until their turn
	// (see sectionOut). Once read, a section's bytes are dropped from memory.
	printed := 0
	var missing []string
	opts := formatter.TableOptionsOf(o.streams.Out)
	outs := make([]*sectionOut, len(sections))
	for i := range outs {
		outs[i] = &sectionOut{}
	}
	// next makes section i the one writing to the output (through its banner).
	next := func(i int) error {
		if i == len(sections) {
			return nil
		}
		if f == formatter.Name {
			// One list of KIND/NAME lines, without banners or blank lines.
			return outs[i].print(o.streams.Out)
		}
		return formatter.AllSection(o.streams.Out, sections[i].header, o.withHeaders, printed > 0, outs[i].print)
	}
	if err := next(0); err != nil {
		return err
	}
	type read struct {
		index int
		err   error
	}
	err := parallel.Concurrent(len(sections), min(runtime.GOMAXPROCS(0), allAtOnce), func(i int) (read, error) {
		s := sections[i]
		err := s.write(formatter.WithTableOptions(outs[i], opts))
		for _, b := range d.SectionData(s.section) {
			o.release(b)
		}
		return read{i, err}, nil
	}, func(r read) error {
		switch {
		case errors.Is(r.err, configdump.ErrMissingSection):
			missing = append(missing, sections[r.index].header)
		case r.err != nil:
			return r.err
		default:
			printed++
		}
		return next(r.index + 1)
	})
	if err != nil {
		return err
	}
	if missingEDS {
		missing = append(missing, "ENDPOINTS INFO")
		printed-- // a header alone does not make the document one `all` can show
	}
	if printed == 0 {
		return errNoSection
	}
	if len(missing) > 0 && !o.quiet {
		fmt.Fprintf(o.streams.ErrOut, "note: the config dump has nothing for %s\n", strings.ToLower(strings.Join(missing, ", ")))
	}
	return nil
}

// sectionOut is where a section of `all` is written: a buffer until the section is the next to
// print, then the output itself (the buffer written first). A table is written whole at its end
// (its column widths are known only then), so at most one section's text is held at a time
// besides the one being printed.
type sectionOut struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	direct io.Writer
}

func (s *sectionOut) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.direct != nil {
		return s.direct.Write(p)
	}
	return s.buf.Write(p)
}

// print makes w the section's output, writing to it what was buffered.
func (s *sectionOut) print(w io.Writer) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.direct = w
	var err error
	if s.buf.Len() > 0 {
		_, err = w.Write(s.buf.Bytes())
	}
	s.buf = bytes.Buffer{}
	return err
}
