package diff

import (
	"strconv"

	"github.com/pmezard/go-difflib/difflib"
)

// FieldChange is one difference inside a resource: the field at Path (in the notation of
// docs/diff-report.md) has Old on the first side and New on the second. A field absent from a
// side has no value there (HasOld or HasNew false).
type FieldChange struct {
	Path           string
	Old, New       any
	HasOld, HasNew bool
}

// diffNodes appends the differences between a and b, found at path, to out.
func diffNodes(path string, a, b *node, out []FieldChange) []FieldChange {
	if equal(a, b) {
		return out
	}
	switch {
	case a == nil:
		return append(out, FieldChange{Path: path, New: b.value(), HasNew: true})
	case b == nil:
		return append(out, FieldChange{Path: path, Old: a.value(), HasOld: true})
	case a.kind != b.kind || a.kind == scalarNode || a.isMap != b.isMap:
		return append(out, FieldChange{Path: path, Old: a.value(), New: b.value(), HasOld: true, HasNew: true})
	case a.kind == objectNode:
		i, j := 0, 0
		for i < len(a.fields) || j < len(b.fields) {
			switch {
			case j == len(b.fields) || i < len(a.fields) && a.fields[i].name < b.fields[j].name:
				out = diffNodes(member(path, a.fields[i].name, a.isMap), a.fields[i].n, nil, out)
				i++
			case i == len(a.fields) || b.fields[j].name < a.fields[i].name:
				out = diffNodes(member(path, b.fields[j].name, b.isMap), nil, b.fields[j].n, out)
				j++
			default:
				out = diffNodes(member(path, a.fields[i].name, a.isMap), a.fields[i].n, b.fields[j].n, out)
				i++
				j++
			}
		}
		return out
	case a.keyed && b.keyed:
		return diffKeyed(path, a, b, out)
	}
	return diffPositional(path, a, b, out)
}

// member is the path of a field (path.name) or of a map entry or keyed item (path[key]).
func member(path, name string, bracket bool) string {
	switch {
	case bracket:
		return path + "[" + name + "]"
	case path == "":
		return name
	}
	return path + "." + name
}

// diffKeyed pairs the items of two keyed lists by key; when their order matters and the items
// both sides have are in another order, that is a change too ("PATH (order)").
func diffKeyed(path string, a, b *node, out []FieldChange) []FieldChange {
	inB := make(map[string]*node, len(b.items))
	for _, it := range b.items {
		inB[it.key] = it.n
	}
	inA := make(map[string]bool, len(a.items))
	var orderA, orderB []any
	for _, it := range a.items {
		inA[it.key] = true
		other, ok := inB[it.key]
		if !ok {
			out = diffNodes(member(path, it.key, true), it.n, nil, out)
			continue
		}
		orderA = append(orderA, it.key)
		out = diffNodes(member(path, it.key, true), it.n, other, out)
	}
	for _, it := range b.items {
		if !inA[it.key] {
			out = diffNodes(member(path, it.key, true), nil, it.n, out)
			continue
		}
		orderB = append(orderB, it.key)
	}
	if a.ordered && b.ordered {
		for i := range orderA {
			if orderA[i] != orderB[i] {
				out = append(out, FieldChange{Path: path + " (order)", Old: orderA, New: orderB, HasOld: true, HasNew: true})
				break
			}
		}
	}
	return out
}

// diffPositional compares two lists position by position, after lining up the items that are
// the same on both sides: an item inserted in the middle is one addition, not a change of
// every item after it.
func diffPositional(path string, a, b *node, out []FieldChange) []FieldChange {
	ha, hb := itemHashes(a), itemHashes(b)
	for _, op := range difflib.NewMatcher(ha, hb).GetOpCodes() {
		if op.Tag == 'e' {
			continue
		}
		n := min(op.I2-op.I1, op.J2-op.J1)
		for k := 0; k < n; k++ {
			out = diffNodes(path+"["+strconv.Itoa(op.J1+k)+"]", a.items[op.I1+k].n, b.items[op.J1+k].n, out)
		}
		for i := op.I1 + n; i < op.I2; i++ {
			out = diffNodes(path+"["+strconv.Itoa(i)+"]", a.items[i].n, nil, out)
		}
		for j := op.J1 + n; j < op.J2; j++ {
			out = diffNodes(path+"["+strconv.Itoa(j)+"]", nil, b.items[j].n, out)
		}
	}
	return out
}

func itemHashes(l *node) []string {
	out := make([]string, len(l.items))
	for i, it := range l.items {
		out[i] = strconv.FormatUint(it.n.hash(), 36)
	}
	return out
}
