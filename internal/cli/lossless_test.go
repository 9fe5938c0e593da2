package cli

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	udpa "github.com/cncf/xds/go/udpa/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"sigs.k8s.io/yaml"

	_ "github.com/proxyctl/proxyctl/internal/alltypes" // every type, for the oracle's descriptors
	"github.com/proxyctl/proxyctl/internal/testutil"
)

// TestJSONKeepsEveryField is the lossless property: for every shared dump (and the project's
// fixtures) and every view, every field of every input resource the view selects appears, with
// the same value, in its -o json --keep-unknown-fields output (after the view's documented
// filtering; without the flag, what istioctl's types do not hold is left out): known fields
// under their JSON names, with protojson's forms of the same values (int64 as strings,
// durations, enums by name, default values left out), and what the binary does not know
// (unknown fields and enum names, v2 fields, typed configs of unknown types) unchanged.
//
// The oracle is independent of configdump: it reads the dump with encoding/json, finds each
// view's resources itself, and judges values with the descriptors of every Envoy type.
func TestJSONKeepsEveryField(t *testing.T) {
	dumps, _ := filepath.Glob("../../../shared/conformance/dumps/*")
	if len(dumps) == 0 {
		t.Log("../shared/conformance/dumps not found beside the checkout: the project's fixtures only")
	}
	fixtures, _ := filepath.Glob(testutil.Path("testdata", "dumps", "*.json"))
	dumps = append(dumps, fixtures...)
	dumps = append(dumps, sampleDump, sampleClusters)
	compared := map[string]int{}
	for _, file := range dumps {
		doc := readDumpJSON(t, file)
		for _, v := range losslessViews {
			inputs, ok := v.inputs(doc)
			if !ok {
				continue
			}
			t.Run(filepath.Base(file)+"/"+v.name, func(t *testing.T) {
				code, out, errOut := run(t, "", "pc", v.name, "-f", file, "-o", "json", "--keep-unknown-fields", "--quiet")
				if code != 0 {
					t.Fatalf("exit %d: %s", code, errOut)
				}
				var got any
				if err := json.Unmarshal([]byte(out), &got); err != nil {
					t.Fatalf("output is not JSON: %v", err)
				}
				outputs := v.outputs(got)
				if len(outputs) != len(inputs) {
					t.Fatalf("%d resources printed, want %d", len(outputs), len(inputs))
				}
				for i, in := range inputs {
					o := findOutput(outputs, in, v.key)
					if o == nil {
						t.Fatalf("resource %d (%s) is not printed", i, v.key(in.value))
					}
					if err := covers(in.value, o, in.md, false, v.name); err != nil {
						t.Errorf("resource %d (%s): %v", i, v.key(in.value), err)
					}
					compared[v.name]++
				}
			})
		}
	}
	t.Logf("resources compared per view: %v", compared)
	if len(dumps) > 10 && (compared["cluster"] < 100 || compared["listener"] < 100 || compared["route"] < 50) {
		t.Errorf("compared too few resources: %v", compared)
	}
}

// input is one resource a view selects: its JSON in the dump and its message type.
type input struct {
	value any
	md    protoreflect.MessageDescriptor
}

type losslessView struct {
	name    string
	inputs  func(doc map[string]any) ([]input, bool)
	outputs func(got any) []any
	key     func(v any) string
}

func mustMessage(name protoreflect.FullName) protoreflect.MessageDescriptor {
	mt, err := protoregistry.GlobalTypes.FindMessageByName(name)
	if err != nil {
		panic(err)
	}
	return mt.Descriptor()
}

