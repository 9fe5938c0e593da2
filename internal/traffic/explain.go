package traffic

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
)

// The steps of an explanation, in order.
const (
	TraceRequest         = "REQUEST"
	TraceListener        = "LISTENER"
	TraceListenerFilters = "LISTENER FILTERS"
	TraceFilterChain     = "FILTER CHAIN"
	TraceNetworkFilter   = "NETWORK FILTER"
	TraceRouteConfig     = "ROUTE CONFIG"
	TraceVirtualHost     = "VIRTUAL HOST"
	TraceRoute           = "ROUTE"
	TraceCluster         = "CLUSTER"
	TraceEndpoints       = "ENDPOINTS"
)

// ExplainRequest is a request to explain: a connection, and the HTTP request on it.
type ExplainRequest struct {
	Connection
	// ModeGiven, AddressGiven: the caller chose them; otherwise Explain does, and says how.
	ModeGiven    bool
	AddressGiven bool
	// Listener, when set, starts at the listener of that name (an internal listener, say,
	// which no address reaches).
	Listener string
	Host     string
	Path     string
	Method   string
	Headers  []RequestHeader
	// Random, when set, picks among weighted clusters as Envoy's random number would.
	Random *uint64
}

// RequestHeader is one request header.
type RequestHeader struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// NormalisedRequest is the request as explained, defaults applied.
type NormalisedRequest struct {
	Mode        string          `json:"mode"`
	Address     string          `json:"address"`
	Port        uint32          `json:"port"`
	SourceIP    string          `json:"source_ip"`
	SourcePort  uint32          `json:"source_port"`
	Protocol    string          `json:"protocol"`
	TLS         string          `json:"tls"`
	SNI         string          `json:"sni"`
	ALPN        []string        `json:"alpn"`
	Host        string          `json:"host"`
	Path        string          `json:"path"`
	Method      string          `json:"method"`
	Headers     []RequestHeader `json:"headers"`
	RandomValue *uint64         `json:"random_value"`
	Listener    string          `json:"listener,omitempty"`
	// Assumed says what was not given and how it was chosen.
	Assumed []string `json:"assumed"`
}

// TraceStep is one line of the trace.
type TraceStep struct {
	Step string `json:"step"`
	// Name is what the step matched, "" when nothing.
	Name string `json:"name"`
	// Rule is why it matched, or why nothing did.
	Rule  string `json:"rule"`
	Error string `json:"error,omitempty"`
	// Notes are facts about the step (TLS, filters passed, assumptions).
	Notes []string `json:"notes,omitempty"`
	// Rejected are the candidates considered and why each lost.
	Rejected []Rejected `json:"rejected,omitempty"`
}

// Explanation is where a request goes, step by step. The string fields are "" for a step not
// reached; the indexes are nil then.
type Explanation struct {
	Request          NormalisedRequest `json:"request"`
	Listener         string            `json:"listener"`
	FilterChain      string            `json:"filter_chain"`
	FilterChainIndex *int              `json:"filter_chain_index"`
	RouteConfig      string            `json:"route_config"`
	VirtualHost      string            `json:"virtual_host"`
	Route            string            `json:"route"`
	RouteIndex       *int              `json:"route_index"`
	Cluster          string            `json:"cluster"`
	Error            string            `json:"error"`
	// Message says, in a sentence, why the request stops when Error is set.
	Message   string         `json:"message"`
	Steps     []TraceStep    `json:"steps"`
	Endpoints []EndpointInfo `json:"endpoints"`
}

func (e *Explanation) add(s TraceStep) *TraceStep {
	e.Steps = append(e.Steps, s)
	return &e.Steps[len(e.Steps)-1]
}

func (e *Explanation) fail(s *TraceStep, code, why string) *Explanation {
	s.Error = code
	e.Error, e.Message = code, why
	return e
}

