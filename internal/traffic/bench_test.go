package traffic

import (
	"testing"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"

	"github.com/proxyctl/proxyctl/configdump"
	"github.com/proxyctl/proxyctl/internal/testutil"
)

// largestRouteConfig is the route configuration with the most virtual hosts of a generated
// mesh of n services.
func largestRouteConfig(b *testing.B, n int) (*routev3.RouteConfiguration, *configdump.Dump) {
	d, err := configdump.Parse(testutil.GeneratedDump(b, n))
	if err != nil {
		b.Fatal(err)
	}
	res, err := d.RouteConfigResources()
	if err != nil {
		b.Fatal(err)
	}
	rcs, err := res.Decode()
	if err != nil {
		b.Fatal(err)
	}
	best := rcs[0]
	for _, rc := range rcs {
		if len(rc.GetVirtualHosts()) > len(best.GetVirtualHosts()) {
			best = rc
		}
	}
	return best, d
}

// BenchmarkNewRouter compiles the largest route configuration of a 1000-service mesh.
func BenchmarkNewRouter(b *testing.B) {
	rc, d := largestRouteConfig(b, 1000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := NewRouter(rc, Options{UnmarshalAny: d.UnmarshalAny}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRoute routes a request to each virtual host of that configuration.
func BenchmarkRoute(b *testing.B) {
	rc, d := largestRouteConfig(b, 1000)
	r, err := NewRouter(rc, Options{UnmarshalAny: d.UnmarshalAny})
	if err != nil {
		b.Fatal(err)
	}
	var reqs []*Request
	for _, vh := range rc.GetVirtualHosts() {
		reqs = append(reqs, get(vh.GetDomains()[0], "/api/v1/items?id=1", "x-canary", "true"))
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if res := r.Route(reqs[i%len(reqs)]); res.VirtualHost == nil {
			b.Fatal(res.Trace)
		}
	}
}
