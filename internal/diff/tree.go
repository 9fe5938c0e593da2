package diff

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"hash/maphash"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/proxyctl/proxyctl/configdump"
)

// A node is a resource, or a part of it, in canonical form: what is compared, and what is
// printed. Objects have their members sorted by name; lists whose elements have a key (a name,
// a filter chain's match, an endpoint's address) are compared key by key, the others
// position by position after aligning equal elements.
type node struct {
	kind   nodeKind
	scalar any // string, bool, int64, uint64 or float64
	// fields of an object, sorted by name; isMap: the names are map keys (shown as [key]).
	fields []field
	isMap  bool
	// items of a list; keyed: each has a key, unique in the list; ordered: the order of the
	// keys matters (filters, routes), else it is noise (filter chains, virtual hosts).
	items   []item
	keyed   bool
	ordered bool

	sum    uint64 // hash of the canonical form, once computed
	hashed bool
}

type nodeKind uint8

const (
	scalarNode nodeKind = iota
	objectNode
	listNode
)

type field struct {
	name string
	n    *node
}

type item struct {
	key string
	n   *node
}

func scalar(v any) *node { return &node{kind: scalarNode, scalar: v} }

// get returns the member of an object named name, or nil.
func (n *node) get(name string) *node {
	if n == nil || n.kind != objectNode {
		return nil
	}
	i := sort.Search(len(n.fields), func(i int) bool { return n.fields[i].name >= name })
	if i < len(n.fields) && n.fields[i].name == name {
		return n.fields[i].n
	}
	return nil
}

func (n *node) str() string {
	if n == nil || n.kind != scalarNode {
		return ""
	}
	s, _ := n.scalar.(string)
	return s
}

var hashSeed = maphash.MakeSeed()

// hash is a digest of the canonical form: equal nodes have equal hashes.
func (n *node) hash() uint64 {
	if n.hashed {
		return n.sum
	}
	var h maphash.Hash
	h.SetSeed(hashSeed)
	var buf [9]byte
	switch n.kind {
	case scalarNode:
		buf[0] = 's'
		h.Write(buf[:1])
		h.WriteString(fmt.Sprintf("%T:%v", n.scalar, n.scalar))
	case objectNode:
		buf[0] = 'o'
		h.Write(buf[:1])
		for _, f := range n.fields {
			h.WriteString(f.name)
			binary.LittleEndian.PutUint64(buf[1:], f.n.hash())
			h.Write(buf[:])
		}
	case listNode:
		buf[0] = 'l'
		h.Write(buf[:1])
		// Unordered lists have their items sorted by key already.
		for _, it := range n.items {
			h.WriteString(it.key)
			binary.LittleEndian.PutUint64(buf[1:], it.n.hash())
			h.Write(buf[:])
		}
	}
	n.sum, n.hashed = h.Sum64(), true
	return n.sum
}

// equal reports whether two nodes have the same canonical form.
func equal(a, b *node) bool {
	if a == b {
		return true
	}
	if a == nil || b == nil || a.kind != b.kind || a.hash() != b.hash() {
		return false
	}
	switch a.kind {
	case scalarNode:
		return a.scalar == b.scalar
	case objectNode:
		if len(a.fields) != len(b.fields) {
			return false
		}
		for i := range a.fields {
			if a.fields[i].name != b.fields[i].name || !equal(a.fields[i].n, b.fields[i].n) {
				return false
			}
		}
	case listNode:
		if len(a.items) != len(b.items) {
			return false
		}
		for i := range a.items {
			if a.items[i].key != b.items[i].key || !equal(a.items[i].n, b.items[i].n) {
				return false
			}
		}
	}
	return true
}

// Value returns the node as plain data (maps, slices, strings, numbers, booleans), as the
// JSON and YAML reports print it.
func (n *node) value() any {
	if n == nil {
		return nil
	}
	switch n.kind {
	case objectNode:
		m := make(map[string]any, len(n.fields))
		for _, f := range n.fields {
			m[f.name] = f.n.value()
		}
		return m
	case listNode:
		l := make([]any, len(n.items))
		for i, it := range n.items {
			l[i] = it.n.value()
		}
		return l
	}
	return n.scalar
}

// builder turns decoded messages into nodes.
type builder struct {
	d *configdump.Dump
	r *replacer
	// workloadCert: the leaf certificate of a TLS certificate is the proxy's own (its serial
	// number, validity and fingerprint are normalised, as the rest of its identity).
	workloadCert bool
	depth        int
}

