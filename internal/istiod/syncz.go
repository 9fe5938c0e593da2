// Package istiod reads what istiod knows about its proxies: it finds the
// istiod pods, fetches /debug/syncz from every replica and merges the answers
// into one list of proxy rows with a sync status per xDS type, and fetches
// /debug/config_dump for one proxy. It does no port-forwarding (targets are
// base URLs) and prints nothing: the formatter package renders the rows.
package istiod

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// xDS type URLs istiod reports in /debug/syncz.
const (
	TypeURLCluster         = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
	TypeURLListener        = "type.googleapis.com/envoy.config.listener.v3.Listener"
	TypeURLEndpoint        = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"
	TypeURLRoute           = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
	TypeURLExtensionConfig = "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig"
	TypeURLSecret          = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret"
	TypeURLAuthorization   = "type.googleapis.com/istio.security.Authorization"
	TypeURLAddress         = "type.googleapis.com/istio.workload.Address"
	TypeURLNameTable       = "type.googleapis.com/istio.networking.nds.v1.NameTable"
	TypeURLProxyConfig     = "type.googleapis.com/istio.mesh.v1alpha1.ProxyConfig"
)

var shortTypeNames = map[string]string{
	TypeURLCluster:         "CDS",
	TypeURLListener:        "LDS",
	TypeURLEndpoint:        "EDS",
	TypeURLRoute:           "RDS",
	TypeURLExtensionConfig: "ECDS",
	TypeURLSecret:          "SDS",
	TypeURLAuthorization:   "WADS",
	TypeURLAddress:         "WDS",
	TypeURLNameTable:       "NDS",
	TypeURLProxyConfig:     "PCDS",
}

// ShortTypeName returns the short name of an xDS type URL (CDS, LDS, EDS,
// RDS, ECDS, SDS, WADS, WDS, NDS, PCDS), or the URL itself when unknown.
func ShortTypeName(typeURL string) string {
	if s, ok := shortTypeNames[typeURL]; ok {
		return s
	}
	return typeURL
}

// leadingTypes come first, in this order, in SUBSCRIBED TYPES.
var leadingTypes = []string{TypeURLCluster, TypeURLListener, TypeURLEndpoint, TypeURLRoute}

func leadingRank(typeURL string) int {
	for i, t := range leadingTypes {
		if t == typeURL {
			return i
		}
	}
	return len(leadingTypes)
}

// SortSubscribed sorts type URLs in SUBSCRIBED TYPES order: CDS, LDS, EDS,
// RDS first, then every other type sorted by type URL.
func SortSubscribed(typeURLs []string) {
	sort.SliceStable(typeURLs, func(i, j int) bool {
		ri, rj := leadingRank(typeURLs[i]), leadingRank(typeURLs[j])
		if ri != rj {
			return ri < rj
		}
		return typeURLs[i] < typeURLs[j]
	})
}

// Status is the sync state of one xDS type for one proxy.
type Status string

// The statuses, as written by -o json|yaml. Label gives the table spelling.
const (
	StatusSynced  Status = "SYNCED"
	StatusStale   Status = "STALE"
	StatusError   Status = "ERROR"
	StatusNotSent Status = "NOT_SENT"
	StatusIgnored Status = "IGNORED"
)

// Label is the status as the tables print it ("NOT SENT" with a space).
func (s Status) Label() string { return strings.ReplaceAll(string(s), "_", " ") }

// Resource is istiod's view of one xDS type for one proxy: the last nonce
// sent, the last nonce the proxy acknowledged, when it was sent and the last
// error (NACK) the proxy reported.
type Resource struct {
	Sent      string `json:"sent,omitempty"`
	Acked     string `json:"acked,omitempty"`
	SentTime  string `json:"sentTime,omitempty"`
	LastError string `json:"lastError,omitempty"`
}

// ComputeStatus applies the status rules: ERROR when an error is set, NOT
// SENT when nothing was sent, SYNCED when the acked nonce is the sent one,
// STALE otherwise. (IGNORED is for types the proxy does not watch, which
// have no Resource at all.)
func ComputeStatus(r Resource) Status {
	switch {
	case r.LastError != "":
		return StatusError
	case r.Sent == "":
		return StatusNotSent
	case r.Acked == r.Sent:
		return StatusSynced
	default:
		return StatusStale
	}
}

// SynczEntry is one element of the JSON array /debug/syncz returns: one
// proxy connected to that istiod. Unknown fields are ignored.
type SynczEntry struct {
	ProxyID      string `json:"proxy,omitempty"`
	ProxyType    string `json:"proxy_type,omitempty"`
	ClusterID    string `json:"cluster_id,omitempty"`
	IstioVersion string `json:"istio_version,omitempty"`
	ProxyVersion string `json:"proxy_version,omitempty"`

	// Legacy nonce pairs, used only when Resources is empty (older istiod).
	ClusterSent          string `json:"cluster_sent,omitempty"`
	ClusterAcked         string `json:"cluster_acked,omitempty"`
	ListenerSent         string `json:"listener_sent,omitempty"`
	ListenerAcked        string `json:"listener_acked,omitempty"`
	RouteSent            string `json:"route_sent,omitempty"`
	RouteAcked           string `json:"route_acked,omitempty"`
	EndpointSent         string `json:"endpoint_sent,omitempty"`
	EndpointAcked        string `json:"endpoint_acked,omitempty"`
	ExtensionConfigSent  string `json:"extensionconfig_sent,omitempty"`
	ExtensionConfigAcked string `json:"extensionconfig_acked,omitempty"`

	// Resources maps each xDS type URL the proxy watches to its state.
	Resources map[string]Resource `json:"resources,omitempty"`
}

