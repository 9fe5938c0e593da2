package cli

import (
	"context"
	"fmt"
	"io"
	"sort"
	"sync"

	"github.com/proxyctl/proxyctl/formatter"
	"github.com/proxyctl/proxyctl/internal/bundle"
	"github.com/proxyctl/proxyctl/internal/diff"
)

// bundleProxies are the proxies of a bundle: the names of those it captured, and why each
// of the others failed.
type bundleProxies struct {
	captured []string
	failed   map[string]string
}

// capturedProxies reads a bundle's manifest.
func capturedProxies(path string) (bundleProxies, error) {
	r, f, err := openBundle(path)
	if err != nil {
		return bundleProxies{}, err
	}
	defer f.Close()
	b := bundleProxies{failed: map[string]string{}}
	for _, p := range r.Manifest().Proxies {
		if p.Status == bundle.ProxyFailed {
			b.failed[p.Name] = p.Error
		} else {
			b.captured = append(b.captured, p.Name)
		}
	}
	return b, nil
}

// bundlePair tells whether pc diff A B compares two capture bundles proxy by proxy: both are
// bundles and one holds more than one proxy (two of one proxy each compare as two proxies,
// whatever their names). It returns the bundles' proxies.
func bundlePair(a, b string) (from, to bundleProxies, ok bool, err error) {
	if !isBundleFile(a) || !isBundleFile(b) {
		for _, p := range []string{a, b} {
			if isBundleFile(p) {
				if ps, err := capturedProxies(p); err == nil && len(ps.captured) > 1 {
					return from, to, false, usageErrorf("bundle %s holds %d proxies: pc diff compares it with another bundle, proxy by proxy, or compares a bundle of one proxy with any proxy", p, len(ps.captured))
				}
			}
		}
		return from, to, false, nil
	}
	if from, err = capturedProxies(a); err != nil {
		return from, to, false, err
	}
	if to, err = capturedProxies(b); err != nil {
		return from, to, false, err
	}
	many := func(b bundleProxies) bool { return len(b.captured)+len(b.failed) > 1 }
	return from, to, many(from) || many(to), nil
}

// runBundles compares the same-named proxies of two bundles: the captures of a mesh before
// and after a change, say. Proxies only one bundle holds make the bundles differ; a proxy
// that either capture failed to read, or whose captures cannot be read, is listed as not
// compared, and makes the exit status 3.
func (o *diffOptions) runBundles(ctx context.Context, from, to bundleProxies) error {
	c := formatter.BundleComparison{From: o.args[0], To: o.args[1]}
	inFrom, inTo := map[string]bool{}, map[string]bool{}
	names := map[string]bool{}
	for _, n := range from.captured {
		inFrom[n], names[n] = true, true
	}
	for _, n := range to.captured {
		inTo[n], names[n] = true, true
	}
	for n := range from.failed {
		names[n] = true
	}
	for n := range to.failed {
		names[n] = true
	}
	var both []string
	for n := range names {
		eFrom, failedFrom := from.failed[n]
		eTo, failedTo := to.failed[n]
		why := ""
		switch {
		case failedFrom && failedTo:
			why = withCause("not captured in either bundle", eFrom)
		case failedFrom:
			why = withCause("not captured in "+c.From, eFrom)
		case failedTo:
			why = withCause("not captured in "+c.To, eTo)
		case inFrom[n] && inTo[n]:
			both = append(both, n)
		case inFrom[n]:
			c.OnlyFrom = append(c.OnlyFrom, n)
		default:
			c.OnlyTo = append(c.OnlyTo, n)
		}
		if why != "" {
			c.Failed = append(c.Failed, formatter.BundleFailure{Proxy: n, Error: oneLine(why)})
		}
	}
	sort.Strings(both)
	sort.Strings(c.OnlyFrom)
	sort.Strings(c.OnlyTo)
	if len(both) == 0 {
		return fmt.Errorf("bundles %s and %s hold no proxy of the same name that both captured (%d and %d proxies): nothing to compare",
			c.From, c.To, len(from.captured)+len(from.failed), len(to.captured)+len(to.failed))
	}
	// Reading a bundle's proxy is local work: a few at a time, on all cores.
	results := make([]*diff.Result, len(both))
	errs := make([]error, len(both))
	slots := make(chan struct{}, o.concurrency)
	var wg sync.WaitGroup
	for i, name := range both {
		wg.Add(1)
		go func() {
			defer wg.Done()
			slots <- struct{}{}
			defer func() { <-slots }()
			results[i], errs[i] = o.compareBundleProxy(ctx, name)
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	for i, name := range both {
		if errs[i] != nil {
			fmt.Fprintf(o.streams.ErrOut, "warning: %s\n", oneLine(errs[i].Error()))
			c.Failed = append(c.Failed, formatter.BundleFailure{Proxy: name, Error: oneLine(errs[i].Error())})
			continue
		}
		c.Pairs = append(c.Pairs, formatter.BundlePair{Proxy: name, Diff: results[i]})
	}
	sort.Slice(c.Failed, func(i, j int) bool { return c.Failed[i].Proxy < c.Failed[j].Proxy })
	w := o.streams.Out
	if err := o.output.render(&w, func() error { return o.printBundles(w, c) }); err != nil {
		return err
	}
	for _, p := range c.Pairs {
		if !p.Diff.Same() {
			o.notes(p.Diff)
			break
		}
	}
	switch {
	case len(c.Failed) > 0:
		return exitError{code: ExitDiffTrouble, err: fmt.Errorf("%d of the proxies of bundles %s and %s could not be compared (%s first)", len(c.Failed), c.From, c.To, c.Failed[0].Proxy)}
	case !c.Same():
		return exitError{code: ExitDifferent}
	}
	return nil
}

// withCause is what, followed by the cause when the manifest recorded one.
func withCause(what, cause string) string {
	if cause == "" {
		return what
	}
	return what + ": " + cause
}

// compareBundleProxy compares the captures of one proxy in the two bundles.
func (o *diffOptions) compareBundleProxy(ctx context.Context, name string) (*diff.Result, error) {
	var sides [2]diffSide
	for i, path := range o.args {
		src, err := openBundleProxy(fileOptions{path: path, proxy: name})
		if err != nil {
			return nil, err
		}
		sides[i], err = o.readSide(ctx, src, diff.Identity{})
		src.Close()
		if err != nil {
			return nil, err
		}
	}
	return diff.Compare(sides[0].prepared, sides[1].prepared, o.opts)
}

func (o *diffOptions) printBundles(w io.Writer, c formatter.BundleComparison) error {
	switch o.output.format {
	case formatter.JSON, formatter.YAML:
		return formatter.WriteStructured(w, formatter.NewBundleDiffReport(c), o.output.format)
	case formatter.Name:
		return formatter.WriteNames(w, formatter.BundleNames(c))
	case formatter.Short:
		if err := formatter.BundleTable(w, c); err != nil {
			return err
		}
	}
	for _, p := range c.Pairs {
		if p.Diff.Same() {
			continue
		}
		if o.output.format == formatter.Short {
			if err := formatter.BundleProxyHeader(w, p.Proxy); err != nil {
				return err
			}
		}
		if err := o.printAs(w, p.Diff, c.Sides(p.Proxy)); err != nil {
			return err
		}
	}
	return nil
}
