package cli

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/spf13/cobra"

	"github.com/proxyctl/proxyctl/internal/istiod"
	"github.com/proxyctl/proxyctl/portforward"
)

// addIstiodFlags registers how a command finds istiod, as proxy-status does: -r/--revision,
// --istiod-port, --istiod-url.
func addIstiodFlags(cmd *cobra.Command, revision *string, port *int, urls *[]string) {
	fs := cmd.Flags()
	fs.StringVarP(revision, "revision", "r", "", "the istiod revision (istio.io/rev label) to ask")
	fs.IntVar(port, "istiod-port", istiod.DefaultDebugPort, "istiod's debug port")
	fs.StringArrayVar(urls, "istiod-url", nil, "an istiod debug API, [NAME=]http://HOST:PORT, instead of finding istiod pods (repeatable)")
}

// reachIstiods finds the istiod replicas to ask (--istiod-url, else the Running app=istiod pods
// of the Istio namespace, of a revision) and port-forwards to each one's debug port at once; a
// replica that cannot be reached is reported on errOut and left out. close ends the forwards.
func reachIstiods(ctx context.Context, root *rootOptions, revision string, port int, urls []string, errOut io.Writer) (targets []istiod.Target, close func(), err error) {
	close = func() {}
	if len(urls) > 0 {
		for _, u := range urls {
			t, err := istiod.TargetFromURL(u)
			if err != nil {
				return nil, close, usageError{err}
			}
			targets = append(targets, t)
		}
		return targets, close, nil
	}
	kube, _, err := root.kube.Client()
	if err != nil {
		return nil, close, err
	}
	ns := root.istioNamespace
	pods, err := istiod.DiscoverPods(ctx, kube, ns, revision)
	if err != nil {
		return nil, close, err
	}
	forwards := make([]*portforward.Forwarder, len(pods))
	errs := make([]error, len(pods))
	var wg sync.WaitGroup
	for i, pod := range pods {
		wg.Add(1)
		go func() {
			defer wg.Done()
			forwards[i], errs[i] = kube.OpenPodPort(ctx, ns, pod, port)
		}()
	}
	wg.Wait()
	close = func() {
		for _, f := range forwards {
			if f != nil {
				f.Close()
			}
		}
	}
	for i, pod := range pods {
		if errs[i] != nil {
			fmt.Fprintf(errOut, "warning: istiod %s in %s: %s\n", pod, ns, oneLine(errs[i].Error()))
			continue
		}
		targets = append(targets, istiod.Target{Name: pod, Namespace: ns, BaseURL: forwards[i].URL})
	}
	if len(targets) == 0 {
		close()
		return nil, func() {}, fmt.Errorf("could not reach any of the %d istiod pods in %s", len(pods), ns)
	}
	return targets, close, nil
}