// DecodeSyncz decodes a /debug/syncz answer (a JSON array; null is an empty
// list). Unknown fields are ignored; anything else that is not an array of
// objects is an error.
func DecodeSyncz(r io.Reader) ([]SynczEntry, error) {
	entries := []SynczEntry{}
	err := EachSynczEntry(r, func(e SynczEntry) error {
		entries = append(entries, e)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(entries) == 0 {
		return nil, nil
	}
	return entries, nil
}

// EachSynczEntry decodes a /debug/syncz answer as DecodeSyncz does, handing
// each entry to fn as it is decoded, so that the answer is never held whole.
func EachSynczEntry(r io.Reader, fn func(SynczEntry) error) error {
	dec := json.NewDecoder(r)
	tok, err := dec.Token()
	switch {
	case errors.Is(err, io.EOF):
		return errors.New("empty answer, want a JSON array")
	case err != nil:
		return fmt.Errorf("not a syncz JSON array: %w", err)
	case tok == nil: // null: no proxy (a nil slice, as Go encodes it)
		if _, err := dec.Token(); !errors.Is(err, io.EOF) {
			return errors.New("not a syncz JSON array: trailing data after null")
		}
		return nil
	case tok != json.Delim('['):
		return fmt.Errorf("not a syncz JSON array: it starts with %v", describeToken(tok))
	}
	for n := 0; dec.More(); n++ {
		var e SynczEntry
		if err := dec.Decode(&e); err != nil {
			return fmt.Errorf("not a syncz JSON array: entry %d: %w", n, err)
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil { // the closing ']'
		return fmt.Errorf("not a syncz JSON array: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("not a syncz JSON array: trailing data after the array")
	}
	return nil
}

// describeToken names a JSON token for an error message, briefly.
func describeToken(tok json.Token) string {
	switch v := tok.(type) {
	case json.Delim:
		return fmt.Sprintf("%q", string(v))
	case string:
		return "a string"
	case nil:
		return "null"
	default:
		return fmt.Sprintf("a %T", v)
	}
}

// TypeStatus is the state of one xDS type a proxy watches.
type TypeStatus struct {
	TypeURL  string
	Status   Status
	SentTime time.Time // zero when unknown or never sent
	Error    string    // the proxy's last error (NACK) for this type
}

// ShortName is ShortTypeName(TypeURL).
func (t TypeStatus) ShortName() string { return ShortTypeName(t.TypeURL) }

// ProxyStatus is one row of proxy-status: one proxy as one istiod sees it.
type ProxyStatus struct {
	Name         string // node id, <pod>.<namespace>
	Namespace    string // from Name; empty when Name has no dot
	Type         string // proxy_type: sidecar, router, ztunnel...
	Cluster      string
	Istiod       string // the istiod (target) name that reported the proxy
	IstioVersion string
	ProxyVersion string
	// Types are the watched types in SUBSCRIBED TYPES order; a type that is
	// not here is not watched (IGNORED).
	Types []TypeStatus
}

// Version is the VERSION column: the Istio version, or the proxy version
// followed by "*" when istiod does not report the Istio version.
func (p ProxyStatus) Version() string {
	if p.IstioVersion != "" || p.ProxyVersion == "" {
		return p.IstioVersion
	}
	return p.ProxyVersion + "*"
}

// Lookup returns the state of typeURL, with ok false when it is not watched.
func (p ProxyStatus) Lookup(typeURL string) (TypeStatus, bool) {
	for _, t := range p.Types {
		if t.TypeURL == typeURL {
			return t, true
		}
	}
	return TypeStatus{TypeURL: typeURL, Status: StatusIgnored}, false
}

// NamespaceOf returns the namespace part of a proxy id <pod>.<namespace>:
// what follows the last dot (namespaces have none), or "" without a dot.
func NamespaceOf(proxyID string) string {
	if i := strings.LastIndexByte(proxyID, '.'); i >= 0 {
		return proxyID[i+1:]
	}
	return ""
}

// resources returns the entry's watched types: Resources, or, when istiod
// sent none, the legacy nonce pairs that have a nonce.
func (e SynczEntry) resources() map[string]Resource {
	if len(e.Resources) > 0 {
		return e.Resources
	}
	legacy := []struct {
		url         string
		sent, acked string
	}{
		{TypeURLCluster, e.ClusterSent, e.ClusterAcked},
		{TypeURLListener, e.ListenerSent, e.ListenerAcked},
		{TypeURLEndpoint, e.EndpointSent, e.EndpointAcked},
		{TypeURLRoute, e.RouteSent, e.RouteAcked},
		{TypeURLExtensionConfig, e.ExtensionConfigSent, e.ExtensionConfigAcked},
	}
	var out map[string]Resource
	for _, l := range legacy {
		if l.sent == "" && l.acked == "" {
			continue
		}
		if out == nil {
			out = map[string]Resource{}
		}
		out[l.url] = Resource{Sent: l.sent, Acked: l.acked}
	}
	return out
}

// parseSentTime reads an RFC 3339 time; a missing or unreadable one is zero
// (the status does not depend on it, only the age shown with -v 1).
func parseSentTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

// Row turns one syncz entry reported by the istiod named istiod into a row.
func (e SynczEntry) Row(istiod string) ProxyStatus {
	res := e.resources()
	urls := make([]string, 0, len(res))
	for u := range res {
		urls = append(urls, u)
	}
	SortSubscribed(urls)
	types := make([]TypeStatus, 0, len(urls))
	for _, u := range urls {
		r := res[u]
		types = append(types, TypeStatus{
			TypeURL:  u,
			Status:   ComputeStatus(r),
			SentTime: parseSentTime(r.SentTime),
			Error:    r.LastError,
		})
	}
	return ProxyStatus{
		Name:         e.ProxyID,
		Namespace:    NamespaceOf(e.ProxyID),
		Type:         e.ProxyType,
		Cluster:      e.ClusterID,
		Istiod:       istiod,
		IstioVersion: e.IstioVersion,
		ProxyVersion: e.ProxyVersion,
		Types:        types,
	}
}

// Rows turns the entries one istiod reported into rows.
func Rows(istiod string, entries []SynczEntry) []ProxyStatus {
	rows := make([]ProxyStatus, 0, len(entries))
	for _, e := range entries {
		rows = append(rows, e.Row(istiod))
	}
	return rows
}

// SortRows sorts rows by proxy name, then by istiod name.
func SortRows(rows []ProxyStatus) {
	sort.SliceStable(rows, func(i, j int) bool {
		if rows[i].Name != rows[j].Name {
			return rows[i].Name < rows[j].Name
		}
		return rows[i].Istiod < rows[j].Istiod
	})
}

// Filter selects the rows to show. Zero fields select everything.
type Filter struct {
	// Namespace keeps the proxies of this namespace (-n). A proxy whose id
	// has no namespace part is kept: istiod filtered it already (the request
	// carries ?namespace=).
	Namespace string
	// Proxy keeps one proxy: its id <pod>.<namespace>, or its pod name when
	// Namespace is set too.
	Proxy string
}

// Match reports whether the filter selects row.
func (f Filter) Match(row ProxyStatus) bool {
	if f.Namespace != "" && row.Namespace != "" && row.Namespace != f.Namespace {
		return false
	}
	if f.Proxy != "" && row.Name != f.Proxy && (f.Namespace == "" || row.Name != f.Proxy+"."+f.Namespace) {
		return false
	}
	return true
}

// Apply returns the rows the filter selects, in order.
func (f Filter) Apply(rows []ProxyStatus) []ProxyStatus {
	out := make([]ProxyStatus, 0, len(rows))
	for _, r := range rows {
		if f.Match(r) {
			out = append(out, r)
		}
	}
	return out
}

// VerboseColumns returns the type URLs the -v 1 table has a column for: every
// type any of rows watches, sorted by type URL.
func VerboseColumns(rows []ProxyStatus) []string {
	seen := map[string]bool{}
	var urls []string
	for _, r := range rows {
		for _, t := range r.Types {
			if !seen[t.TypeURL] {
				seen[t.TypeURL] = true
				urls = append(urls, t.TypeURL)
			}
		}
	}
	sort.Strings(urls)
	return urls
}

// FailOn is the set of statuses --fail-on makes fatal (exit 3).
type FailOn map[Status]bool

// FailOnValues are the accepted --fail-on values.
var FailOnValues = []string{"stale", "error", "notsent"}

// ParseFailOn reads --fail-on values (repeatable, also comma separated):
// stale, error, notsent (not-sent and not_sent are accepted too).
func ParseFailOn(values []string) (FailOn, error) {
	set := FailOn{}
	for _, v := range values {
		for _, item := range strings.Split(v, ",") {
			switch strings.ToLower(strings.TrimSpace(item)) {
			case "stale":
				set[StatusStale] = true
			case "error":
				set[StatusError] = true
			case "notsent", "not-sent", "not_sent":
				set[StatusNotSent] = true
			case "":
			default:
				return nil, fmt.Errorf("invalid --fail-on value %q: use %s", item, strings.Join(FailOnValues, ", "))
			}
		}
	}
	return set, nil
}

// Failing returns the rows that have a watched type whose status is in the
// set, in order. An empty set matches nothing.
func (f FailOn) Failing(rows []ProxyStatus) []ProxyStatus {
	if len(f) == 0 {
		return nil
	}
	var out []ProxyStatus
	for _, r := range rows {
		for _, t := range r.Types {
			if f[t.Status] {
				out = append(out, r)
				break
			}
		}
	}
	return out
}