const maxDepth = 1000 // as the decoder's

func (b *builder) message(m protoreflect.Message) (*node, error) {
	b.depth++
	defer func() { b.depth-- }()
	if b.depth > maxDepth {
		return nil, fmt.Errorf("nesting deeper than %d levels", maxDepth)
	}
	md := m.Descriptor()
	switch md.FullName() {
	case "google.protobuf.Any":
		return b.anyMessage(m)
	case "google.protobuf.Duration":
		return scalar(durationString(m)), nil
	case "google.protobuf.Timestamp":
		return scalar(timestampString(m)), nil
	case "google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue":
		return b.structValue(m)
	case "google.protobuf.FieldMask":
		paths := m.Get(md.Fields().ByNumber(1)).List()
		parts := make([]string, paths.Len())
		for i := range parts {
			parts[i] = paths.Get(i).String()
		}
		return scalar(strings.Join(parts, ",")), nil
	case "google.protobuf.BoolValue", "google.protobuf.Int32Value", "google.protobuf.Int64Value",
		"google.protobuf.UInt32Value", "google.protobuf.UInt64Value", "google.protobuf.FloatValue",
		"google.protobuf.DoubleValue", "google.protobuf.StringValue", "google.protobuf.BytesValue":
		fd := md.Fields().ByNumber(1)
		return b.scalarValue(m.Get(fd), fd, false), nil
	case "envoy.config.core.v3.DataSource", "envoy.api.v2.core.DataSource":
		if n, ok := b.certificates(m); ok {
			return n, nil
		}
	case "envoy.config.endpoint.v3.ClusterLoadAssignment":
		// Endpoints list the workload's replicas, this one among them: that is data, the same
		// on every replica, not identity.
		if b.r != nil {
			r := b.r
			b.r = nil
			defer func() { b.r = r }()
		}
	}
	obj := &node{kind: objectNode}
	var err error
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		var child *node
		child, err = b.fieldValue(m, fd, v)
		if err != nil {
			err = fmt.Errorf("%s: %w", fd.Name(), err)
			return false
		}
		if child != nil {
			obj.fields = append(obj.fields, field{string(fd.Name()), child})
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(obj.fields, func(i, j int) bool { return obj.fields[i].name < obj.fields[j].name })
	return obj, nil
}

func (b *builder) fieldValue(parent protoreflect.Message, fd protoreflect.FieldDescriptor, v protoreflect.Value) (*node, error) {
	sensitive := configdump.IsSensitive(fd)
	switch {
	case fd.IsMap():
		mp := v.Map()
		obj := &node{kind: objectNode, isMap: true}
		var err error
		mp.Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
			var child *node
			if child, err = b.single(mv, fd.MapValue(), sensitive); err != nil {
				return false
			}
			obj.fields = append(obj.fields, field{b.r.apply(k.String()), child})
			return true
		})
		if err != nil {
			return nil, err
		}
		sortFields(obj)
		return obj, nil
	case fd.IsList():
		list := v.List()
		l := &node{kind: listNode, ordered: true}
		for i := 0; i < list.Len(); i++ {
			child, err := b.single(list.Get(i), fd, sensitive)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			l.items = append(l.items, item{n: child})
		}
		keyList(parent.Descriptor(), fd, l)
		return l, nil
	}
	return b.single(v, fd, sensitive)
}

func (b *builder) single(v protoreflect.Value, fd protoreflect.FieldDescriptor, sensitive bool) (*node, error) {
	if fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind {
		if sensitive {
			return scalar(configdump.Redacted), nil
		}
		return b.message(v.Message())
	}
	return b.scalarValue(v, fd, sensitive), nil
}

func (b *builder) scalarValue(v protoreflect.Value, fd protoreflect.FieldDescriptor, sensitive bool) *node {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return scalar(v.Bool())
	case protoreflect.StringKind:
		if sensitive && v.String() != "" {
			return scalar(configdump.Redacted)
		}
		return scalar(b.r.apply(v.String()))
	case protoreflect.BytesKind:
		raw := v.Bytes()
		switch {
		case sensitive && len(raw) > 0:
			return scalar(configdump.Redacted)
		case b.d.IsRawText(raw):
			return scalar(string(raw))
		}
		return scalar(base64.StdEncoding.EncodeToString(raw))
	case protoreflect.EnumKind:
		if fd.Enum().FullName() == "google.protobuf.NullValue" {
			return scalar(nil)
		}
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			return scalar(string(ev.Name()))
		}
		return scalar(int64(v.Enum()))
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return scalar(v.Int())
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return scalar(v.Uint())
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return scalar(strconv.FormatFloat(f, 'g', -1, 64))
		}
		return scalar(f)
	}
	return scalar(fmt.Sprint(v.Interface()))
}

