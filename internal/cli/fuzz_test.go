package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/proxyctl/proxyctl/internal/testutil"
)

// The view fuzz targets run a whole proxy-config view, in-process, on an arbitrary document read
// from stdin, in each output format: parsing, decoding, filtering, sorting and the view's writer.
// Whatever the document, the view must end with exit 0 and output in the format asked for (JSON
// that parses, YAML that parses), or exit 1 and a one-line error; never a panic or a usage error.

func FuzzClusterView(f *testing.F)   { fuzzView(f, "cluster") }
func FuzzListenerView(f *testing.F)  { fuzzView(f, "listener") }
func FuzzRouteView(f *testing.F)     { fuzzView(f, "route") }
func FuzzEndpointView(f *testing.F)  { fuzzView(f, "endpoint") }
func FuzzBootstrapView(f *testing.F) { fuzzView(f, "bootstrap") }
func FuzzSecretView(f *testing.F)    { fuzzView(f, "secret") }
func FuzzEcdsView(f *testing.F)      { fuzzView(f, "ecds") }
func FuzzAllView(f *testing.F)       { fuzzView(f, "all") }
func FuzzExplainView(f *testing.F)   { fuzzView(f, "explain") }

// viewVariants are the flags a fuzzed run picks from: the formats, and a filter or option of
// the view where it has one.
var viewVariants = map[string][][]string{
	"cluster":   {{"--fqdn", "reviews.default.svc.cluster.local"}, {"--direction", "inbound", "--port", "9080"}, {"--subset", "v1"}},
	"listener":  {{"--port", "9080"}, {"--type", "HTTP"}, {"--address", "0.0.0.0"}, {"--verbose=false"}, {"--waypoint"}},
	"route":     {{"--name", "9080"}, {"--verbose=false"}},
	"endpoint":  {{"--port", "9080"}, {"--status", "healthy"}, {"--cluster", "outbound|9080||reviews.default.svc.cluster.local"}},
	"bootstrap": {},
	"secret":    {},
	"ecds":      {},
	"all":       {{"--with-headers"}, {"--port", "9080"}},
	"explain": {{"--mode", "inbound", "--port", "9080", "--tls", "mtls"}, {"--url", "tcp://10.0.0.1:443"}, {"--verbose"},
		{"--url", "https://bookinfo.example.com:8443/"}, {"--mode", "gateway", "--random-value", "7"}, {"--listener", "main_internal", "--address", "10.96.186.205"}},
}

// viewArgs are the flags a view always needs (explain: a request).
var viewArgs = map[string][]string{
	"explain": {"--url", "http://reviews.default:9080/reviews/0"},
}

func fuzzView(f *testing.F, view string) {
	for _, seed := range testutil.FuzzSeeds(f) {
		for variant := uint8(0); variant < 3; variant++ {
			f.Add(seed, variant)
		}
	}
	formats := []string{"short", "json", "yaml"}
	f.Fuzz(func(t *testing.T, doc []byte, variant uint8) {
		format := formats[int(variant)%len(formats)]
		args := append([]string{"pc", view, "-f", "-", "-o", format}, viewArgs[view]...)
		if opts := viewVariants[view]; len(opts) > 0 && variant >= 3 {
			args = append(args, opts[int(variant/3)%len(opts)]...)
		}
		code, out, errOut := run(t, string(doc), args...)
		switch code {
		case 0:
			switch format {
			case "json":
				if !json.Valid([]byte(out)) {
					t.Fatalf("%v: exit 0 with invalid JSON:\n%.2000s", args, out)
				}
			case "yaml":
				if _, err := yaml.YAMLToJSON([]byte(out)); err != nil {
					t.Fatalf("%v: exit 0 with invalid YAML (%v):\n%.2000s", args, err, out)
				}
			}
		case ExitRuntime:
			if !strings.HasPrefix(errOut, "error: ") || strings.Count(errOut, "\n") != 1 || !strings.HasSuffix(errOut, "\n") {
				t.Fatalf("%v: exit 1 without a one-line error: %q", args, errOut)
			}
		default:
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
	})
}
