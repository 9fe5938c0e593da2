package traffic

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/types/known/structpb"
)

// compileRegex compiles an RE2 pattern (Envoy's safe_regex, google_re2) for full matching, as
// RE2::FullMatch does. Go's regexp implements RE2's syntax and semantics.
func compileRegex(pattern string) (full, any *regexp.Regexp, err error) {
	any, err = regexp.Compile(pattern)
	if err != nil {
		return nil, nil, fmt.Errorf("regex %q: %w", pattern, err)
	}
	full, err = regexp.Compile(`^(?:` + pattern + `)$`)
	if err != nil {
		return nil, nil, fmt.Errorf("regex %q: %w", pattern, err)
	}
	return full, any, nil
}

// stringMatcher is a compiled envoy.type.matcher.v3.StringMatcher
// (source/common/common/matchers.cc StringMatcherImpl).
type stringMatcher struct {
	cfg   *matcherv3.StringMatcher
	re    *regexp.Regexp
	lower string // the pattern in lower case, for ignore_case
}

func newStringMatcher(m *matcherv3.StringMatcher) (*stringMatcher, error) {
	sm := &stringMatcher{cfg: m}
	switch p := m.GetMatchPattern().(type) {
	case *matcherv3.StringMatcher_SafeRegex:
		full, _, err := compileRegex(p.SafeRegex.GetRegex())
		if err != nil {
			return nil, err
		}
		sm.re = full
	case *matcherv3.StringMatcher_Exact:
		sm.lower = strings.ToLower(p.Exact)
	case *matcherv3.StringMatcher_Prefix:
		sm.lower = strings.ToLower(p.Prefix)
	case *matcherv3.StringMatcher_Suffix:
		sm.lower = strings.ToLower(p.Suffix)
	case *matcherv3.StringMatcher_Contains:
		sm.lower = strings.ToLower(p.Contains)
	case *matcherv3.StringMatcher_Custom:
		return nil, fmt.Errorf("custom string matcher %q is an extension proxyctl cannot evaluate", p.Custom.GetName())
	case nil:
		return nil, fmt.Errorf("string matcher has no match pattern")
	}
	return sm, nil
}

// match applies the matcher; safe_regex ignores ignore_case, as Envoy does.
func (m *stringMatcher) match(v string) bool {
	ic := m.cfg.GetIgnoreCase()
	lv := v
	if ic {
		lv = strings.ToLower(v)
	}
	switch p := m.cfg.GetMatchPattern().(type) {
	case *matcherv3.StringMatcher_Exact:
		if ic {
			return lv == m.lower
		}
		return v == p.Exact
	case *matcherv3.StringMatcher_Prefix:
		if ic {
			return strings.HasPrefix(lv, m.lower)
		}
		return strings.HasPrefix(v, p.Prefix)
	case *matcherv3.StringMatcher_Suffix:
		if ic {
			return strings.HasSuffix(lv, m.lower)
		}
		return strings.HasSuffix(v, p.Suffix)
	case *matcherv3.StringMatcher_Contains:
		if ic {
			return strings.Contains(lv, m.lower)
		}
		return strings.Contains(v, p.Contains)
	case *matcherv3.StringMatcher_SafeRegex:
		return m.re.MatchString(v)
	}
	return false
}

// String describes the matcher for traces: `exact "x"`, `prefix "/a" (ignore case)`...
func (m *stringMatcher) String() string {
	var s string
	switch p := m.cfg.GetMatchPattern().(type) {
	case *matcherv3.StringMatcher_Exact:
		s = fmt.Sprintf("exact %q", p.Exact)
	case *matcherv3.StringMatcher_Prefix:
		s = fmt.Sprintf("prefix %q", p.Prefix)
	case *matcherv3.StringMatcher_Suffix:
		s = fmt.Sprintf("suffix %q", p.Suffix)
	case *matcherv3.StringMatcher_Contains:
		s = fmt.Sprintf("contains %q", p.Contains)
	case *matcherv3.StringMatcher_SafeRegex:
		return fmt.Sprintf("regex %q", p.SafeRegex.GetRegex())
	}
	if m.cfg.GetIgnoreCase() {
		s += " (ignore case)"
	}
	return s
}

// HeaderMatcher is a compiled route.v3.HeaderMatcher, evaluated as Envoy's HeaderUtility does
// (source/common/http/header_utility.cc): every value of the header joined by ",", a missing
// header matching only a present_match: false (or, inverted, a present match), unless
// treat_missing_header_as_empty. https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/route/v3/route_components.proto#config-route-v3-headermatcher
type HeaderMatcher struct {
	cfg  *routev3.HeaderMatcher
	name string
	str  *stringMatcher
	re   *regexp.Regexp
}

