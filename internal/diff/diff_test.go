package diff

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/proxyctl/proxyctl/configdump"
	"github.com/proxyctl/proxyctl/internal/gendump"
	"github.com/proxyctl/proxyctl/internal/testutil"
)

var (
	generate  = testutil.Generate
	edit      = testutil.EditDump
	sectionOf = testutil.Section
	find      = testutil.Find
)

func compare(t *testing.T, a, b []byte, ida, idb Identity, o Options) *Result {
	t.Helper()
	da, err := configdump.Parse(a)
	if err != nil {
		t.Fatal(err)
	}
	db, err := configdump.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	pa, err := Prepare(Side{Dump: da, Identity: ida}, o)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := Prepare(Side{Dump: db, Identity: idb}, o)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Compare(pa, pb, o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// summary lists a result's resources as "kind name change: paths".
func summary(r *Result) []string {
	var out []string
	for _, res := range r.Resources {
		var paths []string
		for _, f := range res.Fields {
			paths = append(paths, f.Path)
		}
		out = append(out, fmt.Sprintf("%s %s %s: %s", res.Kind, res.Name, res.Change, strings.Join(paths, ", ")))
	}
	return out
}

func TestNoise(t *testing.T) {
	base := generate(t, gendump.Options{})
	reordered := edit(t, base, func(configs []any) {
		// Every list of resources, every filter chain list and every virtual host list in
		// reverse; every version and update time changed.
		for _, c := range configs {
			for k, v := range c.(map[string]any) {
				switch k {
				case "version_info":
					c.(map[string]any)[k] = "2030-01-01T00:00:00Z/999"
				case "last_updated":
					c.(map[string]any)[k] = "2030-01-01T00:00:00.000Z"
				}
				list, ok := v.([]any)
				if !ok {
					continue
				}
				for i, j := 0, len(list)-1; i < j; i, j = i+1, j-1 {
					list[i], list[j] = list[j], list[i]
				}
				for _, e := range list {
					for wk, wv := range e.(map[string]any) {
						switch wk {
						case "version_info", "last_updated":
							e.(map[string]any)[wk] = "2030-01-01T00:00:00.000Z"
						}
						inner, ok := wv.(map[string]any)
						if !ok {
							continue
						}
						if l, ok := inner["listener"].(map[string]any); ok {
							inner = l
						}
						for _, field := range []string{"filter_chains", "virtual_hosts"} {
							if fl, ok := inner[field].([]any); ok {
								for i, j := 0, len(fl)-1; i < j; i, j = i+1, j-1 {
									fl[i], fl[j] = fl[j], fl[i]
								}
							}
						}
					}
				}
			}
		}
	})
	later := generate(t, gendump.Options{Later: true})
	for name, other := range map[string][]byte{"reordered": reordered, "later": later} {
		t.Run(name, func(t *testing.T) {
			if bytes.Equal(other, base) {
				t.Fatal("the two dumps are the same bytes: the test would prove nothing")
			}
			r := compare(t, base, other, Identity{}, Identity{}, Options{})
			if !r.Same() {
				t.Errorf("two dumps of one proxy differing only in noise compare as different:\n%s", strings.Join(summary(r), "\n"))
			}
			if r.Compared[Cluster] == 0 || r.Compared[Listener] == 0 || r.Compared[Route] == 0 || r.Compared[Endpoint] == 0 || r.Compared[Secret] == 0 {
				t.Errorf("compared %v: every kind should have been", r.Compared)
			}
		})
	}
}

func TestRealChanges(t *testing.T) {
	base := generate(t, gendump.Options{})
	cases := []struct {
		name string
		edit func(configs []any)
		want []string
	}{
		{"route added", func(configs []any) {
			rc := find(sectionOf(configs, "RoutesConfigDump")["dynamic_route_configs"], "route_config.name", "9080")["route_config"].(map[string]any)
			vh := find(rc["virtual_hosts"], "name", "ratings.default.svc.cluster.local:9080")
			routes := vh["routes"].([]any)
			added := map[string]any{"name": "v2", "match": map[string]any{"prefix": "/v2"}, "route": map[string]any{"cluster": "outbound|9080|v2|ratings.default.svc.cluster.local"}}
			vh["routes"] = append([]any{added}, routes...)
		}, []string{"route 9080 changed: virtual_hosts[ratings.default.svc.cluster.local:9080].routes[v2]"}},
		{"routes reordered", func(configs []any) {
			rc := find(sectionOf(configs, "RoutesConfigDump")["dynamic_route_configs"], "route_config.name", "9080")["route_config"].(map[string]any)
			vh := find(rc["virtual_hosts"], "name", "reviews.default.svc.cluster.local:9080")
			routes := vh["routes"].([]any)
			routes[0], routes[1] = routes[1], routes[0]
		}, []string{"route 9080 changed: virtual_hosts[reviews.default.svc.cluster.local:9080].routes (order)"}},
		{"cluster TLS changed", func(configs []any) {
			c := find(sectionOf(configs, "ClustersConfigDump")["dynamic_active_clusters"], "cluster.name", "outbound|9080||ratings.default.svc.cluster.local")["cluster"].(map[string]any)
			tls := find(c["transport_socket_matches"], "name", "tlsMode-istio")["transport_socket"].(map[string]any)["typed_config"].(map[string]any)
			tls["common_tls_context"].(map[string]any)["tls_params"].(map[string]any)["tls_minimum_protocol_version"] = "TLSv1_3"
		}, []string{"cluster outbound|9080||ratings.default.svc.cluster.local changed: transport_socket_matches[tlsMode-istio].transport_socket.typed_config.common_tls_context.tls_params.tls_minimum_protocol_version"}},
		{"endpoint removed", func(configs []any) {
			cla := find(sectionOf(configs, "EndpointsConfigDump")["dynamic_endpoint_configs"], "endpoint_config.cluster_name", "outbound|9080||reviews.default.svc.cluster.local")["endpoint_config"].(map[string]any)
			lb := cla["endpoints"].([]any)[0].(map[string]any)
			lb["lb_endpoints"] = append(lb["lb_endpoints"].([]any), map[string]any{
				"endpoint":      map[string]any{"address": map[string]any{"socket_address": map[string]any{"address": "10.9.9.9", "port_value": 9080}}},
				"health_status": "HEALTHY",
			})
		}, []string{"endpoint outbound|9080||reviews.default.svc.cluster.local changed: endpoints[us-central1/us-central1-c].lb_endpoints[10.9.9.9:9080]"}},
		{"listener filter chain changed", func(configs []any) {
			l := find(sectionOf(configs, "ListenersConfigDump")["dynamic_listeners"], "name", "virtualInbound")["active_state"].(map[string]any)["listener"].(map[string]any)
			for _, fc := range l["filter_chains"].([]any) {
				m := fc.(map[string]any)
				if m["name"] == "virtualInbound-blackhole" {
					m["transport_socket_connect_timeout"] = "5s"
				}
			}
		}, []string{"listener virtualInbound changed: filter_chains[virtualInbound-blackhole{destination_port=15006}].transport_socket_connect_timeout"}},
		{"inbound filter chain of a shared name changed", func(configs []any) {
			l := find(sectionOf(configs, "ListenersConfigDump")["dynamic_listeners"], "name", "virtualInbound")["active_state"].(map[string]any)["listener"].(map[string]any)
			for _, fc := range l["filter_chains"].([]any) {
				m := fc.(map[string]any)
				if m["name"] == "inbound|9080||" && m["filter_chain_match"].(map[string]any)["transport_protocol"] == "raw_buffer" && m["filter_chain_match"].(map[string]any)["application_protocols"] == nil {
					m["transport_socket_connect_timeout"] = "5s"
				}
			}
		}, []string{"listener virtualInbound changed: filter_chains[inbound|9080||{destination_port=9080,transport_protocol=raw_buffer}].transport_socket_connect_timeout"}},
		{"cluster removed", func(configs []any) {
			s := sectionOf(configs, "ClustersConfigDump")
			list := s["dynamic_active_clusters"].([]any)
			s["dynamic_active_clusters"] = list[1:]
		}, []string{"cluster BlackHoleCluster removed: "}},
		{"bootstrap changed", func(configs []any) {
			b := sectionOf(configs, "BootstrapConfigDump")["bootstrap"].(map[string]any)
			b["node"].(map[string]any)["metadata"].(map[string]any)["ISTIO_VERSION"] = "1.99.0"
		}, []string{"bootstrap bootstrap changed: node.metadata[ISTIO_VERSION]"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := compare(t, base, edit(t, base, tc.edit), Identity{}, Identity{}, Options{})
			got := summary(r)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestReplicasIdentity(t *testing.T) {
	r0 := generate(t, gendump.Options{Replicas: 3, Replica: 0})
	r1 := generate(t, gendump.Options{Replicas: 3, Replica: 1})
	r2 := edit(t, generate(t, gendump.Options{Replicas: 3, Replica: 2}), func(configs []any) {
		c := find(sectionOf(configs, "ClustersConfigDump")["dynamic_active_clusters"], "cluster.name", "outbound|9080||details.default.svc.cluster.local")["cluster"].(map[string]any)
		c["connect_timeout"] = "3s"
	})
	if r := compare(t, r0, r1, Identity{}, Identity{}, Options{}); !r.Same() || !r.Normalised {
		t.Errorf("two replicas differ (normalised %v):\n%s", r.Normalised, strings.Join(summary(r), "\n"))
	}
	r := compare(t, r0, r1, Identity{}, Identity{}, Options{KeepIdentity: true})
	got := strings.Join(summary(r), "\n")
	for _, want := range []string{"bootstrap bootstrap changed: node.id, node.metadata[INSTANCE_IPS], node.metadata[NAME], node.metadata[NODE_NAME]"} {
		if !strings.Contains(got, want) {
			t.Errorf("with --keep-identity, got\n%s\nwant a line %q", got, want)
		}
	}
	// Grouping: r0 and r1 together, r2 apart.
	var prepared []*Prepared
	for _, doc := range [][]byte{r0, r2, r1} {
		d, err := configdump.Parse(doc)
		if err != nil {
			t.Fatal(err)
		}
		p, err := Prepare(Side{Dump: d}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		prepared = append(prepared, p)
	}
	groups, err := GroupReplicas(prepared, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(groups) != "[{[0 2]} {[1]}]" {
		t.Errorf("groups %v, want [{[0 2]} {[1]}]", groups)
	}
}

func TestSecretsNeverShowKeyMaterial(t *testing.T) {
	base := generate(t, gendump.Options{})
	const key = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7secret\n-----END PRIVATE KEY-----\n"
	withKey := edit(t, base, func(configs []any) {
		s := find(sectionOf(configs, "SecretsConfigDump")["dynamic_active_secrets"], "name", "default")["secret"].(map[string]any)
		s["tls_certificate"].(map[string]any)["private_key"] = map[string]any{"inline_string": key}
	})
	r := compare(t, withKey, generate(t, gendump.Options{Seed: 2}), Identity{}, Identity{}, Options{Kinds: []Kind{Secret}, Documents: true})
	out, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(out, []byte("secret\\n")) || bytes.Contains(out, []byte("PRIVATE KEY")) {
		t.Errorf("key material in the result: %s", out)
	}
	if !bytes.Contains(out, []byte("serial_number")) || !bytes.Contains(out, []byte(configdump.Redacted)) {
		t.Errorf("the result shows no certificate metadata or no redacted key: %s", out)
	}
}

func TestReplacer(t *testing.T) {
	own := Identity{PodNames: []string{"web-0"}, IPs: []string{"10.0.0.1", "127.0.0.1"}, NodeID: "sidecar~10.0.0.1~web-0.shop~shop.svc.cluster.local"}
	peer := Identity{PodNames: []string{"web-1"}, IPs: []string{"10.0.0.2"}}
	r := newReplacer(own, peer)
	cases := map[string]string{
		"10.0.0.1_8080":                 "<POD_IP>_8080",
		"10.0.0.12":                     "10.0.0.12",
		"110.0.0.1":                     "110.0.0.1",
		"inbound_10.0.0.1_9080":         "inbound_<POD_IP>_9080",
		"kubernetes://web-0.shop":       "kubernetes://<POD_NAME>.shop",
		"web-01":                        "web-01",
		"web-0-canary":                  "web-0-canary",
		"10.0.0.2:80,10.0.0.1:80":       "<PEER_POD_IP>:80,<POD_IP>:80",
		"127.0.0.1:15000":               "127.0.0.1:15000",
		own.NodeID:                      "<NODE_ID>",
		"web-1 talks to web-0":          "<PEER_POD_NAME> talks to <POD_NAME>",
		"no identity here, 10.0.0.100.": "no identity here, 10.0.0.100.",
	}
	for in, want := range cases {
		if got := r.apply(in); got != want {
			t.Errorf("apply(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestKeys(t *testing.T) {
	ord := func(keys ...string) *node {
		l := &node{kind: listNode, keyed: true, ordered: true}
		for _, k := range keys {
			l.items = append(l.items, item{k, scalar(k)})
		}
		return l
	}
	if got := diffNodes("filters", ord("a", "b", "c"), ord("a", "c", "b"), nil); len(got) != 1 || got[0].Path != "filters (order)" {
		t.Errorf("order change: %+v", got)
	}
	pos := func(vals ...string) *node {
		l := &node{kind: listNode, ordered: true}
		for _, v := range vals {
			l.items = append(l.items, item{n: scalar(v)})
		}
		return l
	}
	got := diffNodes("domains", pos("a", "b", "c"), pos("a", "x", "b", "c"), nil)
	if len(got) != 1 || got[0].Path != "domains[1]" || got[0].HasOld || got[0].New != "x" {
		t.Errorf("an item inserted in a positional list: %+v, want one addition at domains[1]", got)
	}
	for _, tc := range []struct{ in, want string }{
		{"cluster", "cluster"}, {"EDS", "endpoint"}, {"routes", "route"}, {"Secrets", "secret"},
	} {
		if k, err := ParseKind(tc.in); err != nil || string(k) != tc.want {
			t.Errorf("ParseKind(%q) = %q, %v", tc.in, k, err)
		}
	}
	if _, err := ParseKind("foo"); err == nil {
		t.Error("ParseKind(foo) succeeded")
	}
	re := regexp.MustCompile("^outbound")
	base := generate(t, gendump.Options{})
	r := compare(t, base, edit(t, base, func(configs []any) {
		s := sectionOf(configs, "ClustersConfigDump")
		s["dynamic_active_clusters"] = []any{}
	}), Identity{}, Identity{}, Options{Kinds: []Kind{Cluster}, Name: re})
	for _, res := range r.Resources {
		if !re.MatchString(res.Name) || res.Kind != Cluster {
			t.Errorf("--type cluster --name ^outbound reported %s %s", res.Kind, res.Name)
		}
	}
	if len(r.Resources) == 0 {
		t.Error("nothing reported")
	}
}

// TestReplicaOfRealDump makes a second replica of a real Istio 1.5 sidecar, whose pod IP is in
// its inbound listeners' names, addresses and stat prefixes and whose pod name is in its
// bootstrap: with its identity normalised it is the same as the first, without it differs in
// the listeners and the bootstrap only.
func TestReplicaOfRealDump(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(testutil.Root(), "..", "shared", "conformance", "dumps", "bing__bookinfo-bookinfo-config-dump__productpage-config-dump.json"))
	if err != nil {
		t.Skip("../shared not found beside the checkout")
	}
	replica := bytes.ReplaceAll(doc, []byte("10.44.0.11"), []byte("10.44.0.57"))
	replica = bytes.ReplaceAll(replica, []byte("productpage-v1-7d6cfb7dfd-ccspq"), []byte("productpage-v1-7d6cfb7dfd-x9k2w"))
	if bytes.Equal(replica, doc) {
		t.Fatal("the dump no longer has the identity the test replaces")
	}
	if r := compare(t, doc, replica, Identity{}, Identity{}, Options{}); !r.Same() || !r.Normalised {
		t.Errorf("replicas differ (normalised %v):\n%s", r.Normalised, strings.Join(summary(r), "\n"))
	}
	r := compare(t, doc, replica, Identity{}, Identity{}, Options{KeepIdentity: true})
	kinds := map[Kind]int{}
	for _, res := range r.Resources {
		kinds[res.Kind]++
	}
	if kinds[Bootstrap] != 1 || kinds[Listener] < 2 || len(kinds) != 2 {
		t.Errorf("with the identity kept: %v\n%s", kinds, strings.Join(summary(r), "\n"))
	}
}
