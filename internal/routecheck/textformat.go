package routecheck

import (
	"sort"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/proxyctl/proxyctl/configdump"
)

// TextFormat prints a message as C++'s protobuf TextFormat::PrintToString does, which is what
// router_check_tool's --covall prints for a route without a test ("prefix: \"/\"\n"): fields in
// field number order, one per line, nested messages in braces indented by two spaces, strings
// C-escaped, Any expanded. Go's prototext is not used: it randomizes its spacing on purpose, so
// that nobody depends on its bytes.
func TextFormat(m proto.Message) string {
	var b strings.Builder
	printMessage(&b, m.ProtoReflect(), 0)
	return b.String()
}

func printMessage(b *strings.Builder, m protoreflect.Message, indent int) {
	type field struct {
		fd protoreflect.FieldDescriptor
		v  protoreflect.Value
	}
	var fields []field
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		fields = append(fields, field{fd, v})
		return true
	})
	sort.Slice(fields, func(i, j int) bool { return fields[i].fd.Number() < fields[j].fd.Number() })
	for _, f := range fields {
		name := string(f.fd.Name())
		switch {
		case f.fd.IsMap():
			mp := f.v.Map()
			keys := make([]protoreflect.MapKey, 0, mp.Len())
			mp.Range(func(k protoreflect.MapKey, _ protoreflect.Value) bool {
				keys = append(keys, k)
				return true
			})
			sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
			for _, k := range keys {
				pad(b, indent)
				b.WriteString(name + " {\n")
				pad(b, indent+2)
				b.WriteString("key: ")
				printScalar(b, f.fd.MapKey(), k.Value())
				b.WriteByte('\n')
				printField(b, "value", f.fd.MapValue(), mp.Get(k), indent+2)
				pad(b, indent)
				b.WriteString("}\n")
			}
		case f.fd.IsList():
			l := f.v.List()
			for i := 0; i < l.Len(); i++ {
				printField(b, name, f.fd, l.Get(i), indent)
			}
		default:
			printField(b, name, f.fd, f.v, indent)
		}
	}
}

func printField(b *strings.Builder, name string, fd protoreflect.FieldDescriptor, v protoreflect.Value, indent int) {
	pad(b, indent)
	if fd.Message() == nil {
		b.WriteString(name + ": ")
		printScalar(b, fd, v)
		b.WriteByte('\n')
		return
	}
	b.WriteString(name + " {\n")
	if !printAny(b, v.Message(), indent+2) {
		printMessage(b, v.Message(), indent+2)
	}
	pad(b, indent)
	b.WriteString("}\n")
}

// printAny prints an Any whose type is known in its expanded form.
func printAny(b *strings.Builder, m protoreflect.Message, indent int) bool {
	if m.Descriptor().FullName() != "google.protobuf.Any" {
		return false
	}
	a, ok := m.Interface().(*anypb.Any)
	if !ok {
		return false
	}
	mt, err := configdump.TypeResolver().FindMessageByURL(a.GetTypeUrl())
	if err != nil {
		return false
	}
	inner := mt.New()
	if err := proto.Unmarshal(a.GetValue(), inner.Interface()); err != nil {
		return false
	}
	pad(b, indent)
	b.WriteString("[" + a.GetTypeUrl() + "] {\n")
	printMessage(b, inner, indent+2)
	pad(b, indent)
	b.WriteString("}\n")
	return true
}

func printScalar(b *strings.Builder, fd protoreflect.FieldDescriptor, v protoreflect.Value) {
	switch fd.Kind() {
	case protoreflect.StringKind:
		b.WriteString(`"` + cEscape(v.String()) + `"`)
	case protoreflect.BytesKind:
		b.WriteString(`"` + cEscape(string(v.Bytes())) + `"`)
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			b.WriteString(string(ev.Name()))
		} else {
			b.WriteString(strconv.Itoa(int(v.Enum())))
		}
	case protoreflect.BoolKind:
		b.WriteString(strconv.FormatBool(v.Bool()))
	case protoreflect.FloatKind:
		b.WriteString(formatShortest(v.Float(), 32))
	case protoreflect.DoubleKind:
		b.WriteString(formatShortest(v.Float(), 64))
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		b.WriteString(strconv.FormatInt(v.Int(), 10))
	default:
		b.WriteString(strconv.FormatUint(v.Uint(), 10))
	}
}

func formatShortest(f float64, bits int) string {
	switch s := strconv.FormatFloat(f, 'g', -1, bits); s {
	case "NaN":
		return "nan"
	case "+Inf":
		return "inf"
	case "-Inf":
		return "-inf"
	default:
		return s
	}
}

// cEscape is absl's CEscape: \n \r \t \" \' \\ by name, other bytes outside printable ASCII
// as three octal digits.
func cEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '"':
			b.WriteString(`\"`)
		case '\'':
			b.WriteString(`\'`)
		case '\\':
			b.WriteString(`\\`)
		default:
			if c < 0x20 || c >= 0x7f {
				b.WriteByte('\\')
				b.WriteByte('0' + c>>6)
				b.WriteByte('0' + (c>>3)&7)
				b.WriteByte('0' + c&7)
			} else {
				b.WriteByte(c)
			}
		}
	}
	return b.String()
}

func pad(b *strings.Builder, n int) {
	for i := 0; i < n; i++ {
		b.WriteByte(' ')
	}
}
