package diff

import (
	"testing"

	"github.com/proxyctl/proxyctl/configdump"
	"github.com/proxyctl/proxyctl/internal/testutil"
)

// FuzzDiff compares two documents, as pc diff does, on every option: whatever they hold,
// Compare returns a result or an error, never panics.
func FuzzDiff(f *testing.F) {
	seeds := testutil.FuzzSeeds(f)
	for i, s := range seeds {
		f.Add(s, s, false)
		f.Add(s, seeds[(i+1)%len(seeds)], true)
	}
	f.Fuzz(func(t *testing.T, a, b []byte, keep bool) {
		da, err := configdump.Parse(a)
		if err != nil {
			return
		}
		db, err := configdump.Parse(b)
		if err != nil {
			return
		}
		o := Options{KeepIdentity: keep, Documents: true}
		pa, err := Prepare(Side{Dump: da, Identity: Identity{PodNames: []string{"web-0"}, IPs: []string{"10.0.0.1"}}}, o)
		if err != nil {
			return
		}
		pb, err := Prepare(Side{Dump: db}, o)
		if err != nil {
			return
		}
		r, err := Compare(pa, pb, o)
		if err != nil {
			return
		}
		if r.Same() != (len(r.Resources) == 0) {
			t.Fatal("Same disagrees with the resources")
		}
		if _, err := GroupReplicas([]*Prepared{pa, pb, pa}, o); err != nil {
			return
		}
	})
}
