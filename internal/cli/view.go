package cli

import (
	"fmt"
	"io"

	"google.golang.org/protobuf/proto"

	"github.com/proxyctl/proxyctl/configdump"
	"github.com/proxyctl/proxyctl/formatter"
)

// listView says how a view lists a section's resources, in istioctl's order.
type listView[T proto.Message, K any] struct {
	// order and less give the sort key of a resource and compare keys (nil: dump order).
	order func(T) K
	less  func(a, b K) bool
	// filterFirst: istioctl filters, then sorts (else it sorts everything, then filters:
	// with ties, the two give different orders).
	filterFirst bool
	// sortJSON: istioctl sorts -o json too (else JSON keeps the dump's order).
	sortJSON bool
	// show returns the resource as the view shows it (a filtered copy, say) and whether it
	// passes the filters; nil shows every resource as it is.
	show func(T) (T, bool)
	// rows are a resource's table rows; table writes the table.
	rows  func(T) []string
	table func(w io.Writer, rows []string) error
	// names are what -o name lists of a resource (KIND/NAME lines), in table order.
	names func(T) []string
	// keyFields are the fields order and show read, rowFields those rows read as well (nil:
	// all); the others are not decoded for the table, nor for the first pass of -o json.
	keyFields, rowFields configdump.Projection
}

// entry is what a view keeps of one resource: never the decoded message, so memory stays flat.
type entry[K any] struct {
	index int
	key   K
	shown bool
	rows  []string
	// unknown are the types this binary does not know in the resource, for the note.
	unknown []string
}

// writeList prints a section's resources: decoded once on all cores to learn their keys,
// filters and table rows, and checked whole (so that a table fails on what -o json fails on,
// and notes the same unknown types); for -o json|yaml, the selected ones are decoded again and
// encoded in order, streaming. Only the resources the view prints count: an error in one a
// filter leaves out, outside the fields the filter reads, is not one.
func writeList[T proto.Message, K any](w io.Writer, d *configdump.Dump, res configdump.Resources[T], f formatter.Format, v listView[T, K]) error {
	// -o name lists what the table shows, in the table's order.
	names := f == formatter.Name
	if names && v.names == nil {
		return fmt.Errorf("this view has no -o name")
	}
	short := f == formatter.Short || names
	if v.show == nil {
		v.show = always[T]
		if !short && (v.order == nil || !v.sortJSON) {
			// Every resource, in the dump's order: one pass.
			return encodeList(w, d, res, nil, f, v.show)
		}
	}
	entries := make([]entry[K], 0, res.Len())
	first := res.Select(v.keyFields).Checked()
	if short {
		first = res.Select(v.rowFields).Checked()
	}
	err := configdump.EachChecked(first, nil, func(m T, unknown []string, failed error) (entry[K], error) {
		shown, ok := v.show(m)
		if failed != nil && ok {
			return entry[K]{}, failed
		}
		e := entry[K]{shown: ok && failed == nil, unknown: unknown}
		if v.order != nil {
			e.key = v.order(m)
		}
		switch {
		case names && e.shown:
			e.rows = v.names(shown)
		case short && e.shown:
			e.rows = v.rows(shown)
		}
		return e, nil
	}, func(e entry[K]) error {
		e.index = len(entries)
		entries = append(entries, e)
		return nil
	})
	if err != nil {
		return err
	}
	sorted := v.order != nil && (short || v.sortJSON)
	if v.filterFirst {
		entries = shownEntries(entries)
	}
	if sorted {
		configdump.SortByKey(entries, func(e entry[K]) K { return e.key }, v.less)
	}
	entries = shownEntries(entries)
	for _, e := range entries {
		d.NoteUnknownTypes(e.unknown)
	}
	if short {
		var rows []string
		for _, e := range entries {
			rows = append(rows, e.rows...)
		}
		if names {
			return formatter.WriteNames(w, rows)
		}
		return v.table(w, rows)
	}
	indexes := make([]int, len(entries))
	for i, e := range entries {
		indexes[i] = e.index
	}
	return encodeList(w, d, res, indexes, f, v.show)
}

// encodeList decodes the resources at indexes (all when nil) and writes them as a JSON array or
// YAML sequence, streaming.
func encodeList[T proto.Message](w io.Writer, d *configdump.Dump, res configdump.Resources[T], indexes []int, f formatter.Format, show func(T) (T, bool)) error {
	rw := formatter.NewResourceWriter(w, f)
	err := configdump.Each(res, indexes, func(m T) ([]byte, error) {
		shown, _ := show(m)
		return formatter.EncodeResource(d, shown, f)
	}, rw.Write)
	if err != nil {
		return err
	}
	return rw.Close()
}

func shownEntries[K any](entries []entry[K]) []entry[K] {
	out := entries[:0]
	for _, e := range entries {
		if e.shown {
			out = append(out, e)
		}
	}
	return out
}

// always shows every resource as it is.
func always[T any](m T) (T, bool) { return m, true }
