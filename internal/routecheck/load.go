package routecheck

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"sigs.k8s.io/yaml"

	"github.com/proxyctl/proxyctl/configdump"
	"github.com/proxyctl/proxyctl/internal/safetext"
)

// Format is how a file is written, chosen by its extension as Envoy's
// TestUtility::loadFromFile does: .yaml (and .yml) YAML, .pb_text protobuf text, else JSON.
type Format int

// The file formats.
const (
	JSON Format = iota
	YAML
	Text
)

// FormatOf returns the format of a file, by its name.
func FormatOf(name string) Format {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".yaml", ".yml":
		return YAML
	case ".pb_text":
		return Text
	}
	return JSON
}

// LoadError is a file that does not load: Field is the field path in the file ("" for the file
// as a whole), Err what is wrong with it.
type LoadError struct {
	File  string
	Field string
	Err   error
}

func (e *LoadError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("%s: %v", e.File, e.Err)
	}
	return fmt.Sprintf("%s: %s: %v", e.File, e.Field, e.Err)
}

func (e *LoadError) Unwrap() error { return e.Err }

// unknownFieldError is an unknown field, reported the way Envoy's loader does (its message
// names INVALID_ARGUMENT, the message type and the field, in that order, which route_tests.sh
// checks).
type unknownFieldError struct {
	message protoreflect.FullName
	field   string
}

func (e *unknownFieldError) Error() string {
	return fmt.Sprintf("INVALID_ARGUMENT: %s has no field %q", e.message, e.field)
}

// LoadRouteConfig parses a route configuration file (envoy.config.route.v3.RouteConfiguration)
// and checks it as Envoy does on load: unknown fields are an error, and so is what fails the
// API's validation rules.
func LoadRouteConfig(name string, data []byte) (*routev3.RouteConfiguration, error) {
	rc := &routev3.RouteConfiguration{}
	if err := load(name, data, rc); err != nil {
		return nil, err
	}
	if err := rc.Validate(); err != nil {
		return nil, &LoadError{File: name, Err: fmt.Errorf("invalid route configuration: %w", err)}
	}
	return rc, nil
}

// load reads data, in the format its name says, into m.
func load(name string, data []byte, m proto.Message) error {
	resolver := configdump.TypeResolver()
	if FormatOf(name) == Text {
		err := prototext.UnmarshalOptions{Resolver: resolver}.Unmarshal(data, m)
		if err != nil {
			// Positions in a text file are the reader's own: keep them.
			msg := strings.TrimPrefix(strings.ReplaceAll(err.Error(), "\u00a0", " "), "proto: ")
			if m := textPosition.FindStringSubmatch(msg); m != nil {
				msg = "line " + m[1] + ", column " + m[2] + ": " + msg[len(m[0]):]
			}
			// prototext quotes the input where it stopped, line breaks and all: one line.
			return &LoadError{File: name, Err: errors.New(safetext.Escape(msg))}
		}
		return nil
	}
	var tree any
	if err := decodeTree(name, data, &tree); err != nil {
		return err
	}
	n := normalizer{resolver: resolver}
	tree, err := n.message(tree, m.ProtoReflect().Descriptor(), "")
	if err != nil {
		var le *LoadError
		if errors.As(err, &le) {
			le.File = name
		}
		return err
	}
	j, err := json.Marshal(tree)
	if err != nil {
		return &LoadError{File: name, Err: err}
	}
	if err := (protojson.UnmarshalOptions{Resolver: resolver}).Unmarshal(j, m); err != nil {
		return &LoadError{File: name, Err: errors.New(cleanProtoError(err))}
	}
	return nil
}

// decodeTree parses JSON or YAML into a tree of maps, slices, strings, bools, nil and
// json.Numbers. JSON that encoding/json refuses is read as YAML, as Envoy's loader does
// (router_check_tool's own TestRoutes tests file has a trailing comma).
func decodeTree(name string, data []byte, tree *any) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return &LoadError{File: name, Err: errors.New("the file is empty")}
	}
	if FormatOf(name) == JSON {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		if err := dec.Decode(tree); err == nil {
			if _, err := dec.Token(); err == nil {
				return &LoadError{File: name, Err: errors.New("more than one JSON value")}
			}
			return nil
		}
	}
	j, err := yaml.YAMLToJSON(data)
	if err != nil {
		what := "YAML"
		if FormatOf(name) == JSON {
			what = "JSON"
		}
		return &LoadError{File: name, Err: fmt.Errorf("not valid %s: %s", what, strings.TrimPrefix(err.Error(), "error converting YAML to JSON: "))}
	}
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.UseNumber()
	if err := dec.Decode(tree); err != nil {
		return &LoadError{File: name, Err: err}
	}
	return nil
}

