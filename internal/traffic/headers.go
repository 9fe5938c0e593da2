package traffic

import "strings"

// Header is one HTTP header. Names are lower case; a header map keeps its headers in order and
// may hold a name several times.
type Header struct{ Name, Value string }

// Headers is an ordered header map, as Envoy's HeaderMapImpl: lookups return every value of a
// name in order.
type Headers []Header

// Get returns every value of name (lower case) in order.
func (h Headers) Get(name string) []string {
	var out []string
	for _, e := range h {
		if e.Name == name {
			out = append(out, e.Value)
		}
	}
	return out
}

// First returns the first value of name and whether it is present.
func (h Headers) First(name string) (string, bool) {
	for _, e := range h {
		if e.Name == name {
			return e.Value, true
		}
	}
	return "", false
}

// Joined returns every value of name joined by ",", as Envoy's
// HeaderUtility::getAllOfHeaderAsString does before matching a header; ok is false when the
// header is absent.
func (h Headers) Joined(name string) (value string, ok bool) {
	vals := h.Get(name)
	if len(vals) == 0 {
		return "", false
	}
	return strings.Join(vals, ","), true
}

// Has reports whether name is present.
func (h Headers) Has(name string) bool {
	_, ok := h.First(name)
	return ok
}

// Add appends a value of name.
func (h *Headers) Add(name, value string) { *h = append(*h, Header{name, value}) }

// Remove removes every value of name.
func (h *Headers) Remove(name string) {
	out := (*h)[:0]
	for _, e := range *h {
		if e.Name != name {
			out = append(out, e)
		}
	}
	*h = out
}

// Set replaces every value of name with value: Envoy's setReferenceKey removes the header and
// adds it again, at the end.
func (h *Headers) Set(name, value string) {
	h.Remove(name)
	h.Add(name, value)
}

// Clone returns a copy.
func (h Headers) Clone() Headers { return append(Headers(nil), h...) }

// lower is strings.ToLower for ASCII header names (Envoy's LowerCaseString).
func lower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}
