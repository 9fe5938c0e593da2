package formatter

import (
	"fmt"
	"io"
	"sort"

	matcherv3 "github.com/cncf/xds/go/xds/type/matcher/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"

	"github.com/proxyctl/proxyctl/configdump"
)

const ipMatcherType = "type.googleapis.com/xds.type.matcher.v3.IPMatcher"

// WaypointRows are a listener's rows of the waypoint listener table (--waypoint): one per
// filter chain and match, where matches come from the listener's filter chain matcher tree.
func WaypointRows(d *configdump.Dump, l *listenerv3.Listener) []string {
	chains := configdump.FilterChains(l)
	lname := "envoy://" + l.GetName()
	// Do not repeat the listener's name when its only chain bears it.
	if l.GetInternalListener() != nil && len(chains) == 1 && chains[0].GetName() == lname {
		lname = "internal"
	}
	var rows []string
	for _, fc := range chains {
		destination := describeTarget(d.ChainTarget(fc.GetFilters()))
		for _, match := range chainMatches(d, fc, l) {
			rows = append(rows, row(lname, fc.GetName(), match, destination))
		}
	}
	return rows
}

// WaypointListenerTable writes the waypoint listener table from rows made by WaypointRows.
func WaypointListenerTable(w io.Writer, rows []string) error {
	return writeTable(w, 1, "LISTENER\tCHAIN\tMATCH\tDESTINATION", rows)
}

// chainMatches describes how traffic reaches a filter chain.
func chainMatches(d *configdump.Dump, fc *listenerv3.FilterChain, l *listenerv3.Listener) []string {
	m := l.GetFilterChainMatcher()
	if m == nil {
		return []string{describeChainMatch(fc.GetFilterChainMatch())}
	}
	switch v := m.GetOnNoMatch().GetOnMatch().(type) {
	case *matcherv3.Matcher_OnMatch_Action:
		if v.Action.GetName() == fc.GetName() {
			return []string{"UNMATCHED"}
		}
	case *matcherv3.Matcher_OnMatch_Matcher:
		if ms, ok := matcherPaths(d, fc.GetName(), v.Matcher); ok {
			return ms
		}
		return []string{"NONE"}
	}
	if ms, ok := matcherPaths(d, fc.GetName(), m); ok {
		return ms
	}
	return []string{"NONE"}
}

// matcherPaths lists the paths through a matcher tree that end at the chain named name, as
// input=value (exact), input^value (prefix) and "a -> b" for nested matchers. Keys are sorted.
func matcherPaths(d *configdump.Dump, name string, m *matcherv3.Matcher) ([]string, bool) {
	switch v := m.GetOnNoMatch().GetOnMatch().(type) {
	case *matcherv3.Matcher_OnMatch_Action:
		if v.Action.GetName() == name {
			return []string{"ANY"}, true
		}
	case *matcherv3.Matcher_OnMatch_Matcher:
		if ms, ok := matcherPaths(d, name, v.Matcher); ok {
			return ms, true
		}
		return []string{"NONE"}, true
	}
	input := m.GetMatcherTree().GetInput().GetName()
	var branches map[string]*matcherv3.Matcher_OnMatch
	equality := "="
	switch v := m.GetMatcherTree().GetTreeType().(type) {
	case *matcherv3.Matcher_MatcherTree_ExactMatchMap:
		branches = v.ExactMatchMap.GetMap()
	case *matcherv3.Matcher_MatcherTree_PrefixMatchMap:
		branches = v.PrefixMatchMap.GetMap()
		equality = "^"
	case *matcherv3.Matcher_MatcherTree_CustomMatch:
		tc := v.CustomMatch.GetTypedConfig()
		if tc.GetTypeUrl() != ipMatcherType {
			break
		}
		ip := &matcherv3.IPMatcher{}
		if err := d.UnmarshalAny(tc, ip); err != nil {
			break
		}
		branches = map[string]*matcherv3.Matcher_OnMatch{}
		for _, rm := range ip.GetRangeMatchers() {
			for _, r := range rm.GetRanges() {
				cidr := r.GetAddressPrefix()
				if pl := r.GetPrefixLen().GetValue(); pl != 32 && pl != 128 {
					cidr += fmt.Sprintf("/%d", pl)
				}
				branches[cidr] = rm.GetOnMatch()
			}
		}
	}
	keys := make([]string, 0, len(branches))
	for k := range branches {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []string
	for _, k := range keys {
		switch v := branches[k].GetOnMatch().(type) {
		case *matcherv3.Matcher_OnMatch_Action:
			if v.Action.GetName() == name {
				out = append(out, input+equality+k)
			}
		case *matcherv3.Matcher_OnMatch_Matcher:
			children, ok := matcherPaths(d, name, v.Matcher)
			if !ok {
				continue
			}
			for _, c := range children {
				out = append(out, input+equality+k+" -> "+c)
			}
		}
	}
	return out, len(out) > 0
}
