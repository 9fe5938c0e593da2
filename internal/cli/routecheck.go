package cli

import (
	"context"
	"crypto/rand"
	"fmt"
	"github.com/proxyctl/proxyctl/internal/limits"
	"os"
	"strings"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"github.com/spf13/cobra"

	"github.com/proxyctl/proxyctl/configdump"
	"github.com/proxyctl/proxyctl/formatter"
	"github.com/proxyctl/proxyctl/internal/routecheck"
	"github.com/proxyctl/proxyctl/internal/traffic"
)

// routeCheckOptions are route-check's flags: router_check_tool's own, plus a proxy as the
// source of the route configuration.
type routeCheckOptions struct {
	*commonOptions
	configPath, testPath, outputPath, route       string
	details, onlyShowFailures, disableDeprecation bool
	covall, detailedCoverage                      bool
	failUnder                                     float64
	// uuid names routes for coverage reports (tests make it deterministic); nil: random.
	uuid func() string
}

func newRouteCheckCommand(streams Streams, root *rootOptions) *cobra.Command {
	o := &routeCheckOptions{commonOptions: newCommonOptions(streams, root, formatter.Short)}
	cmd := &cobra.Command{
		Use:   "route-check (-c ROUTE_CONFIG | POD[.NAMESPACE] --route NAME | --file DUMP --route NAME | --admin-url URL --route NAME) -t TESTS",
		Short: "Test a route configuration with Envoy's router_check_tool test files",
		Long: `Run Envoy's router_check_tool tests ("this host and path must reach cluster X,
this one must redirect") against a route configuration, with the same test files, verdicts,
output lines, coverage report and exit statuses as router_check_tool, from one binary.

The route configuration is a file (-c, an envoy.config.route.v3.RouteConfiguration in YAML or
JSON), or the one named by --route in what a proxy holds: a pod (POD[.NAMESPACE] or
TYPE/NAME[.NAMESPACE]), an Envoy admin API (--admin-url) or a saved config dump (--file; here
-f is router_check_tool's --fail-under). The tests file (-t) is JSON, YAML (.yaml) or protobuf
text (.pb_text), in router_check_tool's schema.

Exit status: 0 when every test passes and the coverage meets --fail-under; 1 when a test fails,
the coverage is too low, or the proxy cannot be read; 2 for a wrong command line or a
malformed route configuration or tests file.`,
		Example: `  # Envoy's router_check_tool, as a CI job runs it
  proxyctl route-check -c routes.yaml -t tests.yaml --details --fail-under 100

  # The same tests against the route configuration a pod's sidecar holds
  proxyctl route-check productpage-v1-bd9c6d8f7-abcde.default --route 9080 -t tests.yaml

  # ... or one saved in a config dump
  proxyctl route-check --file config_dump.json --route 9080 -t tests.yaml --only-show-failures`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.complete(cmd, args); err != nil {
				return err
			}
			// --timeout bounds the whole run: a proxy, and a -c or -t "-" that sends nothing.
			ctx, cancel := context.WithTimeout(cmd.Context(), o.timeout)
			defer cancel()
			return o.run(ctx)
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&o.configPath, "config-path", "c", "", "route configuration file (envoy.config.route.v3.RouteConfiguration, YAML or JSON)")
	fs.StringVarP(&o.testPath, "test-path", "t", "", "tests file (router_check_tool's schema; JSON, YAML or .pb_text)")
	fs.BoolVarP(&o.details, "details", "d", false, "print every test's name, and the failure lines of failed tests")
	fs.BoolVar(&o.onlyShowFailures, "only-show-failures", false, "print only failed tests, with their failure lines")
	fs.BoolVar(&o.disableDeprecation, "disable-deprecation-check", false, "accepted for router_check_tool compatibility: proxyctl fails no configuration for using deprecated fields")
	fs.Float64VarP(&o.failUnder, "fail-under", "f", 0, "fail when the route coverage, in percent, is under this (0: not enforced)")
	fs.BoolVar(&o.covall, "covall", false, "comprehensive coverage: count every checked field of each route, and list the routes without a test by match")
	fs.BoolVar(&o.detailedCoverage, "detailed-coverage", false, "list the routes without a test, by name")
	fs.StringVarP(&o.outputPath, "output-path", "o", "", "write the results to this file as a binary ValidationResult proto")
	fs.StringVar(&o.route, "route", "", "with a proxy, the name of the route configuration to test (dynamic or static)")
	o.addSourceFlags(cmd, "")
	_ = cmd.RegisterFlagCompletionFunc("route", o.completeFromDump(pathRoutes, routeNames))
	return cmd
}

