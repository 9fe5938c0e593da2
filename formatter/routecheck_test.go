package formatter

import (
	"bytes"
	"fmt"
	"os"
	"testing"

	"github.com/proxyctl/proxyctl/internal/routecheck"
	"github.com/proxyctl/proxyctl/internal/testutil"
)

// lineWriter tags each line with the stream it went to, keeping their order.
type lineWriter struct {
	buf *bytes.Buffer
	tag string
}

func (w lineWriter) Write(p []byte) (int, error) {
	for _, l := range bytes.SplitAfter(p, []byte("\n")) {
		if len(l) > 0 {
			w.buf.WriteString(w.tag)
			w.buf.Write(l)
		}
	}
	return len(p), nil
}

// TestRouteCheckGoldens prints route-check's lines for the project's fixtures with each
// printing flag: which test names and failure lines go where, in which order, then coverage.
func TestRouteCheckGoldens(t *testing.T) {
	read := func(name string) []byte {
		b, err := os.ReadFile(testutil.Path("testdata", "routecheck", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, tc := range []struct {
		name, tests             string
		details, only, all, det bool
	}{
		{"failures_quiet", "shop-failures.yaml", false, false, false, false},
		{"failures_details", "shop-failures.yaml", true, false, false, true},
		{"failures_only", "shop-failures.yaml", true, true, false, false},
		{"passes_details_covall", "shop-tests.yaml", true, false, true, false},
		{"passes_detailed_coverage", "shop-tests.yaml", false, false, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc, err := routecheck.LoadRouteConfig("shop.yaml", read("shop.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			c, err := routecheck.NewChecker(rc, routecheck.Options{UUID: func() string { n++; return fmt.Sprintf("uuid-%d", n) }})
			if err != nil {
				t.Fatal(err)
			}
			s, err := routecheck.LoadSuite(tc.tests, read(tc.tests))
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			out, errOut := lineWriter{&buf, "out| "}, lineWriter{&buf, "err| "}
			if err := RouteCheckTests(out, errOut, c.Run(s), tc.details, tc.only); err != nil {
				t.Fatal(err)
			}
			rep := c.Coverage(tc.all, tc.det)
			if err := RouteCheckCoverage(out, rep); err != nil {
				t.Fatal(err)
			}
			// As route-check with --fail-under 100: the line only when the coverage is under.
			if rep.Percent < 100 {
				if err := RouteCheckFailUnder(errOut, 100); err != nil {
					t.Fatal(err)
				}
			}
			testutil.Golden(t, "routecheck/"+tc.name+".txt", buf.Bytes())
		})
	}
}