// NewHeaderMatcher compiles a header matcher.
func NewHeaderMatcher(m *routev3.HeaderMatcher) (*HeaderMatcher, error) {
	hm := &HeaderMatcher{cfg: m, name: lower(m.GetName())}
	switch s := m.GetHeaderMatchSpecifier().(type) {
	case *routev3.HeaderMatcher_SafeRegexMatch:
		full, _, err := compileRegex(s.SafeRegexMatch.GetRegex())
		if err != nil {
			return nil, fmt.Errorf("header %s: %w", m.GetName(), err)
		}
		hm.re = full
	case *routev3.HeaderMatcher_StringMatch:
		sm, err := newStringMatcher(s.StringMatch)
		if err != nil {
			return nil, fmt.Errorf("header %s: %w", m.GetName(), err)
		}
		hm.str = sm
	}
	return hm, nil
}

// isPresentMatch reports whether the matcher tests presence (present_match, or no specifier,
// which Envoy reads as present_match: true).
func (m *HeaderMatcher) isPresentMatch() (present, ok bool) {
	switch s := m.cfg.GetHeaderMatchSpecifier().(type) {
	case *routev3.HeaderMatcher_PresentMatch:
		return s.PresentMatch, true
	case nil:
		return true, true
	}
	return false, false
}

// Match reports whether the headers satisfy the matcher.
func (m *HeaderMatcher) Match(h Headers) bool {
	ok, _ := m.match(h)
	return ok
}

// match returns the verdict and why.
func (m *HeaderMatcher) match(h Headers) (bool, string) {
	value, found := h.Joined(m.name)
	inv := m.cfg.GetInvertMatch()
	present, isPresent := m.isPresentMatch()
	if !found && !m.cfg.GetTreatMissingHeaderAsEmpty() {
		var ok bool
		if inv {
			ok = isPresent && present
		} else {
			ok = isPresent && !present
		}
		return ok, fmt.Sprintf("header %s is absent (%s)", m.name, m.describe())
	}
	var match bool
	switch s := m.cfg.GetHeaderMatchSpecifier().(type) {
	case *routev3.HeaderMatcher_ExactMatch:
		match = s.ExactMatch == "" || value == s.ExactMatch
	case *routev3.HeaderMatcher_SafeRegexMatch:
		match = m.re.MatchString(value)
	case *routev3.HeaderMatcher_RangeMatch:
		n, err := simpleAtoi(value)
		match = err == nil && n >= s.RangeMatch.GetStart() && n < s.RangeMatch.GetEnd()
	case *routev3.HeaderMatcher_PresentMatch, nil:
		match = present
	case *routev3.HeaderMatcher_PrefixMatch:
		match = strings.HasPrefix(value, s.PrefixMatch)
	case *routev3.HeaderMatcher_SuffixMatch:
		match = strings.HasSuffix(value, s.SuffixMatch)
	case *routev3.HeaderMatcher_ContainsMatch:
		match = strings.Contains(value, s.ContainsMatch)
	case *routev3.HeaderMatcher_StringMatch:
		match = m.str.match(value)
	}
	return match != inv, fmt.Sprintf("header %s: %q (%s)", m.name, value, m.describe())
}

// describe is the matcher as a trace shows it: `exact "x"`, `present`, `not regex "a+"`...
func (m *HeaderMatcher) describe() string {
	var s string
	switch sp := m.cfg.GetHeaderMatchSpecifier().(type) {
	case *routev3.HeaderMatcher_ExactMatch:
		s = fmt.Sprintf("exact %q", sp.ExactMatch)
	case *routev3.HeaderMatcher_SafeRegexMatch:
		s = fmt.Sprintf("regex %q", sp.SafeRegexMatch.GetRegex())
	case *routev3.HeaderMatcher_RangeMatch:
		s = fmt.Sprintf("range [%d,%d)", sp.RangeMatch.GetStart(), sp.RangeMatch.GetEnd())
	case *routev3.HeaderMatcher_PresentMatch:
		if sp.PresentMatch {
			s = "present"
		} else {
			s = "absent"
		}
	case nil:
		s = "present"
	case *routev3.HeaderMatcher_PrefixMatch:
		s = fmt.Sprintf("prefix %q", sp.PrefixMatch)
	case *routev3.HeaderMatcher_SuffixMatch:
		s = fmt.Sprintf("suffix %q", sp.SuffixMatch)
	case *routev3.HeaderMatcher_ContainsMatch:
		s = fmt.Sprintf("contains %q", sp.ContainsMatch)
	case *routev3.HeaderMatcher_StringMatch:
		s = m.str.String()
	}
	if m.cfg.GetInvertMatch() {
		s = "not " + s
	}
	if m.cfg.GetTreatMissingHeaderAsEmpty() {
		s += ", missing as empty"
	}
	return "wants " + s
}

