// Package configdump parses the documents Envoy's admin API serves (/config_dump and
// /clusters?format=json) into typed go-control-plane messages and answers the queries the views
// need. It does no I/O.
//
// Parsing is lazy: Parse only splits the document into sections; each section, and each resource
// in it, is decoded when a view asks for it, resources in parallel. Typed configs (Any) are kept
// as JSON until someone unmarshals them, so types this binary does not know survive unchanged.
package configdump

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	adminv3 "github.com/envoyproxy/go-control-plane/envoy/admin/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
)

// Kind is the kind of admin document.
type Kind int

const (
	// KindConfigDump is Envoy's /config_dump: {"configs": [...]}.
	KindConfigDump Kind = iota
	// KindClusterStatus is Envoy's /clusters?format=json: {"cluster_statuses": [...]}.
	KindClusterStatus
)

// Section names the config dump sections, by their v3 message.
type Section protoreflect.FullName

// The config dump sections the views read.
const (
	BootstrapSection Section = "envoy.admin.v3.BootstrapConfigDump"
	ClustersSection  Section = "envoy.admin.v3.ClustersConfigDump"
	ListenersSection Section = "envoy.admin.v3.ListenersConfigDump"
	RoutesSection    Section = "envoy.admin.v3.RoutesConfigDump"
	SecretsSection   Section = "envoy.admin.v3.SecretsConfigDump"
	EndpointsSection Section = "envoy.admin.v3.EndpointsConfigDump"
	EcdsSection      Section = "envoy.admin.v3.EcdsConfigDump"
)

// Short is the section's name as users know it.
func (s Section) Short() string {
	name := strings.TrimPrefix(string(s), "envoy.admin.v3.")
	return strings.ToLower(strings.TrimSuffix(name, "ConfigDump"))
}

// Dump is a parsed admin document.
type Dump struct {
	src      []byte
	kind     Kind
	configs  []*anypb.Any
	statuses *adminv3.Clusters
	unknown  *typeSet

	mu      sync.Mutex
	decoded map[Section]proto.Message
}

// ErrMissingSection is wrapped by errors about a section the document lacks.
var ErrMissingSection = errors.New("missing section")

// Parse splits an admin document into its sections. data must not change while the Dump is in
// use: decoded strings share its memory.
func Parse(data []byte) (*Dump, error) {
	d := &Dump{src: data, unknown: &typeSet{}, decoded: map[Section]proto.Message{}}
	s := scanner{data: data}
	switch c := s.skipWS(); {
	case s.pos >= len(data):
		return nil, errors.New("the document is empty")
	case c == '[':
		return nil, errors.New("the document is a JSON array, not an Envoy config dump (an object with \"configs\")")
	case c != '{':
		return nil, fmt.Errorf("the document is not JSON: it starts with %s", describeByte(c))
	}
	kind, err := documentKind(data)
	if err != nil {
		return nil, err
	}
	d.kind = kind
	switch kind {
	case KindConfigDump:
		cd := &adminv3.ConfigDump{}
		if err := unmarshalJSON(data, 0, cd, d.unknown); err != nil {
			return nil, err
		}
		d.configs = cd.Configs
	case KindClusterStatus:
		cs := &adminv3.Clusters{}
		if err := unmarshalJSON(data, 0, cs, d.unknown); err != nil {
			return nil, err
		}
		d.statuses = cs
	}
	return d, nil
}

// documentKind tells a config dump from a cluster status document by their top-level keys.
func documentKind(data []byte) (Kind, error) {
	s := scanner{data: data}
	if err := s.expect('{'); err != nil {
		return 0, err
	}
	var keys []string
	for first := true; ; first = false {
		more, err := s.more('}', first)
		if err != nil {
			return 0, err
		}
		if !more {
			break
		}
		key, err := s.readString()
		if err != nil {
			return 0, err
		}
		if err := s.expect(':'); err != nil {
			return 0, err
		}
		switch key {
		case "configs":
			if s.skipWS() != '[' {
				return 0, s.errorf(`"configs" is not an array`)
			}
			return KindConfigDump, nil
		case "cluster_statuses", "clusterStatuses":
			return KindClusterStatus, nil
		}
		if len(keys) < 5 {
			keys = append(keys, key)
		}
		if err := s.skipValue(); err != nil {
			return 0, err
		}
	}
	if !s.atEnd() {
		return 0, s.errorf("unexpected data after the top-level value")
	}
	if len(keys) == 0 {
		return 0, errors.New(`the document is an empty object: an Envoy config dump has "configs"`)
	}
	return 0, fmt.Errorf(`the document is not an Envoy config dump: it has no "configs" (its keys: %s)`, strings.Join(keys, ", "))
}

// Kind is the kind of document parsed.
func (d *Dump) Kind() Kind { return d.kind }

// Source returns the document the dump was parsed from.
func (d *Dump) Source() []byte { return d.src }

// UnknownTypes lists the type URLs met so far that this binary does not know.
func (d *Dump) UnknownTypes() []string { return d.unknown.list() }