// anyMessage expands a typed config into its fields, with its type as "@type"; a type this
// binary does not know is compared as its JSON.
func (b *builder) anyMessage(m protoreflect.Message) (*node, error) {
	a, ok := m.Interface().(*anypb.Any)
	if !ok {
		a = &anypb.Any{}
		proto.Merge(a, m.Interface())
	}
	if a.GetTypeUrl() == "" && len(a.GetValue()) == 0 {
		return &node{kind: objectNode}, nil
	}
	inner, known, err := b.d.ExpandAny(a)
	if err != nil {
		return nil, err
	}
	var n *node
	switch {
	case known:
		if n, err = b.message(inner.ProtoReflect()); err != nil {
			return nil, err
		}
		if n.kind != objectNode {
			// A well-known type with a JSON form of its own: {"@type": ..., "value": ...}.
			n = &node{kind: objectNode, fields: []field{{"value", n}}}
		}
	case len(a.GetValue()) > 0 && a.GetValue()[0] == '{':
		var v any
		dec := json.NewDecoder(bytes.NewReader(a.GetValue()))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("%s: %w", a.GetTypeUrl(), err)
		}
		if n, err = b.jsonValue(v); err != nil {
			return nil, err
		}
		if n.kind != objectNode {
			n = &node{kind: objectNode, fields: []field{{"value", n}}}
		}
		n.fields = removeField(n.fields, "@type")
	default:
		n = &node{kind: objectNode, fields: []field{{"value", scalar(base64.StdEncoding.EncodeToString(a.GetValue()))}}}
	}
	n.fields = append(n.fields, field{"@type", scalar(b.r.apply(a.GetTypeUrl()))})
	sortFields(n)
	return n, nil
}

func removeField(fs []field, name string) []field {
	out := fs[:0]
	for _, f := range fs {
		if f.name != name {
			out = append(out, f)
		}
	}
	return out
}

func sortFields(n *node) {
	sort.SliceStable(n.fields, func(i, j int) bool { return n.fields[i].name < n.fields[j].name })
}

// structValue turns a Struct, Value or ListValue into nodes through its JSON form.
func (b *builder) structValue(m protoreflect.Message) (*node, error) {
	raw, err := protoToJSONValue(m)
	if err != nil {
		return nil, err
	}
	return b.jsonValue(raw)
}

// jsonValue turns decoded JSON into nodes: objects are maps (their members' order is noise).
func (b *builder) jsonValue(v any) (*node, error) {
	b.depth++
	defer func() { b.depth-- }()
	if b.depth > maxDepth {
		return nil, fmt.Errorf("nesting deeper than %d levels", maxDepth)
	}
	switch v := v.(type) {
	case map[string]any:
		obj := &node{kind: objectNode, isMap: true}
		for k, e := range v {
			child, err := b.jsonValue(e)
			if err != nil {
				return nil, err
			}
			obj.fields = append(obj.fields, field{b.r.apply(k), child})
		}
		sortFields(obj)
		return obj, nil
	case []any:
		l := &node{kind: listNode, ordered: true}
		for _, e := range v {
			child, err := b.jsonValue(e)
			if err != nil {
				return nil, err
			}
			l.items = append(l.items, item{n: child})
		}
		return l, nil
	case string:
		return scalar(b.r.apply(v)), nil
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return scalar(i), nil
		}
		f, err := v.Float64()
		if err != nil {
			return scalar(string(v)), nil
		}
		return scalar(f), nil
	case float64:
		if f := v; f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			return scalar(int64(f)), nil
		}
		return scalar(v), nil
	case bool:
		return scalar(v), nil
	case nil:
		return scalar(nil), nil
	}
	return scalar(fmt.Sprint(v)), nil
}

