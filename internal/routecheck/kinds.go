package routecheck

import (
	"google.golang.org/protobuf/types/known/anypb"

	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
)

type (
	matcherExact = matcherv3.StringMatcher_Exact
	anyType      = anypb.Any
)

func stringMatchKind(m *matcherv3.StringMatcher) string {
	switch m.GetMatchPattern().(type) {
	case *matcherv3.StringMatcher_Exact:
		return "exact"
	case *matcherv3.StringMatcher_Prefix:
		return "prefix"
	case *matcherv3.StringMatcher_Suffix:
		return "suffix"
	case *matcherv3.StringMatcher_SafeRegex:
		return "safe_regex"
	case *matcherv3.StringMatcher_Contains:
		return "contains"
	case *matcherv3.StringMatcher_Custom:
		return "custom"
	}
	return "match_pattern_not_set"
}