// Explain follows a request through cfg: listener, listener filters, filter chain, network
// filter, route configuration, virtual host, route, cluster and endpoints. Only what the
// request reaches is decoded. An error is returned for a configuration that cannot be read;
// a request that stops somewhere is an Explanation with Error set.
func Explain(cfg Config, req ExplainRequest) (*Explanation, error) {
	e := &Explanation{Endpoints: []EndpointInfo{}}
	ls, err := cfg.Listeners()
	if err != nil {
		return nil, err
	}
	nodeID := cfg.NodeID()
	var modeWhy, addrWhy, hostWhy, srcWhy string
	if !req.ModeGiven && req.Listener == "" {
		req.Mode, modeWhy = defaultMode(nodeID, ls), modeReason(nodeID, ls)
	}
	// The destination address: at once when it is cheap to know or decides the listener;
	// otherwise only if the chosen listener's chains match on it, or from the one route
	// configuration the request reaches (decoding every route configuration's domains
	// costs as much as pc route).
	pending := false
	if !req.AddressGiven {
		if a, why, ok := quickAddress(req, nodeID); ok {
			req.Destination, addrWhy = a, why
		} else if req.Mode == ModeOutbound && hostOnly(req.Host) != "" {
			if specificOnPort(ls, req.DestinationPort) {
				if req.Destination, addrWhy, err = searchAddress(cfg, ls, req); err != nil {
					return nil, err
				}
			} else {
				pending = true
			}
		}
	}
	if req.Protocol.IsHTTP() && req.Host == "" && req.Destination.IsValid() {
		req.Host = req.Destination.String()
		if req.Destination.Is6() {
			req.Host = "[" + req.Host + "]"
		}
		if p := req.DestinationPort; !(p == 80 && req.TLS == Plaintext) && !(p == 443 && req.TLS != Plaintext) {
			req.Host = Endpoint(req.Destination, p)
		}
		hostWhy = "host " + req.Host + " (the address, as curl sends it)"
	}
	if !req.Source.IsValid() {
		srcWhy = "source unknown (an external client)"
	}
	e.add(TraceStep{Step: TraceRequest})
	defer func() {
		// The request as explained, once the address is known (or known to be unknown).
		if !req.AddressGiven && addrWhy == "" {
			addrWhy = unknownAddress
		}
		var assumed []string
		for _, a := range []string{modeWhy, addrWhy, hostWhy, srcWhy} {
			if a != "" {
				assumed = append(assumed, a)
			}
		}
		e.Request = normalise(req, assumed)
		e.Steps[0].Name = describeRequest(req)
		if len(assumed) > 0 {
			e.Steps[0].Rule = "assumed: " + strings.Join(assumed, "; ")
		}
	}()
	// resolve finds the address from the dump, if still pending.
	resolve := func() error {
		if !pending {
			return nil
		}
		pending = false
		a, why, err := searchAddress(cfg, ls, req)
		req.Destination, addrWhy = a, why
		return err
	}

	// Listener.
	var lm ListenerMatch
	if req.Listener != "" {
		lm = ListenerMatch{Index: -1, Err: "no_listener", Rule: fmt.Sprintf("--listener %s: the dump has no listener of that name", req.Listener)}
		for i, l := range ls {
			if l.GetName() == req.Listener {
				lm = ListenerMatch{Index: i, Name: req.Listener, Rule: "--listener names it"}
				break
			}
		}
	} else {
		lm = SelectListener(ls, req.Connection)
	}
	lst := e.add(TraceStep{Step: TraceListener, Name: lm.Name, Rule: lm.Rule, Rejected: lm.Rejected})
	if lm.Err != "" {
		return e.fail(lst, lm.Err, lm.Rule), nil
	}
	e.Listener = lm.Name
	l, err := cfg.Listener(lm.Index)
	if err != nil {
		return nil, fmt.Errorf("listener %s: %w", lm.Name, err)
	}
	if addressMatters(l) {
		if err := resolve(); err != nil {
			return nil, err
		}
	}
	if l.GetInternalListener() != nil && req.Listener == "" {
		lst.Notes = append(lst.Notes, "an internal listener: only a cluster with an envoy_internal_address reaches it")
	}

	// Listener filters.
	in := Inspect(l, req.Connection)
	if len(in.Filters) > 0 {
		names := make([]string, 0, len(in.Filters))
		for _, f := range l.GetListenerFilters() {
			names = append(names, shortFilter(f.GetName()))
		}
		if len(names) == 0 {
			names = append(names, "none")
		}
		st := e.add(TraceStep{Step: TraceListenerFilters, Name: strings.Join(names, ", "),
			Rule: fmt.Sprintf("transport %s, SNI %s, ALPN %s", in.Transport, orNone(in.SNI), orNone(strings.Join(in.ALPN, ",")))})
		for _, f := range in.Filters {
			st.Notes = append(st.Notes, shortFilter(f.Name)+": "+f.Why)
		}
	}

	// Filter chain and its TLS.
	cm := SelectFilterChain(l, req.Connection, in, cfg.Unmarshal)
	fcs := e.add(TraceStep{Step: TraceFilterChain, Name: chainLabel(cm), Rule: cm.Rule, Rejected: cm.Rejected})
	if cm.Err != "" {
		return e.fail(fcs, cm.Err, cm.Rule), nil
	}
	fc := cm.Chain(l)
	idx := cm.Index
	e.FilterChain, e.FilterChainIndex = cm.Name, &idx
	if fcm := fc.GetFilterChainMatch(); fcm != nil && cm.By == "filter_chain_match" {
		fcs.Notes = append(fcs.Notes, "match: "+DescribeMatch(fcm))
	}
	tlsc := CheckTLS(fc, req.Connection, cfg.Unmarshal)
	fcs.Notes = append(fcs.Notes, "TLS: "+tlsc.Rule)
	if tlsc.Err != "" {
		return e.fail(fcs, tlsc.Err, tlsc.Rule), nil
	}

	// Network filter.
	nm := NetworkFilters(fc, req.Connection, tlsc, cfg.Unmarshal, req.Random)
	ns := e.add(TraceStep{Step: TraceNetworkFilter, Name: nm.Filter, Rule: nm.Rule})
	if len(nm.Passed) > 0 {
		ns.Notes = append(ns.Notes, "before it (not evaluated here): "+strings.Join(nm.Passed, ", "))
	}
	if nm.Err != "" {
		return e.fail(ns, nm.Err, nm.Rule), nil
	}
	switch nm.Kind {
	case "tcp":
		if nm.Cluster == "" {
			return e, nil
		}
		return e, clusterStep(e, cfg, nm.Cluster, &req, resolve)
	case "http":
	default:
		return e, nil
	}

	// Route configuration.
	var rc *routev3.RouteConfiguration
	switch {
	case nm.InlineRoutes != nil:
		rc = nm.InlineRoutes
		e.add(TraceStep{Step: TraceRouteConfig, Name: rc.GetName(), Rule: "inline in the HTTP connection manager"})
	case nm.RouteConfigName != "":
		rc, err = cfg.RouteConfig(nm.RouteConfigName)
		if err != nil {
			return nil, fmt.Errorf("route configuration %s: %w", nm.RouteConfigName, err)
		}
		e.RouteConfig = nm.RouteConfigName
		rs := e.add(TraceStep{Step: TraceRouteConfig, Name: nm.RouteConfigName, Rule: "named by the HTTP connection manager's RDS"})
		if rc == nil {
			why := fmt.Sprintf("route configuration %s is not in the dump (Envoy answers 404, NR)", nm.RouteConfigName)
			rs.Rule = why
			return e.fail(rs, "no_route", why), nil
		}
	default:
		return e, nil
	}
	if pending {
		// Only the endpoints of an original destination cluster and header formatters
		// read it now: the route configuration's own domains tell it.
		pending = false
		if a, ok := addressInRoutes(rc, req.Host, req.DestinationPort); ok {
			req.Destination = a
			addrWhy = fmt.Sprintf("address %s (a domain of the virtual host that serves %s)", a, hostOnly(req.Host))
		}
	}
	cluster, err := routeStep(e, rc, nm, tlsc, req, cfg.Unmarshal)
	if err != nil || cluster == "" || e.Error != "" {
		return e, err
	}
	return e, clusterStep(e, cfg, cluster, &req, resolve)
}

