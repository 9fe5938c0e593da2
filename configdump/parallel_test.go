package configdump

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
)

// longDump is a config dump whose clusters section lists n clusters (enough to be decoded and
// checked on all cores), each with a secret, the cluster at index bad (if any) with a value of
// the wrong type.
func longDump(n, bad int) []byte {
	var b strings.Builder
	b.WriteString(`{"configs": [{"@type": "type.googleapis.com/envoy.admin.v3.ClustersConfigDump", "version_info": "1", "dynamic_active_clusters": [`)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(",\n")
		}
		timeout := `"1s"`
		if i == bad {
			timeout = `5`
		}
		fmt.Fprintf(&b, `{"version_info": "v%d", "cluster": {"@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster", "name": "c%d", "connect_timeout": %s,
			"transport_socket": {"name": "tls", "typed_config": {"@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
			"common_tls_context": {"tls_certificates": [{"private_key": {"inline_string": "KEY%d"}}]}}}}, "last_updated": "2024-01-02T03:04:05Z"}`, i, i, timeout, i)
	}
	b.WriteString(`]}]}`)
	return []byte(b.String())
}

// TestParallelSections: the lists of a section decoded and checked on all cores give what
// one at a time gives: the same section, the same secrets, the same first error.
func TestParallelSections(t *testing.T) {
	for _, bad := range []int{-1, 3, 150} {
		t.Run(fmt.Sprint("bad ", bad), func(t *testing.T) {
			data := longDump(300, bad)
			d, err := Parse(data)
			if err != nil {
				t.Fatal(err)
			}
			if len(d.lists) != 1 || d.lists[0].objects != 300 {
				t.Fatalf("index found lists %+v, want one of 300 objects", d.lists)
			}
			// The same document, its lists not known: decoded and checked one element at a time.
			sequential := &Dump{src: d.src, kind: d.kind, spans: d.spans, unknown: &typeSet{}, decoded: map[Section]proto.Message{}}
			gotRed, gotErr := d.Redactions()
			wantRed, wantErr := sequential.Redactions()
			if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
				t.Errorf("Redactions: error %v, one at a time %v", gotErr, wantErr)
			}
			if !reflect.DeepEqual(gotRed, wantRed) {
				t.Errorf("Redactions: %d replacements, one at a time %d", len(gotRed), len(wantRed))
			}
			if bad < 0 && len(gotRed) != 300 {
				t.Errorf("%d secrets found, want 300", len(gotRed))
			}
			if bad >= 0 && (gotErr == nil || !strings.Contains(gotErr.Error(), fmt.Sprintf("dynamic_active_clusters[%d]", bad))) {
				t.Errorf("error %v, want one at dynamic_active_clusters[%d]", gotErr, bad)
			}
			if a, b := fmt.Sprint(d.CheckSection(ClustersSection)), fmt.Sprint(sequential.CheckSection(ClustersSection)); a != b {
				t.Errorf("CheckSection: %s, one at a time %s", a, b)
			}

			// The section decoded (the typed configs stay raw).
			got, want := d.newSectionMessage(), sequential.newSectionMessage()
			gerr, werr := d.decodeSection(d.sectionValues(ClustersSection)[0], got), sequential.decodeSection(d.sectionValues(ClustersSection)[0], want)
			if fmt.Sprint(gerr) != fmt.Sprint(werr) || !proto.Equal(got, want) {
				t.Errorf("decodeSection: %v, one at a time %v; equal: %v", gerr, werr, proto.Equal(got, want))
			}
		})
	}
}

func (d *Dump) newSectionMessage() proto.Message {
	return resolveType("type.googleapis.com/" + string(ClustersSection)).New().Interface()
}
