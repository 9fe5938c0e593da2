package cli

import (
	"context"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	adminv3 "github.com/envoyproxy/go-control-plane/envoy/admin/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/rest"

	"github.com/proxyctl/proxyctl/configdump"
	"github.com/proxyctl/proxyctl/portforward"
)

// Shell completion (cobra's, for bash, zsh, fish and powershell: `proxyctl completion SHELL`).
// Every completion function here is shared: a command gets pod names for its arguments from
// liveOptions.addFlags, the values of -o from outputFlag.addFlag, resource names from the dump
// with commonOptions.completeFromDump, fixed values with fixedValues. Each is bounded by
// rootOptions.completionTimeout and, when something fails (no kubeconfig, an unreachable
// cluster or proxy, a broken file), offers nothing rather than printing an error: the shell
// only ever sees candidates.

// defaultCompletionTimeout bounds what completion asks of the cluster or a proxy: long enough
// for a port-forward, short enough not to freeze a prompt.
const defaultCompletionTimeout = 3 * time.Second

// maxNamespacesProbed bounds how many namespaces POD.NAMESPACE completion looks in one by one,
// when it may not list pods across namespaces.
const maxNamespacesProbed = 32

// completionContext is the context completion functions work in: cmd's, bounded by the
// completion timeout. It also silences what client-go might print.
func (r *rootOptions) completionContext(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	rest.SetDefaultWarningHandler(rest.NoWarnings{})
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	return context.WithTimeout(ctx, r.completionTimeout)
}

// registerCompletions completes the flags every command inherits from the root: namespaces for
// -n and -i, the kubeconfig's contexts for --context.
func (r *rootOptions) registerCompletions(root *cobra.Command) {
	namespaces := func(cmd *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		ctx, cancel := r.completionContext(cmd)
		defer cancel()
		kube, _, err := r.kube.Client()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		names, err := kube.ListNamespaces(ctx)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return withPrefix(names, toComplete), cobra.ShellCompDirectiveNoFileComp
	}
	_ = root.RegisterFlagCompletionFunc("namespace", namespaces)
	_ = root.RegisterFlagCompletionFunc("istio-namespace", namespaces)
	_ = root.RegisterFlagCompletionFunc("context", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		cfg, err := r.kube.RawConfig()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var names []string
		for name, c := range cfg.Contexts {
			desc := c.Cluster
			if c.Namespace != "" {
				desc += ", namespace " + c.Namespace
			}
			names = append(names, name+"\t"+desc)
		}
		sort.Strings(names)
		return names, cobra.ShellCompDirectiveNoFileComp
	})
}

// withPrefix keeps the values starting with prefix ("value\tdescription" pairs by their value).
func withPrefix(values []string, prefix string) []string {
	var out []string
	for _, v := range values {
		name, _, _ := strings.Cut(v, "\t")
		if strings.HasPrefix(name, prefix) {
			out = append(out, v)
		}
	}
	return out
}