func chainLabel(cm ChainMatch) string {
	switch {
	case cm.Index == NoChain:
		return ""
	case cm.Index == DefaultChain && cm.Name != "":
		return cm.Name + " (default_filter_chain)"
	case cm.Index == DefaultChain:
		return "default_filter_chain"
	case cm.Name != "":
		return cm.Name + " (#" + strconv.Itoa(cm.Index) + ")"
	}
	return "#" + strconv.Itoa(cm.Index)
}

func shortFilter(name string) string {
	return strings.TrimPrefix(strings.TrimPrefix(name, "envoy.filters.listener."), "envoy.listener.")
}

// clusterStep looks the cluster up and lists its endpoints; resolve finds the destination
// address, which an original destination cluster's endpoint is, if still pending.
func clusterStep(e *Explanation, cfg Config, name string, req *ExplainRequest, resolve func() error) error {
	e.Cluster = name
	cl, err := cfg.Cluster(name)
	if err != nil {
		return fmt.Errorf("cluster %s: %w", name, err)
	}
	cs := e.add(TraceStep{Step: TraceCluster, Name: name})
	if cl == nil {
		cs.Rule = "not in the dump: Envoy answers 503 (NC, no cluster found)"
		return nil
	}
	typ := ClusterType(cl)
	cs.Rule = "type " + typ
	var eps []EndpointInfo
	source := ""
	status, err := cfg.ClusterStatus(name)
	switch {
	case err == nil && status != nil:
		eps, source = HostEndpoints(status), "/clusters (live health)"
	case err != nil && !errors.Is(err, ErrNoEDS):
		return fmt.Errorf("cluster %s status: %w", name, err)
	}
	if source == "" {
		switch {
		case typ == "EDS":
			eds := EDSName(cl)
			cla, err := cfg.LoadAssignment(eds)
			switch {
			case errors.Is(err, ErrNoEDS):
				source = "none: the dump has no EDS section (fetch config_dump?include_eds=true)"
			case err != nil:
				return fmt.Errorf("endpoints of %s: %w", eds, err)
			case cla == nil:
				source = "EDS has no assignment for " + eds
			default:
				eps, source = AssignmentEndpoints(cla), "EDS "+eds
			}
		case typ == "ORIGINAL_DST":
			if err := resolve(); err != nil {
				return err
			}
			eps = []EndpointInfo{{Address: Endpoint(req.Destination, req.DestinationPort), Health: "UNKNOWN", Weight: 1}}
			source = "the connection's original destination"
		case cl.GetLoadAssignment() != nil:
			eps, source = AssignmentEndpoints(cl.GetLoadAssignment()), "the cluster's load_assignment"
		default:
			source = "none in the cluster"
		}
	}
	e.Endpoints = eps
	healthy, degraded := countHealthy(eps)
	rule := fmt.Sprintf("%d endpoint(s), %d healthy", len(eps), healthy)
	if degraded > 0 {
		rule += fmt.Sprintf(", %d degraded", degraded)
	}
	es := e.add(TraceStep{Step: TraceEndpoints, Name: rule, Rule: "from " + source})
	for _, ep := range eps {
		es.Notes = append(es.Notes, describeEndpoint(ep))
	}
	internal := map[string]bool{}
	for _, ep := range eps {
		if name, ok := strings.CutPrefix(ep.Address, "envoy://"); ok {
			name, _, _ = strings.Cut(name, "/")
			if name != "" && !internal[name] {
				internal[name] = true
				es.Notes = append(es.Notes, fmt.Sprintf("goes on to the internal listener %s: explain it with --listener %s", name, name))
			}
		}
	}
	return nil
}

