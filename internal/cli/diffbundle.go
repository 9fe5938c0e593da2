package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"

	"github.com/proxyctl/proxyctl/formatter"
	"github.com/proxyctl/proxyctl/internal/bundle"
	"github.com/proxyctl/proxyctl/internal/diff"
)

// capturedProxies are the names of the proxies a bundle captured (its failed ones left out).
func capturedProxies(path string) ([]string, error) {
	r, f, err := openBundle(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var names []string
	for _, p := range r.Manifest().Proxies {
		if p.Status != bundle.ProxyFailed {
			names = append(names, p.Name)
		}
	}
	return names, nil
}

// bundlePair tells whether pc diff A B compares two capture bundles proxy by proxy: both are
// bundles and one holds more than one proxy (two of one proxy each compare as two proxies,
// whatever their names). It returns the bundles' proxies.
func bundlePair(a, b string) (from, to []string, ok bool, err error) {
	if !isBundleFile(a) || !isBundleFile(b) {
		for _, p := range []string{a, b} {
			if isBundleFile(p) {
				if names, err := capturedProxies(p); err == nil && len(names) > 1 {
					return nil, nil, false, usageErrorf("bundle %s holds %d proxies: pc diff compares it with another bundle, proxy by proxy, or compares a bundle of one proxy with any proxy", p, len(names))
				}
			}
		}
		return nil, nil, false, nil
	}
	if from, err = capturedProxies(a); err != nil {
		return nil, nil, false, err
	}
	if to, err = capturedProxies(b); err != nil {
		return nil, nil, false, err
	}
	return from, to, len(from) > 1 || len(to) > 1, nil
}

// runBundles compares the same-named proxies of two bundles: the captures of a mesh before
// and after a change, say. Proxies only one bundle holds make the bundles differ.
func (o *diffOptions) runBundles(ctx context.Context, from, to []string) error {
	c := formatter.BundleComparison{From: o.args[0], To: o.args[1]}
	inTo := map[string]bool{}
	for _, n := range to {
		inTo[n] = true
	}
	var both []string
	for _, n := range from {
		if inTo[n] {
			both = append(both, n)
			delete(inTo, n)
		} else {
			c.OnlyFrom = append(c.OnlyFrom, n)
		}
	}
	for n := range inTo {
		c.OnlyTo = append(c.OnlyTo, n)
	}
	sort.Strings(c.OnlyTo)
	if len(both) == 0 {
		return fmt.Errorf("bundles %s and %s hold no proxy of the same name (%d and %d proxies): nothing to compare", c.From, c.To, len(from), len(to))
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
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for i, name := range both {
		c.Pairs = append(c.Pairs, formatter.BundlePair{Proxy: name, Diff: results[i]})
	}
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
	if !c.Same() {
		return exitError{code: ExitDifferent}
	}
	return nil
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
