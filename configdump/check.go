package configdump

import (
	"strconv"

	"github.com/proxyctl/proxyctl/internal/safetext"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// A view that reads a few fields of each resource (a table: see Projection) skips the others,
// and the typed configs it does not look into: it would accept a resource that a view reading
// it all (-o json, which decodes and prints every field and typed config) refuses, a port of -1
// or 2^32, a duration that is a PEM. With decoder.check set, what is skipped is checked instead,
// as decoding it would, without keeping anything: both views accept and refuse the same input.

// checkField checks a field's value (a list, a map or one value) as decoding would.
func (d *decoder) checkField(fd protoreflect.FieldDescriptor, depth int) error {
	if d.skipWS() == 'n' && !isValueMessage(fd) {
		_, err := d.readLiteral()
		return err
	}
	switch {
	case fd.IsMap():
		if err := d.expect('{'); err != nil {
			return err
		}
		kd, vd := fd.MapKey(), fd.MapValue()
		for first := true; ; first = false {
			more, err := d.more('}', first)
			if err != nil || !more {
				return err
			}
			keyPos := d.pos
			key, err := d.readKey()
			if err != nil {
				return err
			}
			if _, err := mapKey(kd, key); err != nil {
				d.pos = keyPos
				return d.errorf("map key %s: %v", safetext.Quote(key), err)
			}
			if err := d.checkElem(vd, depth); err != nil {
				return err
			}
		}
	case fd.IsList():
		if err := d.expect('['); err != nil {
			return err
		}
		for first := true; ; first = false {
			more, err := d.more(']', first)
			if err != nil || !more {
				return err
			}
			if err := d.checkElem(fd, depth); err != nil {
				return err
			}
		}
	}
	return d.checkSingle(fd, depth)
}

// checkElem checks an element of a list or a map, where null means nothing.
func (d *decoder) checkElem(fd protoreflect.FieldDescriptor, depth int) error {
	if fd.Message() != nil && d.skipWS() == 'n' && !isValueMessage(fd) {
		_, err := d.readLiteral()
		return err
	}
	return d.checkSingle(fd, depth)
}

// checkSingle checks one value of a field's type.
func (d *decoder) checkSingle(fd protoreflect.FieldDescriptor, depth int) error {
	if md := fd.Message(); md != nil {
		return d.checkMessage(md, depth+1)
	}
	_, _, err := d.scalar(fd)
	return err
}

// checkMessage checks a message value as messageValue decodes it.
func (d *decoder) checkMessage(md protoreflect.MessageDescriptor, depth int) error {
	if depth > maxDepth {
		return d.errorf("nesting deeper than %d levels", maxDepth)
	}
	info := infoFor(md)
	switch info.wkt {
	case wktAny:
		// anyValue checks the typed config's content (d.check is set).
		return d.anyValue((&anypb.Any{}).ProtoReflect())
	case wktDuration:
		return d.durationValue((&durationpb.Duration{}).ProtoReflect())
	case wktTimestamp:
		return d.timestampValue((&timestamppb.Timestamp{}).ProtoReflect())
	case wktStruct:
		if err := d.expect('{'); err != nil {
			return err
		}
		d.pos--
		return d.checkJSONValue(depth)
	case wktListValue:
		if err := d.expect('['); err != nil {
			return err
		}
		d.pos--
		return d.checkJSONValue(depth)
	case wktValue:
		return d.checkJSONValue(depth)
	case wktFieldMask:
		_, err := d.readString()
		return err
	case wktWrapper:
		_, _, err := d.scalar(info.fields[0].fd)
		return err
	}
	if err := d.expect('{'); err != nil {
		return err
	}
	for first := true; ; first = false {
		more, err := d.more('}', first)
		if err != nil || !more {
			return err
		}
		key, err := d.readKey()
		if err != nil {
			return err
		}
		fd := info.byKey[key]
		if fd == nil {
			if err := d.skipValue(); err != nil {
				return err
			}
			continue
		}
		if err := d.checkField(fd, depth); err != nil {
			return err
		}
	}
}

// checkJSONValue checks a google.protobuf.Value as valueValue decodes it: any JSON, with numbers
// that are doubles.
func (d *decoder) checkJSONValue(depth int) error {
	if depth > maxDepth {
		return d.errorf("nesting deeper than %d levels", maxDepth)
	}
	switch c := d.skipWS(); {
	case c == '{':
		d.pos++
		for first := true; ; first = false {
			more, err := d.more('}', first)
			if err != nil || !more {
				return err
			}
			if _, err := d.readKey(); err != nil {
				return err
			}
			if err := d.checkJSONValue(depth + 1); err != nil {
				return err
			}
		}
	case c == '[':
		d.pos++
		for first := true; ; first = false {
			more, err := d.more(']', first)
			if err != nil || !more {
				return err
			}
			if err := d.checkJSONValue(depth + 1); err != nil {
				return err
			}
		}
	case c == '-' || c >= '0' && c <= '9':
		b, err := d.readNumber()
		if err != nil {
			return err
		}
		if _, err := strconv.ParseFloat(bytesToString(b), 64); err != nil {
			return d.errorf("invalid number %s", b)
		}
		return nil
	}
	return d.skipValue()
}

// checkAnyContent checks the typed config at d.data[start:d.pos], of type url, as printing it
// would decode it: a type this binary does not know is printed as it is, and not checked.
func (d *decoder) checkAnyContent(start int, url string) error {
	mt := resolveType(url)
	if mt == nil {
		return nil
	}
	obj := d.data[start:d.pos]
	sub := newDecoder(obj, d.base+start, d.doc, d.unknown)
	sub.check = true
	md := mt.Descriptor()
	if infoFor(md).wkt == wktNone {
		if err := sub.checkMessage(md, 0); err != nil {
			return err
		}
		return nil
	}
	// A well-known type sits under "value": decode it as unmarshalAnyValue does.
	return unmarshalAnyValue(obj, mt.New().Interface(), d.doc, d.unknown, nil)
}

// checkedAny reads a typed config whose "@type" comes first (as Envoy writes them) in one
// pass, checking its members as that type's fields, and sets m as anyValue does; done is false,
// and nothing consumed counts, when "@type" is not first or names a type to check otherwise
// (a well-known type, or one this binary does not know).
func (d *decoder) checkedAny(m protoreflect.Message) (done bool, err error) {
	d.anyDepth++
	defer func() { d.anyDepth-- }()
	if d.anyDepth > maxDepth {
		return true, d.errorf("nesting deeper than %d levels", maxDepth)
	}
	start := d.pos
	if err := d.expect('{'); err != nil {
		return false, err
	}
	if d.skipWS() != '"' {
		return false, nil
	}
	key, err := d.readKey()
	if err != nil || key != "@type" || d.skipWS() != '"' {
		return false, nil
	}
	url, err := d.readString()
	if err != nil {
		return false, err
	}
	mt := resolveType(url)
	if mt == nil || infoFor(mt.Descriptor()).wkt != wktNone {
		return false, nil
	}
	info := infoFor(mt.Descriptor())
	for {
		more, err := d.more('}', false)
		if err != nil {
			return true, err
		}
		if !more {
			break
		}
		key, err := d.readKey()
		if err != nil {
			return true, err
		}
		fd := info.byKey[key]
		if key == "@type" || fd == nil {
			// A second "@type" wins when decoding: check the whole again the slow way.
			if key == "@type" {
				return false, nil
			}
			if err := d.skipValue(); err != nil {
				return true, err
			}
			continue
		}
		if err := d.checkField(fd, 0); err != nil {
			return true, err
		}
	}
	fds := m.Descriptor().Fields()
	m.Set(fds.ByNumber(1), protoreflect.ValueOfString(url))
	m.Set(fds.ByNumber(2), protoreflect.ValueOfBytes(d.data[start:d.pos]))
	return true, nil
}
