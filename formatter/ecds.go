package formatter

import (
	"fmt"
	"io"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
)

// EcdsTable writes the ECDS view's table: each extension config's name and type.
func EcdsTable(w io.Writer, configs []*corev3.TypedExtensionConfig) error {
	t := newTable(w, 5)
	fmt.Fprintln(t, "ECDS NAME\tTYPE")
	for _, c := range configs {
		t.Row(c.GetName(), strings.TrimPrefix(c.GetTypedConfig().GetTypeUrl(), "type.googleapis.com/"))
	}
	return t.Flush()
}
