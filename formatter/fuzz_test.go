package formatter

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
	"unicode"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/protobuf/proto"
	"sigs.k8s.io/yaml"

	"github.com/proxyctl/proxyctl/configdump"
	"github.com/proxyctl/proxyctl/internal/istiod"
	"github.com/proxyctl/proxyctl/internal/istiod/istiodtest"
	"github.com/proxyctl/proxyctl/internal/testutil"
)

// FuzzProxyDiff compares arbitrary dumps as proxy-status does: a dump compared with itself
// matches in every section, and whether two dumps differ does not depend on which is istiod's.
func FuzzProxyDiff(f *testing.F) {
	seeds := testutil.FuzzSeeds(f)
	istiodDump, err := os.ReadFile(filepath.Join(psFixtureDir, "configdump", "reviews-v1.json"))
	if err != nil {
		f.Fatal(err)
	}
	seeds = append(seeds, istiodDump)
	for i, a := range seeds {
		f.Add(a, a)
		f.Add(a, seeds[(i+1)%len(seeds)])
	}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		da, err := configdump.Parse(a)
		if err != nil {
			return
		}
		var out bytes.Buffer
		same, err := configdump.Parse(a)
		if err != nil {
			t.Fatalf("the same document parses once and not twice: %v", err)
		}
		if differs, err := ProxyDiff(&out, da, same, time.UTC); err == nil && differs {
			t.Fatalf("a dump differs from itself:\n%.3000s", out.String())
		}
		db, err := configdump.Parse(b)
		if err != nil {
			return
		}
		ab, errAB := ProxyDiff(&out, da, db, time.UTC)
		ba, errBA := ProxyDiff(&out, db, da, time.UTC)
		if (errAB == nil) != (errBA == nil) || ab != ba {
			t.Fatalf("a against b: differs %v, %v; b against a: differs %v, %v", ab, errAB, ba, errBA)
		}
	})
}

// FuzzProxyStatus reads arbitrary /debug/syncz answers and prints them in every proxy-status
// view: either the answer is refused, or every view prints (JSON and YAML that parse).
func FuzzProxyStatus(f *testing.F) {
	files, err := filepath.Glob(filepath.Join(psFixtureDir, "*", "*.json"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no syncz fixtures: %v", err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := istiod.DecodeSyncz(bytes.NewReader(data))
		if err != nil {
			return
		}
		rows := istiod.Rows("istiod-0", entries)
		istiod.SortRows(rows)
		for _, opts := range []ProxyStatusOptions{{}, {Verbosity: 1, Now: psNow}, {Output: "json"}, {Output: "yaml"}} {
			var out bytes.Buffer
			if err := WriteProxyStatus(&out, rows, opts); err != nil {
				t.Fatalf("%+v: %v", opts, err)
			}
			switch opts.Output {
			case "json":
				if !json.Valid(out.Bytes()) {
					t.Fatalf("invalid JSON:\n%s", out.Bytes())
				}
			case "yaml":
				if _, err := yaml.YAMLToJSON(out.Bytes()); err != nil {
					t.Fatalf("invalid YAML: %v\n%s", err, out.Bytes())
				}
			}
		}
	})
}

// FuzzProxyStatusXDS reads arbitrary answers to istiod's xDS debug type istio.io/debug/syncz
// (a DiscoveryResponse of ClientConfigs, from a broken or hostile server) and prints them in
// every proxy-status view: either the answer is refused, or every view prints (JSON and YAML
// that parse, tables without a raw control character).
func FuzzProxyStatusXDS(f *testing.F) {
	files, err := filepath.Glob(filepath.Join(psFixtureDir, "*", "*.json"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no syncz fixtures: %v", err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		configs, err := istiodtest.ClientConfigs(data)
		if err != nil {
			continue // not a syncz fixture
		}
		seed, err := proto.Marshal(&discoveryv3.DiscoveryResponse{
			TypeUrl: istiod.TypeDebugSyncz, Resources: configs,
			ControlPlane: &corev3.ControlPlane{Identifier: `{"Component":"istiod","ID":"istiod-0"}`},
		})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		resp := &discoveryv3.DiscoveryResponse{}
		if err := proto.Unmarshal(data, resp); err != nil {
			return
		}
		rows, err := istiod.SynczRows(resp, "", "127.0.0.1:15012")
		if err != nil {
			return
		}
		istiod.SortRows(rows)
		for _, opts := range []ProxyStatusOptions{{}, {Verbosity: 1, Now: psNow}, {Output: "json"}, {Output: "yaml"}} {
			var out bytes.Buffer
			if err := WriteProxyStatus(&out, rows, opts); err != nil {
				t.Fatalf("%+v: %v", opts, err)
			}
			switch opts.Output {
			case "json":
				if !json.Valid(out.Bytes()) {
					t.Fatalf("invalid JSON:\n%s", out.Bytes())
				}
			case "yaml":
				if _, err := yaml.YAMLToJSON(out.Bytes()); err != nil {
					t.Fatalf("invalid YAML: %v\n%s", err, out.Bytes())
				}
			default:
				for _, r := range out.String() {
					if r != '\n' && unicode.IsControl(r) {
						t.Fatalf("raw control character %U in the table:\n%q", r, out.String())
					}
				}
			}
		}
	})
}

// FuzzWriteYAML converts arbitrary JSON to YAML as -o yaml does, split into parts of every
// size: unsplit, the output is sigs.k8s.io/yaml's (istioctl's) byte for byte; split, it reads
// back as the same value.
func FuzzWriteYAML(f *testing.F) {
	for _, doc := range yamlCases {
		f.Add([]byte(doc), uint16(1))
		f.Add([]byte(doc), uint16(64))
	}
	for _, doc := range testutil.FuzzSeeds(f)[:8] {
		f.Add(doc, uint16(256))
	}
	defer func() { yamlSplitAbove = 256 << 10 }()
	f.Fuzz(func(t *testing.T, doc []byte, split uint16) {
		if !json.Valid(doc) {
			return
		}
		want, err := yaml.JSONToYAML(doc)
		if err != nil {
			return
		}
		yamlSplitAbove = 1 << 30
		var whole bytes.Buffer
		if err := writeYAML(&whole, doc, nil); err != nil {
			t.Fatalf("unsplit: %v", err)
		}
		if !bytes.Equal(whole.Bytes(), want) {
			t.Fatalf("unsplit output differs from JSONToYAML's:\n%s\nwant:\n%s", whole.Bytes(), want)
		}
		yamlSplitAbove = int(split)%1024 + 1
		var parts bytes.Buffer
		if err := writeYAML(&parts, doc, nil); err != nil {
			t.Fatalf("split above %d: %v", yamlSplitAbove, err)
		}
		if !sameYAMLValue(t, parts.Bytes(), want) {
			t.Fatalf("split above %d, the YAML reads back as another value:\n%s\nwant:\n%s", yamlSplitAbove, parts.Bytes(), want)
		}
	})
}
