package configdump

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"testing"

	adminv3 "github.com/envoyproxy/go-control-plane/envoy/admin/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/proxyctl/proxyctl/internal/testutil"
)

// FuzzParse feeds arbitrary documents to the parser and to every decoder behind it. Beyond not
// panicking, it checks that
//   - a JSON document it accepts is valid JSON for encoding/json too;
//   - indexing the document in pieces, as a stream is indexed, agrees with indexing it whole;
//   - every section and resource that decodes encodes to valid JSON, and that JSON decodes and
//     encodes again to the same bytes (the codec is a fixpoint after one round);
//   - the redactions are in order, apart and inside the document.
func FuzzParse(f *testing.F) {
	for _, seed := range testutil.FuzzSeeds(f) {
		f.Add(seed, uint16(4096))
	}
	f.Fuzz(func(t *testing.T, data []byte, piece uint16) {
		d, err := Parse(data)
		checkStreamedParse(t, data, int(piece%8192)+1, d, err)
		if err != nil {
			return
		}
		if !LooksLikeYAML(data[:min(len(data), 4096)]) && !json.Valid(data) {
			t.Fatalf("accepted a document encoding/json finds invalid:\n%.2000q", data)
		}
		for _, sp := range d.spans {
			if mt := resolveType(sp.typeURL); mt != nil {
				m := mt.New().Interface()
				if d.UnmarshalAny(&anypb.Any{TypeUrl: sp.typeURL, Value: d.src[sp.start:sp.end]}, m) == nil {
					checkRoundTrip(t, d, m)
				}
				compareTranscoded(t, sp.typeURL, d, d.src[sp.start:sp.end], mt.Descriptor())
			}
		}
		decodeAll(t, d, d.ClusterResources)
		decodeAll(t, d, d.ListenerResources)
		decodeAll(t, d, d.RouteConfigResources)
		decodeAll(t, d, d.LoadAssignmentResources)
		decodeAll(t, d, d.ClusterStatusResources)
		if reps, err := d.Redactions(); err == nil {
			end := 0
			for _, r := range reps {
				if r.Start < end || r.End < r.Start || r.End > len(data) {
					t.Fatalf("redactions out of order or bounds: %+v in %d bytes", reps, len(data))
				}
				end = r.End
			}
		}
	})
}

// checkStreamedParse indexes data in pieces of n bytes and compares with Parse's outcome.
func checkStreamedParse(t *testing.T, data []byte, n int, whole *Dump, wholeErr error) {
	t.Helper()
	if LooksLikeYAML(data[:min(len(data), 4096)]) {
		return // converted before indexing; a stream of YAML is read whole
	}
	ix := NewIndexer()
	var err error
	for i := 0; i < len(data) && err == nil; i += n {
		err = ix.Feed(data[i:min(i+n, len(data))])
	}
	var streamed *Dump
	if err == nil {
		streamed, err = ix.Dump(data)
	}
	if (err == nil) != (wholeErr == nil) {
		t.Fatalf("streamed in pieces of %d: error %v; whole: error %v", n, err, wholeErr)
	}
	if err == nil && (streamed.kind != whole.kind || !slices.Equal(streamed.spans, whole.spans)) {
		t.Fatalf("streamed in pieces of %d: %+v; whole: %+v", n, streamed.spans, whole.spans)
	}
}

func decodeAll[T proto.Message](t *testing.T, d *Dump, resources func() (Resources[T], error)) {
	t.Helper()
	r, err := resources()
	if err != nil {
		return
	}
	md := r.newT().ProtoReflect().Descriptor()
	for i := 0; i < r.Len(); i++ {
		// One at a time: a resource that does not decode must not hide the others.
		_ = Each(r, []int{i}, func(m T) (T, error) { return m, nil }, func(m T) error {
			checkRoundTrip(t, d, m)
			return nil
		})
		compareTranscoded(t, "resource", d, r.list[i].any.GetValue(), md)
	}
}