var textPosition = regexp.MustCompile(`^\(line (\d+):(\d+)\):\s*`)

var protoErrorPosition = regexp.MustCompile(`^proto:\s*(\(line \d+:\d+\):\s*)?`)

// cleanProtoError drops protojson's "proto: (line 1:2):" prefix: positions in the JSON proxyctl
// rebuilt from the file mean nothing to its reader.
func cleanProtoError(err error) string {
	s := protoErrorPosition.ReplaceAllString(err.Error(), "")
	return strings.ReplaceAll(s, "\u00a0", " ")
}

// normalizer checks a parsed tree against a message type, naming the field path of what is
// wrong, and rewrites the leniencies Envoy's loader accepts into what protojson reads:
// Durations written as {seconds, nanos} objects, and numbers or booleans for string fields.
type normalizer struct {
	resolver interface {
		protoregistry.MessageTypeResolver
	}
}

func fieldErr(path string, format string, args ...any) error {
	return &LoadError{Field: path, Err: fmt.Errorf(format, args...)}
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func (n normalizer) message(v any, md protoreflect.MessageDescriptor, path string) (any, error) {
	switch md.FullName() {
	case "google.protobuf.Duration":
		return duration(v, path)
	case "google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue",
		"google.protobuf.Timestamp", "google.protobuf.FieldMask", "google.protobuf.Empty":
		return v, nil
	case "google.protobuf.Any":
		return n.any(v, path)
	}
	if strings.HasPrefix(string(md.FullName()), "google.protobuf.") && strings.HasSuffix(string(md.Name()), "Value") {
		// A wrapper: its JSON form is the wrapped value.
		return n.scalar(v, md.Fields().ByName("value"), path)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, fieldErr(path, "want an object (%s), got %s", md.FullName(), describe(v))
	}
	fields := md.Fields()
	for key, val := range obj {
		fd := fields.ByName(protoreflect.Name(key))
		if fd == nil {
			fd = fields.ByJSONName(key)
		}
		if fd == nil {
			where := path
			if where == "" {
				return nil, &LoadError{Err: &unknownFieldError{md.FullName(), key}}
			}
			return nil, &LoadError{Err: fmt.Errorf("%w (at %s)", &unknownFieldError{md.FullName(), key}, where)}
		}
		if val == nil {
			delete(obj, key)
			continue
		}
		p := join(path, string(fd.Name()))
		var err error
		switch {
		case fd.IsMap():
			m, ok := val.(map[string]any)
			if !ok {
				return nil, fieldErr(p, "want an object, got %s", describe(val))
			}
			for k, e := range m {
				if m[k], err = n.value(e, fd.MapValue(), p+"["+strconv.Quote(k)+"]"); err != nil {
					return nil, err
				}
			}
		case fd.IsList():
			l, ok := val.([]any)
			if !ok {
				return nil, fieldErr(p, "want a list, got %s", describe(val))
			}
			for i, e := range l {
				if l[i], err = n.value(e, fd, fmt.Sprintf("%s[%d]", p, i)); err != nil {
					return nil, err
				}
			}
		default:
			if obj[key], err = n.value(val, fd, p); err != nil {
				return nil, err
			}
		}
	}
	return obj, nil
}

func (n normalizer) value(v any, fd protoreflect.FieldDescriptor, path string) (any, error) {
	if fd.Message() != nil {
		return n.message(v, fd.Message(), path)
	}
	return n.scalar(v, fd, path)
}

func (n normalizer) any(v any, path string) (any, error) {
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, fieldErr(path, "want an object with an @type, got %s", describe(v))
	}
	url, _ := obj["@type"].(string)
	if url == "" {
		return nil, fieldErr(path, "a typed config needs an @type")
	}
	mt, err := n.resolver.FindMessageByURL(url)
	if err != nil {
		return nil, fieldErr(path, "unknown type %s", url)
	}
	md := mt.Descriptor()
	rest := make(map[string]any, len(obj))
	for k, e := range obj {
		if k != "@type" {
			rest[k] = e
		}
	}
	var out any
	if wellKnownJSON(md) {
		if out, err = n.message(rest["value"], md, join(path, "value")); err != nil {
			return nil, err
		}
		return map[string]any{"@type": url, "value": out}, nil
	}
	if out, err = n.message(rest, md, path); err != nil {
		return nil, err
	}
	m := out.(map[string]any)
	m["@type"] = url
	return m, nil
}

