package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
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
	return reachIstiodPods(ctx, root, revision, urls, errOut, func(ctx context.Context, kube *portforward.Kube, ns, pod string) (istiod.Target, func(), error) {
		fwd, err := kube.OpenPodPort(ctx, ns, pod, port)
		if err != nil {
			return istiod.Target{}, nil, err
		}
		what := fmt.Sprintf("pod %s in namespace %s", pod, ns)
		t := istiod.Target{Name: pod, Namespace: ns, BaseURL: fwd.URL, Unsent: fwd.Unsent,
			Explain: fwd.Explain(what, port, "is that istiod's HTTP debug port? (--istiod-port)")}
		return t, func() { fwd.Close() }, nil
	})
}

// istiodPodTarget reaches one istiod pod (a port-forward) and returns the target to ask there
// and what ends the forward.
type istiodPodTarget func(ctx context.Context, kube *portforward.Kube, ns, pod string) (istiod.Target, func(), error)

// reachIstiodPods is reachIstiods with the way each pod is reached: proxy-status asks a pod's
// HTTP debug port or its xDS port.
func reachIstiodPods(ctx context.Context, root *rootOptions, revision string, urls []string, errOut io.Writer, reach istiodPodTarget) (targets []istiod.Target, close func(), err error) {
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
	pods, err := istiod.DiscoverPods(ctx, explainedLister{kube}, ns, revision)
	if err != nil {
		return nil, close, err // the caller names the time limit, if one ran out
	}
	found := make([]istiod.Target, len(pods))
	closes := make([]func(), len(pods))
	errs := make([]error, len(pods))
	var wg sync.WaitGroup
	for i, pod := range pods {
		wg.Add(1)
		go func() {
			defer wg.Done()
			found[i], closes[i], errs[i] = reach(ctx, kube, ns, pod)
		}()
	}
	wg.Wait()
	close = func() {
		for _, c := range closes {
			if c != nil {
				c()
			}
		}
	}
	var failed []string
	for i, pod := range pods {
		if errs[i] != nil {
			failed = append(failed, fmt.Sprintf("istiod %s in %s: %v", pod, ns, errs[i]))
			continue
		}
		targets = append(targets, found[i])
	}
	if len(targets) == 0 {
		close()
		return nil, func() {}, fmt.Errorf("could not reach any of the %d istiod pods in %s: %s", len(pods), ns, strings.Join(failed, "; "))
	}
	for _, f := range failed {
		printLine(errOut, "warning", f)
	}
	return targets, close, nil
}
