package formatter

import (
	"fmt"
	"io"
	"strconv"
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
	columns := []string{"RESOURCE NAME", "TYPE", "STATUS", "VALID CERT", "SERIAL NUMBER", "NOT AFTER", "NOT BEFORE"}
	if trustDomains {
		columns = append(columns, "TRUST DOMAIN")
	}
	rows := make([]string, 0, len(items))
	for _, it := range items {
		name := it.Name
		if withName {
			name = "secret/" + name
		}
		cells := []string{name, it.Type, it.State, strconv.FormatBool(it.Valid), it.SerialNumber, it.NotAfter, it.NotBefore}
		if trustDomains {
			cells = append(cells, it.TrustDomain)
		}
		rows = append(rows, row(cells...))
	}
	return writeTable(w, 5, strings.Join(columns, "\t"), rows)
}

// SecretNames are the secrets of the secret table as -o name lists them: secret/NAME, once
// each (a trust bundle has one row per trust domain).
func SecretNames(items []configdump.SecretItem) []string {
	var names []string
	for i, it := range items {
		if i > 0 && items[i-1].Name == it.Name {
			continue
		}
		names = append(names, ResourceName("secret", it.Name))
	}
	return names
}