// simpleAtoi parses an int64 as absl::SimpleAtoi does: surrounding ASCII whitespace and a
// sign allowed.
func simpleAtoi(s string) (int64, error) {
	s = strings.TrimFunc(s, func(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\v' || r == '\f' })
	s = strings.TrimPrefix(s, "+")
	return strconv.ParseInt(s, 10, 64)
}

// queryMatcher is a compiled route.v3.QueryParameterMatcher (ConfigUtility::QueryParameterMatcher):
// the first value of the parameter, not URL-decoded, against string_match; present otherwise.
type queryMatcher struct {
	cfg *routev3.QueryParameterMatcher
	str *stringMatcher
}

func newQueryMatcher(q *routev3.QueryParameterMatcher) (*queryMatcher, error) {
	qm := &queryMatcher{cfg: q}
	if sm := q.GetStringMatch(); sm != nil {
		m, err := newStringMatcher(sm)
		if err != nil {
			return nil, fmt.Errorf("query parameter %s: %w", q.GetName(), err)
		}
		qm.str = m
	}
	return qm, nil
}

func (q *queryMatcher) match(params map[string][]string) (bool, string) {
	vals, ok := params[q.cfg.GetName()]
	if !ok {
		return false, fmt.Sprintf("query parameter %s is absent", q.cfg.GetName())
	}
	if q.str == nil {
		return true, fmt.Sprintf("query parameter %s is present", q.cfg.GetName())
	}
	return q.str.match(vals[0]), fmt.Sprintf("query parameter %s: %q (wants %s)", q.cfg.GetName(), vals[0], q.str)
}

// parseQuery splits the query string of a path into parameters, undecoded, as
// Http::Utility::QueryParamsMulti::parseQueryString does.
func parseQuery(path string) map[string][]string {
	i := strings.IndexByte(path, '?')
	if i < 0 {
		return nil
	}
	out := map[string][]string{}
	for _, p := range strings.Split(path[i+1:], "&") {
		if p == "" {
			continue
		}
		k, v, _ := strings.Cut(p, "=")
		out[k] = append(out[k], v)
	}
	return out
}

// cookieMatcher is a compiled route.v3.CookieMatcher: an absent cookie does not match (so an
// inverted matcher matches it).
type cookieMatcher struct {
	cfg *routev3.CookieMatcher
	str *stringMatcher
}

func (c *cookieMatcher) match(h Headers) (bool, string) {
	v, ok := cookieValue(h, c.cfg.GetName())
	inv := c.cfg.GetInvertMatch()
	if !ok {
		return inv, fmt.Sprintf("cookie %s is absent", c.cfg.GetName())
	}
	return c.str.match(v) != inv, fmt.Sprintf("cookie %s: %q (wants %s%s)", c.cfg.GetName(), v, map[bool]string{true: "not "}[inv], c.str)
}

// cookieValue finds a cookie in the cookie headers, as Envoy's Http::Utility::parseCookieValue
// does (a quoted value is unquoted).
func cookieValue(h Headers, name string) (string, bool) {
	for _, hv := range h.Get("cookie") {
		for _, c := range strings.Split(hv, ";") {
			c = strings.TrimLeft(c, " ")
			k, v, ok := strings.Cut(c, "=")
			if !ok || k != name {
				continue
			}
			if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			return v, true
		}
	}
	return "", false
}

// metadataMatcher is a compiled matcher.v3.MetadataMatcher (Envoy's Matchers::MetadataMatcher):
// the value at filter/path, a missing one being an unset Value, against the value matcher,
// inverted by invert.
type metadataMatcher struct {
	cfg   *matcherv3.MetadataMatcher
	value *valueMatcher
}

func newMetadataMatcher(m *matcherv3.MetadataMatcher) (*metadataMatcher, error) {
	vm, err := newValueMatcher(m.GetValue())
	if err != nil {
		return nil, fmt.Errorf("dynamic_metadata %s: %w", m.GetFilter(), err)
	}
	return &metadataMatcher{cfg: m, value: vm}, nil
}

func (m *metadataMatcher) match(md *corev3.Metadata) bool {
	v := metadataValue(md, m.cfg.GetFilter(), m.cfg.GetPath())
	return m.value.match(v) != m.cfg.GetInvert()
}

func (m *metadataMatcher) describe() string {
	keys := make([]string, 0, len(m.cfg.GetPath()))
	for _, p := range m.cfg.GetPath() {
		keys = append(keys, p.GetKey())
	}
	s := fmt.Sprintf("dynamic metadata %s[%s]", m.cfg.GetFilter(), strings.Join(keys, "."))
	if m.cfg.GetInvert() {
		s += " (inverted)"
	}
	return s
}

// metadataValue follows path from filter_metadata[filter] (Config::Metadata::metadataValue).
func metadataValue(md *corev3.Metadata, filter string, path []*matcherv3.MetadataMatcher_PathSegment) *structpb.Value {
	s, ok := md.GetFilterMetadata()[filter]
	if !ok || len(path) == 0 {
		return &structpb.Value{}
	}
	var v *structpb.Value
	for i, p := range path {
		f, ok := s.GetFields()[p.GetKey()]
		if !ok {
			return &structpb.Value{}
		}
		v = f
		if i < len(path)-1 {
			s = f.GetStructValue()
			if s == nil {
				return &structpb.Value{}
			}
		}
	}
	return v
}

// valueMatcher is a compiled matcher.v3.ValueMatcher (source/common/common/matchers.cc).
type valueMatcher struct {
	cfg  *matcherv3.ValueMatcher
	str  *stringMatcher
	list *valueMatcher
	or   []*valueMatcher
}

func newValueMatcher(m *matcherv3.ValueMatcher) (*valueMatcher, error) {
	vm := &valueMatcher{cfg: m}
	switch p := m.GetMatchPattern().(type) {
	case *matcherv3.ValueMatcher_StringMatch:
		sm, err := newStringMatcher(p.StringMatch)
		if err != nil {
			return nil, err
		}
		vm.str = sm
	case *matcherv3.ValueMatcher_ListMatch:
		l, err := newValueMatcher(p.ListMatch.GetOneOf())
		if err != nil {
			return nil, err
		}
		vm.list = l
	case *matcherv3.ValueMatcher_OrMatch:
		for _, o := range p.OrMatch.GetValueMatchers() {
			l, err := newValueMatcher(o)
			if err != nil {
				return nil, err
			}
			vm.or = append(vm.or, l)
		}
	case nil:
		return nil, fmt.Errorf("value matcher has no match pattern")
	}
	return vm, nil
}

func (m *valueMatcher) match(v *structpb.Value) bool {
	switch p := m.cfg.GetMatchPattern().(type) {
	case *matcherv3.ValueMatcher_NullMatch_:
		_, ok := v.GetKind().(*structpb.Value_NullValue)
		return ok
	case *matcherv3.ValueMatcher_DoubleMatch:
		n, ok := v.GetKind().(*structpb.Value_NumberValue)
		if !ok {
			return false
		}
		switch d := p.DoubleMatch.GetMatchPattern().(type) {
		case *matcherv3.DoubleMatcher_Range:
			return d.Range.GetStart() <= n.NumberValue && n.NumberValue < d.Range.GetEnd()
		case *matcherv3.DoubleMatcher_Exact:
			return d.Exact == n.NumberValue
		}
		return false
	case *matcherv3.ValueMatcher_StringMatch:
		s, ok := v.GetKind().(*structpb.Value_StringValue)
		return ok && m.str.match(s.StringValue)
	case *matcherv3.ValueMatcher_BoolMatch:
		b, ok := v.GetKind().(*structpb.Value_BoolValue)
		return ok && b.BoolValue == p.BoolMatch
	case *matcherv3.ValueMatcher_PresentMatch:
		return (v.GetKind() != nil) == p.PresentMatch
	case *matcherv3.ValueMatcher_ListMatch:
		l, ok := v.GetKind().(*structpb.Value_ListValue)
		if !ok {
			return false
		}
		for _, e := range l.ListValue.GetValues() {
			if m.list.match(e) {
				return true
			}
		}
		return false
	case *matcherv3.ValueMatcher_OrMatch:
		for _, o := range m.or {
			if o.match(v) {
				return true
			}
		}
		return false
	}
	return false
}

// filterStateMatcher is a compiled matcher.v3.FilterStateMatcher: the serialized filter state
// object at key against string_match; an absent object does not match.
type filterStateMatcher struct {
	cfg *matcherv3.FilterStateMatcher
	str *stringMatcher
}

func newFilterStateMatcher(m *matcherv3.FilterStateMatcher) (*filterStateMatcher, error) {
	sm := m.GetStringMatch()
	if sm == nil {
		return &filterStateMatcher{cfg: m}, nil // address_match: evaluated as unknown
	}
	s, err := newStringMatcher(sm)
	if err != nil {
		return nil, fmt.Errorf("filter_state %s: %w", m.GetKey(), err)
	}
	return &filterStateMatcher{cfg: m, str: s}, nil
}

func (m *filterStateMatcher) match(fs map[string]string) bool {
	v, ok := fs[m.cfg.GetKey()]
	if !ok || m.str == nil {
		return false
	}
	return m.str.match(v)
}
