package cli

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/proxyctl/proxyctl/internal/testutil"
)

// tableViews are every view whose short output is a table, each with what -o name lists (the
// kind, and how to find the same names in its -o json value) and a jsonpath template with
// what it must print, computed here from -o json independently of the engine.
var tableViews = []struct {
	name string
	args []string
	// kinds are the KIND/ prefixes -o name prints.
	kinds []string
	// names are the names -o name must print, read from the view's -o json value.
	names func(t *testing.T, doc any) []string
	// template is an -o jsonpath template; want computes its output from the -o json value.
	template string
	want     func(t *testing.T, doc any) string
}{
	{"cluster", []string{"pc", "cluster", "-f", sampleDump}, []string{"cluster"}, fieldOfEach("name", "cluster/"),
		"{[*].name}", joined("name", " ")},
	{"listener", []string{"pc", "listener", "-f", sampleDump}, []string{"listener"}, fieldOfEach("name", "listener/"),
		`{range [*]}{.name}{"\n"}{end}`, lines("name")},
	{"listener_waypoint", []string{"pc", "listener", "-f", ecdsDump, "--waypoint"}, []string{"listener"}, fieldOfEach("name", "listener/"),
		"{[*].name}", joined("name", " ")},
	{"route", []string{"pc", "route", "-f", sampleDump}, []string{"route"}, fieldOfEach("name", "route/"),
		"{[*].name}", joined("name", " ")},
	{"endpoint_eds", []string{"pc", "endpoint", "-f", sampleDump}, []string{"endpoint"}, edsAddresses,
		"{[*].clusterName}", joined("clusterName", " ")},
	{"endpoint_clusters", []string{"pc", "endpoint", "-f", sampleClusters}, []string{"endpoint"}, hostAddresses,
		"{[*].name}", joined("name", " ")},
	{"eds", []string{"pc", "eds", "-f", sampleDump}, []string{"endpoint"}, edsAddresses,
		"{[0].clusterName}", func(t *testing.T, doc any) string { return fmt.Sprint(list(t, doc)[0].(map[string]any)["clusterName"]) }},
	{"secret", []string{"pc", "secret", "-f", sampleDump}, []string{"secret"}, secretNames,
		"{.dynamicActiveSecrets[*].name}", func(t *testing.T, doc any) string {
			return strings.Join(fieldOf(t, doc.(map[string]any)["dynamicActiveSecrets"], "name", ""), " ")
		}},
	{"ecds", []string{"pc", "ecds", "-f", ecdsDump}, []string{"ecds"}, func(t *testing.T, doc any) []string {
		var names []string
		for _, f := range list(t, doc.(map[string]any)["ecdsFilters"]) {
			names = append(names, "ecds/"+f.(map[string]any)["ecdsFilter"].(map[string]any)["name"].(string))
		}
		slices.Sort(names)
		return names
	}, "{.ecdsFilters[*].versionInfo}", func(t *testing.T, doc any) string {
		return strings.Join(fieldOf(t, doc.(map[string]any)["ecdsFilters"], "versionInfo", ""), " ")
	}},
	{"all", []string{"pc", "all", "-f", sampleDump}, []string{"cluster", "listener", "route", "secret", "endpoint"}, nil,
		`{.configs[*].\@type}`, func(t *testing.T, doc any) string {
			var types []string
			for _, c := range list(t, doc.(map[string]any)["configs"]) {
				types = append(types, c.(map[string]any)["@type"].(string))
			}
			return strings.Join(types, " ")
		}},
}

