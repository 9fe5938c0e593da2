package formatter

import (
	"io"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
)

// EcdsTable writes the ECDS view's table: each extension config's name and type.
func EcdsTable(w io.Writer, configs []*corev3.TypedExtensionConfig) error {
	rows := make([]string, len(configs))
	for i, c := range configs {
		rows[i] = row(c.GetName(), strings.TrimPrefix(c.GetTypedConfig().GetTypeUrl(), "type.googleapis.com/"))
	}
	return writeTable(w, 5, "ECDS NAME\tTYPE", rows)
}

// EcdsNames are the extension configs of the ECDS table as -o name lists them: ecds/NAME.
func EcdsNames(configs []*corev3.TypedExtensionConfig) []string {
	names := make([]string, len(configs))
	for i, c := range configs {
		names[i] = ResourceName("ecds", c.GetName())
	}
	return names
}