func (o *routeCheckOptions) complete(cmd *cobra.Command, args []string) error {
	if err := o.live.complete(cmd); err != nil {
		return err
	}
	if len(args) > 0 {
		o.target = args[0]
	}
	if err := o.takeBundleProxy(); err != nil {
		return err
	}
	sources := 0
	for _, s := range []string{o.configPath, o.file, o.adminURL, o.target} {
		if s != "" {
			sources++
		}
	}
	switch {
	case sources == 0 || o.testPath == "":
		return usageErrorf("route-check needs a route configuration (-c FILE, or a proxy: POD, --file DUMP or --admin-url URL, with --route NAME) and a tests file (-t FILE)")
	case sources > 1:
		return usageErrorf("give only one route configuration: -c, a pod, --file or --admin-url")
	case o.configPath != "" && o.route != "":
		return usageErrorf("--route picks a route configuration out of a proxy's configuration; with -c the file is the route configuration")
	case o.configPath == "" && o.route == "":
		return usageErrorf("name the route configuration to test with --route NAME (proxyctl pc route lists them)")
	case o.configPath == "-" && o.testPath == "-":
		return usageErrorf("-c and -t cannot both read stdin: give one of them as a file")
	case o.timeout <= 0:
		return usageErrorf("--timeout must be positive, got %s", o.timeout)
	}
	return nil
}

// malformed is a configuration or tests file that does not load: exit 2.
func malformed(err error) error { return exitError{code: ExitUsage, err: err} }

func (o *routeCheckOptions) run(ctx context.Context) error {
	rc, engine, where, err := o.routeConfig(ctx)
	if err != nil {
		return err
	}
	data, err := o.readFile(ctx, o.testPath)
	if err != nil {
		return err
	}
	suite, err := routecheck.LoadSuite(o.testPath, data)
	if err != nil {
		return malformed(err)
	}
	uuid := o.uuid
	if uuid == nil {
		uuid = randomUUID
	}
	checker, err := routecheck.NewChecker(rc, routecheck.Options{Engine: engine, UUID: uuid})
	if err != nil {
		if o.configPath != "" {
			return malformed(fmt.Errorf("%s: %w", o.configPath, err))
		}
		return fmt.Errorf("route configuration %s: proxyctl cannot compile it: %w", where, err)
	}
	results := checker.Run(suite)
	if err := formatter.RouteCheckTests(o.streams.Out, o.streams.ErrOut, results, o.details, o.onlyShowFailures); err != nil {
		return err
	}
	if o.outputPath != "" {
		b, err := routecheck.ValidationResult(results, o.onlyShowFailures)
		if err != nil {
			return fmt.Errorf("encoding the results for --output-path: %w", err)
		}
		if err := os.WriteFile(o.outputPath, b, 0o644); err != nil {
			return fmt.Errorf("writing --output-path: %w", err)
		}
	}
	failed := 0
	for _, r := range results {
		if !r.Passed {
			failed++
		}
	}
	if failed > 0 {
		how := " (--details or --only-show-failures lists them)"
		if o.details || o.onlyShowFailures {
			how = ""
		}
		return exitError{code: ExitRuntime, err: fmt.Errorf("%d of %d tests failed%s", failed, len(results), how)}
	}
	rep := checker.Coverage(o.covall, o.detailedCoverage)
	if err := formatter.RouteCheckCoverage(o.streams.Out, rep); err != nil {
		return err
	}
	if o.failUnder != 0 && rep.Percent < o.failUnder {
		if err := formatter.RouteCheckFailUnder(o.streams.ErrOut, o.failUnder); err != nil {
			return err
		}
		return exitError{code: ExitRuntime, err: fmt.Errorf("route coverage %s%% is under --fail-under %s%%",
			routecheck.FormatFloat(rep.Percent), routecheck.FormatFloat(o.failUnder))}
	}
	return nil
}