func describeEndpoint(ep EndpointInfo) string {
	s := ep.Address + " " + ep.Health
	if ep.Locality != "" {
		s += " locality " + ep.Locality
	}
	s += fmt.Sprintf(" priority %d weight %d", ep.Priority, ep.Weight)
	if ep.FailedOutlierCheck {
		s += " (ejected by outlier detection)"
	}
	if ep.FailedActiveHealthCheck {
		s += " (failed active health check)"
	}
	return s
}

// defaultMode is the mode a dump's node id implies: an Istio sidecar's (sidecar~...) is
// outbound, any other proxy's gateway; without a node id, outbound when a listener has
// use_original_dst.
func defaultMode(nodeID string, ls []*listenerv3.Listener) Mode {
	switch {
	case strings.HasPrefix(nodeID, "sidecar~"):
		return ModeOutbound
	case nodeID != "":
		return ModeGateway
	case virtualOutbound(ls) >= 0:
		return ModeOutbound
	}
	return ModeGateway
}

func modeReason(nodeID string, ls []*listenerv3.Listener) string {
	typ, _, _ := strings.Cut(nodeID, "~")
	switch {
	case strings.HasPrefix(nodeID, "sidecar~"):
		return "mode outbound (node type sidecar)"
	case nodeID != "":
		return "mode gateway (node type " + typ + ", not a sidecar)"
	case virtualOutbound(ls) >= 0:
		return "mode outbound (no node id; listener " + ls[virtualOutbound(ls)].GetName() + " has use_original_dst)"
	}
	return "mode gateway (no node id; no listener has use_original_dst)"
}

