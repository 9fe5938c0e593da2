package traffic

import (
	"fmt"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
)

// headerParser is one level's request_headers_to_add/remove or response_headers_to_add/remove
// (source/common/router/header_parser.cc): removals first, then the values, all formatted
// from the headers as they were, overwrites before appends.
type headerParser struct {
	add    []headerOp
	remove []string
}

type headerOp struct {
	name      string
	value     *headerFormat
	action    corev3.HeaderValueOption_HeaderAppendAction
	keepEmpty bool
}

// newHeaderParser compiles a level's mutations; what names the level in errors.
func newHeaderParser(add []*corev3.HeaderValueOption, remove []string, what string) (*headerParser, error) {
	if len(add) == 0 && len(remove) == 0 {
		return nil, nil
	}
	p := &headerParser{}
	for i, o := range add {
		key := o.GetHeader().GetKey()
		if key == "" {
			return nil, fmt.Errorf("%s_to_add[%d]: header key is empty", what, i)
		}
		lk := lower(key)
		if lk[0] == ':' || lk == "host" {
			return nil, fmt.Errorf("%s_to_add[%d]: %s: :-prefixed or host headers may not be modified", what, i, key)
		}
		val := o.GetHeader().GetValue()
		if val == "" && len(o.GetHeader().GetRawValue()) > 0 {
			val = string(o.GetHeader().GetRawValue())
		}
		f, err := parseHeaderFormat(val)
		if err != nil {
			return nil, fmt.Errorf("%s_to_add[%d] (%s): %w", what, i, key, err)
		}
		action := o.GetAppendAction()
		if o.GetAppend() != nil {
			if action != corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD {
				return nil, fmt.Errorf("%s_to_add[%d] (%s): both append and append_action are set", what, i, key)
			}
			if !o.GetAppend().GetValue() {
				action = corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD
			}
		}
		p.add = append(p.add, headerOp{name: lk, value: f, action: action, keepEmpty: o.GetKeepEmptyValue()})
	}
	for i, r := range remove {
		lr := lower(r)
		if lr == "" || lr[0] == ':' || lr == "host" {
			return nil, fmt.Errorf("%s_to_remove[%d]: %q: :-prefixed or host headers may not be removed", what, i, r)
		}
		p.remove = append(p.remove, lr)
	}
	return p, nil
}

// apply mutates h, the request's headers or (response) the response's. The formatters read
// the headers as they are once the removals are done, as Envoy's do; note records what could
// not be evaluated.
func (p *headerParser) apply(h *Headers, response bool, ctx formatContext, note func(string)) {
	if p == nil {
		return
	}
	for _, r := range p.remove {
		h.Remove(r)
	}
	if response {
		ctx.respH = h.Clone()
	} else {
		ctx.reqH = h.Clone()
	}
	type kv struct{ k, v string }
	var adds, overwrites []kv
	for _, op := range p.add {
		v := op.value.format(&ctx, func(s string) { note(op.name + ": " + s) })
		if v == "" && !op.keepEmpty {
			continue
		}
		switch op.action {
		case corev3.HeaderValueOption_ADD_IF_ABSENT:
			if !h.Has(op.name) {
				adds = append(adds, kv{op.name, v})
			}
		case corev3.HeaderValueOption_OVERWRITE_IF_EXISTS:
			if h.Has(op.name) {
				overwrites = append(overwrites, kv{op.name, v})
			}
		case corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD:
			overwrites = append(overwrites, kv{op.name, v})
		default: // APPEND_IF_EXISTS_OR_ADD
			adds = append(adds, kv{op.name, v})
		}
	}
	for _, o := range overwrites {
		h.Set(o.k, o.v)
	}
	for _, a := range adds {
		h.Add(a.k, a.v)
	}
}

// describe lists the parser's effect for traces.
func (p *headerParser) describe() string {
	if p == nil {
		return ""
	}
	var parts []string
	for _, r := range p.remove {
		parts = append(parts, "-"+r)
	}
	for _, a := range p.add {
		parts = append(parts, "+"+a.name+": "+a.value.raw)
	}
	return strings.Join(parts, ", ")
}
