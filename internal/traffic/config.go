package traffic

import (
	"errors"
	"strings"

	adminv3 "github.com/envoyproxy/go-control-plane/envoy/admin/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/proxyctl/proxyctl/configdump"
)

// Config is what explain reads of a proxy's configuration, resource by resource, so that a
// large dump is decoded only where the request goes.
type Config interface {
	// NodeID is the bootstrap's node id, "" when the dump has no bootstrap.
	NodeID() string
	// Listeners returns every listener with only ListenerFields decoded.
	Listeners() ([]*listenerv3.Listener, error)
	// Listener decodes the i-th listener of Listeners whole.
	Listener(i int) (*listenerv3.Listener, error)
	// RouteConfig returns the route configuration of that name, nil when there is none.
	RouteConfig(name string) (*routev3.RouteConfiguration, error)
	// Cluster returns the cluster of that name, nil when there is none.
	Cluster(name string) (*clusterv3.Cluster, error)
	// LoadAssignment returns the EDS assignment of that service name: nil when there is none,
	// ErrNoEDS when the dump has no EDS section.
	LoadAssignment(name string) (*endpointv3.ClusterLoadAssignment, error)
	// ClusterStatus returns the /clusters status of a cluster: nil when there is none,
	// ErrNoEDS when there is no /clusters document.
	ClusterStatus(name string) (*adminv3.ClusterStatus, error)
	// Domains lists the domains of every virtual host of every route configuration (for
	// finding a destination address when none is given).
	Domains() ([][]string, error)
	Unmarshal(a *anypb.Any, m proto.Message) error
}

// ErrNoEDS is returned for endpoints a configuration does not carry.
var ErrNoEDS = errors.New("no endpoints in the configuration")

// DumpConfig reads a parsed config dump, and optionally Envoy's /clusters?format=json
// document for the hosts' health.
type DumpConfig struct {
	Dump   *configdump.Dump
	Status *configdump.Dump
	// Release, when set, is given the bytes of each section once a look-up has read it, so
	// that a caller that mapped the document can drop them from memory (they come back from
	// the file if read again).
	Release func([]byte)

	listeners configdump.Resources[*listenerv3.Listener]
}

var _ Config = (*DumpConfig)(nil)

// done releases the bytes of a section.
func (c *DumpConfig) done(s configdump.Section) {
	if c.Release == nil {
		return
	}
	for _, b := range c.Dump.SectionData(s) {
		c.Release(b)
	}
}

func (c *DumpConfig) NodeID() string {
	b, err := c.Dump.Bootstrap()
	if err != nil {
		return ""
	}
	return b.GetBootstrap().GetNode().GetId()
}

func (c *DumpConfig) Listeners() ([]*listenerv3.Listener, error) {
	res, err := c.Dump.ListenerResources()
	if err != nil {
		return nil, err
	}
	c.listeners = res
	defer c.done(configdump.ListenersSection)
	return res.Select(configdump.Fields(ListenerFields...)).Decode()
}

func (c *DumpConfig) Listener(i int) (*listenerv3.Listener, error) {
	// Choosing the listener read the typed configs of many: their pages are given back first.
	c.done(configdump.ListenersSection)
	var out *listenerv3.Listener
	err := configdump.Each(c.listeners, []int{i}, func(l *listenerv3.Listener) (*listenerv3.Listener, error) { return l, nil },
		func(l *listenerv3.Listener) error { out = l; return nil })
	return out, err
}

// byName finds the first resource whose key field equals name, decoding only that field of
// the resources whose JSON holds the name as a string (all of them, should an escaped spelling
// hide it), then the one found whole.
func byName[T proto.Message](res configdump.Resources[T], field, name string, key func(T) string) (T, error) {
	var zero T
	found, err := firstNamed(res, res.Containing(configdump.JSONString(name)), field, name, key)
	if err == nil && found < 0 {
		found, err = firstNamed(res, nil, field, name, key)
	}
	if err != nil || found < 0 {
		return zero, err
	}
	var out T
	err = configdump.Each(res, []int{found}, func(m T) (T, error) { return m, nil }, func(m T) error { out = m; return nil })
	return out, err
}

// firstNamed is the index of the first resource among indexes (all when nil) whose key is
// name, -1 when none.
func firstNamed[T proto.Message](res configdump.Resources[T], indexes []int, field, name string, key func(T) string) (int, error) {
	if indexes != nil && len(indexes) == 0 {
		return -1, nil
	}
	found, k := -1, 0
	err := configdump.Each(res.Select(configdump.Fields(field)), indexes, func(m T) (bool, error) { return key(m) == name, nil },
		func(ok bool) error {
			if ok && found < 0 {
				found = k
				if indexes != nil {
					found = indexes[k]
				}
			}
			k++
			return nil
		})
	return found, err
}

