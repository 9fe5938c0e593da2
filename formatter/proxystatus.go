package formatter

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/proxyctl/proxyctl/internal/istiod"
)

// ProxyStatusOptions choose the proxy-status view.
type ProxyStatusOptions struct {
	// Output is "" or "table" for a table, "json" or "yaml" for the row list, "name" for the
	// proxies as pod/NAME.NAMESPACE.
	Output string
	// Verbosity 1 or more gives the table one column per xDS type.
	Verbosity int
	// Now is the time ages are computed from in the -v 1 table; zero means
	// time.Now().
	Now time.Time
}

// WriteProxyStatus writes rows (already filtered and sorted, as
// istiod.Fetcher.Syncz returns them) in the view opts selects.
func WriteProxyStatus(w io.Writer, rows []istiod.ProxyStatus, opts ProxyStatusOptions) error {
	switch opts.Output {
	case "", "table":
		if opts.Verbosity >= 1 {
			now := opts.Now
			if now.IsZero() {
				now = time.Now()
			}
			return WriteProxyStatusVerboseTable(w, rows, now)
		}
		return WriteProxyStatusTable(w, rows)
	case "name":
		return WriteNames(w, ProxyStatusNames(rows))
	case "json":
		return WriteProxyStatusJSON(w, rows)
	case "yaml":
		return WriteProxyStatusYAML(w, rows)
	default:
		return fmt.Errorf("unknown output format %q: use json or yaml, or leave -o out for a table", opts.Output)
	}
}

// WriteProxyStatusTable writes the default table:
// NAME CLUSTER ISTIOD VERSION SUBSCRIBED TYPES.
func WriteProxyStatusTable(w io.Writer, rows []istiod.ProxyStatus) error {
	lines := make([]string, len(rows))
	for i, r := range rows {
		lines[i] = strings.Join([]string{printable(r.Name), printable(r.Cluster), printable(r.Istiod), printable(r.Version()), printable(subscribedTypes(r))}, "\t")
	}
	return writeTable(w, 5, "NAME\tCLUSTER\tISTIOD\tVERSION\tSUBSCRIBED TYPES", lines)
}

// ProxyStatusNames are the proxies of the status table as -o name lists them: pod/NAME.NAMESPACE,
// which every pod argument of proxyctl takes.
func ProxyStatusNames(rows []istiod.ProxyStatus) []string {
	names := make([]string, len(rows))
	for i, r := range rows {
		names[i] = ResourceName("pod", printable(r.Name))
	}
	return names
}

// subscribedTypes is "0" or "N (CDS,LDS,...)", in the rows' type order.
func subscribedTypes(r istiod.ProxyStatus) string {
	if len(r.Types) == 0 {
		return "0"
	}
	names := make([]string, len(r.Types))
	for i, t := range r.Types {
		names[i] = t.ShortName()
	}
	return strconv.Itoa(len(names)) + " (" + strings.Join(names, ",") + ")"
}

// WriteProxyStatusVerboseTable writes the -v 1 table: one column per xDS type
// any row watches (sorted by type URL), each cell the status and, when istiod
// reported a send time, its age at now ("SYNCED (5m1s)").
func WriteProxyStatusVerboseTable(w io.Writer, rows []istiod.ProxyStatus, now time.Time) error {
	cols := istiod.VerboseColumns(rows)
	header := []string{"NAME", "CLUSTER"}
	for _, c := range cols {
		header = append(header, printable(istiod.ShortTypeName(c)))
	}
	header = append(header, "ISTIOD", "VERSION")
	lines := make([]string, 0, len(rows))
	for _, r := range rows {
		cells := []string{printable(r.Name), printable(r.Cluster)}
		for _, c := range cols {
			t, _ := r.Lookup(c)
			cells = append(cells, statusCell(t, now))
		}
		cells = append(cells, printable(r.Istiod), printable(r.Version()))
		lines = append(lines, strings.Join(cells, "\t"))
	}
	return writeTable(w, 5, strings.Join(header, "\t"), lines)
}

// statusCell is "STATUS" or "STATUS (age)" when the type was sent at a known
// time. A send time in the future (clock skew) is shown as 0s.
func statusCell(t istiod.TypeStatus, now time.Time) string {
	label := t.Status.Label()
	switch t.Status {
	case istiod.StatusSynced, istiod.StatusStale, istiod.StatusError:
		if t.SentTime.IsZero() {
			return label
		}
		age := now.Sub(t.SentTime)
		if age < 0 {
			age = 0
		}
		return label + " (" + duration.HumanDuration(age) + ")"
	default:
		return label
	}
}

// ProxyStatusRow is one element of proxy-status -o json|yaml; the schema is
// documented in docs/proxy-status-output.md.
type ProxyStatusRow struct {
	Name         string                `json:"name"`
	Namespace    string                `json:"namespace"`
	Type         string                `json:"type"`
	Cluster      string                `json:"cluster"`
	Istiod       string                `json:"istiod"`
	Version      string                `json:"version"`
	ProxyVersion string                `json:"proxy_version"`
	XDS          []ProxyStatusXDSState `json:"xds"`
}

// ProxyStatusXDSState is the state of one watched xDS type in ProxyStatusRow.
type ProxyStatusXDSState struct {
	Type     string `json:"type"`
	TypeURL  string `json:"type_url"`
	Status   string `json:"status"`
	SentTime string `json:"sent_time,omitempty"`
	Error    string `json:"error,omitempty"`
}

// ProxyStatusRows converts rows to the -o json|yaml schema.
func ProxyStatusRows(rows []istiod.ProxyStatus) []ProxyStatusRow {
	out := make([]ProxyStatusRow, 0, len(rows))
	for _, r := range rows {
		xds := make([]ProxyStatusXDSState, 0, len(r.Types))
		for _, t := range r.Types {
			s := ProxyStatusXDSState{
				Type:    t.ShortName(),
				TypeURL: t.TypeURL,
				Status:  string(t.Status),
				Error:   t.Error,
			}
			if !t.SentTime.IsZero() {
				s.SentTime = t.SentTime.UTC().Format(time.RFC3339Nano)
			}
			xds = append(xds, s)
		}
		out = append(out, ProxyStatusRow{
			Name:         r.Name,
			Namespace:    r.Namespace,
			Type:         r.Type,
			Cluster:      r.Cluster,
			Istiod:       r.Istiod,
			Version:      r.IstioVersion,
			ProxyVersion: r.ProxyVersion,
			XDS:          xds,
		})
	}
	return out
}

// WriteProxyStatusJSON writes the rows as an indented JSON array.
func WriteProxyStatusJSON(w io.Writer, rows []istiod.ProxyStatus) error {
	b, err := json.MarshalIndent(ProxyStatusRows(rows), "", "  ")
	if err != nil {
		return fmt.Errorf("encode proxy-status as json: %w", err)
	}
	b = append(b, '\n')
	_, err = w.Write(b)
	return err
}

// WriteProxyStatusYAML writes the same data as WriteProxyStatusJSON in YAML.
func WriteProxyStatusYAML(w io.Writer, rows []istiod.ProxyStatus) error {
	j, err := json.Marshal(ProxyStatusRows(rows))
	if err != nil {
		return fmt.Errorf("encode proxy-status as yaml: %w", err)
	}
	b, err := jsonToYAML(j)
	if err != nil {
		return fmt.Errorf("encode proxy-status as yaml: %w", err)
	}
	_, err = w.Write(b)
	return err
}
