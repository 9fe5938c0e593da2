package formatter

import (
	"io"

	"github.com/proxyctl/proxyctl/configdump"
)

// BootstrapSummary writes the Istio and Envoy versions a bootstrap names (`-o short`).
func BootstrapSummary(w io.Writer, v configdump.Versions) error {
	t := newTable(w, 1)
	if v.Istio != "" {
		t.Row("Istio Version:", v.Istio)
	}
	if v.IstioProxySHA != "" {
		t.Row("Istio Proxy Version:", v.IstioProxySHA)
	}
	if v.Envoy != "" {
		t.Row("Envoy Version:", v.Envoy)
	}
	return t.Flush()
}
