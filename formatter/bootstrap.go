package formatter

import (
	"fmt"
	"io"

	"github.com/proxyctl/proxyctl/configdump"
)

// BootstrapSummary writes the Istio and Envoy versions a bootstrap names (`-o short`).
func BootstrapSummary(w io.Writer, v configdump.Versions) error {
	t := newTable(w, 1)
	if v.Istio != "" {
		fmt.Fprintf(t, "Istio Version:\t%s\n", v.Istio)
	}
	if v.IstioProxySHA != "" {
		fmt.Fprintf(t, "Istio Proxy Version:\t%s\n", v.IstioProxySHA)
	}
	if v.Envoy != "" {
		fmt.Fprintf(t, "Envoy Version:\t%s\n", v.Envoy)
	}
	return t.Flush()
}