// wellKnownJSON reports whether the message's JSON form is not an object of fields (an Any
// holding one carries it in "value").
func wellKnownJSON(md protoreflect.MessageDescriptor) bool {
	name := string(md.FullName())
	return strings.HasPrefix(name, "google.protobuf.") && name != "google.protobuf.Empty" && name != "google.protobuf.Any"
}

func (n normalizer) scalar(v any, fd protoreflect.FieldDescriptor, path string) (any, error) {
	switch fd.Kind() {
	case protoreflect.StringKind:
		switch x := v.(type) {
		case string:
			return x, nil
		case json.Number:
			return x.String(), nil
		case bool:
			return strconv.FormatBool(x), nil
		}
		return nil, fieldErr(path, "want a string, got %s", describe(v))
	case protoreflect.BytesKind:
		if _, ok := v.(string); !ok {
			return nil, fieldErr(path, "want a base64 string, got %s", describe(v))
		}
	case protoreflect.BoolKind:
		if _, ok := v.(bool); !ok {
			return nil, fieldErr(path, "want true or false, got %s", describe(v))
		}
	case protoreflect.EnumKind:
		switch x := v.(type) {
		case string:
			if fd.Enum().Values().ByName(protoreflect.Name(x)) == nil {
				return nil, fieldErr(path, "%q is not a value of %s", x, fd.Enum().FullName())
			}
		case json.Number:
		default:
			return nil, fieldErr(path, "want a %s name, got %s", fd.Enum().FullName(), describe(v))
		}
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		switch x := v.(type) {
		case json.Number:
		case string:
			if _, err := strconv.ParseFloat(x, 64); err != nil && x != "NaN" && x != "Infinity" && x != "-Infinity" {
				return nil, fieldErr(path, "want a number, got %s", describe(v))
			}
		default:
			return nil, fieldErr(path, "want a number, got %s", describe(v))
		}
	default: // integers
		var s string
		switch x := v.(type) {
		case json.Number:
			s = x.String()
		case string:
			s = x
		default:
			return nil, fieldErr(path, "want an integer, got %s", describe(v))
		}
		if !isInteger(s, fd.Kind()) {
			return nil, fieldErr(path, "want %s, got %s", intKindName(fd.Kind()), describe(v))
		}
	}
	return v, nil
}

func isInteger(s string, k protoreflect.Kind) bool {
	f, ok := new(big.Float).SetString(s)
	if !ok || !f.IsInt() {
		return false
	}
	i, _ := f.Int(nil)
	switch k {
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return i.Sign() >= 0 && i.BitLen() <= 32
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return i.Sign() >= 0 && i.BitLen() <= 64
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return i.IsInt64() && i.Int64() >= -1<<31 && i.Int64() < 1<<31
	}
	return i.IsInt64()
}

func intKindName(k protoreflect.Kind) string {
	switch k {
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return "an integer from 0 to 4294967295"
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return "a non-negative 64-bit integer"
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return "a 32-bit integer"
	}
	return "a 64-bit integer"
}

// duration accepts a Duration as protojson writes it ("1.5s") or as an object of seconds and
// nanos, which Envoy's loader also reads (router_check_tool's test configurations use it).
func duration(v any, path string) (any, error) {
	switch x := v.(type) {
	case string:
		if !strings.HasSuffix(x, "s") {
			return nil, fieldErr(path, "want a duration such as \"1.5s\", got %q", x)
		}
		return x, nil
	case map[string]any:
		var secs, nanos int64
		for k, e := range x {
			num, ok := e.(json.Number)
			if !ok {
				if s, isStr := e.(string); isStr {
					num, ok = json.Number(s), true
				}
			}
			var err error
			var n int64
			if ok {
				n, err = strconv.ParseInt(num.String(), 10, 64)
			}
			if !ok || err != nil {
				return nil, fieldErr(join(path, k), "want an integer, got %s", describe(e))
			}
			switch k {
			case "seconds":
				secs = n
			case "nanos":
				if n <= -1e9 || n >= 1e9 {
					return nil, fieldErr(join(path, k), "nanos must be within ±999999999")
				}
				nanos = n
			default:
				return nil, &LoadError{Err: fmt.Errorf("%w (at %s)", &unknownFieldError{"google.protobuf.Duration", k}, path)}
			}
		}
		sign := ""
		if secs < 0 || nanos < 0 {
			sign = "-"
		}
		return fmt.Sprintf("%s%d.%09ds", sign, abs(secs), abs(nanos)), nil
	}
	return nil, fieldErr(path, "want a duration such as \"1.5s\", got %s", describe(v))
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

// describe names a value in error messages without printing much of it.
func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		if len(x) > 40 {
			x = x[:40] + "..."
		}
		return strconv.Quote(x)
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}