// Quick look-ups of one resource by name, on the section's bytes (see configdump.Lookup).
var (
	routeLookup = configdump.QuickLookup{Section: configdump.RoutesSection, Key: "name",
		TypeURLs: []string{"type.googleapis.com/envoy.config.route.v3.RouteConfiguration", "type.googleapis.com/envoy.api.v2.RouteConfiguration"}}
	clusterLookup = configdump.QuickLookup{Section: configdump.ClustersSection, Key: "name", Exclude: []string{"dynamic_warming_clusters"},
		TypeURLs: []string{"type.googleapis.com/envoy.config.cluster.v3.Cluster", "type.googleapis.com/envoy.api.v2.Cluster"}}
	edsLookup = configdump.QuickLookup{Section: configdump.EndpointsSection, Key: "cluster_name",
		TypeURLs: []string{"type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment", "type.googleapis.com/envoy.api.v2.ClusterLoadAssignment"}}
)

// quick tries the quick look-up; ok is false when the section must be decoded instead.
func quick[T proto.Message](c *DumpConfig, q configdump.QuickLookup, name string, m T) (T, bool, error) {
	var zero T
	found, sure, err := c.Dump.Lookup(q, name, m)
	if err != nil || !sure {
		return zero, false, nil // the section's decoding reports what is wrong, if anything
	}
	defer c.done(q.Section)
	if !found {
		return zero, true, nil
	}
	return m, true, nil
}

func (c *DumpConfig) RouteConfig(name string) (*routev3.RouteConfiguration, error) {
	return find(c, routeLookup, name, &routev3.RouteConfiguration{}, c.Dump.RouteConfigResources, (*routev3.RouteConfiguration).GetName, nil)
}

func (c *DumpConfig) Cluster(name string) (*clusterv3.Cluster, error) {
	return find(c, clusterLookup, name, &clusterv3.Cluster{}, c.Dump.ClusterResources, (*clusterv3.Cluster).GetName, nil)
}

func (c *DumpConfig) LoadAssignment(name string) (*endpointv3.ClusterLoadAssignment, error) {
	return find(c, edsLookup, name, &endpointv3.ClusterLoadAssignment{}, c.Dump.LoadAssignmentResources, (*endpointv3.ClusterLoadAssignment).GetClusterName, ErrNoEDS)
}

// find is the resource of q's section named name: by the quick lookup when it is sure, else
// from the section's decoded list. A dump without the section gives (nil, missing).
func find[T proto.Message](c *DumpConfig, q configdump.QuickLookup, name string, m T, list func() (configdump.Resources[T], error), key func(T) string, missing error) (T, error) {
	if r, ok, err := quick(c, q, name, m); ok || err != nil {
		return r, err
	}
	var zero T
	res, err := list()
	if err != nil {
		if errors.Is(err, configdump.ErrMissingSection) {
			return zero, missing
		}
		return zero, err
	}
	defer c.done(q.Section)
	return byName(res, q.Key, name, key)
}

func (c *DumpConfig) ClusterStatus(name string) (*adminv3.ClusterStatus, error) {
	if c.Status == nil {
		return nil, ErrNoEDS
	}
	res, err := c.Status.ClusterStatusResources()
	if err != nil {
		return nil, err
	}
	return byName(res, "name", name, (*adminv3.ClusterStatus).GetName)
}

func (c *DumpConfig) Domains() ([][]string, error) {
	res, err := c.Dump.RouteConfigResources()
	if err != nil {
		if errors.Is(err, configdump.ErrMissingSection) {
			return nil, nil
		}
		return nil, err
	}
	defer c.done(configdump.RoutesSection)
	var out [][]string
	err = configdump.Each(res.Select(configdump.Fields("virtual_hosts.domains")), nil,
		func(rc *routev3.RouteConfiguration) ([][]string, error) {
			var d [][]string
			for _, vh := range rc.GetVirtualHosts() {
				d = append(d, vh.GetDomains())
			}
			return d, nil
		}, func(d [][]string) error { out = append(out, d...); return nil })
	return out, err
}

func (c *DumpConfig) Unmarshal(a *anypb.Any, m proto.Message) error { return c.Dump.UnmarshalAny(a, m) }

// NodeIP is the IP address in an Istio node id (TYPE~IP~POD.NS~DOMAIN), "" when there is none.
func NodeIP(id string) string {
	parts := strings.Split(id, "~")
	if len(parts) < 2 {
		return ""
	}
	if _, ok := ParseIP(parts[1]); !ok {
		return ""
	}
	return parts[1]
}
