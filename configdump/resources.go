package configdump

import (
	"bytes"
	"fmt"
	"strings"
	"sync"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/proxyctl/proxyctl/internal/parallel"
)

// resource is one typed resource of a section, still undecoded; field, index and wrapper name
// its place for error messages, e.g. dynamic_active_clusters[3].cluster.
type resource struct {
	any     *anypb.Any
	field   string
	index   int
	wrapper string
}

// at describes where a resource's error is, as the checker describes it for a whole section
// (see Dump.walk): "clusters section: dynamic_active_clusters[3].cluster.connect_timeout
// (line 12, column 5): ...".
func (r resource) at(s Section, err error) error {
	path := fmt.Sprintf("%s[%d]", r.field, r.index)
	if r.wrapper != "" {
		path += "." + r.wrapper
	}
	if pe, ok := err.(*pathError); ok {
		err = atPath(pe, path)
	} else {
		err = fmt.Errorf("%s: %w", path, err)
	}
	if s == "" {
		return err
	}
	return fmt.Errorf("%s section: %w", s.Short(), err)
}

// Resources are a section's resources of type T, not decoded yet.
type Resources[T proto.Message] struct {
	d       *Dump
	section Section // "" for a /clusters document
	list    []resource
	newT    func() T
	proj    Projection
	check   bool
}

// Select returns the same resources, to be decoded with only the selected fields (see
// Projection).
func (r Resources[T]) Select(p Projection) Resources[T] {
	r.proj = p
	return r
}

// Checked returns the same resources, to be checked whole as they are decoded: the fields a
// projection leaves out and every typed config in them (see check.go), so that a view that
// reads a few fields fails on the same values as one that prints everything. EachChecked also
// reports the unknown types met in each resource.
func (r Resources[T]) Checked() Resources[T] {
	r.check = true
	return r
}

func newResources[T proto.Message](d *Dump, s Section, list []resource, newT func() T) Resources[T] {
	return Resources[T]{d: d, section: s, list: list, newT: newT}
}

// Len is the number of resources.
func (r Resources[T]) Len() int { return len(r.list) }

// Each decodes the resources at indexes (every one when indexes is nil), on all cores, calls fn
// on each message, and hands fn's results to emit in the order of indexes. A few batches are in
// flight at a time, so memory stays flat however many resources there are, provided fn does
// not keep the message. It stops at the first error, which names the resource; whatever failed
// (decoding, or fn printing the resource's typed configs), the error is the checker's: the
// first wrong value in the resource, the same in every view and format.
func Each[T proto.Message, R any](r Resources[T], indexes []int, fn func(T) (R, error), emit func(R) error) error {
	return EachChecked(r, indexes, func(m T, _ []string, failed error) (R, error) {
		if failed != nil {
			var zero R
			return zero, failed
		}
		return fn(m)
	}, emit)
}

// EachChecked is Each for Checked resources: fn is also given the unknown types met in the
// resource and, when the resource fails its check, the error, with the resource decoded
// without checks: the caller decides whether the error matters (it does not for a resource a
// filter leaves out) and returns it if it does. A resource whose fields the projection
// selects do not decode fails without fn.
func EachChecked[T proto.Message, R any](r Resources[T], indexes []int, fn func(m T, unknown []string, failed error) (R, error), emit func(R) error) error {
	n := len(r.list)
	if indexes != nil {
		n = len(indexes)
	}
	want := r.newT().ProtoReflect().Descriptor().FullName()
	rel := r.passReleaser(indexes)
	return parallel.Ordered(n, func(k int) (handled[R], error) {
		var zero handled[R]
		i := k
		if indexes != nil {
			i = indexes[k]
		}
		res := r.list[i]
		wrap := func(err error) error { return res.at(r.section, err) }
		if err := checkType(res.any.GetTypeUrl(), want); err != nil {
			return zero, wrap(err)
		}
		value := res.any.GetValue()
		m := r.newT()
		md := m.ProtoReflect().Descriptor()
		var unknown *typeSet
		if r.check {
			unknown = &typeSet{}
		}
		var failed error
		if err := decodeValue(value, m, r.d.src, unknown, r.proj, r.check); err != nil {
			failed = r.d.firstError(value, md, err)
			if !r.check {
				return zero, wrap(failed)
			}
			m = r.newT()
			if err := decodeValue(value, m, r.d.src, nil, r.proj, false); err != nil {
				return zero, wrap(failed)
			}
		}
		var types []string
		if unknown != nil {
			types = unknown.list()
		}
		out, err := fn(m, types, failed)
		if err != nil {
			if failed == nil {
				err = r.d.firstError(value, md, err)
			}
			return zero, wrap(err)
		}
		return handled[R]{out, i}, nil
	}, func(rr handled[R]) error {
		err := emit(rr.out)
		r.done(rel, rr.index)
		return err
	})
}

// released is a result of one resource and where the resource ends in the document.
type released[R any] struct {
	out R
	end int
}

// handled is a result of one resource and the resource's index.
type handled[R any] struct {
	out   R
	index int
}