// TestOutputOptions runs --no-headers, -o name and -o jsonpath on every table view.
func TestOutputOptions(t *testing.T) {
	for _, v := range tableViews {
		t.Run(v.name, func(t *testing.T) {
			code, table, errOut := run(t, "", v.args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			code, jsonOut, errOut := run(t, "", append(v.args, "-o", "json")...)
			if code != 0 {
				t.Fatalf("-o json: exit %d: %s", code, errOut)
			}
			var doc any
			if err := json.Unmarshal([]byte(jsonOut), &doc); err != nil {
				t.Fatal(err)
			}

			t.Run("no-headers", func(t *testing.T) {
				code, out, errOut := run(t, "", append(v.args, "--no-headers")...)
				if code != 0 {
					t.Fatalf("exit %d: %s", code, errOut)
				}
				testutil.Golden(t, "cli/output/"+v.name+"_noheaders.out", []byte(out))
				// The same rows, without the header lines, each row's cells the same.
				if got, want := cells(out), withoutHeaders(cells(table)); !slices.Equal(got, want) {
					t.Errorf("rows differ from the table's:\n got %q\nwant %q", got, want)
				}
			})

			t.Run("name", func(t *testing.T) {
				code, out, errOut := run(t, "", append(v.args, "-o", "name")...)
				if code != 0 {
					t.Fatalf("exit %d: %s", code, errOut)
				}
				testutil.Golden(t, "cli/output/"+v.name+"_name.out", []byte(out))
				got := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
				kindRE := regexp.MustCompile(`^(` + strings.Join(v.kinds, "|") + `)/`)
				for _, l := range got {
					if !kindRE.MatchString(l) {
						t.Errorf("line %q is not KIND/NAME of %v", l, v.kinds)
					}
				}
				if v.names != nil {
					sorted := slices.Clone(got)
					slices.Sort(sorted)
					if want := v.names(t, doc); !slices.Equal(sorted, want) {
						t.Errorf("-o name lists %q\nwant (from -o json) %q", sorted, want)
					}
				}
			})

			t.Run("jsonpath", func(t *testing.T) {
				code, out, errOut := run(t, "", append(v.args, "-o", "jsonpath="+v.template)...)
				if code != 0 {
					t.Fatalf("exit %d: %s", code, errOut)
				}
				if want := v.want(t, doc); out != want || out == "" {
					t.Errorf("-o jsonpath=%s printed %q, want %q", v.template, out, want)
				}
			})
		})
	}
}

// TestOutputOptionsAll: pc all -o name lists every section's resources, in the order and with
// the names of its tables' NAME columns.
func TestOutputOptionsAll(t *testing.T) {
	_, table, _ := run(t, "", "pc", "all", "-f", sampleDump, "--verbose=false")
	var fromTable []string
	for _, l := range strings.Split(table, "\n") {
		first, _, _ := strings.Cut(l, " ")
		if first != "" && regexp.MustCompile(`^(cluster|listener|route|secret|endpoint)/`).MatchString(first) {
			fromTable = append(fromTable, first)
		}
	}
	_, out, _ := run(t, "", "pc", "all", "-f", sampleDump, "-o", "name", "--verbose=false")
	if got := strings.Split(strings.TrimSuffix(out, "\n"), "\n"); !slices.Equal(got, fromTable) || len(got) < 20 {
		t.Errorf("pc all -o name:\n%q\nwant the NAME column of each table:\n%q", got, fromTable)
	}
}

// TestProxyStatusOutputOptions: the status table takes the same options.
func TestProxyStatusOutputOptions(t *testing.T) {
	urls := istiodURLs(t, "multipilot/istiod1.json", "multipilot/istiod2.json")
	ps := func(args ...string) string {
		t.Helper()
		code, out, errOut := run(t, "", append(append([]string{"ps"}, urls...), args...)...)
		if code != 0 {
			t.Fatalf("ps %v: exit %d: %s", args, code, errOut)
		}
		return out
	}
	table, jsonOut := ps(), ps("-o", "json")
	var rows []map[string]any
	if err := json.Unmarshal([]byte(jsonOut), &rows); err != nil {
		t.Fatal(err)
	}
	var names, namespaces []string
	for _, r := range rows {
		names = append(names, "pod/"+r["name"].(string))
		namespaces = append(namespaces, r["namespace"].(string))
	}
	if got := strings.Split(strings.TrimSuffix(ps("-o", "name"), "\n"), "\n"); !slices.Equal(got, names) || len(got) < 2 {
		t.Errorf("-o name %q, want %q", got, names)
	}
	if got, want := cells(ps("--no-headers")), withoutHeaders(cells(table)); !slices.Equal(got, want) {
		t.Errorf("--no-headers %q, want %q", got, want)
	}
	if got, want := cells(ps("-v", "1", "--no-headers")), withoutHeaders(cells(ps("-v", "1"))); !slices.Equal(got, want) {
		t.Errorf("-v 1 --no-headers %q, want %q", got, want)
	}
	if got := ps("-o", "jsonpath={[*].namespace}"); got != strings.Join(namespaces, " ") {
		t.Errorf("-o jsonpath %q, want %q", got, strings.Join(namespaces, " "))
	}
}

// TestOutputFlagErrors: what the output options refuse, as usage errors pointing to --help.
func TestOutputFlagErrors(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"pc", "cluster", "-f", sampleDump, "-o", "xml"}, `unknown output format "xml": use one of short, json, yaml, name or jsonpath=TEMPLATE`},
		{[]string{"pc", "bootstrap", "-f", sampleDump, "-o", "name"}, `unknown output format "name": use one of short, json, yaml or jsonpath=TEMPLATE`},
		{[]string{"pc", "cluster", "-f", sampleDump, "-o", "jsonpath"}, "-o jsonpath needs a template"},
		{[]string{"pc", "cluster", "-f", sampleDump, "-o", "jsonpath="}, "-o jsonpath needs a template"},
		{[]string{"pc", "cluster", "-f", sampleDump, "-o", "jsonpath={[*"}, `invalid -o jsonpath template "{[*"`},
		{[]string{"pc", "cluster", "-f", sampleDump, "-o", "json=x"}, "-o json takes no template"},
		{[]string{"pc", "cluster", "-f", sampleDump, "-o", "name", "--no-headers"}, "--no-headers applies to the table (-o short), not to -o name"},
		{[]string{"pc", "bootstrap", "-f", sampleDump, "--no-headers"}, "unknown flag: --no-headers"},
		{[]string{"ps", "pod.ns", "--no-headers"}, "--no-headers"},
	}
	for _, tc := range cases {
		code, out, errOut := run(t, "", tc.args...)
		if code != ExitUsage || out != "" || !strings.Contains(errOut, tc.want) || !strings.Contains(errOut, "--help)") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want usage error with %q", tc.args, code, out, errOut, tc.want)
		}
	}
	// A template that fails on the value is a runtime error.
	code, _, errOut := run(t, "", "pc", "cluster", "-f", sampleDump, "-o", "jsonpath={[999].name}")
	if code != ExitRuntime || !strings.Contains(errOut, "-o jsonpath: array index out of bounds") {
		t.Errorf("index out of range: exit %d, %q", code, errOut)
	}
}

