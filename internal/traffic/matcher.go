package traffic

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	xdscorev3 "github.com/cncf/xds/go/xds/core/v3"
	matcherv3 "github.com/cncf/xds/go/xds/type/matcher/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Unmarshaler decodes a typed config (Any) of the dump into m, whatever its type URL says.
type Unmarshaler func(a *anypb.Any, m proto.Message) error

// The network inputs of xDS matcher trees (envoy.extensions.matching.common_inputs.network.v3).
const networkInputs3 = "type.googleapis.com/envoy.extensions.matching.common_inputs.network.v3."

const ipMatcherType = "type.googleapis.com/xds.type.matcher.v3.IPMatcher"

// matchInputs are the values of the network matching inputs for one connection: a missing
// key is an input with no value (Envoy's absl::monostate), which goes to on_no_match.
type matchInputs map[string]string

// networkInputs computes the network matching inputs Envoy gives a filter chain matcher.
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/extensions/matching/common_inputs/network/v3/network_inputs.proto
func networkInputs(c Connection, in Inspection) matchInputs {
	m := matchInputs{
		"DestinationPortInput":   strconv.Itoa(int(c.DestinationPort)),
		"TransportProtocolInput": in.Transport,
	}
	if c.Destination.IsValid() {
		m["DestinationIPInput"] = c.Destination.String()
	}
	if c.Source.IsValid() {
		m["SourceIPInput"] = c.Source.String()
		m["DirectSourceIPInput"] = c.Source.String()
	}
	if c.SourcePort != 0 {
		m["SourcePortInput"] = strconv.Itoa(int(c.SourcePort))
	}
	if isLocal(c) {
		m["SourceTypeInput"] = "local"
	}
	if in.SNI != "" {
		m["ServerNameInput"] = in.SNI
	}
	if len(in.ALPN) > 0 {
		// ApplicationProtocolInput joins the protocols as 'h2','http/1.1'.
		m["ApplicationProtocolInput"] = "'" + strings.Join(in.ALPN, "','") + "'"
	}
	return m
}

// matcherRun evaluates an xDS matcher tree on a connection's inputs, recording its path.
type matcherRun struct {
	in   matchInputs
	u    Unmarshaler
	path []string
	err  error
}

// inputValue reads a matcher input: its value, whether it has one, and its short name.
func (r *matcherRun) inputValue(tc *xdscorev3.TypedExtensionConfig) (string, bool, string) {
	url := tc.GetTypedConfig().GetTypeUrl()
	short, ok := strings.CutPrefix(url, networkInputs3)
	if !ok {
		if r.err == nil {
			r.err = fmt.Errorf("matcher input %s (%s) is not a network input this explain can evaluate", tc.GetName(), url)
		}
		return "", false, tc.GetName()
	}
	v, has := r.in[short]
	return v, has, strings.TrimSuffix(short, "Input")
}

// actionName is the filter chain an action names: a StringValue typed config
// (FilterChainNameAction), else the action's name.
func (r *matcherRun) actionName(a *xdscorev3.TypedExtensionConfig) string {
	if tc := a.GetTypedConfig(); tc != nil {
		sv := &wrapperspb.StringValue{}
		if err := r.u(tc, sv); err == nil && sv.GetValue() != "" {
			return sv.GetValue()
		}
	}
	return a.GetName()
}

// onMatch follows an OnMatch: an action ends the match, a nested matcher must match too.
// keep_matching actions are recorded and matching goes on, as Envoy does for them.
func (r *matcherRun) onMatch(om *matcherv3.Matcher_OnMatch) (string, bool) {
	switch v := om.GetOnMatch().(type) {
	case *matcherv3.Matcher_OnMatch_Action:
		name := r.actionName(v.Action)
		if om.GetKeepMatching() {
			r.path = append(r.path, "action "+name+" (keep_matching: skipped)")
			return "", false
		}
		r.path = append(r.path, "action "+name)
		return name, true
	case *matcherv3.Matcher_OnMatch_Matcher:
		return r.matcher(v.Matcher)
	}
	return "", false
}

func (r *matcherRun) noMatch(m *matcherv3.Matcher) (string, bool) {
	if m.GetOnNoMatch() == nil {
		return "", false
	}
	r.path = append(r.path, "on_no_match")
	return r.onMatch(m.GetOnNoMatch())
}

