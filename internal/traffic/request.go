package traffic

import (
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
)

// Request is an HTTP request as Envoy's router sees it: after the HTTP connection manager has
// parsed, normalized and sanitized it (path normalization, x-forwarded-proto, internal
// headers are the listener layer's business, not this one's).
type Request struct {
	// Authority is :authority (Host); Path is :path, with its query string; Method is
	// :method; Scheme is :scheme.
	Authority, Path, Method, Scheme string
	// ForwardedProto is x-forwarded-proto, which require_tls and redirects read; when empty,
	// Scheme is used (the connection manager always sets it).
	ForwardedProto string
	// Headers are the other request headers, lower-case names, in order.
	Headers []Header
	// ResponseHeaders are headers already on the response before the router adds its own
	// (router_check_tool's additional_response_headers; an upstream's response): the route's
	// response header mutations apply to them.
	ResponseHeaders []Header

	// RemoteIP and RemotePort are the downstream remote address, LocalIP and LocalPort the
	// downstream local address (header formatters such as
	// %DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT% read them). Protocol is "HTTP/1.1", "HTTP/2"...
	RemoteIP, LocalIP     string
	RemotePort, LocalPort uint32
	Protocol              string

	// TLS describes the downstream TLS connection; nil is a plaintext connection.
	TLS *DownstreamTLS

	// RandomValue picks among weighted clusters (value % total weight) and is passed to the
	// runtime for runtime_fraction matches.
	RandomValue uint64
	// Runtime decides runtime_fraction matches; nil assumes they match (noted in the Result).
	Runtime RuntimeFunc
	// DynamicMetadata is the stream's dynamic metadata that route.match.dynamic_metadata reads;
	// nil assumes those matchers match (noted).
	DynamicMetadata *corev3.Metadata
	// FilterState maps filter state keys to their serialized values, for
	// route.match.filter_state; nil assumes those matchers match (noted).
	FilterState map[string]string
}

// DownstreamTLS is what the router can know of the downstream TLS connection
// (route.match.tls_context).
type DownstreamTLS struct {
	// PeerCertificatePresented and PeerCertificateValidated: whether the client presented a
	// certificate, and whether it was validated.
	PeerCertificatePresented, PeerCertificateValidated bool
	// PeerUnknown: the caller does not know what the client presents; tls_context matchers are
	// assumed to match (noted).
	PeerUnknown bool
}

// RuntimeFunc answers Envoy's runtime featureEnabled(key, default, random) for a
// runtime_fraction match. FractionEnabled is what Envoy does with no runtime override.
type RuntimeFunc func(key string, def *typev3.FractionalPercent, random uint64) bool

// FractionEnabled reports whether random falls within the fraction: random % denominator <
// numerator (ProtobufPercentHelper::evaluateFractionalPercent).
func FractionEnabled(f *typev3.FractionalPercent, random uint64) bool {
	var den uint64
	switch f.GetDenominator() {
	case typev3.FractionalPercent_HUNDRED:
		den = 100
	case typev3.FractionalPercent_TEN_THOUSAND:
		den = 10000
	case typev3.FractionalPercent_MILLION:
		den = 1000000
	default:
		den = 100
	}
	return random%den < uint64(f.GetNumerator())
}

// headerMap builds the request's header map as Envoy's router sees it: the pseudo-headers,
// x-forwarded-proto, then the other headers.
func (r *Request) headerMap() Headers {
	h := make(Headers, 0, len(r.Headers)+5)
	if r.Authority != "" {
		h.Add(":authority", r.Authority)
	}
	if r.Path != "" {
		h.Add(":path", r.Path)
	}
	if r.Method != "" {
		h.Add(":method", r.Method)
	}
	if r.Scheme != "" {
		h.Add(":scheme", r.Scheme)
	}
	if xfp := r.forwardedProto(); xfp != "" {
		h.Add("x-forwarded-proto", xfp)
	}
	for _, e := range r.Headers {
		h.Add(lower(e.Name), e.Value)
	}
	return h
}

func (r *Request) forwardedProto() string {
	if r.ForwardedProto != "" {
		return r.ForwardedProto
	}
	return r.Scheme
}
