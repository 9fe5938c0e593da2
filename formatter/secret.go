package formatter

import (
	"fmt"
	"io"
	"strings"

	"github.com/proxyctl/proxyctl/configdump"
)

// SecretTable writes the secret view's table; a TRUST DOMAIN column is added when a SPIFFE
// trust bundle is listed. withName prefixes names with "secret/", as `pc all` does.
func SecretTable(w io.Writer, items []configdump.SecretItem, withName bool) error {
	if len(items) == 0 {
		_, err := fmt.Fprintln(w, "No active or warming secrets found.")
		return err
	}
	trustDomains := false
	for _, it := range items {
		trustDomains = trustDomains || it.FromTrustBundle
	}
	t := newTable(w, 5)
	columns := []string{"RESOURCE NAME", "TYPE", "STATUS", "VALID CERT", "SERIAL NUMBER", "NOT AFTER", "NOT BEFORE"}
	if trustDomains {
		columns = append(columns, "TRUST DOMAIN")
	}
	fmt.Fprintln(t, strings.Join(columns, "\t"))
	for _, it := range items {
		name := it.Name
		if withName {
			name = "secret/" + name
		}
		row := fmt.Sprintf("%s\t%s\t%s\t%t\t%s\t%s\t%s", name, it.Type, it.State, it.Valid, it.SerialNumber, it.NotAfter, it.NotBefore)
		if trustDomains {
			row += "\t" + it.TrustDomain
		}
		fmt.Fprintln(t, row)
	}
	return t.Flush()
}