// matcher evaluates one matcher: a tree (exact or prefix map, or the IP trie matcher) or a
// list of predicates, first match wins; then on_no_match.
// https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/advanced/matching/matching_api
func (r *matcherRun) matcher(m *matcherv3.Matcher) (string, bool) {
	if r.err != nil {
		return "", false
	}
	switch t := m.GetMatcherType().(type) {
	case *matcherv3.Matcher_MatcherTree_:
		tree := t.MatcherTree
		v, has, input := r.inputValue(tree.GetInput())
		if r.err != nil {
			return "", false
		}
		if !has {
			r.path = append(r.path, input+": no value")
			return r.noMatch(m)
		}
		switch tt := tree.GetTreeType().(type) {
		case *matcherv3.Matcher_MatcherTree_ExactMatchMap:
			if om, ok := tt.ExactMatchMap.GetMap()[v]; ok {
				r.path = append(r.path, fmt.Sprintf("%s %s: exact match", input, v))
				if name, ok := r.onMatch(om); ok {
					return name, true
				}
			} else {
				r.path = append(r.path, fmt.Sprintf("%s %s: not in the exact match map (%s)", input, v, mapKeys(tt.ExactMatchMap)))
			}
		case *matcherv3.Matcher_MatcherTree_PrefixMatchMap:
			// Longest prefix first, then shorter ones when the nested matcher does not match.
			keys := []string{}
			for k := range tt.PrefixMatchMap.GetMap() {
				if strings.HasPrefix(v, k) {
					keys = append(keys, k)
				}
			}
			sort.Slice(keys, func(i, j int) bool { return len(keys[i]) > len(keys[j]) })
			if len(keys) == 0 {
				r.path = append(r.path, fmt.Sprintf("%s %s: no prefix in the map matches", input, v))
			}
			for _, k := range keys {
				r.path = append(r.path, fmt.Sprintf("%s %s: prefix %q", input, v, k))
				if name, ok := r.onMatch(tt.PrefixMatchMap.GetMap()[k]); ok {
					return name, true
				}
			}
		case *matcherv3.Matcher_MatcherTree_CustomMatch:
			if name, ok := r.customTree(tt.CustomMatch, input, v); ok {
				return name, true
			}
		default:
			r.err = fmt.Errorf("matcher tree without a map or custom match")
			return "", false
		}
		if r.err != nil {
			return "", false
		}
		return r.noMatch(m)
	case *matcherv3.Matcher_MatcherList_:
		for i, fm := range t.MatcherList.GetMatchers() {
			ok := r.predicate(fm.GetPredicate())
			if r.err != nil {
				return "", false
			}
			if !ok {
				continue
			}
			r.path = append(r.path, fmt.Sprintf("matcher_list[%d] matches", i))
			if name, ok := r.onMatch(fm.GetOnMatch()); ok {
				return name, true
			}
		}
		return r.noMatch(m)
	}
	return r.noMatch(m)
}

// customTree is Envoy's trie matcher (xds.type.matcher.v3.IPMatcher): the ranges that
// contain the address, longest prefix first then in order; after the first, exclusive ones
// are skipped; a nested matcher that does not match lets the next range try.
// (source/extensions/common/matcher/trie_matcher.h)
func (r *matcherRun) customTree(tc *xdscorev3.TypedExtensionConfig, input, v string) (string, bool) {
	if tc.GetTypedConfig().GetTypeUrl() != ipMatcherType {
		r.err = fmt.Errorf("custom matcher %s (%s) is not one this explain can evaluate", tc.GetName(), tc.GetTypedConfig().GetTypeUrl())
		return "", false
	}
	ipm := &matcherv3.IPMatcher{}
	if err := r.u(tc.GetTypedConfig(), ipm); err != nil {
		r.err = fmt.Errorf("decoding the IP matcher %s: %w", tc.GetName(), err)
		return "", false
	}
	addr, ok := ParseIP(v)
	if !ok {
		r.path = append(r.path, fmt.Sprintf("%s %q is not an IP address", input, v))
		return "", false
	}
	type node struct {
		bits, index int
		exclusive   bool
		cidr        string
		om          *matcherv3.Matcher_OnMatch
	}
	var nodes []node
	for i, rm := range ipm.GetRangeMatchers() {
		for _, cr := range rm.GetRanges() {
			p, ok := cidrPrefix(cr)
			if ok && p.Contains(addr.Unmap()) {
				nodes = append(nodes, node{p.Bits(), i, rm.GetExclusive(), p.String(), rm.GetOnMatch()})
			}
		}
	}
	sort.SliceStable(nodes, func(i, j int) bool {
		if nodes[i].bits != nodes[j].bits {
			return nodes[i].bits > nodes[j].bits
		}
		return nodes[i].index < nodes[j].index
	})
	if len(nodes) == 0 {
		r.path = append(r.path, fmt.Sprintf("%s %s: in no range of the IP matcher", input, v))
	}
	for k, n := range nodes {
		if k > 0 && n.exclusive {
			continue
		}
		r.path = append(r.path, fmt.Sprintf("%s %s: in %s", input, v, n.cidr))
		if name, ok := r.onMatch(n.om); ok {
			return name, true
		}
	}
	return "", false
}

