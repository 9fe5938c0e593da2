package traffic

import (
	"fmt"
	"strconv"
	"strings"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
)

// routeStep routes the request with the route layer (Router) and records the VIRTUAL HOST
// and ROUTE steps; it returns the cluster the request goes to, "" when none.
func routeStep(e *Explanation, rc *routev3.RouteConfiguration, nm NetworkMatch, tlsc TLSCheck, req ExplainRequest, u Unmarshaler) (string, error) {
	hr := httpRequest(nm.HCM, tlsc, req)
	res, err := RouteRequest(rc, hr, Options{UnmarshalAny: u})
	if err != nil {
		return "", fmt.Errorf("route configuration %s: %w", rc.GetName(), err)
	}
	vs := e.add(TraceStep{Step: TraceVirtualHost})
	if hr.Authority != req.Host {
		vs.Notes = append(vs.Notes, fmt.Sprintf("the HTTP connection manager strips the port: host %s", hr.Authority))
	}
	var rs *TraceStep
	for _, st := range res.Trace {
		switch st.Kind {
		case StepVirtualHost:
			if st.Matched {
				vs.Name, vs.Rule = st.Name, st.Reason
			} else {
				vs.Rejected = append(vs.Rejected, Rejected{st.Name, st.Reason})
			}
		case StepRoute:
			if rs == nil {
				rs = &TraceStep{Step: TraceRoute}
			}
			name := routeLabel(st.Name, st.Index)
			if st.Matched {
				rs.Name, rs.Rule = name, st.Reason
			} else {
				rs.Rejected = append(rs.Rejected, Rejected{name, st.Reason})
			}
		}
	}
	if res.VirtualHost == nil {
		if vs.Rule == "" {
			vs.Rule = fmt.Sprintf("no virtual host of %s has a domain that matches %s", rc.GetName(), orNone(hr.Authority))
		}
		return "", failRoute(e, vs, res)
	}
	e.VirtualHost = res.VirtualHost.GetName()
	if vs.Name == "" {
		vs.Name = e.VirtualHost
	}
	if res.Error == TLSRequired {
		why := "require_tls: the virtual host answers a plaintext request with a redirect to https"
		if r := res.Action.Redirect; r != nil {
			why += fmt.Sprintf(" (%d, Location: %s)", r.Code, r.Location)
		}
		vs.Rule += "; " + why
		e.fail(vs, string(TLSRequired), why)
		return "", nil
	}
	if rs == nil {
		rs = &TraceStep{Step: TraceRoute}
	}
	e.Steps = append(e.Steps, *rs)
	rsp := &e.Steps[len(e.Steps)-1]
	for _, n := range res.Notes {
		rsp.Notes = append(rsp.Notes, n)
	}
	if res.Error != "" {
		if rsp.Rule == "" {
			rsp.Rule = fmt.Sprintf("no route of virtual host %s matches %s %s", e.VirtualHost, hr.Method, hr.Path)
		}
		return "", failRoute(e, rsp, res)
	}
	idx := res.RouteIndex
	e.Route, e.RouteIndex = res.RouteName, &idx
	if rsp.Name == "" {
		rsp.Name = routeLabel(res.RouteName, idx)
	}
	a := res.Action
	if res.PathRewrite != "" {
		rsp.Notes = append(rsp.Notes, fmt.Sprintf("path rewritten to %s (%s)", res.Path, res.PathRewrite))
	}
	if res.HostRewrite != "" {
		rsp.Notes = append(rsp.Notes, fmt.Sprintf("host rewritten to %s (%s)", res.Host, res.HostRewrite))
	}
	switch a.Kind {
	case ActionCluster:
		rsp.Notes = append(rsp.Notes, "action: cluster "+a.Cluster)
	case ActionClusterHeader:
		if a.Cluster == "" {
			rsp.Notes = append(rsp.Notes, fmt.Sprintf("action: cluster_header %s, absent from the request: Envoy answers 503 (NC)", a.ClusterHeader))
		} else {
			rsp.Notes = append(rsp.Notes, fmt.Sprintf("action: cluster_header %s names cluster %s", a.ClusterHeader, a.Cluster))
		}
	case ActionWeighted:
		if w := a.Weighted; w != nil {
			parts := make([]string, len(w.Clusters))
			for i, c := range w.Clusters {
				parts[i] = fmt.Sprintf("%s (%d)", c.Name, c.Weight)
			}
			from := strings.ReplaceAll(w.ValueFrom, "_", " ")
			if req.Random == nil && w.ValueFrom == "random_value" {
				from += " (--random-value not given)"
			}
			rsp.Notes = append(rsp.Notes, fmt.Sprintf("action: weighted_clusters %s; %s %d %% %d picks %s", strings.Join(parts, ", "), from, w.Value, w.Total, a.Cluster))
		}
	case ActionRedirect:
		if r := a.Redirect; r != nil {
			rsp.Notes = append(rsp.Notes, fmt.Sprintf("action: redirect %d, Location: %s", r.Code, r.Location))
		}
		return "", nil
	case ActionDirectResponse:
		body := a.Body
		if a.BodySource != "" {
			body = "from " + a.BodySource
		}
		rsp.Notes = append(rsp.Notes, fmt.Sprintf("action: direct_response %d %s", a.Status, strconv.Quote(body)))
		return "", nil
	case ActionNonForwarding:
		rsp.Notes = append(rsp.Notes, "action: non_forwarding (the filters answer; nothing goes upstream)")
		return "", nil
	case ActionClusterPlugin:
		rsp.Notes = append(rsp.Notes, "action: cluster_specifier_plugin "+a.Plugin+" (not run: the cluster is not known)")
		return "", nil
	default:
		rsp.Notes = append(rsp.Notes, "action: "+string(a.Kind))
	}
	return a.Cluster, nil
}

