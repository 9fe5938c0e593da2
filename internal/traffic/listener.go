package traffic

import (
	"fmt"
	"net/netip"
	"strings"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
)

// Istio's names for its virtual listeners.
const (
	VirtualOutbound = "virtualOutbound"
	VirtualInbound  = "virtualInbound"
)

// Rejected is a candidate a step considered and why it lost.
type Rejected struct {
	Name string `json:"name"`
	Why  string `json:"why"`
}

// ListenerFields are the fields of a listener that SelectListener reads: a caller can decode
// only these for every listener, then the chosen one whole.
var ListenerFields = []string{"name", "address", "additional_addresses", "bind_to_port", "use_original_dst", "internal_listener"}

// ListenerMatch is the listener a connection reaches.
type ListenerMatch struct {
	// Index is the chosen listener's position in the list given, -1 when none.
	Index int
	Name  string
	// Rule says why this listener takes the connection (or why none does).
	Rule string
	// Via names the use_original_dst listener that handed the connection over, if any.
	Via      string
	Rejected []Rejected
	// Err is "no_listener" when no listener takes the connection.
	Err string
}

// boundAddr is one address a listener is bound to.
type boundAddr struct {
	ip       netip.Addr
	raw      string
	port     uint32
	v4compat bool
}

func listenerAddrs(l *listenerv3.Listener) []boundAddr {
	var out []boundAddr
	add := func(sa interface {
		GetAddress() string
		GetPortValue() uint32
		GetIpv4Compat() bool
	}) {
		if sa == nil || sa.GetAddress() == "" {
			return
		}
		ip, _ := ParseIP(sa.GetAddress())
		out = append(out, boundAddr{ip: ip, raw: sa.GetAddress(), port: sa.GetPortValue(), v4compat: sa.GetIpv4Compat()})
	}
	if sa := l.GetAddress().GetSocketAddress(); sa != nil {
		add(sa)
	}
	for _, a := range l.GetAdditionalAddresses() {
		if sa := a.GetAddress().GetSocketAddress(); sa != nil {
			add(sa)
		}
	}
	return out
}

func bindsToPort(l *listenerv3.Listener) bool {
	return l.GetBindToPort() == nil || l.GetBindToPort().GetValue()
}

func usesOriginalDst(l *listenerv3.Listener) bool { return l.GetUseOriginalDst().GetValue() }

// addrMatch says how a listener's addresses take a destination: 2 exactly, 1 as the wildcard
// of its family on that port, 0 not at all. This is Envoy's lookup of the listener for an
// original destination (ConnectionHandlerImpl::findActiveListenerByAddress): the exact
// address and port first, then 0.0.0.0:port for IPv4 ([::]:port with ipv4_compat too) and
// [::]:port for IPv6.
func addrMatch(l *listenerv3.Listener, dst netip.Addr, port uint32) (int, string) {
	best, how := 0, ""
	for _, a := range listenerAddrs(l) {
		if a.port != port {
			continue
		}
		switch {
		case dst.IsValid() && a.ip.IsValid() && a.ip == dst.Unmap():
			return 2, fmt.Sprintf("bound to %s exactly", Endpoint(a.ip, port))
		case a.ip == netip.IPv4Unspecified() && (!dst.IsValid() || dst.Unmap().Is4()):
			best, how = 1, fmt.Sprintf("bound to 0.0.0.0:%d, the wildcard address, on the destination port", port)
		case a.ip == netip.IPv6Unspecified() && (!dst.IsValid() || dst.Is6() && !dst.Is4In6()):
			best, how = 1, fmt.Sprintf("bound to [::]:%d, the wildcard address, on the destination port", port)
		case a.ip == netip.IPv6Unspecified() && a.v4compat && dst.Unmap().Is4() && best == 0:
			best, how = 1, fmt.Sprintf("bound to [::]:%d with ipv4_compat, the wildcard address, on the destination port", port)
		}
	}
	return best, how
}

// findByAddress picks among ls the listener for dst:port, as Envoy's original destination
// lookup does; skip is an index not to consider (the virtual listener itself); onlyBound
// keeps listeners with bind_to_port (a connection without redirect reaches no other).
func findByAddress(ls []*listenerv3.Listener, dst netip.Addr, port uint32, skip int, onlyBound bool) (int, string, []Rejected) {
	idx, rank, rule := -1, 0, ""
	var rejected []Rejected
	others := 0
	for i, l := range ls {
		if i == skip {
			continue
		}
		r, how := addrMatch(l, dst, port)
		switch {
		case r == 0:
			if onPort(l, port) {
				rejected = append(rejected, Rejected{l.GetName(), "bound to " + addrList(l) + ", not the destination " + destination(dst, port)})
			} else {
				others++
			}
			continue
		case onlyBound && !bindsToPort(l):
			rejected = append(rejected, Rejected{l.GetName(), "bind_to_port: false: only a use_original_dst listener hands connections to it"})
			continue
		}
		if r > rank {
			if idx >= 0 {
				rejected = append(rejected, Rejected{ls[idx].GetName(), "bound to the wildcard address; an exact address:port listener wins"})
			}
			idx, rank, rule = i, r, how
			continue
		}
		why := "a listener before it in the dump takes the same address"
		if r < rank {
			why = "bound to the wildcard address; an exact address:port listener wins"
		}
		rejected = append(rejected, Rejected{l.GetName(), why})
	}
	if others > 0 {
		rejected = append(rejected, Rejected{fmt.Sprintf("(%d more)", others), fmt.Sprintf("not on port %d", port)})
	}
	return idx, rule, rejected
}

