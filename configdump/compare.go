package configdump

import (
	"fmt"
	"sort"
	"time"

	adminv3 "github.com/envoyproxy/go-control-plane/envoy/admin/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// Entry is one dynamic resource as istioctl's proxy-status diff compares it: the section's
// entry (version and update time stripped) and the resource's name it is ordered by.
type Entry struct {
	Name  string
	Entry proto.Message
}

// ComparedSection is one of the sections the diff compares, with the JSON field its entries
// sit under.
type ComparedSection struct {
	Section Section
	Title   string // "Clusters", "Listeners", "Routes"
	Field   string // "dynamicActiveClusters", ...
	Entries []Entry
}

// DynamicClusters returns the dynamic active clusters, ordered by name, without version and
// update time.
func (d *Dump) DynamicClusters() (ComparedSection, error) {
	out := ComparedSection{Section: ClustersSection, Title: "Clusters", Field: "dynamicActiveClusters"}
	cd, err := section(d, ClustersSection, func() *adminv3.ClustersConfigDump { return &adminv3.ClustersConfigDump{} })
	if err != nil {
		return out, err
	}
	for _, c := range cd.DynamicActiveClusters {
		if c.Cluster == nil {
			continue
		}
		name, err := resourceName(d, c.Cluster, &clusterv3.Cluster{})
		if err != nil {
			return out, fmt.Errorf("dynamic_active_clusters: %w", err)
		}
		e := &adminv3.ClustersConfigDump_DynamicCluster{Cluster: c.Cluster, ClientStatus: c.ClientStatus, ErrorState: c.ErrorState}
		out.Entries = append(out.Entries, Entry{name, e})
	}
	sortEntries(out.Entries)
	return out, nil
}

// DynamicListeners returns the dynamic listeners with an active state, ordered by name,
// without draining state, version, update time and the dynamic listener's own name (which
// Envoy sets and istiod does not).
func (d *Dump) DynamicListeners() (ComparedSection, error) {
	out := ComparedSection{Section: ListenersSection, Title: "Listeners", Field: "dynamicListeners"}
	ld, err := section(d, ListenersSection, func() *adminv3.ListenersConfigDump { return &adminv3.ListenersConfigDump{} })
	if err != nil {
		return out, err
	}
	for _, l := range ld.DynamicListeners {
		if l.GetActiveState().GetListener() == nil {
			continue
		}
		name, err := resourceName(d, l.ActiveState.Listener, &listenerv3.Listener{})
		if err != nil {
			return out, fmt.Errorf("dynamic_listeners: %w", err)
		}
		e := &adminv3.ListenersConfigDump_DynamicListener{
			ActiveState:  &adminv3.ListenersConfigDump_DynamicListenerState{Listener: l.ActiveState.Listener},
			WarmingState: l.WarmingState,
			ErrorState:   l.ErrorState,
			ClientStatus: l.ClientStatus,
		}
		out.Entries = append(out.Entries, Entry{name, e})
	}
	sortEntries(out.Entries)
	return out, nil
}

// DynamicRoutes returns the dynamic route configurations, ordered by name, each with its
// virtual hosts ordered by name, without version and update time.
func (d *Dump) DynamicRoutes() (ComparedSection, error) {
	out := ComparedSection{Section: RoutesSection, Title: "Routes", Field: "dynamicRouteConfigs"}
	rd, err := section(d, RoutesSection, func() *adminv3.RoutesConfigDump { return &adminv3.RoutesConfigDump{} })
	if err != nil {
		return out, err
	}
	for _, r := range rd.DynamicRouteConfigs {
		if r.RouteConfig == nil {
			continue
		}
		rc := &routev3.RouteConfiguration{}
		if err := d.UnmarshalAny(r.RouteConfig, rc); err != nil {
			return out, fmt.Errorf("dynamic_route_configs: %w", err)
		}
		sort.Slice(rc.VirtualHosts, func(i, j int) bool { return rc.VirtualHosts[i].GetName() < rc.VirtualHosts[j].GetName() })
		packed, err := anypb.New(rc)
		if err != nil {
			return out, err
		}
		e := &adminv3.RoutesConfigDump_DynamicRouteConfig{RouteConfig: packed, ClientStatus: r.ClientStatus, ErrorState: r.ErrorState}
		out.Entries = append(out.Entries, Entry{rc.GetName(), e})
	}
	sortEntries(out.Entries)
	return out, nil
}

// LastRouteUpdate is when the most recently updated dynamic route configuration was loaded.
func (d *Dump) LastRouteUpdate() (time.Time, bool) {
	rd, err := section(d, RoutesSection, func() *adminv3.RoutesConfigDump { return &adminv3.RoutesConfigDump{} })
	if err != nil {
		return time.Time{}, false
	}
	var last time.Time
	for _, r := range rd.DynamicRouteConfigs {
		if t := r.GetLastUpdated(); t != nil && t.AsTime().After(last) {
			last = t.AsTime()
		}
	}
	return last, last.After(time.Unix(0, 0))
}

// resourceName reads the name of a resource (its first field, "name").
func resourceName[T interface {
	proto.Message
	GetName() string
}](d *Dump, a *anypb.Any, m T) (string, error) {
	if err := unmarshalAnyValue(a.GetValue(), m, d.src, d.unknown, Fields("name")); err != nil {
		return "", err
	}
	return m.GetName(), nil
}

func sortEntries(es []Entry) {
	sort.Slice(es, func(i, j int) bool { return es[i].Name < es[j].Name })
}
