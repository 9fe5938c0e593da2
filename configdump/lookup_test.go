package configdump

import (
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
)

func TestLookup(t *testing.T) {
	q := QuickLookup{Section: ClustersSection, Key: "name", Exclude: []string{"dynamic_warming_clusters"},
		TypeURLs: []string{"type.googleapis.com/envoy.config.cluster.v3.Cluster", "type.googleapis.com/envoy.api.v2.Cluster"}}
	dump := func(clusters string) string {
		return `{"configs":[{"@type":"type.googleapis.com/envoy.admin.v3.ClustersConfigDump","dynamic_active_clusters":[` + clusters + `]}]}`
	}
	cl := func(name, rest string) string {
		return `{"cluster": {"@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster",` + "\n   " + `"name": "` + name + `"` + rest + `}}`
	}
	tests := []struct {
		name, doc, value string
		found, sure      bool
		typ              string
	}{
		{"one cluster", dump(cl("a|80", `,"type":"EDS"`) + "," + cl("b|80", `,"type":"STATIC"`)), "b|80", true, true, "STATIC"},
		{"a v2 cluster", dump(`{"cluster":{"@type":"type.googleapis.com/envoy.api.v2.Cluster","name":"v2","type":"STRICT_DNS"}}`), "v2", true, true, "STRICT_DNS"},
		{"a longer name is another", dump(cl("a|80x", "")), "a|80", false, true, ""},
		{"two of that name", dump(cl("a", "") + "," + cl("a", "")), "a", false, false, ""},
		{"the name under the key elsewhere too", dump(cl("a", `,"transport_socket":{"name":"a"}`)), "a", false, false, ""},
		{"the name under another key does not count", dump(cl("a", `,"alt_stat_name":"a"`)), "a", true, true, "STATIC"},
		{"a layout other than Envoy's", dump(`{"cluster":{"name":"a","@type":"type.googleapis.com/envoy.config.cluster.v3.Cluster"}}`), "a", false, false, ""},
		{"warming clusters", `{"configs":[{"@type":"type.googleapis.com/envoy.admin.v3.ClustersConfigDump","dynamic_warming_clusters":[` + cl("a", "") + `]}]}`, "a", false, false, ""},
		{"not there", dump(cl("a", "")), "b", false, true, ""},
		{"not there, the section has an escape", dump(cl("a", `,"alt_stat_name":"x\\ny"`)), "b", false, false, ""},
		{"not there, an escaped spelling of it could be", dump(cl(`\u0062`, "")), "b", false, false, ""},
		{"not there, a value its JSON escapes", dump(cl("a", "")), "b\u2028", false, false, ""},
		{"the value elsewhere only", dump(cl("a", `,"alt_stat_name":"b"`)), "b", false, false, ""},
		{"no section", `{"configs":[]}`, "a", false, false, ""},
		{"the empty name: an unnamed cluster has it", dump(`{"cluster":{"@type":"type.googleapis.com/envoy.config.cluster.v3.Cluster","type":"EDS"}}`), "", false, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Parse([]byte(tt.doc))
			if err != nil {
				t.Fatal(err)
			}
			c := &clusterv3.Cluster{}
			found, sure, err := d.Lookup(q, tt.value, c)
			if err != nil || found != tt.found || sure != tt.sure {
				t.Fatalf("got found %v sure %v err %v, want %v %v", found, sure, err, tt.found, tt.sure)
			}
			if found && (c.GetName() != tt.value || c.GetType().String() != tt.typ) {
				t.Errorf("decoded %q type %s, want %q %s", c.GetName(), c.GetType(), tt.value, tt.typ)
			}
		})
	}
}
