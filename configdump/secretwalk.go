package configdump

import (
	"bytes"
	"sort"
	"sync"

	udpa "github.com/cncf/xds/go/udpa/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// The checker (check.go) redacts what the types it walks say is secret, as Envoy does. Where a
// dump does not say what a value is, or says it wrongly, the secret walker below assumes the
// worst, and its replacements are added to the checker's (and the encoder's, see encode.go): an
// Any is walked as every type it claims (a duplicated "@type" claims two) and as the type its
// place in the dump implies (a secret is a Secret, whatever its "@type"); a TypedStruct's value
// as the message its type_url names (as Envoy's redaction reifies it); what no known type
// describes (an Any of an unknown type, a key its type lacks) has the values under keys named
// like a sensitive field redacted (sensitiveNames). The walker is lenient: a value that does not
// fit the type it is walked as is walked by names instead, never an error.

// sortReplacements orders replacements and drops those found twice (a value walked as two
// types).
func sortReplacements(r []Replacement) []Replacement {
	sort.Slice(r, func(i, j int) bool { return r[i].Start < r[j].Start })
	out := r[:0]
	for _, x := range r {
		if len(out) > 0 && x.Start < out[len(out)-1].End {
			continue // the same value (a walk finds whole strings only)
		}
		out = append(out, x)
	}
	return out
}

// secretWalker walks a document along its descriptors, noting sensitive values.
type secretWalker struct {
	decoder
	found []Replacement
}

// sub returns a secretWalker of the value obj, found at offset at of w's input: a value, kept
// on the caller's stack (one per nested object: a list of many small objects must not cost
// an allocation each).
func (w *secretWalker) sub(obj []byte, at int) secretWalker {
	return secretWalker{decoder: *newDecoder(obj, w.base+at, w.doc, nil)}
}

func (w *secretWalker) message(md protoreflect.MessageDescriptor, redact bool, depth int) error {
	if depth > maxDepth {
		return w.errorf("nesting deeper than %d levels", maxDepth)
	}
	if isTypedStruct(md.FullName()) {
		return w.typedStruct(redact, depth)
	}
	info := infoFor(md)
	switch info.wkt {
	case wktAny:
		return w.any(redact, depth, nil)
	case wktStruct, wktValue, wktListValue:
		return w.rawValue(redact)
	case wktNone:
	default: // Duration, Timestamp, FieldMask, wrappers: strings are not secrets...
		if info.wkt == wktWrapper && redact {
			return w.rawValue(redact) // ...but a StringValue under a sensitive field is.
		}
		return w.skipValue()
	}
	if w.skipWS() == 'n' {
		_, err := w.readLiteral()
		return err
	}
	if err := w.expect('{'); err != nil {
		return err
	}
	for first := true; ; first = false {
		more, err := w.more('}', first)
		if err != nil || !more {
			return err
		}
		key, err := w.readKey()
		if err != nil {
			return err
		}
		fd := info.byKey[key]
		switch {
		case fd != nil:
			err = w.field(fd, redact || info.fields[fd.Index()].sensitive, depth)
		case key == "@type":
			err = w.skipValue()
		case redact:
			// A key the type lacks, under a sensitive field: secret as the rest.
			err = w.rawSecrets(depth + 1)
		default:
			// A key the type lacks (a newer Envoy's field, or a value of another type under a
			// wrong "@type"): no descriptor says what it holds.
			err = w.named(depth + 1)
		}
		if err != nil {
			return err
		}
	}
}

// field walks one field's value: a list, a map, a message or a scalar.
func (w *secretWalker) field(fd protoreflect.FieldDescriptor, redact bool, depth int) error {
	if w.skipWS() == 'n' {
		_, err := w.readLiteral()
		return err
	}
	switch {
	case fd.IsList():
		if err := w.expect('['); err != nil {
			return err
		}
		for first := true; ; first = false {
			more, err := w.more(']', first)
			if err != nil || !more {
				return err
			}
			if err := w.single(fd, redact, depth); err != nil {
				return err
			}
		}
	case fd.IsMap():
		if err := w.expect('{'); err != nil {
			return err
		}
		for first := true; ; first = false {
			more, err := w.more('}', first)
			if err != nil || !more {
				return err
			}
			if _, err := w.readKey(); err != nil {
				return err
			}
			if err := w.single(fd.MapValue(), redact, depth); err != nil {
				return err
			}
		}
	}
	return w.single(fd, redact, depth)
}

// single walks one value of a field's type.
func (w *secretWalker) single(fd protoreflect.FieldDescriptor, redact bool, depth int) error {
	if md := fd.Message(); md != nil {
		if md.FullName() == "google.protobuf.Any" {
			return w.any(redact, depth+1, expectedAnyType(fd))
		}
		return w.message(md, redact, depth+1)
	}
	if redact && (fd.Kind() == protoreflect.StringKind || fd.Kind() == protoreflect.BytesKind) && w.skipWS() == '"' {
		return w.secretString(fd.Kind() == protoreflect.BytesKind)
	}
	return w.skipValue()
}

// secretString notes a string value to replace, unless it is empty or redacted already.
func (w *secretWalker) secretString(isBytes bool) error {
	start := w.pos
	raw, escaped, err := w.readRawString()
	if err != nil {
		return err
	}
	if text, ok := secretReplacement(raw, escaped, isBytes); ok {
		w.note(start, text)
	}
	return nil
}

func (w *secretWalker) note(start int, text string) {
	w.found = append(w.found, Replacement{Start: w.base + start, End: w.base + w.pos, Text: text})
}

// any walks a typed config. Envoy redacts one as the type its "@type" names; proxyctl reads one
// as the type its place in the dump implies when there is one (expected, see
// expectedAnyType), whatever its "@type" says, and a dump may be wrong: so it is walked as every
// type it names (a duplicated "@type" names two) and as expected. An Any no known type
// describes has, under a sensitive field, every string but its "@type" redacted; elsewhere,
// the values under keys named like a sensitive field (see named).
func (w *secretWalker) any(redact bool, depth int, expected protoreflect.MessageDescriptor) error {
	w.skipWS()
	start := w.pos
	obj, err := w.captureValue()
	if err != nil || len(obj) == 0 || obj[0] != '{' {
		return err
	}
	probe := w.sub(obj, start)
	urls, err := probe.typeURLs()
	if err != nil {
		return err
	}
	var types []protoreflect.MessageDescriptor
	add := func(md protoreflect.MessageDescriptor) {
		for _, t := range types {
			if t.FullName() == md.FullName() {
				return
			}
		}
		types = append(types, md)
	}
	for _, u := range urls {
		if mt := resolveType(u); mt != nil {
			add(mt.Descriptor())
		}
	}
	if expected != nil {
		add(expected)
	}
	if len(types) == 0 {
		inner := w.sub(obj, start)
		if redact {
			err = inner.rawSecrets(depth + 1)
		} else {
			err = inner.named(depth + 1)
		}
		w.found = append(w.found, inner.found...)
		return err
	}
	for _, md := range types {
		inner := w.sub(obj, start)
		if infoFor(md).wkt != wktNone && md.FullName() != "google.protobuf.Any" {
			// A well-known type's JSON form sits under "value".
			err = inner.wrappedValue(md, redact, depth+1)
		} else {
			err = inner.message(md, redact, depth+1)
		}
		if err != nil {
			return err
		}
		w.found = append(w.found, inner.found...)
	}
	return nil
}

// wrappedValue walks {"@type": ..., "value": V}, V being of the well-known type md.
func (w *secretWalker) wrappedValue(md protoreflect.MessageDescriptor, redact bool, depth int) error {
	if err := w.expect('{'); err != nil {
		return err
	}
	for first := true; ; first = false {
		more, err := w.more('}', first)
		if err != nil || !more {
			return err
		}
		key, err := w.readKey()
		if err != nil {
			return err
		}
		if key == "value" {
			err = w.message(md, redact, depth)
		} else {
			err = w.skipValue()
		}
		if err != nil {
			return err
		}
	}
}

// typeURLs reads every string "@type" of the object at the start of the input.
func (w *secretWalker) typeURLs() ([]string, error) {
	if err := w.expect('{'); err != nil {
		return nil, err
	}
	var urls []string
	for first := true; ; first = false {
		more, err := w.more('}', first)
		if err != nil || !more {
			return urls, err
		}
		key, err := w.readKey()
		if err != nil {
			return nil, err
		}
		if key == "@type" && w.skipWS() == '"' {
			u, err := w.readString()
			if err != nil {
				return nil, err
			}
			urls = append(urls, u)
			continue
		}
		if err := w.skipValue(); err != nil {
			return nil, err
		}
	}
}

// isTypedStruct reports the messages that carry a typed config as a Struct and a type URL.
func isTypedStruct(name protoreflect.FullName) bool {
	return name == "xds.type.v3.TypedStruct" || name == "udpa.type.v1.TypedStruct"
}

// typedStruct walks a TypedStruct as Envoy's redaction does: its value is reified as the
// message its type_url names and redacted as that message; a value of a type no one knows has,
// under a sensitive field, every string redacted, elsewhere the values under keys named like a
// sensitive field.
func (w *secretWalker) typedStruct(redact bool, depth int) error {
	if w.skipWS() == 'n' {
		_, err := w.readLiteral()
		return err
	}
	if err := w.expect('{'); err != nil {
		return err
	}
	var url string
	var value []byte
	valueAt := 0
	for first := true; ; first = false {
		more, err := w.more('}', first)
		if err != nil {
			return err
		}
		if !more {
			break
		}
		key, err := w.readKey()
		if err != nil {
			return err
		}
		switch {
		case (key == "type_url" || key == "typeUrl") && w.skipWS() == '"':
			if url, err = w.readString(); err != nil {
				return err
			}
		case key == "value":
			w.skipWS()
			valueAt = w.pos
			if value, err = w.captureValue(); err != nil {
				return err
			}
		default:
			if err := w.skipValue(); err != nil {
				return err
			}
		}
	}
	if value == nil {
		return nil
	}
	inner := w.sub(value, valueAt)
	var err error
	switch mt := resolveType(url); {
	case mt != nil && infoFor(mt.Descriptor()).wkt == wktNone:
		err = inner.message(mt.Descriptor(), redact, depth+1)
	case redact:
		err = inner.rawSecrets(depth + 1)
	default:
		err = inner.named(depth + 1)
	}
	w.found = append(w.found, inner.found...)
	return err
}

// named walks a JSON value no descriptor describes: the values under a key named like a field
// Envoy's API marks sensitive (sensitiveNames: private_key, password, secret...) are secret, and
// a nested object with a known "@type" is walked as that type.
func (w *secretWalker) named(depth int) error {
	if depth > maxDepth {
		return w.errorf("nesting deeper than %d levels", maxDepth)
	}
	switch w.skipWS() {
	case '[':
		w.pos++
		for first := true; ; first = false {
			more, err := w.more(']', first)
			if err != nil || !more {
				return err
			}
			if err := w.named(depth + 1); err != nil {
				return err
			}
		}
	case '{':
		start := w.pos
		obj, err := w.captureValue()
		if err != nil {
			return err
		}
		inner := w.sub(obj, start)
		urls, err := inner.typeURLs()
		if err != nil {
			return err
		}
		for _, u := range urls {
			if resolveType(u) != nil {
				// A typed config inside: as any other.
				inner = w.sub(obj, start)
				err := inner.any(false, depth, nil)
				w.found = append(w.found, inner.found...)
				return err
			}
		}
		inner = w.sub(obj, start)
		err = inner.namedMembers(depth)
		w.found = append(w.found, inner.found...)
		return err
	}
	return w.skipValue()
}

// namedMembers walks the members of an object for named.
func (w *secretWalker) namedMembers(depth int) error {
	if err := w.expect('{'); err != nil {
		return err
	}
	for first := true; ; first = false {
		more, err := w.more('}', first)
		if err != nil || !more {
			return err
		}
		key, err := w.readKey()
		if err != nil {
			return err
		}
		switch {
		case key == "@type":
			err = w.skipValue()
		case sensitiveNames()[key]:
			err = w.secretsBut(depth+1, "filename")
		default:
			err = w.named(depth + 1)
		}
		if err != nil {
			return err
		}
	}
}

// rawValue walks a JSON value of no known type (Struct, an unknown typed config): under a
// sensitive field, every string in it, keys and "@type" apart, is secret.
func (w *secretWalker) rawValue(redact bool) error {
	if !redact {
		return w.skipValue()
	}
	return w.rawSecrets(0)
}

func (w *secretWalker) rawSecrets(depth int) error { return w.secretsBut(depth, "") }

// secretsBut notes every string of a value as secret, keys and "@type" apart, but those under
// a key named keep: the walk of what no type describes keeps a DataSource's file name, a path
// and not the secret (a typed walk redacts it, as Envoy does).
func (w *secretWalker) secretsBut(depth int, keep string) error {
	return w.stringsBut(depth, keep, w.note)
}

// lenientWalk runs walk over raw, found at offset at of doc, and returns the secrets it finds;
// when raw does not fit what walk takes it for (an error), what it found is kept and raw is
// walked by names too (see named): never an error.
func lenientWalk(raw []byte, at int, doc []byte, walk func(w *secretWalker) error) []Replacement {
	w := &secretWalker{decoder: *newDecoder(raw, at, doc, nil)}
	if err := walk(w); err == nil {
		return w.found
	}
	n := &secretWalker{decoder: *newDecoder(raw, at, doc, nil)}
	_ = n.named(0)
	return append(w.found, n.found...)
}

// redactAnyJSON returns the JSON of a typed config (an Any) redacted as the walk of Redactions
// redacts it: redact when it is under a sensitive field, expected the type its place implies
// (nil when none).
func redactAnyJSON(raw []byte, redact bool, expected protoreflect.MessageDescriptor) []byte {
	return applyReplacements(raw, lenientWalk(raw, 0, raw, func(w *secretWalker) error { return w.any(redact, 0, expected) }))
}

// redactJSONAs returns the JSON of a message of type md redacted as Redactions redacts it.
func redactJSONAs(raw []byte, md protoreflect.MessageDescriptor, redact bool) []byte {
	return applyReplacements(raw, lenientWalk(raw, 0, raw, func(w *secretWalker) error { return w.message(md, redact, 0) }))
}

// redactNamed returns JSON no type describes (an unknown member, kept as it was) with the
// values under keys named like a sensitive field redacted (see named).
func redactNamed(raw []byte) []byte {
	return applyReplacements(raw, lenientWalk(raw, 0, raw, func(w *secretWalker) error { return w.named(0) }))
}

// applyReplacements returns raw with the replacements (offsets into raw) applied.
func applyReplacements(raw []byte, found []Replacement) []byte {
	if len(found) == 0 {
		return raw
	}
	found = sortReplacements(found)
	var b bytes.Buffer
	at := 0
	for _, r := range found {
		b.Write(raw[at:r.Start])
		b.WriteString(r.Text)
		at = r.End
	}
	b.Write(raw[at:])
	return b.Bytes()
}

// expectedAnyTypes are the types of the config dump's typed configs that its place implies:
// the admin API documents what each section's resource is, and proxyctl decodes it as that type
// whatever its "@type" says, as istioctl does (https://www.envoyproxy.io/docs/envoy/latest/api-v3/admin/v3/config_dump_shared.proto).
var expectedAnyTypes = map[protoreflect.FullName]protoreflect.FullName{
	"envoy.admin.v3.ClustersConfigDump.StaticCluster.cluster":                              "envoy.config.cluster.v3.Cluster",
	"envoy.admin.v3.ClustersConfigDump.DynamicCluster.cluster":                             "envoy.config.cluster.v3.Cluster",
	"envoy.admin.v3.ListenersConfigDump.StaticListener.listener":                           "envoy.config.listener.v3.Listener",
	"envoy.admin.v3.ListenersConfigDump.DynamicListenerState.listener":                     "envoy.config.listener.v3.Listener",
	"envoy.admin.v3.RoutesConfigDump.StaticRouteConfig.route_config":                       "envoy.config.route.v3.RouteConfiguration",
	"envoy.admin.v3.RoutesConfigDump.DynamicRouteConfig.route_config":                      "envoy.config.route.v3.RouteConfiguration",
	"envoy.admin.v3.ScopedRoutesConfigDump.InlineScopedRouteConfigs.scoped_route_configs":  "envoy.config.route.v3.ScopedRouteConfiguration",
	"envoy.admin.v3.ScopedRoutesConfigDump.DynamicScopedRouteConfigs.scoped_route_configs": "envoy.config.route.v3.ScopedRouteConfiguration",
	"envoy.admin.v3.SecretsConfigDump.StaticSecret.secret":                                 "envoy.extensions.transport_sockets.tls.v3.Secret",
	"envoy.admin.v3.SecretsConfigDump.DynamicSecret.secret":                                "envoy.extensions.transport_sockets.tls.v3.Secret",
	"envoy.admin.v3.EndpointsConfigDump.StaticEndpointConfig.endpoint_config":              "envoy.config.endpoint.v3.ClusterLoadAssignment",
	"envoy.admin.v3.EndpointsConfigDump.DynamicEndpointConfig.endpoint_config":             "envoy.config.endpoint.v3.ClusterLoadAssignment",
	"envoy.admin.v3.EcdsConfigDump.EcdsFilterConfig.ecds_filter":                           "envoy.config.core.v3.TypedExtensionConfig",
}

// expectedAnyType is the type a typed config's place implies (see expectedAnyTypes), or nil. A
// field of Envoy's v2 admin API counts as its v3 successor's.
func expectedAnyType(fd protoreflect.FieldDescriptor) protoreflect.MessageDescriptor {
	name, ok := expectedAnyTypes[fd.FullName()]
	if !ok {
		parent := fd.ContainingMessage().FullName()
		next, found := loadTypeIndex().successor(parent)
		if !found {
			return nil
		}
		if name, ok = expectedAnyTypes[next.Append(fd.Name())]; !ok {
			return nil
		}
	}
	if mt := findType(name); mt != nil {
		return mt.Descriptor()
	}
	return nil
}

// sensitiveNames are the proto and JSON names of the string, bytes and DataSource-like fields
// Envoy's API marks sensitive, from the embedded descriptors: what the walk of a value no type
// describes redacts (see named). Fields holding a typed config or a Struct (a private key
// provider's config) are left out: their names are those of every typed config.
var sensitiveNames = sync.OnceValue(func() map[string]bool {
	names := map[string]bool{}
	for _, f := range SensitiveFields() {
		if f.Container {
			continue
		}
		names[f.Field] = true
		names[f.JSONName] = true
	}
	return names
})

// SensitiveField is a field Envoy's API marks (udpa.annotations.sensitive) = true.
type SensitiveField struct {
	Message  protoreflect.FullName
	Field    string // proto name
	JSONName string
	// Container is set for a field holding a typed config or a Struct.
	Container bool
}

// SensitiveFields lists every sensitive field of every message this binary knows (its embedded
// descriptors), sorted: what Redactions and the encoder redact, and what docs/redaction.md
// lists.
var SensitiveFields = sync.OnceValue(func() []SensitiveField {
	var out []SensitiveField
	if dynamic.loadAll() != nil {
		return nil
	}
	var walk func(pkg string, m *descriptorpb.DescriptorProto)
	walk = func(prefix string, m *descriptorpb.DescriptorProto) {
		name := prefix + "." + m.GetName()
		for _, f := range m.GetField() {
			if f.GetOptions() == nil {
				continue
			}
			if s, _ := proto.GetExtension(f.GetOptions(), udpa.E_Sensitive).(bool); !s {
				continue
			}
			container := f.GetTypeName() == ".google.protobuf.Any" || f.GetTypeName() == ".google.protobuf.Struct"
			out = append(out, SensitiveField{Message: protoreflect.FullName(name), Field: f.GetName(), JSONName: f.GetJsonName(), Container: container})
		}
		for _, n := range m.GetNestedType() {
			walk(name, n)
		}
	}
	for _, f := range dynamic.allProtos() {
		for _, m := range f.GetMessageType() {
			walk(f.GetPackage(), m)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Message != out[j].Message {
			return out[i].Message < out[j].Message
		}
		return out[i].Field < out[j].Field
	})
	return out
})