// HasSection reports whether the config dump holds section s.
func (d *Dump) HasSection(s Section) bool { return len(d.sectionAnys(s)) > 0 }

// sectionAnys returns the configs of section s (v2 sections count as their v3 successors).
func (d *Dump) sectionAnys(s Section) []*anypb.Any {
	var out []*anypb.Any
	for _, c := range d.configs {
		if canonicalName(c.TypeUrl) == protoreflect.FullName(s) {
			out = append(out, c)
		}
	}
	return out
}

// section decodes section s into a new message of type T; like istioctl, the last section of a
// type wins (see Ecds for the one exception).
func section[T proto.Message](d *Dump, s Section, newT func() T) (T, error) {
	var zero T
	if d.kind != KindConfigDump {
		return zero, fmt.Errorf("the document is Envoy's cluster status (/clusters), not a config dump: it has no %s section: %w", s.Short(), ErrMissingSection)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if m, ok := d.decoded[s]; ok {
		return m.(T), nil
	}
	anys := d.sectionAnys(s)
	if len(anys) == 0 {
		return zero, fmt.Errorf("the config dump has no %s section (%s): %w", s.Short(), s, ErrMissingSection)
	}
	out := newT()
	if err := d.UnmarshalAny(anys[len(anys)-1], out); err != nil {
		return zero, fmt.Errorf("%s section: %w", s.Short(), err)
	}
	d.decoded[s] = out
	return out, nil
}

// UnmarshalAny decodes a typed config of this dump into m, whatever its type URL says: like
// istioctl, the caller decides the type (this is how v2 resources are read as v3 ones).
func (d *Dump) UnmarshalAny(a *anypb.Any, m proto.Message) error {
	if a == nil {
		return nil
	}
	return unmarshalAnyValue(a.Value, m, d.src, d.unknown)
}

// unmarshalAnyValue decodes an Any's value, as the decoder kept it (JSON) or binary, into m.
func unmarshalAnyValue(value []byte, m proto.Message, src []byte, unknown *typeSet) error {
	if !isJSONValue(value) {
		return proto.Unmarshal(value, m)
	}
	dec := newDecoder(value, offsetIn(src, value), unknown)
	if infoFor(m.ProtoReflect().Descriptor()).wkt == wktNone {
		return dec.messageValue(m.ProtoReflect(), 0)
	}
	// Well-known types with their own JSON form sit under "value": {"@type": ..., "value": ...}.
	if err := dec.expect('{'); err != nil {
		return err
	}
	for first := true; ; first = false {
		more, err := dec.more('}', first)
		if err != nil || !more {
			return err
		}
		key, err := dec.readKey()
		if err != nil {
			return err
		}
		if key != "value" {
			if err := dec.skipValue(); err != nil {
				return err
			}
			continue
		}
		if err := dec.messageValue(m.ProtoReflect(), 0); err != nil {
			return err
		}
	}
}

// offsetIn is the offset of sub within doc, or 0 when sub is not part of it.
func offsetIn(doc, sub []byte) int {
	if len(doc) == 0 || len(sub) == 0 {
		return 0
	}
	start := uintptr(unsafe.Pointer(unsafe.SliceData(doc)))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(sub)))
	if p < start || p >= start+uintptr(len(doc)) {
		return 0
	}
	return int(p - start)
}

// resource is one typed resource of a section, still undecoded; field and index name its place
// for error messages, e.g. dynamic_active_clusters[3].
type resource struct {
	any   *anypb.Any
	field string
	index int
}

// decodeResources decodes resources into new messages of type T, in parallel, checking that
// each one's type URL, when this binary knows it, names T (or its v2 predecessor).
func decodeResources[T proto.Message](d *Dump, res []resource, newT func() T) ([]T, error) {
	out := make([]T, len(res))
	if len(res) == 0 {
		return out, nil
	}
	want := newT().ProtoReflect().Descriptor().FullName()
	var (
		next     atomic.Int64
		failed   atomic.Bool
		errMu    sync.Mutex
		firstErr error
		errAt    = len(res)
	)
	const batch = 16
	work := func() {
		for !failed.Load() {
			start := int(next.Add(batch)) - batch
			if start >= len(res) {
				return
			}
			for i := start; i < min(start+batch, len(res)); i++ {
				m := newT()
				err := checkType(res[i].any.GetTypeUrl(), want)
				if err == nil {
					err = d.UnmarshalAny(res[i].any, m)
				}
				if err != nil {
					errMu.Lock()
					if i < errAt {
						errAt, firstErr = i, fmt.Errorf("%s[%d]: %w", res[i].field, res[i].index, err)
					}
					errMu.Unlock()
					failed.Store(true)
					return
				}
				out[i] = m
			}
		}
	}
	workers := min(runtime.GOMAXPROCS(0), (len(res)+batch-1)/batch)
	var wg sync.WaitGroup
	for w := 1; w < workers; w++ {
		wg.Add(1)
		go func() { defer wg.Done(); work() }()
	}
	work()
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
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

// NewEncoder returns an encoder for messages decoded from this dump.
func (d *Dump) NewEncoder() *Encoder { return newEncoder(d.src, d.unknown) }
