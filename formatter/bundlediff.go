package formatter

import (
	"fmt"
	"io"
	"sort"

	"github.com/proxyctl/proxyctl/internal/diff"
)

// BundlePair is a proxy both capture bundles hold, and how its two captures differ.
type BundlePair struct {
	Proxy string
	Diff  *diff.Result
}

// BundleComparison is pc diff BUNDLE1 BUNDLE2: the proxies both hold, paired by name, those
// only one holds, and those that could not be compared (a capture that failed, or that
// cannot be read), with why.
type BundleComparison struct {
	From, To         string // the bundles
	Pairs            []BundlePair
	OnlyFrom, OnlyTo []string
	Failed           []BundleFailure
}

// BundleFailure is a proxy of two bundles that could not be compared, and why.
type BundleFailure struct {
	Proxy string `json:"proxy"`
	Error string `json:"error"`
}

// Same tells whether the bundles hold the same proxies, each configured the same.
func (c BundleComparison) Same() bool {
	for _, p := range c.Pairs {
		if !p.Diff.Same() {
			return false
		}
	}
	return len(c.OnlyFrom) == 0 && len(c.OnlyTo) == 0 && len(c.Failed) == 0
}

// Sides names the two captures of a proxy in headers and unified diffs.
func (c BundleComparison) Sides(proxy string) DiffSides {
	return DiffSides{From: proxy + " in bundle " + c.From, To: proxy + " in bundle " + c.To}
}

// BundleTable writes one row per proxy: the same, how many resources differ, or which bundle
// alone holds it.
func BundleTable(w io.Writer, c BundleComparison) error {
	type row struct{ proxy, result string }
	var rows []row
	for _, p := range c.Pairs {
		result := "same"
		if n := len(p.Diff.Resources); n == 1 {
			result = "1 resource differs"
		} else if n > 1 {
			result = fmt.Sprintf("%d resources differ", n)
		}
		rows = append(rows, row{p.Proxy, result})
	}
	for _, p := range c.OnlyFrom {
		rows = append(rows, row{p, "only in " + c.From})
	}
	for _, p := range c.OnlyTo {
		rows = append(rows, row{p, "only in " + c.To})
	}
	for _, f := range c.Failed {
		rows = append(rows, row{f.Proxy, "not compared: " + f.Error})
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].proxy < rows[j].proxy })
	lines := make([]string, len(rows))
	for i, r := range rows {
		lines[i] = oneLineText(r.proxy) + "\t" + oneLineText(r.result)
	}
	return writeTable(w, 3, "PROXY\tRESULT", lines)
}

// BundleProxyHeader introduces the comparison of one proxy's two captures.
func BundleProxyHeader(w io.Writer, proxy string) error {
	_, err := fmt.Fprintf(w, "\n%s:\n", oneLineText(proxy))
	return err
}

// BundleDiffReport is the structured report of pc diff BUNDLE1 BUNDLE2 (docs/diff-report.md).
type BundleDiffReport struct {
	From     string             `json:"from"`
	To       string             `json:"to"`
	Same     bool               `json:"same"`
	Proxies  []BundleProxyEntry `json:"proxies"`
	OnlyFrom []string           `json:"onlyInFrom,omitempty"`
	OnlyTo   []string           `json:"onlyInTo,omitempty"`
	Failed   []BundleFailure    `json:"failed,omitempty"`
}

// BundleProxyEntry is one proxy both bundles hold, and the report of its comparison.
type BundleProxyEntry struct {
	Proxy string     `json:"proxy"`
	Diff  DiffReport `json:"diff"`
}

// NewBundleDiffReport builds the structured report of a comparison of two bundles.
func NewBundleDiffReport(c BundleComparison) BundleDiffReport {
	rep := BundleDiffReport{From: c.From, To: c.To, Same: c.Same(), Proxies: []BundleProxyEntry{}, OnlyFrom: c.OnlyFrom, OnlyTo: c.OnlyTo, Failed: c.Failed}
	for _, p := range c.Pairs {
		rep.Proxies = append(rep.Proxies, BundleProxyEntry{Proxy: p.Proxy, Diff: NewDiffReport(p.Diff, c.Sides(p.Proxy))})
	}
	return rep
}

// BundleNames are the proxy/NAME of each proxy that differs or that one bundle alone holds.
func BundleNames(c BundleComparison) []string {
	var names []string
	for _, p := range c.Pairs {
		if !p.Diff.Same() {
			names = append(names, ResourceName("proxy", p.Proxy))
		}
	}
	for _, p := range append(append([]string(nil), c.OnlyFrom...), c.OnlyTo...) {
		names = append(names, ResourceName("proxy", p))
	}
	sort.Strings(names)
	return names
}