var losslessViews = []losslessView{
	{
		name: "cluster",
		inputs: func(doc map[string]any) ([]input, bool) {
			sec, ok := lastSection(doc, "ClustersConfigDump")
			return wrapped(sec, "envoy.config.cluster.v3.Cluster", "cluster", "dynamic_active_clusters", "static_clusters"), ok
		},
		outputs: jsonList, key: nameKey("name"),
	},
	{
		name: "listener",
		inputs: func(doc map[string]any) ([]input, bool) {
			sec, ok := lastSection(doc, "ListenersConfigDump")
			var in []input
			for _, l := range members(sec, "dynamic_listeners") {
				if st, ok := field(l, "active_state").(map[string]any); ok && field(st, "listener") != nil {
					in = append(in, input{field(st, "listener"), mustMessage("envoy.config.listener.v3.Listener")})
				}
			}
			in = append(in, wrapped(sec, "envoy.config.listener.v3.Listener", "listener", "dynamic_active_listeners", "static_listeners")...)
			return in, ok
		},
		outputs: jsonList, key: nameKey("name"),
	},
	{
		name: "route",
		inputs: func(doc map[string]any) ([]input, bool) {
			sec, ok := lastSection(doc, "RoutesConfigDump")
			return wrapped(sec, "envoy.config.route.v3.RouteConfiguration", "route_config", "dynamic_route_configs", "static_route_configs"), ok
		},
		outputs: jsonList, key: nameKey("name"),
	},
	{
		// The EDS section of a config dump, or a /clusters document; both leave out what has no
		// endpoint.
		name: "endpoint",
		inputs: func(doc map[string]any) ([]input, bool) {
			if statuses, ok := field(doc, "cluster_statuses").([]any); ok {
				var in []input
				for _, cs := range statuses {
					if len(members(cs, "host_statuses")) > 0 {
						in = append(in, input{cs, mustMessage("envoy.admin.v3.ClusterStatus")})
					}
				}
				return in, true
			}
			sec, ok := lastSection(doc, "EndpointsConfigDump")
			var in []input
			for _, cla := range wrapped(sec, "envoy.config.endpoint.v3.ClusterLoadAssignment", "endpoint_config", "dynamic_endpoint_configs", "static_endpoint_configs") {
				n := 0
				for _, llb := range members(cla.value, "endpoints") {
					n += len(members(llb, "lb_endpoints"))
				}
				if n > 0 {
					in = append(in, cla)
				}
			}
			return in, ok
		},
		outputs: jsonList,
		key: func(v any) string {
			if s, ok := field(v, "cluster_name").(string); ok {
				return s
			}
			return nameKey("name")(v)
		},
	},
	{
		name: "secret",
		inputs: func(doc map[string]any) ([]input, bool) {
			sec, ok := lastSection(doc, "SecretsConfigDump")
			return []input{{sec, mustMessage("envoy.admin.v3.SecretsConfigDump")}}, ok
		},
		outputs: single, key: func(any) string { return "secrets" },
	},
	{
		name: "bootstrap",
		inputs: func(doc map[string]any) ([]input, bool) {
			sec, ok := lastSection(doc, "BootstrapConfigDump")
			return []input{{sec, mustMessage("envoy.admin.v3.BootstrapConfigDump")}}, ok
		},
		outputs: single, key: func(any) string { return "bootstrap" },
	},
	{
		// Every ECDS section, merged.
		name: "ecds",
		inputs: func(doc map[string]any) ([]input, bool) {
			var in []input
			found := false
			for _, c := range members(doc, "configs") {
				if sectionName(c) == "EcdsConfigDump" {
					found = true
					for _, f := range members(c, "ecds_filters") {
						in = append(in, input{f, mustMessage("envoy.admin.v3.EcdsConfigDump.EcdsFilterConfig")})
					}
				}
			}
			return in, found
		},
		outputs: func(got any) []any { return members(got, "ecdsFilters") },
		key: func(v any) string {
			f, _ := field(v, "ecds_filter").(map[string]any)
			return nameKey("name")(f)
		},
	},
	{
		// The whole document, secrets redacted.
		name: "all",
		inputs: func(doc map[string]any) ([]input, bool) {
			if _, ok := doc["configs"]; !ok {
				return nil, false
			}
			return []input{{doc, nil}}, true
		},
		outputs: single, key: func(any) string { return "document" },
	},
}

