package formatter

import (
	"bufio"
	"fmt"
	"github.com/proxyctl/proxyctl/internal/safetext"
	"io"
	"strings"

	"github.com/proxyctl/proxyctl/internal/traffic"
)

// maxRejected bounds the candidates --verbose lists per step; -o json lists them all.
const maxRejected = 25

// maxShortEndpoints is how many endpoints the short trace names.
const maxShortEndpoints = 3

// Explain writes an explanation: a trace, one line per step (with every candidate and why it
// lost, and the step's notes, when verbose), or the whole explanation as JSON or YAML.
func Explain(w io.Writer, e *traffic.Explanation, f Format, verbose bool) error {
	if f != Short {
		return WriteStructured(w, e, f)
	}
	bw := bufio.NewWriter(w)
	width := 0
	for _, s := range e.Steps {
		width = max(width, len(s.Step))
	}
	for _, s := range e.Steps {
		line := printable(s.Name)
		if line == "" {
			line = "-"
		}
		if s.Rule != "" {
			line += "  (" + printable(s.Rule) + ")"
		}
		if !verbose {
			for _, n := range s.Notes {
				if strings.HasPrefix(n, "action: ") || strings.HasPrefix(n, "goes on to ") {
					line += "  " + printable(n)
				}
			}
			if s.Step == traffic.TraceEndpoints && len(e.Endpoints) > 0 {
				var addrs []string
				for i, ep := range e.Endpoints {
					if i == maxShortEndpoints {
						addrs = append(addrs, fmt.Sprintf("... %d more", len(e.Endpoints)-i))
						break
					}
					addrs = append(addrs, printable(ep.Address)+" "+ep.Health)
				}
				line += ": " + strings.Join(addrs, ", ")
			}
		}
		fmt.Fprintf(bw, "%-*s  %s\n", width, s.Step, line)
		if !verbose {
			continue
		}
		for _, n := range s.Notes {
			fmt.Fprintf(bw, "%-*s    - %s\n", width, "", printable(n))
		}
		for i, r := range s.Rejected {
			if i == maxRejected {
				fmt.Fprintf(bw, "%-*s    x ... %d more (-o json lists them all)\n", width, "", len(s.Rejected)-i)
				break
			}
			fmt.Fprintf(bw, "%-*s    x %s: %s\n", width, "", printable(r.Name), printable(r.Why))
		}
	}
	if e.Error != "" {
		fmt.Fprintf(bw, "%-*s  %s: %s\n", width, "ERROR", e.Error, printable(e.Message))
	}
	return bw.Flush()
}

// printable escapes what a terminal could act on in text from a dump or a server (\x1b for
// ESC, a tab, a bidirectional override: see safetext.Escape), so that a trace or a table never
// prints one raw.
func printable(s string) string { return safetext.Escape(s) }