const unknownAddress = "address unknown (not given, not found in the dump: only catch-all prefix ranges match it)"

// quickAddress is the destination address when it needs no search: for inbound and gateway,
// the proxy's own IP from its node id (the client connects to the proxy); the host when it is
// an IP address.
func quickAddress(req ExplainRequest, nodeID string) (netip.Addr, string, bool) {
	if req.Mode != ModeOutbound && req.Listener == "" {
		if ip := NodeIP(nodeID); ip != "" {
			a, _ := ParseIP(ip)
			return a, "address " + ip + " (the proxy's own, from its node id)", true
		}
	}
	if a, ok := ParseIP(hostOnly(req.Host)); ok {
		return a, "address " + a.String() + " (the host)", true
	}
	return netip.Addr{}, "", false
}

// specificOnPort reports whether a listener is bound to a specific address on the port: then
// the address decides the listener.
func specificOnPort(ls []*listenerv3.Listener, port uint32) bool {
	for _, l := range ls {
		for _, a := range listenerAddrs(l) {
			if a.port == port && !a.ip.IsUnspecified() {
				return true
			}
		}
	}
	return false
}

// addressMatters reports whether a listener's filter chains can match on the destination
// address: prefix ranges, or a matcher tree.
func addressMatters(l *listenerv3.Listener) bool {
	if l.GetFilterChainMatcher() != nil {
		return true
	}
	for _, fc := range l.GetFilterChains() {
		if len(fc.GetFilterChainMatch().GetPrefixRanges()) > 0 {
			return true
		}
	}
	return false
}

// searchAddress looks for the host's address in the dump, for outbound: an IP among the
// domains of the virtual hosts that serve the host, or the address of the listener on the
// port whose name is IP_PORT and whose TCP proxy goes to the host. Otherwise the address stays
// unknown, which only catch-all ranges match.
func searchAddress(cfg Config, ls []*listenerv3.Listener, req ExplainRequest) (netip.Addr, string, error) {
	host := hostOnly(req.Host)
	// A TCP service: Istio's listener IP_PORT whose TCP proxy goes to outbound|PORT||HOST.
	if a, name, ok := tcpServiceAddress(cfg, ls, host, req.DestinationPort); ok {
		return a, fmt.Sprintf("address %s (listener %s proxies to %s)", a, name, host), nil
	}
	domains, err := cfg.Domains()
	if err != nil {
		return netip.Addr{}, "", err
	}
	for _, ds := range domains {
		if a, ok := vhostAddress(ds, host, req.DestinationPort); ok {
			return a, fmt.Sprintf("address %s (a domain of the virtual host that serves %s)", a, host), nil
		}
	}
	return netip.Addr{}, unknownAddress, nil
}

