package configdump

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"strings"
	"sync"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// proxyctl links only the Envoy types its views use: linking all of Envoy's ~500 API packages
// costs tens of megabytes of memory at start-up, paid on every run. The other types are
// described by embedded descriptors (regenerate with `go run ./hack/gendescriptors configdump`)
// and built, as dynamic messages, the first time a dump needs one: typically to print a typed
// config with -o json.

//go:embed descriptors.pb
var descriptorsPB []byte

//go:embed types.idx
var typeIndexData []byte

// typeIndex is the embedded index: the file of each message, and the v3 successor of each
// renamed v2 message.
type typeIndex struct {
	file     map[protoreflect.FullName]string
	previous map[protoreflect.FullName]protoreflect.FullName
}

var loadTypeIndex = sync.OnceValue(func() *typeIndex {
	ix := &typeIndex{file: map[protoreflect.FullName]string{}, previous: map[protoreflect.FullName]protoreflect.FullName{}}
	// The strings share the embedded data's memory: it never changes.
	for data := typeIndexData; len(data) > 0; {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		kind, rest, _ := strings.Cut(bytesToString(line), " ")
		a, b, _ := strings.Cut(rest, " ")
		switch kind {
		case "M":
			ix.file[protoreflect.FullName(a)] = b
		case "V":
			ix.previous[protoreflect.FullName(a)] = protoreflect.FullName(b)
		}
	}
	return ix
})

// successor follows v2 -> v3 renames to the newest name.
func (ix *typeIndex) successor(name protoreflect.FullName) (protoreflect.FullName, bool) {
	next, ok := ix.previous[name]
	if !ok {
		return name, false
	}
	for i := 0; i < 4; i++ {
		n, ok := ix.previous[next]
		if !ok {
			break
		}
		next = n
	}
	return next, true
}

// knownName reports whether this binary can decode messages of the named type: linked, in the
// embedded descriptors, or renamed to one of those.
func knownName(name protoreflect.FullName) bool {
	if _, err := protoregistry.GlobalTypes.FindMessageByName(name); err == nil {
		return true
	}
	ix := loadTypeIndex()
	if _, ok := ix.file[name]; ok {
		return true
	}
	_, ok := ix.successor(name)
	return ok
}

// canonicalName is the name a type URL resolves to: its v3 successor for renamed v2 types.
func canonicalName(url string) protoreflect.FullName {
	name := messageName(url)
	if strings.HasPrefix(string(name), "envoy.admin.v3.") {
		return name
	}
	if next, ok := loadTypeIndex().successor(name); ok {
		return next
	}
	return name
}

// onlyDescriptors, set by tests, makes every type come from the embedded descriptors, as in a
// binary that links none.
var onlyDescriptors bool

// linkedFiles is the registry of linked files (none when onlyDescriptors is set).
func linkedFiles() *protoregistry.Files {
	if onlyDescriptors {
		return new(protoregistry.Files)
	}
	return protoregistry.GlobalFiles
}

// dynamicTypes builds message types from the embedded descriptors, on demand.
type dynamicTypes struct {
	mu sync.Mutex
	// raw holds each embedded file descriptor, still encoded, by path (nil until first use):
	// a dump needs a few of the hundreds of files, and decoding them all took longer than
	// most views of a 50 MB dump take to decode what they print.
	raw map[string][]byte
	// protos are the file descriptors decoded so far, by path.
	protos map[string]*descriptorpb.FileDescriptorProto
	files  protoregistry.Files
	types  map[protoreflect.FullName]protoreflect.MessageType
}

var dynamic = &dynamicTypes{types: map[protoreflect.FullName]protoreflect.MessageType{}}

// messageType returns a dynamic message type for a message described in the embedded
// descriptors, or nil.
func (t *dynamicTypes) messageType(name protoreflect.FullName) protoreflect.MessageType {
	path, ok := loadTypeIndex().file[name]
	if !ok {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if mt, ok := t.types[name]; ok {
		return mt
	}
	fd, err := t.file(path)
	if err != nil {
		return nil
	}
	d := fd.Messages().ByName(name.Name())
	if d == nil {
		// A nested message: find it from the file's descriptors by full name.
		desc, err := t.files.FindDescriptorByName(name)
		if err != nil {
			return nil
		}
		md, ok := desc.(protoreflect.MessageDescriptor)
		if !ok {
			return nil
		}
		d = md
	}
	mt := dynamicpb.NewMessageType(d)
	t.types[name] = mt
	return mt
}

// file returns the descriptor of the file at path: the linked one if this binary has it, else
// one built from the embedded descriptors, with its dependencies.
func (t *dynamicTypes) file(path string) (protoreflect.FileDescriptor, error) {
	if fd, err := linkedFiles().FindFileByPath(path); err == nil {
		return fd, nil
	}
	if fd, err := t.files.FindFileByPath(path); err == nil {
		return fd, nil
	}
	if t.raw == nil {
		if err := t.loadProtos(); err != nil {
			return nil, err
		}
	}
	fdp, err := t.fileProto(path)
	if err != nil {
		return nil, err
	}
	for _, dep := range fdp.GetDependency() {
		if _, err := t.file(dep); err != nil {
			return nil, err
		}
	}
	fd, err := protodesc.NewFile(fdp, resolverChain{t})
	if err != nil {
		return nil, err
	}
	if err := t.files.RegisterFile(fd); err != nil {
		return nil, err
	}
	return fd, nil
}

// loadProtos finds each file descriptor in the embedded FileDescriptorSet, decoding none.
func (t *dynamicTypes) loadProtos() error {
	set := descriptorsPB
	t.raw = map[string][]byte{}
	for b := set; len(b) > 0; {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if num != 1 || typ != protowire.BytesType { // FileDescriptorSet.file
			if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
				return protowire.ParseError(n)
			}
			b = b[n:]
			continue
		}
		file, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		name, err := fileName(file)
		if err != nil {
			return err
		}
		t.raw[name] = file
	}
	return nil
}

