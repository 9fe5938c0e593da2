package diff

import (
	"net/netip"
	"sort"
	"strings"

	adminv3 "github.com/envoyproxy/go-control-plane/envoy/admin/v3"
)

// Identity is what makes a proxy itself rather than another replica of the same workload: the
// values each replica has of its own, which a comparison of two replicas normalises.
type Identity struct {
	// NodeID is Envoy's node id (Istio: sidecar~IP~POD.NAMESPACE~NAMESPACE.svc.cluster.local).
	NodeID string
	// PodNames are the pod's names: from Kubernetes and from the node's metadata (NAME,
	// POD_NAME); usually one.
	PodNames []string
	// IPs are the pod's IPs: from Kubernetes and the node's INSTANCE_IPS. Loopback and
	// unspecified addresses are never identity.
	IPs []string
	// NodeName is the Kubernetes node the pod runs on (metadata NODE_NAME, or the pod's
	// spec.nodeName).
	NodeName string
}

// IsZero reports whether nothing is known of the proxy's identity.
func (id Identity) IsZero() bool {
	return id.NodeID == "" && len(id.PodNames) == 0 && len(id.IPs) == 0 && id.NodeName == ""
}

// Merge adds what other knows and id does not.
func (id Identity) Merge(other Identity) Identity {
	out := Identity{NodeID: id.NodeID, NodeName: id.NodeName}
	if out.NodeID == "" {
		out.NodeID = other.NodeID
	}
	if out.NodeName == "" {
		out.NodeName = other.NodeName
	}
	out.PodNames = appendUnique(append([]string(nil), id.PodNames...), other.PodNames...)
	out.IPs = appendUnique(append([]string(nil), id.IPs...), other.IPs...)
	return out
}

func appendUnique(list []string, more ...string) []string {
	for _, s := range more {
		if s == "" {
			continue
		}
		dup := false
		for _, have := range list {
			dup = dup || have == s
		}
		if !dup {
			list = append(list, s)
		}
	}
	return list
}

// SameProxy reports whether two identities are of the same proxy (two dumps of one proxy taken
// at different times): then there is nothing to normalise. Nor is there when either is not
// known (a dump without a bootstrap, istiod's view of a proxy).
func (id Identity) SameProxy(other Identity) bool {
	switch {
	case len(id.PodNames) > 0 && len(other.PodNames) > 0:
		return id.PodNames[0] == other.PodNames[0]
	case id.NodeID != "" && other.NodeID != "":
		return id.NodeID == other.NodeID
	}
	return id.IsZero() && other.IsZero()
}

// BootstrapIdentity reads a proxy's identity from its bootstrap's node: its id, and Istio's
// metadata NAME, POD_NAME, INSTANCE_IPS and NODE_NAME; an Istio node id
// (TYPE~IP~POD.NAMESPACE~DOMAIN) gives the IP and pod name too.
func BootstrapIdentity(b *adminv3.BootstrapConfigDump) Identity {
	node := b.GetBootstrap().GetNode()
	id := Identity{NodeID: node.GetId()}
	md := node.GetMetadata().GetFields()
	for _, k := range []string{"NAME", "POD_NAME"} {
		id.PodNames = appendUnique(id.PodNames, md[k].GetStringValue())
	}
	for _, ip := range strings.Split(md["INSTANCE_IPS"].GetStringValue(), ",") {
		id.IPs = appendUnique(id.IPs, strings.TrimSpace(ip))
	}
	if parts := strings.Split(id.NodeID, "~"); len(parts) == 4 {
		id.IPs = appendUnique(id.IPs, parts[1])
		pod, _, _ := strings.Cut(parts[2], ".")
		id.PodNames = appendUnique(id.PodNames, pod)
	}
	id.NodeName = md["NODE_NAME"].GetStringValue()
	id.IPs = identityIPs(id.IPs)
	return id
}

// identityIPs keeps the addresses that can tell one pod from another.
func identityIPs(ips []string) []string {
	var out []string
	for _, s := range ips {
		a, err := netip.ParseAddr(s)
		if err != nil || a.IsLoopback() || a.IsUnspecified() {
			continue
		}
		out = appendUnique(out, s)
	}
	return out
}

// token is one identity value and what it is replaced by.
type token struct {
	value, placeholder string
	// chars are the bytes that may not stand right before or after a match: a pod name inside
	// a longer name, or an IP inside a longer address, is not the pod's.
	chars string
}

const (
	nameChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"
	ipv4Chars = "0123456789."
	ipv6Chars = "0123456789abcdefABCDEF:."
)

// tokens lists an identity's values with placeholders; peer ones are named PEER_....
func (id Identity) tokens(peer bool) []token {
	p := func(s string) string {
		if peer {
			return "<PEER_" + s + ">"
		}
		return "<" + s + ">"
	}
	var out []token
	if id.NodeID != "" {
		out = append(out, token{id.NodeID, p("NODE_ID"), nameChars + ".~"})
	}
	for i, n := range id.PodNames {
		ph := "POD_NAME"
		if i > 0 {
			ph += "_" + itoa(i+1)
		}
		out = append(out, token{n, p(ph), nameChars})
	}
	for i, ip := range identityIPs(id.IPs) {
		ph := "POD_IP"
		if i > 0 {
			ph += "_" + itoa(i+1)
		}
		chars := ipv4Chars
		if strings.Contains(ip, ":") {
			chars = ipv6Chars
		}
		out = append(out, token{ip, p(ph), chars})
	}
	if id.NodeName != "" {
		out = append(out, token{id.NodeName, p("NODE_NAME"), nameChars})
	}
	return out
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}

// replacer replaces a side's identity values, its own and its peer's, in strings.
type replacer struct {
	tokens []token
}

// newReplacer normalises own's values, and peer's as PEER_ placeholders; a value both have
// counts as own. A nil replacer changes nothing.
func newReplacer(own, peer Identity) *replacer {
	ts := own.tokens(false)
	mine := map[string]bool{}
	for _, t := range ts {
		mine[t.value] = true
	}
	for _, t := range peer.tokens(true) {
		if !mine[t.value] {
			ts = append(ts, t)
		}
	}
	if len(ts) == 0 {
		return nil
	}
	// Longest first: a node id holds the pod's name and IP.
	sort.SliceStable(ts, func(i, j int) bool { return len(ts[i].value) > len(ts[j].value) })
	return &replacer{tokens: ts}
}

// apply returns s with every identity value that stands on its own replaced.
func (r *replacer) apply(s string) string {
	if r == nil || s == "" {
		return s
	}
	for _, t := range r.tokens {
		if strings.Contains(s, t.value) {
			s = replaceToken(s, t)
		}
	}
	return s
}

func replaceToken(s string, t token) string {
	var b strings.Builder
	at := 0
	for from := 0; ; {
		i := strings.Index(s[from:], t.value)
		if i < 0 {
			break
		}
		i += from
		end := i + len(t.value)
		if (i > 0 && strings.IndexByte(t.chars, s[i-1]) >= 0) || (end < len(s) && strings.IndexByte(t.chars, s[end]) >= 0) {
			from = i + 1
			continue
		}
		b.WriteString(s[at:i])
		b.WriteString(t.placeholder)
		at, from = end, end
	}
	if at == 0 {
		return s
	}
	b.WriteString(s[at:])
	return b.String()
}

// values lists the identity values, for finding the resources that mention them.
func (r *replacer) values() [][]byte {
	if r == nil {
		return nil
	}
	out := make([][]byte, len(r.tokens))
	for i, t := range r.tokens {
		out[i] = []byte(t.value)
	}
	return out
}
