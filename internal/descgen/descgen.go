// Package descgen builds the descriptor files configdump embeds: every protobuf file linked
// into the calling binary (link internal/alltypes to get all of Envoy's), and an index of their
// message names. It is build tooling: proxyctl itself does not link it.
package descgen

import (
	"bytes"
	"fmt"
	"sort"

	udpa "github.com/cncf/xds/go/udpa/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// Generate returns the FileDescriptorSet of every registered file, sorted by path, and the
// index: one line per message, "M full.Name path/of/file.proto", and one per
// renamed message, "V old.v2.Name new.v3.Name", from (udpa.annotations.versioning).
func Generate() (descriptors, index []byte, err error) {
	var files []protoreflect.FileDescriptor
	protoregistry.GlobalFiles.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		files = append(files, fd)
		return true
	})
	sort.Slice(files, func(i, j int) bool { return files[i].Path() < files[j].Path() })
	set := &descriptorpb.FileDescriptorSet{}
	var lines []string
	for _, fd := range files {
		set.File = append(set.File, protodesc.ToFileDescriptorProto(fd))
		lines = appendMessages(lines, fd.Path(), fd.Messages())
	}
	raw, err := proto.MarshalOptions{Deterministic: true}.Marshal(set)
	if err != nil {
		return nil, nil, err
	}
	sort.Strings(lines)
	var idx bytes.Buffer
	for _, l := range lines {
		idx.WriteString(l)
		idx.WriteByte('\n')
	}
	// Not compressed: proxyctl reads them on most real dumps, and inflating them took longer
	// than decoding the files a dump needs.
	return raw, idx.Bytes(), nil
}

func appendMessages(lines []string, path string, msgs protoreflect.MessageDescriptors) []string {
	for i := 0; i < msgs.Len(); i++ {
		md := msgs.Get(i)
		lines = append(lines, fmt.Sprintf("M %s %s", md.FullName(), path))
		if opts, ok := md.Options().(*descriptorpb.MessageOptions); ok && opts != nil {
			if v, ok := proto.GetExtension(opts, udpa.E_Versioning).(*udpa.VersioningAnnotation); ok && v.GetPreviousMessageType() != "" {
				lines = append(lines, fmt.Sprintf("V %s %s", v.GetPreviousMessageType(), md.FullName()))
			}
		}
		lines = appendMessages(lines, path, md.Messages())
	}
	return lines
}