// fixedValues completes a flag from a fixed list, matching case-insensitively.
func fixedValues(values ...string) cobra.CompletionFunc {
	return func(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		var out []string
		for _, v := range values {
			if strings.HasPrefix(strings.ToLower(v), strings.ToLower(toComplete)) {
				out = append(out, v)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// completeTarget completes a command's pod argument: the pods that run an Envoy in the namespace
// in effect (-n, else the kubeconfig's), POD.NAMESPACE once a dot is typed, TYPE/NAME for the
// workloads and services whose pods run an Envoy, and the TYPE/ prefixes themselves. It offers
// nothing once the command has all its arguments.
func (l *liveOptions) completeTarget(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	none := cobra.ShellCompDirectiveNoFileComp
	if cmd.ValidateArgs(append(append([]string(nil), args...), toComplete)) != nil {
		return nil, none
	}
	ctx, cancel := l.root.completionContext(cmd)
	defer cancel()
	kube, ns, err := l.root.kube.Client()
	if err != nil {
		return nil, none
	}
	nsFlag := l.root.kube.NamespaceFlag()
	if nsFlag != "" {
		ns = nsFlag
	}
	anyPod := cmd.Flags().Changed("proxy-admin-port")
	targets := podTargets{kube: kube, anyPod: anyPod}
	var out []string
	if kind, name, ok := strings.Cut(toComplete, "/"); ok {
		k, known := portforward.ParseKind(kind)
		if !known {
			return nil, none
		}
		for _, w := range targets.workloads(ctx, ns, k) {
			if strings.HasPrefix(w, name) {
				out = append(out, kind+"/"+w)
			}
		}
		return out, none
	}
	out = append(out, targets.pods(ctx, ns, toComplete)...)
	if i := strings.LastIndexByte(toComplete, '.'); i > 0 && nsFlag == "" {
		out = append(out, targets.podsElsewhere(ctx, toComplete[:i], toComplete[i+1:])...)
	}
	directive := none
	if toComplete != "" {
		allKinds := len(out) == 0
		for _, k := range portforward.KindSpellings {
			if strings.HasPrefix(k+"/", toComplete) {
				out = append(out, k+"/")
			}
		}
		if allKinds && len(out) > 0 {
			directive |= cobra.ShellCompDirectiveNoSpace // a TYPE/ prefix: the name follows
		}
	}
	return dedupe(out), directive
}

func dedupe(values []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range values {
		name, _, _ := strings.Cut(v, "\t")
		if !seen[name] {
			seen[name] = true
			out = append(out, v)
		}
	}
	return out
}

// podTargets finds what a pod argument can name.
type podTargets struct {
	kube *portforward.Kube
	// anyPod: --proxy-admin-port was given, so any Running pod may run the Envoy.
	anyPod bool
}

// envoy says whether a pod can be named: Running, and with an Envoy, described by its mesh.
func (t podTargets) envoy(p *corev1.Pod) (string, bool) {
	if p.Status.Phase != corev1.PodRunning || p.DeletionTimestamp != nil {
		return "", false
	}
	a, ok := portforward.DetectAdminPort(p)
	switch {
	case ok:
		return a.What(), true
	case t.anyPod:
		return "Running", true
	}
	return "", false
}

// pods are the Envoy pods of ns whose name starts with prefix, as POD (POD.NS for a name with a
// dot, which would read as a namespace), with their Envoy as description.
func (t podTargets) pods(ctx context.Context, ns, prefix string) []string {
	pods, err := t.kube.ListPods(ctx, ns, "")
	if err != nil {
		return nil
	}
	var out []string
	for i := range pods {
		p := &pods[i]
		desc, ok := t.envoy(p)
		if !ok || !strings.HasPrefix(p.Name, prefix) {
			continue
		}
		name := p.Name
		if strings.Contains(name, ".") {
			name += "." + ns
		}
		out = append(out, name+"\t"+desc)
	}
	sort.Strings(out)
	return out
}

// podsElsewhere completes POD.NAMESPACE: the Envoy pods named name in the namespaces starting
// with nsPrefix, from one list across namespaces or, where that is not allowed, by asking a
// bounded number of namespaces one by one.
func (t podTargets) podsElsewhere(ctx context.Context, name, nsPrefix string) []string {
	var found []corev1.Pod
	if pods, err := t.kube.ListPodsNamed(ctx, name); err == nil {
		found = pods
	} else {
		namespaces, err := t.kube.ListNamespaces(ctx)
		if err != nil {
			return nil
		}
		namespaces = withPrefix(namespaces, nsPrefix)
		if len(namespaces) > maxNamespacesProbed {
			namespaces = namespaces[:maxNamespacesProbed]
		}
		var mu sync.Mutex
		var wg sync.WaitGroup
		for _, ns := range namespaces {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if p, err := t.kube.GetPod(ctx, ns, name); err == nil {
					mu.Lock()
					found = append(found, *p)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
	}
	var out []string
	for i := range found {
		p := &found[i]
		if desc, ok := t.envoy(p); ok && p.Name == name && strings.HasPrefix(p.Namespace, nsPrefix) {
			out = append(out, p.Name+"."+p.Namespace+"\t"+desc)
		}
	}
	sort.Strings(out)
	return out
}

// workloads are the names of the objects of a kind in ns that select at least one Envoy pod.
func (t podTargets) workloads(ctx context.Context, ns, kind string) []string {
	pods, err := t.kube.ListPods(ctx, ns, "")
	if err != nil {
		return nil
	}
	var envoyLabels []labels.Set
	for i := range pods {
		if _, ok := t.envoy(&pods[i]); ok {
			envoyLabels = append(envoyLabels, labels.Set(pods[i].Labels))
		}
	}
	if kind == "pod" {
		var names []string
		for i := range pods {
			if _, ok := t.envoy(&pods[i]); ok {
				names = append(names, pods[i].Name)
			}
		}
		sort.Strings(names)
		return names
	}
	list, err := t.kube.ListWorkloads(ctx, ns, kind)
	if err != nil {
		return nil
	}
	var names []string
	for _, w := range list {
		for _, l := range envoyLabels {
			if w.Selector.Matches(l) {
				names = append(names, w.Name)
				break
			}
		}
	}
	sort.Strings(names)
	return names
}

// completeFromDump completes a flag with names read from the proxy's configuration, when the
// command line names the proxy (-f FILE, --admin-url, or a pod), bounded by the completion
// timeout.
func (o *commonOptions) completeFromDump(path string, values func(d *configdump.Dump) ([]string, error)) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		none := cobra.ShellCompDirectiveNoFileComp
		if len(args) > 0 {
			o.target = args[0]
		}
		if o.file == "" && o.adminURL == "" && o.target == "" {
			return nil, none
		}
		o.streams.ErrOut = io.Discard // notes (which pod was picked) are not candidates
		ctx, cancel := o.live.root.completionContext(cmd)
		defer cancel()
		o.live.adminPortSet = cmd.Flags().Changed("proxy-admin-port")
		d, _, err := o.load(ctx, path)
		if err != nil {
			return nil, none
		}
		names, err := values(d)
		if err != nil {
			return nil, none
		}
		return withPrefix(names, toComplete), none
	}
}

// sortedUnique sorts names and drops repeats and empty names.
func sortedUnique(names []string) []string {
	sort.Strings(names)
	out := names[:0]
	for i, n := range names {
		if n != "" && (i == 0 || n != names[i-1]) {
			out = append(out, n)
		}
	}
	return out
}

// eachName collects one name per resource of a section, decoding only the field it is read from.
func eachName[T proto.Message](res configdump.Resources[T], field string, name func(T) string) ([]string, error) {
	var names []string
	err := configdump.Each(res.Select(configdump.Fields(field)), nil, func(m T) (string, error) {
		return name(m), nil
	}, func(n string) error {
		names = append(names, n)
		return nil
	})
	return sortedUnique(names), err
}

// routeNames are the route configurations' names, for --name.
func routeNames(d *configdump.Dump) ([]string, error) {
	res, err := d.RouteConfigResources()
	if err != nil {
		return nil, err
	}
	return eachName(res, "name", (*routev3.RouteConfiguration).GetName)
}

// fqdnNames are the clusters' SERVICE FQDN column, for --fqdn.
func fqdnNames(d *configdump.Dump) ([]string, error) {
	res, err := d.ClusterResources()
	if err != nil {
		return nil, err
	}
	return eachName(res, "name", func(c *clusterv3.Cluster) string {
		if configdump.IsSubsetKey(c.GetName()) {
			return configdump.ParseSubsetKey(c.GetName()).Host
		}
		return c.GetName()
	})
}

// endpointClusterNames are the clusters the endpoint view lists hosts of, for --cluster: from
// Envoy's /clusters document, or a config dump's EDS section.
func endpointClusterNames(d *configdump.Dump) ([]string, error) {
	if d.Kind() == configdump.KindClusterStatus {
		res, err := d.ClusterStatusResources()
		if err != nil {
			return nil, err
		}
		return eachName(res, "name", (*adminv3.ClusterStatus).GetName)
	}
	res, err := d.LoadAssignmentResources()
	if err != nil {
		return nil, err
	}
	return eachName(res, "cluster_name", (*endpointv3.ClusterLoadAssignment).GetClusterName)
}