func (r *matcherRun) predicate(p *matcherv3.Matcher_MatcherList_Predicate) bool {
	switch t := p.GetMatchType().(type) {
	case *matcherv3.Matcher_MatcherList_Predicate_SinglePredicate_:
		v, has, _ := r.inputValue(t.SinglePredicate.GetInput())
		if r.err != nil || !has {
			return false
		}
		switch mt := t.SinglePredicate.GetMatcher().(type) {
		case *matcherv3.Matcher_MatcherList_Predicate_SinglePredicate_ValueMatch:
			ok, err := stringMatches(mt.ValueMatch, v)
			if err != nil {
				r.err = err
			}
			return ok
		case *matcherv3.Matcher_MatcherList_Predicate_SinglePredicate_CustomMatch:
			r.err = fmt.Errorf("custom predicate %s is not one this explain can evaluate", mt.CustomMatch.GetName())
		}
		return false
	case *matcherv3.Matcher_MatcherList_Predicate_OrMatcher:
		for _, q := range t.OrMatcher.GetPredicate() {
			if r.predicate(q) {
				return true
			}
		}
		return false
	case *matcherv3.Matcher_MatcherList_Predicate_AndMatcher:
		for _, q := range t.AndMatcher.GetPredicate() {
			if !r.predicate(q) {
				return false
			}
		}
		return true
	case *matcherv3.Matcher_MatcherList_Predicate_NotMatcher:
		return !r.predicate(t.NotMatcher)
	}
	return false
}

// stringMatches is xDS's StringMatcher; regexes (RE2, as Go's) must match the whole value.
func stringMatches(m *matcherv3.StringMatcher, v string) (bool, error) {
	fold := func(s string) string {
		if m.GetIgnoreCase() {
			return strings.ToLower(s)
		}
		return s
	}
	switch p := m.GetMatchPattern().(type) {
	case *matcherv3.StringMatcher_Exact:
		return fold(v) == fold(p.Exact), nil
	case *matcherv3.StringMatcher_Prefix:
		return strings.HasPrefix(fold(v), fold(p.Prefix)), nil
	case *matcherv3.StringMatcher_Suffix:
		return strings.HasSuffix(fold(v), fold(p.Suffix)), nil
	case *matcherv3.StringMatcher_Contains:
		return strings.Contains(fold(v), fold(p.Contains)), nil
	case *matcherv3.StringMatcher_SafeRegex:
		re, err := regexp.Compile("^(?:" + p.SafeRegex.GetRegex() + ")$")
		if err != nil {
			return false, fmt.Errorf("regex %q: %w", p.SafeRegex.GetRegex(), err)
		}
		return re.MatchString(v), nil
	}
	return false, fmt.Errorf("string matcher without a pattern")
}

func mapKeys(mm *matcherv3.Matcher_MatcherTree_MatchMap) string {
	keys := make([]string, 0, len(mm.GetMap()))
	for k := range mm.GetMap() {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(keys) > 8 {
		keys = append(keys[:8], fmt.Sprintf("... %d more", len(keys)-8))
	}
	return strings.Join(keys, ", ")
}

// selectByMatcher picks a filter chain with the listener's filter_chain_matcher: the action
// names the chain; no match means the default_filter_chain.
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/listener/v3/listener.proto#envoy-v3-api-field-config-listener-v3-listener-filter-chain-matcher
func selectByMatcher(l *listenerv3.Listener, m *matcherv3.Matcher, in matchInputs, u Unmarshaler) ChainMatch {
	r := &matcherRun{in: in, u: u}
	name, ok := r.matcher(m)
	path := strings.Join(r.path, " → ")
	if r.err != nil {
		return ChainMatch{Index: NoChain, Err: "matcher_error", Rule: "filter_chain_matcher: " + r.err.Error()}
	}
	if !ok {
		return fallback(l, ChainMatch{}, "filter_chain_matcher matches nothing ("+path+")")
	}
	for i, fc := range l.GetFilterChains() {
		if fc.GetName() == name {
			return ChainMatch{Index: i, Name: name, By: "filter_chain_matcher", Rule: "filter_chain_matcher: " + path}
		}
	}
	if d := l.GetDefaultFilterChain(); d != nil && d.GetName() == name {
		return ChainMatch{Index: DefaultChain, Name: name, By: "filter_chain_matcher", Rule: "filter_chain_matcher: " + path}
	}
	return ChainMatch{Index: NoChain, Err: "no_filter_chain", Rule: fmt.Sprintf("filter_chain_matcher names chain %q, which the listener does not have (%s)", name, path)}
}