// vhostAddress is an IP among a virtual host's domains, when the virtual host serves host.
func vhostAddress(ds []string, host string, port uint32) (netip.Addr, bool) {
	withPort := host + ":" + strconv.Itoa(int(port))
	serves := false
	for _, d := range ds {
		if strings.EqualFold(d, host) || strings.EqualFold(d, withPort) {
			serves = true
			break
		}
	}
	if !serves {
		return netip.Addr{}, false
	}
	for _, d := range ds {
		if a, ok := ParseIP(hostOnly(d)); ok {
			return a, true
		}
	}
	return netip.Addr{}, false
}

// addressInRoutes is an IP among the domains of the virtual host of rc that serves host.
func addressInRoutes(rc *routev3.RouteConfiguration, host string, port uint32) (netip.Addr, bool) {
	for _, vh := range rc.GetVirtualHosts() {
		if a, ok := vhostAddress(vh.GetDomains(), hostOnly(host), port); ok {
			return a, true
		}
	}
	return netip.Addr{}, false
}

func tcpServiceAddress(cfg Config, ls []*listenerv3.Listener, host string, port uint32) (netip.Addr, string, bool) {
	suffix := fmt.Sprintf("|%d||%s", port, host)
	for i, l := range ls {
		sa := l.GetAddress().GetSocketAddress()
		ip, ok := ParseIP(sa.GetAddress())
		if !ok || ip.IsUnspecified() || sa.GetPortValue() != port {
			continue
		}
		full, err := cfg.Listener(i)
		if err != nil {
			continue
		}
		for _, fc := range full.GetFilterChains() {
			nm := NetworkFilters(fc, Connection{Protocol: TCP, TLS: Plaintext}, TLSCheck{}, cfg.Unmarshal, nil)
			if nm.Kind == "tcp" && strings.HasSuffix(nm.Cluster, suffix) {
				return ip, l.GetName(), true
			}
		}
	}
	return netip.Addr{}, "", false
}

// hostOnly strips a port from a host ("a.b:80", "[::1]:80").
func hostOnly(h string) string {
	if strings.HasPrefix(h, "[") {
		if i := strings.Index(h, "]"); i > 0 {
			return h[1:i]
		}
	}
	if i := strings.LastIndex(h, ":"); i >= 0 && strings.Count(h, ":") == 1 {
		return h[:i]
	}
	return h
}

func normalise(req ExplainRequest, assumed []string) NormalisedRequest {
	n := NormalisedRequest{
		Mode: string(req.Mode), Port: req.DestinationPort, SourcePort: req.SourcePort,
		Protocol: string(req.Protocol), TLS: string(req.TLS), SNI: req.SNI, ALPN: req.ALPN,
		Host: req.Host, Path: req.Path, Method: req.Method, Headers: req.Headers,
		RandomValue: req.Random, Listener: req.Listener, Assumed: assumed,
	}
	if req.Destination.IsValid() {
		n.Address = req.Destination.String()
	}
	if req.Source.IsValid() {
		n.SourceIP = req.Source.String()
	}
	if n.ALPN == nil {
		n.ALPN = []string{}
	}
	if n.Headers == nil {
		n.Headers = []RequestHeader{}
	}
	if n.Assumed == nil {
		n.Assumed = []string{}
	}
	return n
}

func describeRequest(req ExplainRequest) string {
	var b strings.Builder
	if req.Listener != "" {
		b.WriteString("at listener " + req.Listener)
	} else {
		b.WriteString(string(req.Mode))
	}
	fmt.Fprintf(&b, " %s %s", req.Protocol, req.TLS)
	b.WriteString(" to " + Endpoint(req.Destination, req.DestinationPort))
	if req.SNI != "" {
		b.WriteString(" sni " + req.SNI)
	}
	if len(req.ALPN) > 0 {
		b.WriteString(" alpn " + strings.Join(req.ALPN, ","))
	}
	if req.Protocol.IsHTTP() {
		fmt.Fprintf(&b, ": %s %s%s", req.Method, req.Host, req.Path)
	}
	return b.String()
}