// cells splits a table into rows of cells (runs of two spaces or more, or one for the
// listener table's single-space padding, are cell boundaries).
func cells(table string) []string {
	var rows []string
	for _, l := range strings.Split(strings.TrimRight(table, "\n"), "\n") {
		rows = append(rows, strings.Join(strings.Fields(l), " "))
	}
	return rows
}

// withoutHeaders drops the header lines (all capitals) of a table, or of pc all's tables.
func withoutHeaders(rows []string) []string {
	header := regexp.MustCompile(`^[A-Z][A-Z0-9 +]*$`)
	var out []string
	for _, r := range rows {
		if !header.MatchString(r) {
			out = append(out, r)
		}
	}
	return out
}

func list(t *testing.T, v any) []any {
	t.Helper()
	l, ok := v.([]any)
	if !ok {
		t.Fatalf("not a JSON array: %.200v", v)
	}
	return l
}

// fieldOf is a field of each element of a JSON array ("" where it is missing, as jsonpath
// prints nothing for a missing key).
func fieldOf(t *testing.T, v any, field, prefix string) []string {
	var out []string
	for _, e := range list(t, v) {
		value := ""
		if f, ok := e.(map[string]any)[field]; ok {
			value = fmt.Sprint(f)
		}
		out = append(out, prefix+value)
	}
	return out
}

func fieldOfEach(field, prefix string) func(t *testing.T, doc any) []string {
	return func(t *testing.T, doc any) []string {
		names := fieldOf(t, doc, field, prefix)
		slices.Sort(names)
		return names
	}
}

// joined is what {[*].FIELD} prints: the values, missing ones left out, space-separated.
func joined(field, sep string) func(t *testing.T, doc any) string {
	return func(t *testing.T, doc any) string {
		values := slices.DeleteFunc(fieldOf(t, doc, field, ""), func(s string) bool { return s == "" })
		return strings.Join(values, sep)
	}
}

func lines(field string) func(t *testing.T, doc any) string {
	return func(t *testing.T, doc any) string {
		var b strings.Builder
		for _, n := range fieldOf(t, doc, field, "") {
			b.WriteString(n + "\n")
		}
		return b.String()
	}
}

// socketAddress is ADDRESS:PORT of an {"socketAddress": ...} or pipePrefix+PATH of a
// {"pipe": ...}.
func socketAddress(a map[string]any, pipePrefix string) string {
	if sa, ok := a["socketAddress"].(map[string]any); ok {
		return fmt.Sprintf("%v:%v", sa["address"], sa["portValue"])
	}
	if p, ok := a["pipe"].(map[string]any); ok {
		return pipePrefix + fmt.Sprint(p["path"])
	}
	if ea, ok := a["envoyInternalAddress"].(map[string]any); ok {
		return fmt.Sprintf("envoy://%v/%v", ea["serverListenerName"], ea["endpointId"])
	}
	return ""
}

func edsAddresses(t *testing.T, doc any) []string {
	var names []string
	for _, cla := range list(t, doc) {
		eps, _ := cla.(map[string]any)["endpoints"].([]any)
		for _, llb := range eps {
			lbs, _ := llb.(map[string]any)["lbEndpoints"].([]any)
			for _, lb := range lbs {
				ep := lb.(map[string]any)["endpoint"].(map[string]any)
				names = append(names, "endpoint/"+socketAddress(ep["address"].(map[string]any), ""))
			}
		}
	}
	slices.Sort(names)
	return names
}

func hostAddresses(t *testing.T, doc any) []string {
	var names []string
	for _, c := range list(t, doc) {
		hosts, _ := c.(map[string]any)["hostStatuses"].([]any)
		for _, h := range hosts {
			names = append(names, "endpoint/"+socketAddress(h.(map[string]any)["address"].(map[string]any), "unix://"))
		}
	}
	slices.Sort(names)
	return names
}

func secretNames(t *testing.T, doc any) []string {
	var names []string
	for _, section := range []string{"staticSecrets", "dynamicActiveSecrets", "dynamicWarmingSecrets"} {
		if v, ok := doc.(map[string]any)[section]; ok {
			names = append(names, fieldOf(t, v, "name", "secret/")...)
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}