// releaser returns a releaser of the resources' bytes, when the dump has a release function
// (see ReleaseWith), else nil: the resources' pages are dropped once handled, as they go.
func (r Resources[T]) releaser() *releaser {
	if r.d.release == nil || len(r.list) == 0 {
		return nil
	}
	return &releaser{release: r.d.release, src: r.d.src, from: r.start(0)}
}

// passReleaser is what a pass over the resources at indexes (all, in order, when nil) drops
// behind it: in the document's order, what it is done with, as it goes; in another order (a
// view sorted by name), the resources' whole span every megabyte handled, since the kernel
// maps 64 kB of the file back around every resource read and a sorted pass would otherwise
// bring whole sections back (pc cluster -o json on 50 MB: 29 MB of peak RSS).
func (r Resources[T]) passReleaser(indexes []int) *releaser {
	rel := r.releaser()
	if rel == nil || indexes == nil {
		return rel
	}
	for k := 1; k < len(indexes); k++ {
		if indexes[k] < indexes[k-1] {
			// The span of them all (the list is not in the document's order: a section's
			// static resources may follow its dynamic ones).
			rel.scattered, rel.from, rel.to = true, len(rel.src), 0
			for i := range r.list {
				if start, end := r.start(i), r.end(i); end > start {
					rel.from, rel.to = min(rel.from, start), max(rel.to, end)
				}
			}
			break
		}
	}
	return rel
}

// done notes that the pass has handled resource i (see passReleaser).
func (r Resources[T]) done(rel *releaser, i int) {
	if rel == nil {
		return
	}
	if !rel.scattered {
		rel.upTo(r.end(i))
		return
	}
	if start, end := r.start(i), r.end(i); end > start {
		rel.handled += end - start
	}
	if rel.handled >= releaseChunk && rel.to > rel.from && rel.to <= len(rel.src) {
		rel.release(rel.src[rel.from:rel.to])
		rel.handled = 0
	}
}

// start and end are the offsets of resource i's value in the document (0 when not in it).
func (r Resources[T]) start(i int) int { return offsetIn(r.d.src, r.list[i].any.GetValue()) }
func (r Resources[T]) end(i int) int {
	v := r.list[i].any.GetValue()
	if at := offsetIn(r.d.src, v); at > 0 {
		return at + len(v)
	}
	return 0
}

// EachJSON is Each for printing resources: it hands fn the JSON of each resource at indexes
// (every one when nil) as an Encoder at depth prints the decoded resource (compact: without
// line breaks and indentation, for a reader that does not care), on all cores, and fn's
// results to emit in order. The JSON is transcoded from the dump's (see transcode.go),
// which skips building the messages; the errors are Each's. The JSON fn is given, which its
// result may share, is only valid until emit returns.
func EachJSON[T proto.Message, R any](r Resources[T], indexes []int, depth int, compact bool, fn func(json []byte) (R, error), emit func(R) error) error {
	n := len(r.list)
	if indexes != nil {
		n = len(indexes)
	}
	md := r.newT().ProtoReflect().Descriptor()
	want := md.FullName()
	type encoded struct {
		out   R
		buf   *[]byte
		index int
	}
	rel := r.passReleaser(indexes)
	return parallel.Ordered(n, func(k int) (encoded, error) {
		i := k
		if indexes != nil {
			i = indexes[k]
		}
		res := r.list[i]
		wrap := func(err error) (encoded, error) { return encoded{}, res.at(r.section, err) }
		if err := checkType(res.any.GetTypeUrl(), want); err != nil {
			return wrap(err)
		}
		value := res.any.GetValue()
		buf := jsonBuffers.Get().(*[]byte)
		enc := r.d.NewEncoder()
		enc.buf = (*buf)[:0]
		enc.SetDepth(depth)
		enc.compact = compact
		done := func() { *buf = enc.buf; jsonBuffers.Put(buf) }
		if !transcode(enc, value, r.d.src, md) {
			// Decoded and encoded, as Each and the Encoder do: this reports the error.
			m := r.newT()
			if err := decodeValue(value, m, r.d.src, nil, nil, false); err != nil {
				done()
				return wrap(r.d.firstError(value, md, err))
			}
			if err := enc.Message(m); err != nil {
				done()
				return wrap(r.d.firstError(value, md, err))
			}
		}
		out, err := fn(enc.Bytes())
		*buf = enc.buf
		if err != nil {
			jsonBuffers.Put(buf)
			return wrap(r.d.firstError(value, md, err))
		}
		return encoded{out, buf, i}, nil
	}, func(e encoded) error {
		err := emit(e.out)
		jsonBuffers.Put(e.buf)
		r.done(rel, e.index)
		return err
	})
}

// jsonBuffers keeps EachJSON's output buffers between resources.
var jsonBuffers = sync.Pool{New: func() any { return new([]byte) }}

// firstError returns the checker's error for a resource (JSON of type md) on which err was
// met, or err when the checker finds nothing wrong (a binary value, say).
func (d *Dump) firstError(value []byte, md protoreflect.MessageDescriptor, err error) error {
	if !isJSONValue(value) {
		return err
	}
	dec := newDecoder(value, offsetIn(d.src, value), d.src, nil)
	if cerr := dec.checkObject(infoFor(md), false, 0); cerr != nil {
		return cerr
	}
	return err
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
