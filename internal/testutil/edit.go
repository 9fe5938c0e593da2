package testutil

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/proxyctl/proxyctl/internal/gendump"
)

// Generate returns the config dump internal/gendump writes with o; Services defaults to 10
// (the fixed services only) and Seed to 1.
func Generate(tb testing.TB, o gendump.Options) []byte {
	tb.Helper()
	if o.Services == 0 {
		o.Services = 10
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	var buf bytes.Buffer
	if err := gendump.Write(&buf, o); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// EditDump decodes a config dump, lets fn change its configs, and encodes it again, with its
// keys sorted and tabs for indentation: no resource keeps its bytes.
func EditDump(tb testing.TB, doc []byte, fn func(configs []any)) []byte {
	tb.Helper()
	var d map[string]any
	if err := json.Unmarshal(doc, &d); err != nil {
		tb.Fatal(err)
	}
	fn(d["configs"].([]any))
	out, err := json.MarshalIndent(d, "", "\t")
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// Section returns the config dump section whose @type ends with "."+suffix
// ("ClustersConfigDump").
func Section(configs []any, suffix string) map[string]any {
	for _, c := range configs {
		m := c.(map[string]any)
		if strings.HasSuffix(m["@type"].(string), "."+suffix) {
			return m
		}
	}
	panic("no section " + suffix)
}

// Find returns the element of a list of objects whose value at a dotted path equals value
// (Find(clusters, "cluster.name", "BlackHoleCluster")).
func Find(list any, path, value string) map[string]any {
	for _, e := range list.([]any) {
		m := e.(map[string]any)
		var v any = m
		for _, p := range strings.Split(path, ".") {
			v = v.(map[string]any)[p]
		}
		if v == value {
			return m
		}
	}
	panic(fmt.Sprintf("no element with %s=%s", path, value))
}
