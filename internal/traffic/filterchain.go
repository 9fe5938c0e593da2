package traffic

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Positions of a filter chain besides its index in filter_chains.
const (
	// DefaultChain is the listener's default_filter_chain.
	DefaultChain = -1
	// NoChain: no filter chain takes the connection.
	NoChain = -2
)

// ChainMatch is the filter chain a connection is given.
type ChainMatch struct {
	// Index is the chain's position in filter_chains, DefaultChain or NoChain.
	Index int
	Name  string
	// By is how it was chosen: "filter_chain_match", "filter_chain_matcher" or
	// "default_filter_chain".
	By string
	// Rule says why this chain (or why none).
	Rule     string
	Rejected []Rejected
	// Err is "no_filter_chain", or "multiple_filter_chains" for chains with the same match
	// (a listener Envoy refuses), or "matcher_error" for a matcher tree this code cannot run.
	Err string
}

// Chain returns the chosen chain of l, nil for NoChain.
func (m ChainMatch) Chain(l *listenerv3.Listener) *listenerv3.FilterChain {
	switch {
	case m.Index == DefaultChain:
		return l.GetDefaultFilterChain()
	case m.Index >= 0 && m.Index < len(l.GetFilterChains()):
		return l.GetFilterChains()[m.Index]
	}
	return nil
}

// SelectFilterChain picks the filter chain of listener l for connection c, as the listener
// filters saw it (in): through the listener's filter_chain_matcher when it has one, else by
// each chain's filter_chain_match; the default_filter_chain when nothing matches.
func SelectFilterChain(l *listenerv3.Listener, c Connection, in Inspection, u Unmarshaler) ChainMatch {
	if m := l.GetFilterChainMatcher(); m != nil {
		return selectByMatcher(l, m, networkInputs(c, in), u)
	}
	return selectByMatch(l, c, in)
}

// chainName names a chain in the trace: by its name and position (names need not be unique).
func chainName(fc *listenerv3.FilterChain, i int) string {
	if fc.GetName() != "" {
		return fc.GetName() + " (#" + strconv.Itoa(i) + ")"
	}
	return "#" + strconv.Itoa(i)
}

func fallback(l *listenerv3.Listener, m ChainMatch, why string) ChainMatch {
	if d := l.GetDefaultFilterChain(); d != nil {
		m.Index, m.Name, m.By = DefaultChain, d.GetName(), "default_filter_chain"
		m.Rule = why + ", so the default_filter_chain"
		return m
	}
	m.Index, m.Err = NoChain, "no_filter_chain"
	m.Rule = why + ", and the listener has no default_filter_chain"
	return m
}

// fcCriterion is one level of Envoy's filter chain match, in order.
type fcCriterion struct {
	field string
	// set reports whether the chain's match sets the field.
	set func(*listenerv3.FilterChainMatch) bool
	// rank is how well a chain that sets the field matches (0: not at all; higher wins) and
	// what it asked for.
	rank func(*listenerv3.FilterChainMatch) (int, string)
	// trie: the field is a CIDR list, where a chain that leaves it empty stands for 0.0.0.0/0
	// and ::/0 (rank 1) in a longest-prefix match; otherwise it is only a fallback.
	trie bool
	// value is what the connection has for it, for messages.
	value string
}

