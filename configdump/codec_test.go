package configdump

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/anypb"
)

// sharedDumps lists the third-party dumps beside the checkout (read, never copied).
func sharedDumps(t *testing.T) []string {
	t.Helper()
	files, _ := filepath.Glob("../../shared/conformance/dumps/*.json")
	yamls, _ := filepath.Glob("../../shared/conformance/dumps/*.yaml")
	files = append(files, yamls...)
	if len(files) == 0 {
		t.Skip("../shared/conformance/dumps not found beside the checkout")
	}
	return files
}

// TestCodecMatchesProtojson decodes and re-encodes every resource of the shared dumps with our
// codec and with protojson, wherever protojson can read the resource at all (it cannot with
// unknown types or non-base64 bytes): every member protojson prints, ours prints with the same
// value, and every member ours prints beyond those (what protojson, told to discard unknown
// fields, drops: v2 fields, hidden_envoy_deprecated_*, the content of a typed config without
// "@type") is in the input, with the same value. It does so with linked types, and with the
// types built from the embedded descriptors as the proxyctl binary does.
func TestCodecMatchesProtojson(t *testing.T) {
	for _, mode := range []string{"linked", "descriptors"} {
		t.Run(mode, func(t *testing.T) {
			if mode == "descriptors" {
				useDescriptors(t)
			}
			compared := 0
			for _, file := range sharedDumps(t) {
				compared += compareWithProtojson(t, file)
			}
			if compared < 100 {
				t.Fatalf("compared only %d resources", compared)
			}
			t.Logf("compared %d resources", compared)
		})
	}
}

func compareWithProtojson(t *testing.T, file string) int {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	d, err := Parse(data)
	if err != nil {
		t.Fatalf("%s: %v", filepath.Base(file), err)
	}
	compared := 0
	for _, sp := range d.spans {
		c := &anypb.Any{TypeUrl: sp.typeURL, Value: d.src[sp.start:sp.end]}
		mt := resolveType(c.TypeUrl)
		if mt == nil {
			continue
		}
		for _, a := range collectAnys(t, d, c, mt) {
			inner := resolveType(a.TypeUrl)
			if inner == nil {
				continue
			}
			linked, err := protoregistry.GlobalTypes.FindMessageByURL(a.TypeUrl)
			if err != nil {
				continue
			}
			want := linked.New().Interface()
			if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(a.Value, want); err != nil {
				continue // protojson cannot read it; nothing to compare with
			}
			wantJSON, err := protojson.Marshal(want)
			if err != nil {
				continue
			}
			got := inner.New().Interface()
			if err := d.UnmarshalAny(a, got); err != nil {
				t.Fatalf("%s: %s: %v", filepath.Base(file), a.TypeUrl, err)
			}
			enc := newEncoder(d.src, d.unknown)
			if err := enc.Message(got); err != nil {
				t.Fatalf("%s: %s: encode: %v", filepath.Base(file), a.TypeUrl, err)
			}
			assertSameJSON(t, filepath.Base(file)+" "+a.TypeUrl, enc.Bytes(), wantJSON, a.Value)
			compared++
		}
	}
	return compared
}

// collectAnys returns the section's own Any and every Any one level inside it (the resources).
func collectAnys(t *testing.T, d *Dump, c *anypb.Any, mt protoreflect.MessageType) []*anypb.Any {
	t.Helper()
	m := mt.New().Interface()
	if err := d.UnmarshalAny(c, m); err != nil {
		t.Fatalf("%s: %v", c.TypeUrl, err)
	}
	out := []*anypb.Any{c}
	var walk func(protoreflect.Message)
	walk = func(m protoreflect.Message) {
		m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			switch {
			case fd.IsMap() || fd.Message() == nil:
			case fd.IsList():
				for i := 0; i < v.List().Len(); i++ {
					visit(v.List().Get(i).Message(), &out, walk)
				}
			default:
				visit(v.Message(), &out, walk)
			}
			return true
		})
	}
	walk(m.ProtoReflect())
	return out
}

func visit(m protoreflect.Message, out *[]*anypb.Any, walk func(protoreflect.Message)) {
	if m.Descriptor().FullName() == "google.protobuf.Any" {
		fds := m.Descriptor().Fields()
		*out = append(*out, &anypb.Any{TypeUrl: m.Get(fds.ByNumber(1)).String(), Value: m.Get(fds.ByNumber(2)).Bytes()})
		return
	}
	walk(m)
}

// assertSameJSON checks that got holds every member of want with the same value, and that
// whatever else it holds is in input, the JSON both were decoded from, with the same value.
// Keys are compared without case and underscores, so that proto and JSON names match.
func assertSameJSON(t *testing.T, what string, got, want, input []byte) {
	t.Helper()
	var g, w, in any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: our output is not JSON: %v\n%s", what, err, got)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if err := json.Unmarshal(input, &in); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	g, w, in = canonicalKeys(g), canonicalKeys(w), canonicalKeys(in)
	if path := firstDiff(g, w, in, "$"); path != "" {
		t.Fatalf("%s: JSON differs at %s", what, path)
	}
}

// canonicalKeys lowercases object keys and drops their underscores.
func canonicalKeys(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[strings.ToLower(strings.ReplaceAll(k, "_", ""))] = canonicalKeys(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = canonicalKeys(e)
		}
		return out
	}
	return v
}

// firstDiff describes where got first differs from want ("" when it does not): a member of
// want that got lacks or has with another value, or a member only got has that input, the
// decoded JSON at the same place, does not have with the same value.
func firstDiff(g, w, in any, path string) string {
	switch w := w.(type) {
	case map[string]any:
		gm, ok := g.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s: got %.200v, want an object", path, g)
		}
		inm, _ := in.(map[string]any)
		for k, wv := range w {
			gv, ok := gm[k]
			if !ok {
				return fmt.Sprintf("%s.%s: missing (want %.200v)", path, k, wv)
			}
			if d := firstDiff(gv, wv, inm[k], path+"."+k); d != "" {
				return d
			}
		}
		for k, gv := range gm {
			if _, ok := w[k]; ok {
				continue
			}
			iv, ok := inm[k]
			if !ok {
				return fmt.Sprintf("%s.%s: unexpected %.200v, which the input does not have", path, k, gv)
			}
			if !reflect.DeepEqual(gv, iv) {
				return fmt.Sprintf("%s.%s: got %.200v, the input has %.200v", path, k, gv, iv)
			}
		}
	case []any:
		ga, ok := g.([]any)
		if !ok || len(ga) != len(w) {
			return fmt.Sprintf("%s: got %.200v, want %.200v", path, g, w)
		}
		ina, _ := in.([]any)
		for i := range w {
			var iv any
			if i < len(ina) {
				iv = ina[i]
			}
			if d := firstDiff(ga[i], w[i], iv, fmt.Sprintf("%s[%d]", path, i)); d != "" {
				return d
			}
		}
	default:
		if !reflect.DeepEqual(g, w) {
			return fmt.Sprintf("%s: got %.200v, want %.200v", path, g, w)
		}
	}
	return ""
}
