package configdump

import (
	"fmt"

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
	d     *Dump
	list  []resource
	newT  func() T
	proj  Projection
	check bool
}

// Select returns the same resources, to be decoded with only the selected fields (see
// Projection).
func (r Resources[T]) Select(p Projection) Resources[T] {
	r.proj = p
	return r
}

// Checked returns the same resources, to be decoded (with the selected fields) after checking
// what the selection leaves out and every typed config met, as decoding and printing each whole
// would: a table, which reads a few fields, accepts and refuses the same resources as -o json.
func (r Resources[T]) Checked() Resources[T] {
	r.check = true
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
			err = unmarshalAny(res.any.GetValue(), m, r.d.src, r.d.unknown, r.proj, r.check)
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