// selectByMatch is Envoy's filter chain match: each criterion in the order of the
// FilterChainMatch docs narrows the chains to those that match it best; when none match, to
// those that leave it unset. Once a criterion has picked chains there is no going back to
// chains it dropped: nothing left means the default_filter_chain.
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/listener/v3/listener_components.proto#config-listener-v3-filterchainmatch
// (source/common/listener_manager/filter_chain_manager_impl.cc, findFilterChain)
func selectByMatch(l *listenerv3.Listener, c Connection, in Inspection) ChainMatch {
	chains := l.GetFilterChains()
	alive := make([]int, len(chains))
	for i := range chains {
		alive[i] = i
	}
	var m ChainMatch
	local := isLocal(c)
	sourceType := "external"
	if local {
		sourceType = "same IP or loopback"
	}
	criteria := []fcCriterion{
		{field: "destination_port", value: strconv.Itoa(int(c.DestinationPort)),
			set: func(f *listenerv3.FilterChainMatch) bool { return f.GetDestinationPort() != nil },
			rank: func(f *listenerv3.FilterChainMatch) (int, string) {
				p := f.GetDestinationPort().GetValue()
				return b2i(p == c.DestinationPort), strconv.Itoa(int(p))
			}},
		{field: "prefix_ranges", value: addrString(c.Destination), trie: true,
			set: func(f *listenerv3.FilterChainMatch) bool { return len(f.GetPrefixRanges()) > 0 },
			rank: func(f *listenerv3.FilterChainMatch) (int, string) {
				return cidrRank(f.GetPrefixRanges(), c.Destination)
			}},
		{field: "server_names", value: orNone(in.SNI),
			set:  func(f *listenerv3.FilterChainMatch) bool { return len(f.GetServerNames()) > 0 },
			rank: func(f *listenerv3.FilterChainMatch) (int, string) { return serverNameRank(f.GetServerNames(), in.SNI) }},
		{field: "transport_protocol", value: in.Transport,
			set: func(f *listenerv3.FilterChainMatch) bool { return f.GetTransportProtocol() != "" },
			rank: func(f *listenerv3.FilterChainMatch) (int, string) {
				return b2i(f.GetTransportProtocol() == in.Transport), f.GetTransportProtocol()
			}},
		{field: "application_protocols", value: orNone(strings.Join(in.ALPN, ",")),
			set: func(f *listenerv3.FilterChainMatch) bool { return len(f.GetApplicationProtocols()) > 0 },
			rank: func(f *listenerv3.FilterChainMatch) (int, string) {
				return alpnRank(f.GetApplicationProtocols(), in.ALPN)
			}},
		{field: "direct_source_prefix_ranges", value: addrString(c.Source), trie: true,
			set: func(f *listenerv3.FilterChainMatch) bool { return len(f.GetDirectSourcePrefixRanges()) > 0 },
			rank: func(f *listenerv3.FilterChainMatch) (int, string) {
				return cidrRank(f.GetDirectSourcePrefixRanges(), c.Source)
			}},
		{field: "source_type", value: sourceType,
			set: func(f *listenerv3.FilterChainMatch) bool {
				return f.GetSourceType() != listenerv3.FilterChainMatch_ANY
			},
			rank: func(f *listenerv3.FilterChainMatch) (int, string) {
				t := f.GetSourceType()
				ok := (t == listenerv3.FilterChainMatch_SAME_IP_OR_LOOPBACK) == local
				return b2i(ok), strings.ToLower(t.String())
			}},
		{field: "source_prefix_ranges", value: addrString(c.Source), trie: true,
			set: func(f *listenerv3.FilterChainMatch) bool { return len(f.GetSourcePrefixRanges()) > 0 },
			rank: func(f *listenerv3.FilterChainMatch) (int, string) {
				return cidrRank(f.GetSourcePrefixRanges(), c.Source)
			}},
		{field: "source_ports", value: strconv.Itoa(int(c.SourcePort)),
			set: func(f *listenerv3.FilterChainMatch) bool { return len(f.GetSourcePorts()) > 0 },
			rank: func(f *listenerv3.FilterChainMatch) (int, string) {
				return b2i(slices.Contains(f.GetSourcePorts(), c.SourcePort)), joinUints(f.GetSourcePorts())
			}},
	}
	var decided []string
	for _, cr := range criteria {
		if len(alive) == 0 {
			break
		}
		best := 0
		ranks := make([]int, len(alive))
		asked := make([]string, len(alive))
		anySet := false
		for k, i := range alive {
			f := chains[i].GetFilterChainMatch()
			switch {
			case cr.set(f):
				anySet = true
				ranks[k], asked[k] = cr.rank(f)
			case cr.trie:
				ranks[k] = 1 // an empty CIDR list is 0.0.0.0/0 and ::/0
			}
			best = max(best, ranks[k])
		}
		if !anySet {
			continue
		}
		var next []int
		for k, i := range alive {
			f := chains[i].GetFilterChainMatch()
			switch {
			case best > 0 && ranks[k] == best:
				next = append(next, i)
			case best == 0 && !cr.set(f):
				next = append(next, i) // nothing matches the field: chains that leave it unset
			case ranks[k] > 0:
				m.Rejected = append(m.Rejected, Rejected{chainName(chains[i], i), fmt.Sprintf("%s %s matches %s less specifically than another chain", cr.field, asked[k], cr.value)})
			case !cr.set(f):
				m.Rejected = append(m.Rejected, Rejected{chainName(chains[i], i), fmt.Sprintf("leaves %s unset, and another chain matches %s", cr.field, cr.value)})
			default:
				m.Rejected = append(m.Rejected, Rejected{chainName(chains[i], i), fmt.Sprintf("%s %s does not match %s", cr.field, asked[k], cr.value)})
			}
		}
		alive = next
		if best > 0 {
			decided = append(decided, cr.field+" "+cr.value)
		}
	}
	m.By = "filter_chain_match"
	switch len(alive) {
	case 0:
		m.By = ""
		return fallback(l, m, "no filter chain matches")
	case 1:
		i := alive[0]
		m.Index, m.Name = i, chains[i].GetName()
		switch {
		case len(decided) == 0 && len(chains) == 1:
			m.Rule = "the listener's only filter chain; nothing in its filter_chain_match fails"
		case len(decided) == 0:
			m.Rule = "the other chains set criteria the connection fails; this one leaves them unset"
		default:
			m.Rule = "filter_chain_match on " + strings.Join(decided, "; ")
		}
		return m
	}
	var names []string
	for _, i := range alive {
		names = append(names, chainName(chains[i], i))
	}
	m.By, m.Index, m.Err = "", NoChain, "multiple_filter_chains"
	m.Rule = "filter chains " + strings.Join(names, ", ") + " match the same way (Envoy refuses such a listener: overlapping matching rules)"
	return m
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func joinUints(v []uint32) string {
	s := make([]string, len(v))
	for i, p := range v {
		s[i] = strconv.Itoa(int(p))
	}
	return strings.Join(s, ",")
}

func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return "an unknown address"
	}
	return a.String()
}