// protoToJSONValue converts a Struct, Value or ListValue to plain data.
func protoToJSONValue(m protoreflect.Message) (any, error) {
	md := m.Descriptor()
	switch md.FullName() {
	case "google.protobuf.Struct":
		out := map[string]any{}
		mp := m.Get(md.Fields().ByName("fields")).Map()
		var err error
		mp.Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
			out[k.String()], err = protoToJSONValue(v.Message())
			return err == nil
		})
		return out, err
	case "google.protobuf.ListValue":
		list := m.Get(md.Fields().ByName("values")).List()
		out := make([]any, list.Len())
		for i := range out {
			var err error
			if out[i], err = protoToJSONValue(list.Get(i).Message()); err != nil {
				return nil, err
			}
		}
		return out, nil
	case "google.protobuf.Value":
		fd := m.WhichOneof(md.Oneofs().ByName("kind"))
		if fd == nil {
			return nil, nil
		}
		v := m.Get(fd)
		switch fd.Name() {
		case "null_value":
			return nil, nil
		case "number_value":
			return v.Float(), nil
		case "string_value":
			return v.String(), nil
		case "bool_value":
			return v.Bool(), nil
		}
		return protoToJSONValue(v.Message())
	}
	return nil, fmt.Errorf("not a JSON value: %s", md.FullName())
}

func durationString(m protoreflect.Message) string {
	fds := m.Descriptor().Fields()
	secs, nanos := m.Get(fds.ByNumber(1)).Int(), m.Get(fds.ByNumber(2)).Int()
	sign := ""
	if secs < 0 || nanos < 0 {
		sign, secs, nanos = "-", -secs, -nanos
	}
	if nanos == 0 {
		return sign + strconv.FormatInt(secs, 10) + "s"
	}
	frac := strings.TrimRight(strconv.FormatInt(nanos%1e9+1e9, 10)[1:], "0")
	return sign + strconv.FormatInt(secs, 10) + "." + frac + "s"
}

func timestampString(m protoreflect.Message) string {
	fds := m.Descriptor().Fields()
	secs, nanos := m.Get(fds.ByNumber(1)).Int(), m.Get(fds.ByNumber(2)).Int()
	return time.Unix(secs, nanos).UTC().Format(time.RFC3339Nano)
}

// certificates shows a data source holding PEM certificates as what they say (subject,
// issuer, serial number, validity, names, fingerprint), never as its bytes. ok is false for
// anything else.
func (b *builder) certificates(m protoreflect.Message) (*node, bool) {
	fds := m.Descriptor().Fields()
	var data []byte
	if fd := fds.ByName("inline_bytes"); fd != nil && m.Has(fd) {
		data = m.Get(fd).Bytes()
	} else if fd := fds.ByName("inline_string"); fd != nil && m.Has(fd) {
		data = []byte(m.Get(fd).String())
	}
	if !bytes.Contains(data, []byte("-----BEGIN")) {
		return nil, false
	}
	var certs []*x509.Certificate
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, false
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, false
	}
	list := &node{kind: listNode, ordered: true}
	for i, c := range certs {
		own := b.workloadCert && i == 0 && !c.IsCA
		list.items = append(list.items, item{n: b.certificate(c, own)})
	}
	return &node{kind: objectNode, fields: []field{{"certificates", list}}}, true
}

func (b *builder) certificate(c *x509.Certificate, own bool) *node {
	sum := sha256.Sum256(c.Raw)
	serial, notBefore, notAfter, fingerprint := fmt.Sprintf("%032x", c.SerialNumber),
		c.NotBefore.UTC().Format(time.RFC3339), c.NotAfter.UTC().Format(time.RFC3339), hex.EncodeToString(sum[:])
	if own {
		serial, notBefore, notAfter, fingerprint = "<CERT_SERIAL>", "<CERT_NOT_BEFORE>", "<CERT_NOT_AFTER>", "<CERT_SHA256>"
	}
	fields := []field{
		{"issuer", scalar(c.Issuer.String())},
		{"not_after", scalar(notAfter)},
		{"not_before", scalar(notBefore)},
		{"serial_number", scalar(serial)},
		{"sha256", scalar(fingerprint)},
		{"subject", scalar(b.r.apply(c.Subject.String()))},
	}
	if c.IsCA {
		fields = append(fields, field{"is_ca", scalar(true)})
	}
	names := &node{kind: listNode, ordered: true}
	for _, u := range c.URIs {
		names.items = append(names.items, item{n: scalar(b.r.apply(u.String()))})
	}
	for _, d := range c.DNSNames {
		names.items = append(names.items, item{n: scalar(b.r.apply(d))})
	}
	for _, ip := range c.IPAddresses {
		names.items = append(names.items, item{n: scalar(b.r.apply(ip.String()))})
	}
	if len(names.items) > 0 {
		fields = append(fields, field{"subject_alt_names", names})
	}
	n := &node{kind: objectNode, fields: fields}
	sortFields(n)
	return n
}
