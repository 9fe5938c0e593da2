package traffic

import (
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/proto"

	"github.com/proxyctl/proxyctl/configdump"
	"github.com/proxyctl/proxyctl/internal/testutil"
)

// TestDumpConfigLookups: every resource found by name, on the byte search's quick path, is
// the one decoding the whole section finds.
func TestDumpConfigLookups(t *testing.T) {
	d, err := configdump.Parse(testutil.GeneratedDump(t, 8))
	if err != nil {
		t.Fatal(err)
	}
	c := &DumpConfig{Dump: d}
	clusters, err := must(d.ClusterResources()).Decode()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range clusters {
		got, err := c.Cluster(want.GetName())
		if err != nil || !proto.Equal(got, want) {
			t.Errorf("cluster %s: got %v (%v)", want.GetName(), got.GetName(), err)
		}
	}
	routes, err := must(d.RouteConfigResources()).Decode()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, r := range routes {
		seen[r.GetName()]++
	}
	for _, want := range routes {
		if seen[want.GetName()] > 1 {
			continue // the first of that name is found
		}
		got, err := c.RouteConfig(want.GetName())
		if err != nil || !proto.Equal(got, want) {
			t.Errorf("route configuration %s: got %v (%v)", want.GetName(), got.GetName(), err)
		}
	}
	eds, err := must(d.LoadAssignmentResources()).Decode()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range eds {
		got, err := c.LoadAssignment(want.GetClusterName())
		if err != nil || !proto.Equal(got, want) {
			t.Errorf("assignment %s: got %v (%v)", want.GetClusterName(), got.GetClusterName(), err)
		}
	}
	for _, miss := range []func() (proto.Message, error){
		func() (proto.Message, error) { return c.Cluster("no-such-cluster") },
		func() (proto.Message, error) { return c.RouteConfig("no-such-route") },
		func() (proto.Message, error) { return c.LoadAssignment("no-such-assignment") },
	} {
		if m, err := miss(); err != nil || !isNil(m) {
			t.Errorf("a missing name: got %v, %v", m, err)
		}
	}
	if len(clusters) < 10 || len(routes) < 5 || len(eds) < 5 {
		t.Errorf("the generated dump is too small to test: %d clusters, %d routes, %d assignments", len(clusters), len(routes), len(eds))
	}
}

func isNil(m proto.Message) bool {
	switch v := m.(type) {
	case *clusterv3.Cluster:
		return v == nil
	case *routev3.RouteConfiguration:
		return v == nil
	case *endpointv3.ClusterLoadAssignment:
		return v == nil
	}
	return m == nil
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