func onPort(l *listenerv3.Listener, port uint32) bool {
	for _, a := range listenerAddrs(l) {
		if a.port == port {
			return true
		}
	}
	return false
}

func addrList(l *listenerv3.Listener) string {
	var s []string
	for _, a := range listenerAddrs(l) {
		if a.ip.IsValid() {
			s = append(s, Endpoint(a.ip, a.port))
		} else {
			s = append(s, fmt.Sprintf("%s:%d", a.raw, a.port))
		}
	}
	if len(s) == 0 {
		if l.GetInternalListener() != nil {
			return "no address (an internal listener)"
		}
		return "no socket address"
	}
	return strings.Join(s, ", ")
}

// virtualOutbound finds the listener a sidecar's iptables redirect delivers outbound
// connections to: one with use_original_dst, Istio's virtualOutbound first.
func virtualOutbound(ls []*listenerv3.Listener) int {
	found := -1
	for i, l := range ls {
		if !usesOriginalDst(l) {
			continue
		}
		if l.GetName() == VirtualOutbound {
			return i
		}
		if found < 0 {
			found = i
		}
	}
	return found
}

// SelectListener picks the listener that takes connection c among ls, per c.Mode:
//
//   - outbound: the iptables redirect delivers the connection to the listener with
//     use_original_dst (virtualOutbound, 15001), which hands it to the listener for the
//     original destination: exact address:port, then the wildcard address on that port, bound
//     or not (bind_to_port: false listeners exist for this); with none, the virtual listener
//     keeps it and matches its own filter chains.
//     https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/listener/v3/listener.proto#envoy-v3-api-field-config-listener-v3-listener-use-original-dst
//   - inbound: the listener named virtualInbound, whose chains match on the original
//     destination.
//   - gateway: no redirect, so only listeners bound to a port (bind_to_port not false): exact
//     address:port, then the wildcard address.
func SelectListener(ls []*listenerv3.Listener, c Connection) ListenerMatch {
	port := c.DestinationPort
	switch c.Mode {
	case ModeInbound:
		for i, l := range ls {
			if l.GetName() == VirtualInbound {
				return ListenerMatch{Index: i, Name: l.GetName(), Rule: "inbound: the iptables redirect delivers inbound connections to virtualInbound (port 15006), whose filter chains match the original destination"}
			}
		}
		return ListenerMatch{Index: -1, Err: "no_listener", Rule: "inbound: the dump has no listener named virtualInbound (is it a sidecar? try --mode gateway)"}
	case ModeOutbound:
		v := virtualOutbound(ls)
		if v < 0 {
			m := selectBound(ls, c)
			m.Rule = "outbound, but no listener has use_original_dst (no iptables capture to hand over): " + m.Rule
			return m
		}
		vname := ls[v].GetName()
		idx, rule, rejected := findByAddress(ls, c.Destination, port, v, false)
		if idx >= 0 {
			return ListenerMatch{Index: idx, Name: ls[idx].GetName(), Via: vname, Rejected: rejected,
				Rule: fmt.Sprintf("%s (use_original_dst) hands the connection to the listener for the original destination %s: %s", vname, destination(c.Destination, port), rule)}
		}
		return ListenerMatch{Index: v, Name: vname, Rejected: rejected,
			Rule: fmt.Sprintf("no listener for the original destination %s, so %s (use_original_dst) keeps it and matches its own filter chains", destination(c.Destination, port), vname)}
	}
	return selectBound(ls, c)
}

func selectBound(ls []*listenerv3.Listener, c Connection) ListenerMatch {
	idx, rule, rejected := findByAddress(ls, c.Destination, c.DestinationPort, -1, true)
	if idx < 0 {
		return ListenerMatch{Index: -1, Err: "no_listener", Rejected: rejected,
			Rule: fmt.Sprintf("no listener is bound to %s or to the wildcard address on port %d", destination(c.Destination, c.DestinationPort), c.DestinationPort)}
	}
	return ListenerMatch{Index: idx, Name: ls[idx].GetName(), Rule: rule, Rejected: rejected}
}

// destination is the original destination in messages: its port alone while the address is
// not known (it did not decide the listener then).
func destination(dst netip.Addr, port uint32) string {
	if !dst.IsValid() {
		return fmt.Sprintf("port %d", port)
	}
	return Endpoint(dst, port)
}
