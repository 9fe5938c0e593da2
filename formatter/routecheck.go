package formatter

import (
	"fmt"
	"io"

	"github.com/proxyctl/proxyctl/internal/routecheck"
)

// RouteCheckTests writes route-check's per-test lines as router_check_tool's printResults
// does: with details (and not onlyFailures) every test, with onlyFailures the failed ones; a
// passing test's name on out, a failed test's name and failure lines on errOut, in file order,
// each line written as soon as it is ready (a CI log interleaves the two streams).
func RouteCheckTests(out, errOut io.Writer, results []*routecheck.Result, details, onlyFailures bool) error {
	for _, r := range results {
		if !((details && !onlyFailures) || (onlyFailures && len(r.Lines) > 0)) {
			continue
		}
		if len(r.Lines) == 0 {
			if _, err := fmt.Fprintln(out, r.Name); err != nil {
				return err
			}
			continue
		}
		if _, err := fmt.Fprintln(errOut, r.Name); err != nil {
			return err
		}
		for _, l := range r.Lines {
			if _, err := fmt.Fprintln(errOut, l); err != nil {
				return err
			}
		}
	}
	return nil
}

// RouteCheckCoverage writes the routes without a test (when the report lists them) and the
// coverage line, as router_check_tool does: "Missing test for host: H, route name: N" with
// --detailed-coverage, "Missing test for host: H, route: MATCH" (the match in protobuf text
// format, which ends with a newline) with --covall, then "Current route coverage: C%".
func RouteCheckCoverage(out io.Writer, rep routecheck.Report) error {
	for _, m := range rep.Missing {
		var err error
		if rep.Comprehensive {
			_, err = fmt.Fprintf(out, "Missing test for host: %s, route: %s\n", m.VirtualHost, m.Match)
		} else {
			_, err = fmt.Fprintf(out, "Missing test for host: %s, route name: %s\n", m.VirtualHost, m.Name)
		}
		if err != nil {
			return err
		}
	}
	_, err := fmt.Fprintf(out, "Current route coverage: %s%%\n", routecheck.FormatFloat(rep.Percent))
	return err
}

// RouteCheckFailUnder writes router_check_tool's line for a coverage under --fail-under.
func RouteCheckFailUnder(errOut io.Writer, failUnder float64) error {
	_, err := fmt.Fprintf(errOut, "Failed to meet coverage requirement: %s%%\n", routecheck.FormatFloat(failUnder))
	return err
}
