package routecheck

import (
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/durationpb"
)

// ValidationResult encodes the results as router_check_tool's --output-path writes them: a
// binary envoy.RouterCheckToolSchema.ValidationResult, every test or, with onlyFailures, the
// failed ones.
func ValidationResult(results []*Result, onlyFailures bool) ([]byte, error) {
	out := newMessage("ValidationResult")
	list := out.Mutable(field(out, "test_results")).List()
	for _, r := range results {
		if onlyFailures && r.Passed {
			continue
		}
		item := list.NewElement().Message()
		set(item, "test_name", protoreflect.ValueOfString(r.Name))
		set(item, "test_passed", protoreflect.ValueOfBool(r.Passed))
		if !r.Passed {
			if err := fillFailure(item.Mutable(field(item, "failure")).Message(), r.Failure); err != nil {
				return nil, err
			}
		}
		list.Append(protoreflect.ValueOfMessage(item))
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(out)
}

func field(m protoreflect.Message, name string) protoreflect.FieldDescriptor {
	return m.Descriptor().Fields().ByName(protoreflect.Name(name))
}

func set(m protoreflect.Message, name string, v protoreflect.Value) { m.Set(field(m, name), v) }

// setWrapped sets a wrapper field (StringValue, UInt32Value).
func setWrapped(m protoreflect.Message, name string, v protoreflect.Value) {
	w := m.Mutable(field(m, name)).Message()
	set(w, "value", v)
}

// setMessage copies a typed message into a field of the schema.
func setMessage(m protoreflect.Message, name string, src proto.Message) error {
	b, err := proto.Marshal(src)
	if err != nil {
		return err
	}
	dst := m.Mutable(field(m, name)).Message()
	return proto.Unmarshal(b, dst.Interface())
}

func fillFailure(f protoreflect.Message, fl *Failure) error {
	if fl == nil {
		return nil
	}
	for _, s := range fl.Strings {
		setWrapped(f, "expected_"+s.Field, protoreflect.ValueOfString(s.Expected))
		setWrapped(f, "actual_"+s.Field, protoreflect.ValueOfString(s.Actual))
	}
	if fl.Code != nil {
		setWrapped(f, "expected_code_redirect", protoreflect.ValueOfUint32(fl.Code[0]))
		setWrapped(f, "actual_code_redirect", protoreflect.ValueOfUint32(fl.Code[1]))
	}
	if fl.Timeout != nil {
		if err := setMessage(f, "expected_timeout", durationpb.New(fl.Timeout[0])); err != nil {
			return err
		}
		if err := setMessage(f, "actual_timeout", durationpb.New(fl.Timeout[1])); err != nil {
			return err
		}
	}
	for _, side := range []struct {
		name string
		list []HeaderFailure
	}{{"request_header_match_failures", fl.Request}, {"response_header_match_failures", fl.Response}} {
		l := f.Mutable(field(f, side.name)).List()
		for _, h := range side.list {
			e := l.NewElement().Message()
			if err := setMessage(e, "header_matcher", h.Matcher); err != nil {
				return err
			}
			setWrapped(e, "actual_header_value", protoreflect.ValueOfString(h.Actual))
			l.Append(protoreflect.ValueOfMessage(e))
		}
	}
	return nil
}

// DecodeValidationResult reads a binary ValidationResult (for tests and tools).
func DecodeValidationResult(b []byte) (*dynamicpb.Message, error) {
	m := newMessage("ValidationResult")
	if err := proto.Unmarshal(b, m); err != nil {
		return nil, err
	}
	return m, nil
}