// checkRoundTrip encodes m, decodes that JSON and encodes again: both encodings must be valid
// JSON and equal. Encoding may fail only where a typed config inside m does not decode.
func checkRoundTrip(t *testing.T, d *Dump, m proto.Message) {
	t.Helper()
	enc := d.NewEncoder()
	if err := enc.Message(m); err != nil {
		// Typed configs are decoded when printed: one that is not valid for its type fails
		// then, with the decoder's error. Any other failure is the encoder's bug.
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Fatalf("encoding a decoded %s: %v", m.ProtoReflect().Descriptor().FullName(), err)
		}
		return
	}
	first := bytes.Clone(enc.Bytes())
	if !json.Valid(first) {
		t.Fatalf("encoding of %s is not valid JSON:\n%s", m.ProtoReflect().Descriptor().FullName(), first)
	}
	again := m.ProtoReflect().Type().New().Interface()
	unknown := &typeSet{}
	if err := unmarshalAnyValue(first, again, first, unknown, nil); err != nil {
		t.Fatalf("decoding the encoding of %s: %v\n%s", m.ProtoReflect().Descriptor().FullName(), err, first)
	}
	enc2 := newEncoder(first, unknown)
	if err := enc2.Message(again); err != nil {
		t.Fatalf("encoding %s again: %v", m.ProtoReflect().Descriptor().FullName(), err)
	}
	if !bytes.Equal(first, enc2.Bytes()) {
		t.Fatalf("%s encodes differently after a round trip:\nfirst:\n%s\nagain:\n%s", m.ProtoReflect().Descriptor().FullName(), first, enc2.Bytes())
	}
}

// FuzzDocumentFromConfigs turns arbitrary protobuf config dumps (what istiod's xDS debug API
// sends, from a broken or hostile server) into the admin document: either it is refused, or it
// is valid JSON that Parse reads.
func FuzzDocumentFromConfigs(f *testing.F) {
	for _, seed := range testutil.FuzzSeeds(f) {
		dump := &adminv3.ConfigDump{}
		if err := (protojson.UnmarshalOptions{Resolver: TypeResolver()}).Unmarshal(seed, dump); err != nil {
			continue
		}
		b, err := proto.Marshal(dump)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		dump := &adminv3.ConfigDump{}
		if err := proto.Unmarshal(data, dump); err != nil {
			return
		}
		doc, err := DocumentFromConfigs(dump.GetConfigs())
		if err != nil {
			return
		}
		if !json.Valid(doc) {
			t.Fatalf("invalid JSON:\n%.3000s", doc)
		}
		if _, err := Parse(doc); err != nil {
			t.Fatalf("the document does not parse: %v\n%.3000s", err, doc)
		}
	})
}

// FuzzRedactionsOf feeds arbitrary admin documents (as a proxy's server could answer them) to
// RedactionsOf, which capture runs on every document before archiving it. Beyond not
// panicking: a document it accepts is valid JSON, the replacements are in order inside it,
// and the redacted document is valid JSON too.
func FuzzRedactionsOf(f *testing.F) {
	for _, seed := range []string{
		`{"version": "x", "node": {"id": "a"}}`,
		`{"certificates": [{"ca_cert": [{"path": "/etc/x"}]}], "future": {"private_key": "x"}}`,
		`{"zzz": {"q" "private_key": "SECRET"}}`,
		`{"\`, `{"zzz":"\`, `{"a": "\u00e9\ud800"}`,
		`{"\ud800": 1}`, `{"x\udbff": {"\ud800\u": 1}}`,
	} {
		f.Add([]byte(seed), uint8(0))
		f.Add([]byte(seed), uint8(1))
	}
	types := []protoreflect.FullName{"envoy.admin.v3.ServerInfo", "envoy.admin.v3.Certificates", "envoy.admin.v3.Clusters", "envoy.admin.v3.Listeners", "envoy.admin.v3.Memory"}
	f.Fuzz(func(t *testing.T, doc []byte, which uint8) {
		repl, err := RedactionsOf(doc, types[int(which)%len(types)])
		if err != nil {
			return
		}
		if !json.Valid(doc) {
			t.Fatalf("accepted a document that is not JSON: %q", doc)
		}
		at := 0
		for _, r := range repl {
			if r.Start < at || r.End < r.Start || r.End > len(doc) {
				t.Fatalf("replacement %+v out of order or outside the document (%d bytes)", r, len(doc))
			}
			at = r.End
		}
		var out bytes.Buffer
		if _, err := out.ReadFrom(NewRedactedReader(doc, repl)); err != nil || !json.Valid(out.Bytes()) {
			t.Fatalf("redacted %q into %q (%v), not JSON", doc, out.Bytes(), err)
		}
	})
}