// fileName reads FileDescriptorProto.name from an encoded file descriptor.
func fileName(file []byte) (string, error) {
	for b := file; len(b) > 0; {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return "", protowire.ParseError(n)
		}
		b = b[n:]
		if num == 1 && typ == protowire.BytesType {
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return "", protowire.ParseError(n)
			}
			return string(v), nil
		}
		if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
			return "", protowire.ParseError(n)
		}
		b = b[n:]
	}
	return "", errors.New("an embedded file descriptor has no name")
}

// fileProto decodes the embedded descriptor of the file at path (once).
func (t *dynamicTypes) fileProto(path string) (*descriptorpb.FileDescriptorProto, error) {
	if fdp, ok := t.protos[path]; ok {
		return fdp, nil
	}
	raw, ok := t.raw[path]
	if !ok {
		return nil, fmt.Errorf("no descriptor for %s", path)
	}
	fdp := &descriptorpb.FileDescriptorProto{}
	// Resolve extensions, so that options such as (udpa.annotations.sensitive) are readable.
	if err := (proto.UnmarshalOptions{Resolver: protoregistry.GlobalTypes}).Unmarshal(raw, fdp); err != nil {
		return nil, fmt.Errorf("descriptor of %s: %w", path, err)
	}
	if t.protos == nil {
		t.protos = map[string]*descriptorpb.FileDescriptorProto{}
	}
	t.protos[path] = fdp
	return fdp, nil
}

// loadAll decodes every embedded file descriptor, if not yet done.
func (t *dynamicTypes) loadAll() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.raw == nil {
		if err := t.loadProtos(); err != nil {
			return err
		}
	}
	for path := range t.raw {
		if _, err := t.fileProto(path); err != nil {
			return err
		}
	}
	return nil
}

// allProtos returns every embedded file descriptor (loadAll first).
func (t *dynamicTypes) allProtos() []*descriptorpb.FileDescriptorProto {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]*descriptorpb.FileDescriptorProto, 0, len(t.protos))
	for _, f := range t.protos {
		out = append(out, f)
	}
	return out
}

// resolverChain resolves imports to linked files first, then to files built here.
type resolverChain struct{ t *dynamicTypes }

func (r resolverChain) FindFileByPath(path string) (protoreflect.FileDescriptor, error) {
	if fd, err := linkedFiles().FindFileByPath(path); err == nil {
		return fd, nil
	}
	return r.t.files.FindFileByPath(path)
}

func (r resolverChain) FindDescriptorByName(name protoreflect.FullName) (protoreflect.Descriptor, error) {
	if d, err := linkedFiles().FindDescriptorByName(name); err == nil {
		return d, nil
	}
	return r.t.files.FindDescriptorByName(name)
}

// MessageDescriptor returns the descriptor of a message this binary knows (linked, or from the
// embedded descriptors), or nil.
func MessageDescriptor(name protoreflect.FullName) protoreflect.MessageDescriptor {
	if mt := findType(name); mt != nil {
		return mt.Descriptor()
	}
	return nil
}

// TypeResolver finds message types as the decoder does: a linked Go type, else a dynamic type
// built from the embedded descriptors (v2 names resolve to their v3 successors). Give it to
// protojson or prototext to read documents whose Any values name types this binary does not
// link, such as a route configuration's typed_per_filter_config.
func TypeResolver() interface {
	protoregistry.MessageTypeResolver
	protoregistry.ExtensionTypeResolver
} {
	return typeResolver{}
}

type typeResolver struct{}

func (typeResolver) FindMessageByName(name protoreflect.FullName) (protoreflect.MessageType, error) {
	return typeResolver{}.FindMessageByURL(string(name))
}

func (typeResolver) FindMessageByURL(url string) (protoreflect.MessageType, error) {
	if mt := resolveType(url); mt != nil {
		return mt, nil
	}
	return nil, protoregistry.NotFound
}

func (typeResolver) FindExtensionByName(field protoreflect.FullName) (protoreflect.ExtensionType, error) {
	return protoregistry.GlobalTypes.FindExtensionByName(field)
}

func (typeResolver) FindExtensionByNumber(message protoreflect.FullName, field protoreflect.FieldNumber) (protoreflect.ExtensionType, error) {
	return protoregistry.GlobalTypes.FindExtensionByNumber(message, field)
}