func jsonList(got any) []any {
	l, _ := got.([]any)
	return l
}

func single(got any) []any { return []any{got} }

func nameKey(k string) func(v any) string {
	return func(v any) string {
		s, _ := field(v, k).(string)
		return s
	}
}

// findOutput returns the printed resource with the input's key (the first one the input is
// covered by, when several have it).
func findOutput(outputs []any, in input, key func(any) string) any {
	want := key(in.value)
	var first any
	for _, o := range outputs {
		if canonicalKey(o, key) != want {
			continue
		}
		if first == nil {
			first = o
		}
		if covers(in.value, o, in.md, false, "") == nil {
			return o
		}
	}
	return first
}

// canonicalKey reads a key from a printed resource, whose names are JSON names.
func canonicalKey(o any, key func(any) string) string {
	if k := key(o); k != "" {
		return k
	}
	m, ok := o.(map[string]any)
	if !ok {
		return ""
	}
	snake := map[string]any{}
	for k, v := range m {
		snake[camelToSnake(k)] = v
	}
	if f, ok := snake["ecds_filter"].(map[string]any); ok {
		snake["ecds_filter"] = f
	}
	return key(snake)
}

func camelToSnake(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 'A' && r <= 'Z' {
			b.WriteByte('_')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// readDumpJSON reads a dump, YAML or JSON, as encoding/json values (numbers as json.Number).
func readDumpJSON(t *testing.T, file string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasSuffix(file, ".yaml") || strings.HasSuffix(file, ".yml") {
		if data, err = yaml.YAMLToJSON(data); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return doc
}

// field reads a member by its proto or JSON name.
func field(v any, name string) any {
	m, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	if x, ok := m[name]; ok {
		return x
	}
	return m[snakeToLowerCamel(name)]
}

func members(v any, name string) []any {
	l, _ := field(v, name).([]any)
	return l
}

func sectionName(c any) string {
	url, _ := field(c, "@type").(string)
	return url[strings.LastIndexByte(url, '.')+1:]
}

// lastSection returns the last config of the dump of a section type (v3 or v2alpha): the one
// the views print.
func lastSection(doc map[string]any, name string) (map[string]any, bool) {
	var last map[string]any
	for _, c := range members(doc, "configs") {
		if sectionName(c) == name {
			last, _ = c.(map[string]any)
		}
	}
	return last, last != nil
}

// wrapped returns the resources under key in the entries of the lists of a section.
func wrapped(sec map[string]any, msg protoreflect.FullName, key string, lists ...string) []input {
	var in []input
	for _, l := range lists {
		for _, e := range members(sec, l) {
			if r := field(e, key); r != nil {
				in = append(in, input{r, mustMessage(msg)})
			}
		}
	}
	return in
}

func snakeToLowerCamel(s string) string {
	var b strings.Builder
	upper := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_':
			upper = true
		case upper && c >= 'a' && c <= 'z':
			b.WriteByte(c - 'a' + 'A')
			upper = false
		default:
			b.WriteByte(c)
			upper = false
		}
	}
	return b.String()
}

// covers checks that out, a printed value of message type md (nil: of no known type, printed
// as it was), holds everything in, its input, holds. Under a sensitive field, a string may be
// printed "[redacted]".
func covers(in, out any, md protoreflect.MessageDescriptor, sensitive bool, path string) error {
	if md == nil {
		return sameJSON(in, out, sensitive, path)
	}
	switch md.FullName() {
	case "google.protobuf.Any":
		return coversAny(in, out, sensitive, path)
	case "google.protobuf.Duration", "google.protobuf.Timestamp":
		is, _ := in.(string)
		os, _ := out.(string)
		if !sameTime(is, os, md.FullName() == "google.protobuf.Duration") {
			return fmt.Errorf("%s: printed %v, the input has %v", path, out, in)
		}
		return nil
	case "google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue":
		return sameJSON(in, out, sensitive, path)
	case "google.protobuf.FieldMask":
		is, _ := in.(string)
		parts := strings.Split(is, ",")
		for i, p := range parts {
			parts[i] = snakeToLowerCamel(p)
		}
		if out != strings.Join(parts, ",") {
			return fmt.Errorf("%s: printed %v, the input has %v", path, out, in)
		}
		return nil
	}
	if strings.HasPrefix(string(md.FullName()), "google.protobuf.") && strings.HasSuffix(string(md.FullName()), "Value") {
		return coversScalar(md.Fields().ByNumber(1), in, out, sensitive, path)
	}
	im, ok := in.(map[string]any)
	if !ok {
		return fmt.Errorf("%s: the input is not an object: %v", path, in)
	}
	om, ok := out.(map[string]any)
	if !ok {
		return fmt.Errorf("%s: printed %v, want an object", path, out)
	}
	fds := md.Fields()
	for k, iv := range im {
		p := path + "." + k
		fd := fds.ByName(protoreflect.Name(k))
		if fd == nil {
			fd = fds.ByJSONName(k)
		}
		if fd == nil {
			if k == "@type" {
				continue // the Any's, checked by coversAny
			}
			ov, ok := om[k]
			if !ok {
				return fmt.Errorf("%s: a member the binary does not know is not printed", p)
			}
			if err := sameJSON(iv, ov, sensitive, p); err != nil {
				return err
			}
			continue
		}
		if iv == nil {
			continue // null: the default
		}
		ov, ok := om[fd.JSONName()]
		sens := sensitive || isSensitive(fd)
		if !ok {
			if isDefault(fd, iv) {
				continue
			}
			return fmt.Errorf("%s: not printed (the input has %.100v)", p, iv)
		}
		if err := coversField(fd, iv, ov, sens, p); err != nil {
			return err
		}
	}
	return nil
}

func coversField(fd protoreflect.FieldDescriptor, iv, ov any, sensitive bool, path string) error {
	switch {
	case fd.IsList():
		il, _ := iv.([]any)
		ol, ok := ov.([]any)
		if !ok || len(il) != len(ol) {
			return fmt.Errorf("%s: printed %.100v, the input has %.100v", path, ov, iv)
		}
		for i := range il {
			if err := coversSingle(fd, il[i], ol[i], sensitive, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		return nil
	case fd.IsMap():
		im, _ := iv.(map[string]any)
		om, ok := ov.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: printed %.100v, want an object", path, ov)
		}
		for k, v := range im {
			o, ok := om[k]
			if !ok {
				return fmt.Errorf("%s[%q]: not printed", path, k)
			}
			if err := coversSingle(fd.MapValue(), v, o, sensitive, fmt.Sprintf("%s[%q]", path, k)); err != nil {
				return err
			}
		}
		return nil
	}
	return coversSingle(fd, iv, ov, sensitive, path)
}

func coversSingle(fd protoreflect.FieldDescriptor, iv, ov any, sensitive bool, path string) error {
	if md := fd.Message(); md != nil {
		return covers(iv, ov, md, sensitive, path)
	}
	return coversScalar(fd, iv, ov, sensitive, path)
}

func coversScalar(fd protoreflect.FieldDescriptor, iv, ov any, sensitive bool, path string) error {
	bad := func() error { return fmt.Errorf("%s: printed %.100v, the input has %.100v", path, ov, iv) }
	if sensitive && (ov == "[redacted]" || ov == base64.StdEncoding.EncodeToString([]byte("[redacted]"))) {
		return nil
	}
	switch fd.Kind() {
	case protoreflect.BoolKind, protoreflect.StringKind:
		if !reflect.DeepEqual(iv, ov) {
			return bad()
		}
	case protoreflect.BytesKind:
		is, _ := iv.(string)
		os, _ := ov.(string)
		if is != os && !bytes.Equal(decodeB64(is), decodeB64(os)) {
			return bad()
		}
	case protoreflect.EnumKind:
		if reflect.DeepEqual(iv, ov) {
			return nil
		}
		if n, ok := iv.(json.Number); ok {
			ev := fd.Enum().Values().ByNumber(protoreflect.EnumNumber(mustInt(n)))
			if ev != nil && ov == string(ev.Name()) {
				return nil
			}
		}
		return bad()
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		if !sameNumber(iv, ov, true) {
			return bad()
		}
	default:
		if !sameNumber(iv, ov, false) {
			return bad()
		}
	}
	return nil
}

// coversAny checks a typed config: of a known type, field by field; of an unknown one (or with
// no "@type"), printed as it was.
func coversAny(in, out any, sensitive bool, path string) error {
	im, _ := in.(map[string]any)
	url, _ := im["@type"].(string)
	mt, err := protoregistry.GlobalTypes.FindMessageByURL(url)
	if url == "" || err != nil {
		return sameJSON(in, out, sensitive, path)
	}
	om, _ := out.(map[string]any)
	if om["@type"] != url {
		return fmt.Errorf("%s: printed @type %v, the input has %s", path, om["@type"], url)
	}
	md := mt.Descriptor()
	if strings.HasPrefix(string(md.FullName()), "google.protobuf.") {
		switch md.FullName() {
		case "google.protobuf.Duration", "google.protobuf.Timestamp", "google.protobuf.Struct", "google.protobuf.Value",
			"google.protobuf.ListValue", "google.protobuf.FieldMask", "google.protobuf.Any":
			return covers(im["value"], om["value"], md, sensitive, path+".value")
		}
		if strings.HasSuffix(string(md.FullName()), "Value") {
			return covers(im["value"], om["value"], md, sensitive, path+".value")
		}
	}
	return covers(in, out, md, sensitive, path+"("+string(md.Name())+")")
}

// sameJSON compares values printed as they were: equal, numbers as numbers.
func sameJSON(in, out any, sensitive bool, path string) error {
	switch iv := in.(type) {
	case map[string]any:
		om, ok := out.(map[string]any)
		if !ok || len(om) != len(iv) {
			return fmt.Errorf("%s: printed %.100v, the input has %.100v", path, out, in)
		}
		for k, v := range iv {
			if err := sameJSON(v, om[k], sensitive && k != "@type", path+"."+k); err != nil {
				return err
			}
		}
		return nil
	case []any:
		ol, ok := out.([]any)
		if !ok || len(ol) != len(iv) {
			return fmt.Errorf("%s: printed %.100v, the input has %.100v", path, out, in)
		}
		for i := range iv {
			if err := sameJSON(iv[i], ol[i], sensitive, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		return nil
	case json.Number:
		if !sameNumber(in, out, true) {
			return fmt.Errorf("%s: printed %v, the input has %v", path, out, in)
		}
		return nil
	}
	if sensitive && out == "[redacted]" {
		return nil
	}
	if !reflect.DeepEqual(in, out) {
		return fmt.Errorf("%s: printed %.100v, the input has %.100v", path, out, in)
	}
	return nil
}

// sameNumber compares numbers given as JSON numbers or strings (int64, "NaN"); float compares
// as doubles, else exactly.
func sameNumber(a, b any, float bool) bool {
	text := func(v any) (string, bool) {
		switch v := v.(type) {
		case json.Number:
			return v.String(), true
		case string:
			return v, true
		case float64:
			return fmt.Sprint(v), true
		}
		return "", false
	}
	as, ok1 := text(a)
	bs, ok2 := text(b)
	if !ok1 || !ok2 {
		return false
	}
	if as == bs {
		return true
	}
	if float {
		af, err1 := parseFloat(as)
		bf, err2 := parseFloat(bs)
		return err1 == nil && err2 == nil && (af == bf || math.IsNaN(af) && math.IsNaN(bf))
	}
	ar, ok1 := new(big.Rat).SetString(as)
	br, ok2 := new(big.Rat).SetString(bs)
	return ok1 && ok2 && ar.Cmp(br) == 0
}

func parseFloat(s string) (float64, error) {
	switch s {
	case "NaN":
		return math.NaN(), nil
	case "Infinity":
		return math.Inf(1), nil
	case "-Infinity":
		return math.Inf(-1), nil
	}
	var f float64
	_, err := fmt.Sscan(s, &f)
	return f, err
}

func mustInt(n json.Number) int64 {
	i, _ := n.Int64()
	return i
}

func decodeB64(s string) []byte {
	for _, e := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := e.DecodeString(s); err == nil {
			return b
		}
	}
	return []byte(s)
}

// sameTime compares two durations, or two timestamps, by value.
func sameTime(a, b string, duration bool) bool {
	if duration {
		da, err1 := time.ParseDuration(a)
		db, err2 := time.ParseDuration(b)
		if err1 != nil || err2 != nil {
			// Past time.Duration's range: compare the seconds as decimals.
			ra, ok1 := new(big.Rat).SetString(strings.TrimSuffix(a, "s"))
			rb, ok2 := new(big.Rat).SetString(strings.TrimSuffix(b, "s"))
			return ok1 && ok2 && ra.Cmp(rb) == 0
		}
		return da == db
	}
	ta, err1 := time.Parse(time.RFC3339Nano, a)
	tb, err2 := time.Parse(time.RFC3339Nano, b)
	return err1 == nil && err2 == nil && ta.Equal(tb)
}

// isDefault reports whether protojson leaves a field out for this value: a field without
// presence holding its zero value.
func isDefault(fd protoreflect.FieldDescriptor, v any) bool {
	switch {
	case fd.IsList():
		l, _ := v.([]any)
		return len(l) == 0
	case fd.IsMap():
		m, _ := v.(map[string]any)
		return len(m) == 0
	case fd.HasPresence():
		return false
	}
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return v == false
	case protoreflect.StringKind, protoreflect.BytesKind:
		return v == ""
	case protoreflect.EnumKind:
		if s, ok := v.(string); ok {
			return s == string(fd.Enum().Values().ByNumber(0).Name())
		}
	}
	return sameNumber(v, json.Number("0"), true)
}

func isSensitive(fd protoreflect.FieldDescriptor) bool {
	opts, ok := fd.Options().(*descriptorpb.FieldOptions)
	if !ok || opts == nil {
		return false
	}
	s, _ := proto.GetExtension(opts, udpa.E_Sensitive).(bool)
	return s
}

// TestUnknownTypesNote: the note on stderr lists the same unknown types in every output format
// of a view (those in what the view prints), each a type URL, never an empty one, on every
// shared dump and fixture.
func TestUnknownTypesNote(t *testing.T) {
	dumps, _ := filepath.Glob("../../../shared/conformance/dumps/*")
	fixtures, _ := filepath.Glob(testutil.Path("testdata", "dumps", "*.json"))
	dumps = append(append(dumps, fixtures...), sampleDump, sampleClusters)
	noted := 0
	for _, file := range dumps {
		for _, view := range []string{"cluster", "listener", "route", "endpoint", "secret", "ecds", "bootstrap"} {
			var first string
			for _, format := range []string{"short", "json", "yaml"} {
				code, _, errOut := run(t, "", "pc", view, "-f", file, "-o", format)
				if code != 0 {
					continue
				}
				var note string
				for _, l := range strings.Split(errOut, "\n") {
					if strings.HasPrefix(l, "note: kept ") {
						note = l
					}
				}
				if note != "" {
					noted++
					_, list, _ := strings.Cut(note, " as they are: ")
					for _, url := range strings.Split(list, ", ") {
						if !strings.Contains(url, "/") || strings.TrimSpace(url) != url {
							t.Errorf("%s %s -o %s: %q is not a type URL: %q", filepath.Base(file), view, format, url, note)
						}
					}
				}
				if format == "short" {
					first = note
				} else if note != first {
					t.Errorf("%s %s -o %s: %q, but -o short noted %q", filepath.Base(file), view, format, note, first)
				}
			}
		}
	}
	if noted == 0 {
		t.Error("no view noted an unknown type")
	}
}