// readFile reads a -c or -t file through the file source ("-" is stdin), bounded by
// --max-input, else by the limit of a YAML document (the files are YAML or JSON, read whole).
func (o *routeCheckOptions) readFile(ctx context.Context, path string) ([]byte, error) {
	src := &fileSource{path: path, stdin: o.streams.In}
	r, err := src.Open(ctx, "")
	if err != nil {
		return nil, err
	}
	defer r.Close()
	data, err := limits.ReadAll(r, o.readOptions().limit(limits.YAMLDump, "a route-check file"))
	if err != nil {
		name := path
		if path == "-" {
			name = "stdin"
		}
		if ctx.Err() != nil {
			return nil, o.live.root.deadline(ctx, err, "reading "+name, o.timeout)
		}
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	return data, nil
}

// routeConfig returns the route configuration to test, how the engine decodes its typed
// configs, and where it comes from.
func (o *routeCheckOptions) routeConfig(ctx context.Context) (*routev3.RouteConfiguration, traffic.Options, string, error) {
	if o.configPath != "" {
		data, err := o.readFile(ctx, o.configPath)
		if err != nil {
			return nil, traffic.Options{}, "", err
		}
		rc, err := routecheck.LoadRouteConfig(o.configPath, data)
		if err != nil {
			return nil, traffic.Options{}, "", malformed(err)
		}
		return rc, traffic.Options{}, o.configPath, nil
	}
	d, _, err := o.load(ctx, pathRoutes)
	if err != nil {
		return nil, traffic.Options{}, "", err
	}
	rc, err := pickRouteConfig(d, o.route)
	if err != nil {
		return nil, traffic.Options{}, "", err
	}
	if unknown := d.UnknownTypes(); len(unknown) > 0 && !o.quiet {
		printLine(o.streams.ErrOut, "note", unknownTypesNote(unknown))
	}
	return rc, traffic.Options{UnmarshalAny: d.UnmarshalAny}, fmt.Sprintf("%q", o.route), nil
}

// pickRouteConfig finds the route configuration named name among the dump's dynamic and
// static ones, decoding only that one; the error lists the names there are.
func pickRouteConfig(d *configdump.Dump, name string) (*routev3.RouteConfiguration, error) {
	res, err := d.RouteConfigResources()
	if err != nil {
		return nil, err
	}
	var names []string
	var found []int
	i := 0
	err = configdump.Each(res.Select(configdump.Fields("name")), nil, func(r *routev3.RouteConfiguration) (string, error) {
		return r.GetName(), nil
	}, func(n string) error {
		if n == name {
			found = append(found, i)
		}
		names = append(names, n)
		i++
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(found) == 0 {
		return nil, fmt.Errorf("no route configuration named %q: the proxy has %s", name, listNames(names))
	}
	var rc *routev3.RouteConfiguration
	err = configdump.Each(res, found[:1], func(r *routev3.RouteConfiguration) (*routev3.RouteConfiguration, error) { return r, nil },
		func(r *routev3.RouteConfiguration) error { rc = r; return nil })
	if err != nil {
		return nil, err
	}
	return rc, nil
}

// listNames lists route configuration names for an error message, unnamed ones counted.
func listNames(names []string) string {
	var named []string
	unnamed := 0
	seen := map[string]bool{}
	for _, n := range names {
		switch {
		case n == "":
			unnamed++
		case !seen[n]:
			seen[n] = true
			named = append(named, fmt.Sprintf("%q", n))
		}
	}
	if len(named) == 0 && unnamed == 0 {
		return "no route configuration"
	}
	const max = 20
	s := strings.Join(named[:min(len(named), max)], ", ")
	if len(named) > max {
		s += fmt.Sprintf(" and %d more", len(named)-max)
	}
	if unnamed > 0 {
		if s != "" {
			s += ", and "
		}
		s += fmt.Sprintf("%d unnamed (inline in listeners)", unnamed)
	}
	return s
}

// randomUUID is a version 4 UUID, as router_check_tool suffixes route names with.
func randomUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