func failRoute(e *Explanation, s *TraceStep, res *Result) error {
	code := string(res.Error)
	switch res.Error {
	case NoForwardedProto:
		code = string(NoRoute)
		s.Rule = "the request has no x-forwarded-proto: Envoy's router finds no route"
	}
	e.fail(s, code, s.Rule)
	return nil
}

func routeLabel(name string, index int) string {
	if name != "" {
		return name
	}
	return "#" + strconv.Itoa(index)
}

// httpRequest is the request as the HTTP connection manager hands it to the router: the port
// stripped from the host as strip_matching_host_port or strip_any_host_port say, :scheme and
// x-forwarded-proto from the connection.
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto#envoy-v3-api-field-extensions-filters-network-http-connection-manager-v3-httpconnectionmanager-strip-matching-host-port
func httpRequest(hcm *hcmv3.HttpConnectionManager, tlsc TLSCheck, req ExplainRequest) *Request {
	host := req.Host
	if h, port, ok := splitHostPort(host); ok {
		switch {
		case hcm.GetStripAnyHostPort():
			host = h
		case hcm.GetStripMatchingHostPort() && port == strconv.Itoa(int(req.DestinationPort)):
			host = h
		}
	}
	scheme := "http"
	if tlsc.Terminates {
		scheme = "https"
	}
	r := &Request{Authority: host, Path: req.Path, Method: req.Method, Scheme: scheme,
		RemotePort: req.SourcePort, LocalPort: req.DestinationPort, Protocol: "HTTP/1.1"}
	if req.Protocol == HTTP2 {
		r.Protocol = "HTTP/2"
	}
	if req.Source.IsValid() {
		r.RemoteIP = req.Source.String()
	}
	if req.Destination.IsValid() {
		r.LocalIP = req.Destination.String()
	}
	for _, h := range req.Headers {
		if strings.EqualFold(h.Name, "x-forwarded-proto") {
			r.ForwardedProto = h.Value
		}
		r.Headers = append(r.Headers, Header{Name: strings.ToLower(h.Name), Value: h.Value})
	}
	if tlsc.Terminates {
		r.TLS = &DownstreamTLS{PeerCertificatePresented: req.TLS == MTLS, PeerCertificateValidated: req.TLS == MTLS && tlsc.RequiresClientCert}
	}
	if req.Random != nil {
		r.RandomValue = *req.Random
	}
	return r
}

// splitHostPort splits "host:port" and "[v6]:port"; ok is false without a port.
func splitHostPort(h string) (host, port string, ok bool) {
	if strings.HasPrefix(h, "[") {
		i := strings.Index(h, "]")
		if i < 0 || !strings.HasPrefix(h[i+1:], ":") {
			return h, "", false
		}
		return h[:i+1], h[i+2:], true
	}
	if strings.Count(h, ":") != 1 {
		return h, "", false
	}
	i := strings.LastIndex(h, ":")
	return h[:i], h[i+1:], true
}