// isLocal is Envoy's source type: the source is a loopback address or the destination's
// own address (Network::Utility::isSameIpOrLoopback). An unknown source is external.
func isLocal(c Connection) bool {
	if !c.Source.IsValid() {
		return false
	}
	return c.Source.IsLoopback() || (c.Destination.IsValid() && c.Source.Unmap() == c.Destination.Unmap())
}

// cidrRank is 1 + the longest prefix among ranges that contains a, 0 when none does; an
// unknown address is contained only by /0 ranges.
func cidrRank(ranges []*corev3.CidrRange, a netip.Addr) (int, string) {
	best := 0
	desc := make([]string, 0, len(ranges))
	for _, r := range ranges {
		p, ok := cidrPrefix(r)
		desc = append(desc, fmt.Sprintf("%s/%d", r.GetAddressPrefix(), r.GetPrefixLen().GetValue()))
		if !ok {
			continue
		}
		switch {
		case !a.IsValid():
			if p.Bits() == 0 {
				best = max(best, 1)
			}
		case p.Contains(a.Unmap()) || p.Contains(a):
			best = max(best, p.Bits()+1)
		}
	}
	return best, strings.Join(desc, ",")
}

// cidrRange is Envoy's or xDS's CidrRange.
type cidrRange interface {
	GetAddressPrefix() string
	GetPrefixLen() *wrapperspb.UInt32Value
}

// cidrPrefix turns an Envoy CidrRange into a prefix, masked as Envoy masks it.
func cidrPrefix(r cidrRange) (netip.Prefix, bool) {
	a, ok := ParseIP(r.GetAddressPrefix())
	if !ok {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	bits := int(r.GetPrefixLen().GetValue())
	if bits > a.BitLen() {
		bits = a.BitLen()
	}
	p, err := a.Prefix(bits)
	return p, err == nil
}

// serverNameRank ranks server_names against an SNI: an exact name first, then wildcards
// "*.example.com" from the longest suffix of the SNI to the shortest ("*.com"); partial
// wildcards never match.
func serverNameRank(names []string, sni string) (int, string) {
	sni = strings.ToLower(sni)
	best := 0
	for _, n := range names {
		n = strings.ToLower(n)
		switch {
		case sni == "":
		case n == sni:
			best = max(best, 1<<20)
		case strings.HasPrefix(n, "*.") && len(sni) > len(n)-1 && strings.HasSuffix(sni, n[1:]) && !strings.HasPrefix(sni, "."):
			best = max(best, len(n))
		}
	}
	return best, "[" + strings.Join(names, ",") + "]"
}

// alpnRank ranks application_protocols against the client's ALPN list: Envoy takes the
// client's protocols in its order of preference, the first that some chain lists wins.
func alpnRank(protos, alpn []string) (int, string) {
	for i, p := range alpn {
		if slices.Contains(protos, p) {
			return len(alpn) - i, strings.Join(protos, ",")
		}
	}
	return 0, strings.Join(protos, ",")
}

// DescribeMatch is a filter chain's match in one line, e.g. "port 9080, tls, ALPN h2".
func DescribeMatch(f *listenerv3.FilterChainMatch) string {
	var parts []string
	if f.GetDestinationPort() != nil {
		parts = append(parts, "port "+strconv.Itoa(int(f.GetDestinationPort().GetValue())))
	}
	cidrs := func(rs []*corev3.CidrRange) string {
		_, s := cidrRank(rs, netip.Addr{})
		return s
	}
	if len(f.GetPrefixRanges()) > 0 {
		parts = append(parts, "addr "+cidrs(f.GetPrefixRanges()))
	}
	if len(f.GetServerNames()) > 0 {
		parts = append(parts, "sni "+strings.Join(f.GetServerNames(), ","))
	}
	if f.GetTransportProtocol() != "" {
		parts = append(parts, f.GetTransportProtocol())
	}
	if len(f.GetApplicationProtocols()) > 0 {
		parts = append(parts, "alpn "+strings.Join(f.GetApplicationProtocols(), ","))
	}
	if len(f.GetDirectSourcePrefixRanges()) > 0 {
		parts = append(parts, "direct source "+cidrs(f.GetDirectSourcePrefixRanges()))
	}
	if f.GetSourceType() != listenerv3.FilterChainMatch_ANY {
		parts = append(parts, "source "+strings.ToLower(f.GetSourceType().String()))
	}
	if len(f.GetSourcePrefixRanges()) > 0 {
		parts = append(parts, "source "+cidrs(f.GetSourcePrefixRanges()))
	}
	if len(f.GetSourcePorts()) > 0 {
		parts = append(parts, "source port "+joinUints(f.GetSourcePorts()))
	}
	if len(parts) == 0 {
		return "any"
	}
	return strings.Join(parts, ", ")
}
