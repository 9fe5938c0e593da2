package configdump

import (
	"bytes"
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/proxyctl/proxyctl/internal/parallel"
)

// resource is one typed resource of a section, still undecoded; field and index name its place
// for error messages, e.g. dynamic_active_clusters[3].
type resource struct {
	any   *anypb.Any
	field string
	index int
}

// Resources are a section's resources of type T, not decoded yet.
type Resources[T proto.Message] struct {
	d    *Dump
	list []resource
	newT func() T
	proj Projection
}

// Select returns the same resources, to be decoded with only the selected fields (see
// Projection).
func (r Resources[T]) Select(p Projection) Resources[T] {
	r.proj = p
	return r
}

func newResources[T proto.Message](d *Dump, list []resource, newT func() T) Resources[T] {
	return Resources[T]{d: d, list: list, newT: newT}
}

// Len is the number of resources.
func (r Resources[T]) Len() int { return len(r.list) }

// Each decodes the resources at indexes (every one when indexes is nil), on all cores, calls fn
// on each message, and hands fn's results to emit in the order of indexes. A few batches are in
// flight at a time, so memory stays flat however many resources there are, provided fn does
// not keep the message. It stops at the first error.
func Each[T proto.Message, R any](r Resources[T], indexes []int, fn func(T) (R, error), emit func(R) error) error {
	n := len(r.list)
	if indexes != nil {
		n = len(indexes)
	}
	want := r.newT().ProtoReflect().Descriptor().FullName()
	return parallel.Ordered(n, func(k int) (R, error) {
		var zero R
		i := k
		if indexes != nil {
			i = indexes[k]
		}
		res := r.list[i]
		m := r.newT()
		err := checkType(res.any.GetTypeUrl(), want)
		if err == nil {
			err = unmarshalAnyValue(res.any.GetValue(), m, r.d.src, r.d.unknown, r.proj)
		}
		if err != nil {
			return zero, fmt.Errorf("%s[%d]: %w", res.field, res.index, err)
		}
		return fn(m)
	}, emit)
}

// Decode decodes every resource, keeping the messages.
func (r Resources[T]) Decode() ([]T, error) {
	out := make([]T, 0, len(r.list))
	err := Each(r, nil, func(m T) (T, error) { return m, nil }, func(m T) error {
		out = append(out, m)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// checkType rejects a resource whose type URL names a known message other than want.
func checkType(url string, want protoreflect.FullName) error {
	if url == "" {
		return nil
	}
	if name := messageName(url); name == want || canonicalName(url) == want || !knownName(name) {
		return nil
	}
	return fmt.Errorf("has @type %s, want %s", url, want)
}

// Raw returns resource i as the document holds it, undecoded: its JSON object (a view into the
// document, "@type" included), or binary protobuf for a resource built in memory. Two equal
// Raw values are the same resource; a semantic comparison can skip them without decoding.
func (r Resources[T]) Raw(i int) []byte { return r.list[i].any.GetValue() }

// Origin is the section field resource i comes from, such as "dynamic_active_clusters" or
// "static_listeners".
func (r Resources[T]) Origin(i int) string { return r.list[i].field }

// StringField reads one top-level string field of resource i (by proto or JSON name) without
// decoding the rest: only the members before it are skipped, and a resource's name is its
// first field. It returns "" when the resource has no such field.
func (r Resources[T]) StringField(i int, name string) (string, error) {
	res := r.list[i]
	raw := res.any.GetValue()
	fd := r.newT().ProtoReflect().Descriptor().Fields().ByName(protoreflect.Name(name))
	if fd == nil || fd.Kind() != protoreflect.StringKind || fd.IsList() || fd.IsMap() {
		return "", fmt.Errorf("configdump: %s has no string field %s", r.newT().ProtoReflect().Descriptor().FullName(), name)
	}
	if !isJSONValue(raw) {
		m := r.newT()
		if err := proto.Unmarshal(raw, m); err != nil {
			return "", fmt.Errorf("%s[%d]: %w", res.field, res.index, err)
		}
		return m.ProtoReflect().Get(fd).String(), nil
	}
	dec := newDecoder(raw, offsetIn(r.d.src, raw), r.d.src, nil)
	value, err := dec.topLevelString(string(fd.Name()), fd.JSONName())
	if err != nil {
		return "", fmt.Errorf("%s[%d]: %w", res.field, res.index, err)
	}
	return value, nil
}

// topLevelString reads the string value of the first member of the object named one of keys,
// skipping the members before it; "" when there is none (or it is null).
func (d *decoder) topLevelString(keys ...string) (string, error) {
	if err := d.expect('{'); err != nil {
		return "", err
	}
	for first := true; ; first = false {
		more, err := d.more('}', first)
		if err != nil || !more {
			return "", err
		}
		key, err := d.readKey()
		if err != nil {
			return "", err
		}
		for _, k := range keys {
			if key == k {
				if d.skipWS() == 'n' {
					_, err := d.readLiteral()
					return "", err
				}
				s, err := d.readString()
				return strings.Clone(s), err
			}
		}
		if err := d.skipValue(); err != nil {
			return "", err
		}
	}
}

// ExpandAny decodes a typed config of this dump into the message its type URL names (a v2 URL
// gives the v3 message that replaced it). ok is false, with no error, for a type this binary
// does not know: its JSON (Value, "@type" included) is then all there is.
func (d *Dump) ExpandAny(a *anypb.Any) (m proto.Message, ok bool, err error) {
	mt := resolveType(a.GetTypeUrl())
	if mt == nil {
		if a.GetTypeUrl() != "" {
			d.unknown.add(a.GetTypeUrl())
		}
		return nil, false, nil
	}
	inner := mt.New().Interface()
	if err := unmarshalAnyValue(a.GetValue(), inner, d.src, d.unknown, nil); err != nil {
		return nil, false, fmt.Errorf("%s: %w", a.GetTypeUrl(), err)
	}
	return inner, true, nil
}

// IsRawText reports whether the value of a bytes field decoded from this dump is text the
// document held as it is rather than base64 (Envoy's "[redacted]"): the encoder prints it back
// unchanged.
func (d *Dump) IsRawText(b []byte) bool {
	return (&Encoder{src: d.src}).isRawText(b)
}

// IsSensitive reports whether a field is annotated (udpa.annotations.sensitive): secret
// material, which is never printed (see docs/redaction.md).
func IsSensitive(fd protoreflect.FieldDescriptor) bool {
	return infoFor(fd.ContainingMessage()).fields[fd.Index()].sensitive
}

// Containing returns the indexes of the resources whose undecoded JSON contains b, in order:
// a quick way to find the few resources a look-up by name can match before decoding any
// (a resource kept in binary form is always returned).
func (r Resources[T]) Containing(b []byte) []int {
	var out []int
	for i, res := range r.list {
		v := res.any.GetValue()
		if !isJSONValue(v) || bytes.Contains(v, b) {
			out = append(out, i)
		}
	}
	return out
}
