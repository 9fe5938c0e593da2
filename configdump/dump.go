// Package configdump parses the documents Envoy's admin API serves (/config_dump and
// /clusters?format=json) into typed go-control-plane messages and answers the queries the views
// need. It does no I/O.
//
// Parsing is lazy: Parse only finds the document's sections, in one pass that keeps nothing of
// them; each section, and each resource in it, is decoded when a view asks for it, resources in
// parallel and, for views that stream (see Each), without keeping the decoded messages. Typed configs (Any) are kept
// as JSON until someone unmarshals them, so types this binary does not know survive unchanged.
package configdump

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"unsafe"

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
	src   []byte
	kind  Kind
	spans []sectionSpan // the config dump's sections (or the cluster statuses), undecoded
	// lists and elems are the lists of objects in the sections, for decoding them on all
	// cores (see sectionLists).
	lists   []listSpan
	elems   []elemSpan
	anys    []anySpan // the typed configs in their elements, by start (see anySpan)
	unknown *typeSet

	mu      sync.Mutex
	decoded map[Section]proto.Message

	dropUnknown bool // see DropUnknownFields
	ascii       bool // see ASCII

	// release drops bytes of the document from memory (see ReleaseWith); rel is the pass
	// over the whole document in progress.
	release func([]byte)
	rel     *releaser
}

// ReleaseWith makes the passes over the document (Redactions, CheckAll, and those over a
// section's resources: Each, EachChecked, EachJSON, the decoding of a section's lists) drop
// from memory, with release, the bytes they are done with, as they go: a caller that mapped
// the document gives back its pages (they are read again from the file if touched again).
func (d *Dump) ReleaseWith(release func([]byte)) { d.release = release }

// Release drops b, bytes of the document, from memory with the function given to ReleaseWith
// (if any).
func (d *Dump) Release(b []byte) {
	if d.release != nil {
		d.release(b)
	}
}

// releaser drops a document's bytes from memory in order, a megabyte or more at a time.
type releaser struct {
	release func([]byte)
	src     []byte
	from    int
	// A pass in another order than the document's drops src[from:to] whole every
	// releaseChunk bytes handled (see Resources.passReleaser).
	scattered bool
	to        int
	handled   int
}

// releaseChunk is how much a releaser drops at a time.
const releaseChunk = 1 << 20

// upTo drops the bytes before end (those not dropped yet).
func (r *releaser) upTo(end int) {
	if r == nil || r.release == nil || end-r.from < releaseChunk || end > len(r.src) {
		return
	}
	r.release(r.src[r.from:end])
	r.from = end
}

// DropUnknownFields makes the dump's encoders print only what the types of this binary hold,
// as istioctl prints its dumps: not the members, nor the enum values, the decoder kept as raw
// JSON (see extras.go). Typed configs of unknown types are still printed as they are.
func (d *Dump) DropUnknownFields() { d.dropUnknown = true }

// ErrMissingSection is wrapped by errors about a section the document lacks.
var ErrMissingSection = errors.New("missing section")

// ParseOptions tune Parse for large documents.
type ParseOptions struct {
	// ChunkDone, when set, is called with each chunk of the document Parse has finished
	// indexing; a caller that mapped the document can drop those pages from memory (they are
	// read again only for the sections a view decodes). A large document is indexed on all
	// cores: ChunkDone may then be called from several goroutines at once, not in order, and
	// a chunk may be read again after its call.
	ChunkDone func(chunk []byte)
}

// indexChunk is how much of the document Parse indexes between ChunkDone calls.
const indexChunk = 4 << 20

// Parse indexes an admin document: it finds its sections without decoding them. data must not
// change while the Dump is in use: decoded strings share its memory.
func Parse(data []byte) (*Dump, error) { return ParseWith(data, ParseOptions{}) }

// ParseWith is Parse with options. A YAML document is converted to JSON first; a leading UTF-8
// byte order mark is skipped; a document that is compressed or UTF-16 is refused with an error
// (wrapping ErrEncoding) that names it.
func ParseWith(data []byte, o ParseOptions) (*Dump, error) {
	d, err := parseWith(TrimBOM(data), o)
	if err != nil {
		return nil, ExplainEncoding(data[:min(len(data), 64)], err)
	}
	return d, nil
}

func parseWith(data []byte, o ParseOptions) (*Dump, error) {
	if LooksLikeYAML(data[:min(len(data), 4096)]) {
		converted, err := YAMLToJSON(data)
		if err != nil {
			return nil, err
		}
		data, o.ChunkDone = converted, nil
	}
	ix, err := indexDocument(data, o.ChunkDone)
	if err != nil {
		return nil, Locate(err, data)
	}
	return (&Indexer{ix: *ix}).Dump(data)
}

// Indexer indexes a document fed in pieces as it arrives (from a pipe or a network), so that
// input that is not an admin document is refused at once, before it is all read.
type Indexer struct{ ix indexer }

// NewIndexer returns an indexer at the start of a document.
func NewIndexer() *Indexer { return &Indexer{} }

// Feed indexes the next piece of the document.
func (x *Indexer) Feed(p []byte) error { return x.ix.feed(p) }

