package formatter

import (
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"io"
	"time"

	"github.com/proxyctl/proxyctl/configdump"
)

// RootCAComparison writes what two proxies' root CAs have in common, and each root's subject,
// expiry and SHA-256 fingerprint.
func RootCAComparison(w io.Writer, a, b string, cmp configdump.RootComparison) error {
	switch {
	case len(cmp.OnlyA) == 0 && len(cmp.OnlyB) == 0:
		fmt.Fprintf(w, "Both %s and %s have the identical ROOT CA (%d root(s)); theoretically the connectivity between them is available.\n", a, b, len(cmp.Shared))
	case len(cmp.Shared) > 0:
		fmt.Fprintf(w, "%s and %s share %d of their roots (%d only in %s, %d only in %s): a root CA rotation is probably under way; they can verify each other through the shared roots.\n",
			a, b, len(cmp.Shared), len(cmp.OnlyA), a, len(cmp.OnlyB), b)
	default:
		fmt.Fprintf(w, "%s and %s have no ROOT CA in common: they cannot verify each other's certificates.\n", a, b)
	}
	t := newTable(w, 3)
	fmt.Fprintln(t, "\nROOT\tIN\tNOT AFTER\tSHA-256")
	rows := []struct {
		certs []*x509.Certificate
		in    string
	}{{cmp.Shared, "both"}, {cmp.OnlyA, a}, {cmp.OnlyB, b}}
	for _, r := range rows {
		for _, c := range r.certs {
			sum := sha256.Sum256(c.Raw)
			t.Row(c.Subject.String(), r.in, c.NotAfter.UTC().Format(time.RFC3339), fmt.Sprintf("%x", sum[:8]))
		}
	}
	return t.Flush()
}
