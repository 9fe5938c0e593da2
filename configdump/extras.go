package configdump

import (
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Lossless decoding: what a message's descriptor cannot hold is kept as raw JSON in the
// message's unknown fields, under two field numbers no Envoy message uses, and printed back by
// the encoder where it was:
//
//   - a member this binary does not know (a newer Envoy's field, a v2 field such as a cluster's
//     "hosts" or a filter's untyped "config", "hidden_envoy_deprecated_*"): its whole text,
//     `"key": value`, as in the input, printed after the known fields, in input order;
//   - a known field whose value the message cannot represent (an enum name this binary does not
//     know, in a singular, repeated or map field): the field's whole JSON value, printed in the
//     field's place instead of what the message holds (in a list, the known elements are set
//     too, so that views read what they can).
//
// Both carry the byte offset of the text in the document, so that errors found in it later
// (decoding a v2 filter's untyped config, say) are located. Only messages that have such
// members pay anything: the encoder asks each message for its unknown fields, an empty slice
// for every message of a dump this binary fully knows.
const (
	extraMemberNumber   protowire.Number = 536870911 // the largest field number protobuf allows
	extraOverrideNumber protowire.Number = 536870910
)

// extras are the raw members and overrides parsed back from a message's unknown fields.
type extras struct {
	members   []rawText
	overrides []override
}

// rawText is JSON text from the document, at offset at.
type rawText struct {
	at   int
	text []byte
}

type override struct {
	field protowire.Number
	value rawText
}

// keepMember records an unknown member of m: its text and its offset in the document.
func keepMember(m protoreflect.Message, at int, member []byte) {
	b := m.GetUnknown()
	b = protowire.AppendTag(b, extraMemberNumber, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(protowire.SizeVarint(uint64(at))+len(member)))
	b = protowire.AppendVarint(b, uint64(at))
	b = append(b, member...)
	m.SetUnknown(b)
}

// keepOverride records the raw JSON value of field fd of m, to be printed instead of what m
// holds for it.
func keepOverride(m protoreflect.Message, fd protoreflect.FieldDescriptor, at int, value []byte) {
	b := m.GetUnknown()
	n := uint64(fd.Number())
	b = protowire.AppendTag(b, extraOverrideNumber, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(protowire.SizeVarint(n)+protowire.SizeVarint(uint64(at))+len(value)))
	b = protowire.AppendVarint(b, n)
	b = protowire.AppendVarint(b, uint64(at))
	b = append(b, value...)
	m.SetUnknown(b)
}

// parseExtras reads back what keepMember and keepOverride recorded; other unknown fields (of a
// message decoded from binary) are not JSON and are left out, as protojson leaves them.
func parseExtras(raw protoreflect.RawFields) extras {
	var x extras
	for len(raw) > 0 {
		num, typ, n := protowire.ConsumeTag(raw)
		if n < 0 {
			return x
		}
		raw = raw[n:]
		if typ != protowire.BytesType || (num != extraMemberNumber && num != extraOverrideNumber) {
			n = protowire.ConsumeFieldValue(num, typ, raw)
			if n < 0 {
				return x
			}
			raw = raw[n:]
			continue
		}
		payload, n := protowire.ConsumeBytes(raw)
		if n < 0 {
			return x
		}
		raw = raw[n:]
		var field uint64
		if num == extraOverrideNumber {
			f, k := protowire.ConsumeVarint(payload)
			if k < 0 {
				continue
			}
			field, payload = f, payload[k:]
		}
		at, k := protowire.ConsumeVarint(payload)
		if k < 0 {
			continue
		}
		text := rawText{at: int(at), text: payload[k:]}
		if num == extraMemberNumber {
			x.members = append(x.members, text)
		} else {
			x.overrides = append(x.overrides, override{protowire.Number(field), text})
		}
	}
	return x
}

func (x *extras) override(n protowire.Number) (rawText, bool) {
	for i := len(x.overrides) - 1; i >= 0; i-- {
		if x.overrides[i].field == n {
			return x.overrides[i].value, true
		}
	}
	return rawText{}, false
}

// splitMember returns the raw key (between its quotes, escapes kept) and the value of a member
// kept by keepMember.
func splitMember(member []byte) (key, value []byte, ok bool) {
	s := scanner{data: member}
	raw, _, err := s.readRawString()
	if err != nil || s.expect(':') != nil {
		return nil, nil, false
	}
	s.skipWS()
	return raw, member[s.pos:], true
}

// UnknownMember returns the raw JSON value of the member named key that m's type does not
// know (a v2 filter's untyped "config", say), and its offset in the document; ok is false when
// m has no such member.
func UnknownMember(m proto.Message, key string) (value []byte, at int, ok bool) {
	raw := m.ProtoReflect().GetUnknown()
	if len(raw) == 0 {
		return nil, 0, false
	}
	x := parseExtras(raw)
	for _, mem := range x.members {
		k, v, valid := splitMember(mem.text)
		if !valid {
			continue
		}
		name := bytesToString(k)
		if u, err := unescape(k); err == nil {
			name = string(u)
		}
		if name == key {
			return v, mem.at + len(mem.text) - len(v), true
		}
	}
	return nil, 0, false
}

// HasUnknownMembers reports whether m itself (not its fields) holds members or values its type
// cannot represent.
func HasUnknownMembers(m proto.Message) bool {
	x := parseExtras(m.ProtoReflect().GetUnknown())
	return len(x.members) > 0 || len(x.overrides) > 0
}

// rawMember returns an unknown member's value as a slice of the document (so that what is
// decoded from it is located, and shares its memory), or nil.
func (d *Dump) rawMember(m proto.Message, key string) []byte {
	v, at, ok := UnknownMember(m, key)
	if !ok {
		return nil
	}
	if at >= 0 && at+len(v) <= len(d.src) && string(d.src[at:at+len(v)]) == string(v) {
		return d.src[at : at+len(v)]
	}
	return v
}

// decodeRaw decodes JSON the dump holds (see rawMember) into m, as UnmarshalAny does.
func (d *Dump) decodeRaw(raw []byte, m proto.Message) error {
	return newDecoder(raw, offsetIn(d.src, raw), d.src, nil).messageValue(m.ProtoReflect(), 0)
}