// Dump checks that the document fed is complete and returns it parsed; data is the whole
// document, as fed.
func (x *Indexer) Dump(data []byte) (*Dump, error) {
	if int64(len(data)) != x.ix.off {
		return nil, fmt.Errorf("configdump: indexed %d bytes, given %d", x.ix.off, len(data))
	}
	kind, spans, err := x.ix.finish()
	if err != nil {
		return nil, Locate(err, data)
	}
	anys := x.ix.anys
	// Recorded as they close: a typed config inside another closes first.
	slices.SortFunc(anys, func(a, b anySpan) int { return cmp.Compare(a.start, b.start) })
	return &Dump{src: data, kind: kind, spans: spans, lists: x.ix.lists, elems: x.ix.elems, anys: anys, unknown: &typeSet{}, decoded: map[Section]proto.Message{}, ascii: x.ix.high&0x80 == 0}, nil
}

// ASCII reports whether every byte of the document is below 0x80, as the indexer found in
// passing: then it holds none of the characters a terminal acts on that printing it as it is
// must escape (C1 controls, bidirectional overrides...), and a writer can skip looking.
func (d *Dump) ASCII() bool { return d.ascii }

// HasAdminSection reports whether the document has a config of a type of Envoy's admin API (a
// section of a config dump, whether proxyctl shows it or not), or is a /clusters document:
// whether it is an Envoy admin document at all, rather than {"configs": [{}]} or [1].
func (d *Dump) HasAdminSection() bool {
	if d.kind == KindClusterStatus {
		return true
	}
	for _, sp := range d.spans {
		name := string(canonicalName(sp.typeURL))
		if strings.HasPrefix(name, "envoy.admin.") && resolveType(sp.typeURL) != nil {
			return true
		}
	}
	return false
}

// Kind is the kind of document parsed.
func (d *Dump) Kind() Kind { return d.kind }

// Source returns the document the dump was parsed from.
func (d *Dump) Source() []byte { return d.src }

// UnknownTypes lists the type URLs this binary does not know that the view noted in what it
// printed (see NoteUnknownTypes, CheckSection, CheckAll; the encoder notes those it prints).
func (d *Dump) UnknownTypes() []string { return d.unknown.list() }

// NoteUnknownTypes adds type URLs to those UnknownTypes lists.
func (d *Dump) NoteUnknownTypes(urls []string) {
	for _, u := range urls {
		d.unknown.add(u)
	}
}

// sectionValues returns the JSON of each config of section s (v2 sections count as their v3
// successors).
func (d *Dump) sectionValues(s Section) [][]byte {
	var out [][]byte
	for _, sp := range d.spans {
		if canonicalName(sp.typeURL) == protoreflect.FullName(s) {
			out = append(out, d.src[sp.start:sp.end])
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
	values := d.sectionValues(s)
	if len(values) == 0 {
		return zero, fmt.Errorf("the config dump has no %s section (%s): %w", s.Short(), s, ErrMissingSection)
	}
	out := newT()
	if err := d.decodeSection(values[len(values)-1], out); err != nil {
		return zero, fmt.Errorf("%s section: %w", s.Short(), err)
	}
	d.decoded[s] = out
	return out, nil
}

// decodeSection decodes a section's JSON into m as unmarshalAnyValue does, the elements of its
// long lists on all cores.
func (d *Dump) decodeSection(value []byte, m proto.Message) error {
	if !isJSONValue(value) || infoFor(m.ProtoReflect().Descriptor()).wkt != wktNone {
		return unmarshalAnyValue(value, m, d.src, nil, nil)
	}
	dec := newDecoder(value, offsetIn(d.src, value), d.src, nil)
	dec.lists, dec.anys = d, d.anys
	return dec.messageValue(m.ProtoReflect(), 0)
}

// UnmarshalAny decodes a typed config of this dump into m, whatever its type URL says: like
// istioctl, the caller decides the type (this is how v2 resources are read as v3 ones).
func (d *Dump) UnmarshalAny(a *anypb.Any, m proto.Message) error {
	if a == nil {
		return nil
	}
	return unmarshalAnyValue(a.Value, m, d.src, nil, nil)
}

// unmarshalAnyValue decodes an Any's value, as the decoder kept it (JSON) or binary, into m,
// with only the fields proj selects (all when nil).
func unmarshalAnyValue(value []byte, m proto.Message, src []byte, unknown *typeSet, proj Projection) error {
	return decodeValue(value, m, src, unknown, proj, false)
}

// decodeValue is unmarshalAnyValue that, with check, checks what it does not build (see
// Resources.Checked), noting unknown types in unknown.
func decodeValue(value []byte, m proto.Message, src []byte, unknown *typeSet, proj Projection, check bool) error {
	if !isJSONValue(value) {
		return proto.Unmarshal(value, m)
	}
	dec := newDecoder(value, offsetIn(src, value), src, unknown)
	dec.proj = proj
	dec.check = check
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

// NewEncoder returns an encoder for messages decoded from this dump.
func (d *Dump) NewEncoder() *Encoder {
	e := newEncoder(d.src, d.unknown)
	e.dropUnknown = d.dropUnknown
	return e
}

// SectionData returns the bytes of section s in the document: a caller that mapped the
// document can drop them from memory once a view is done with the section.
func (d *Dump) SectionData(s Section) [][]byte { return d.sectionValues(s) }
