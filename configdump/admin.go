package configdump

import (
	"fmt"
	"math/big"
	"strings"
	"time"

	adminv3 "github.com/envoyproxy/go-control-plane/envoy/admin/v3"
)

// Certs is Envoy's /certs document: the certificates its TLS contexts have loaded, with the
// file each came from ("<inline>" for inline ones).
type Certs struct {
	byPath map[string]certDetail
}

type certDetail struct {
	ca     bool
	detail *adminv3.CertificateDetails
}

// ParseCerts reads a /certs document (an envoy.admin.v3.Certificates).
func ParseCerts(doc []byte) (*Certs, error) {
	m := &adminv3.Certificates{}
	if err := unmarshalAnyValue(doc, m, doc, &typeSet{}, nil); err != nil {
		return nil, fmt.Errorf("the /certs document: %w", err)
	}
	c := &Certs{byPath: map[string]certDetail{}}
	for _, cert := range m.GetCertificates() {
		for _, group := range []struct {
			ca    bool
			certs []*adminv3.CertificateDetails
		}{{true, cert.GetCaCert()}, {false, cert.GetCertChain()}} {
			for i, d := range group.certs {
				// The first certificate of a chain is the proxy's own.
				if p := d.GetPath(); p != "" && p != "<inline>" && (i == 0 || group.ca) {
					if _, seen := c.byPath[p]; !seen {
						c.byPath[p] = certDetail{ca: group.ca, detail: d}
					}
				}
			}
		}
	}
	return c, nil
}

// NeedCerts tells whether some secret's certificate is in a file, which the config dump does
// not show but /certs describes.
func NeedCerts(items []SecretItem) bool {
	for _, it := range items {
		if it.CertFile != "" && it.Type == "" {
			return true
		}
	}
	return false
}

// FillFromCerts completes the secrets whose certificate is in a file with what Envoy's /certs
// says of that file's certificate: type, validity at now, serial number and dates.
func (c *Certs) FillFromCerts(items []SecretItem, now time.Time) {
	for i := range items {
		it := &items[i]
		cd, ok := c.byPath[it.CertFile]
		if it.CertFile == "" || it.Type != "" || !ok {
			continue
		}
		d := cd.detail
		it.Type = "Cert Chain"
		if cd.ca {
			it.Type = "CA"
		}
		if serial, ok := new(big.Int).SetString(d.GetSerialNumber(), 16); ok {
			it.SerialNumber = fmt.Sprintf("%032x", serial)
		}
		if d.GetValidFrom() != nil && d.GetExpirationTime() != nil {
			from, to := d.GetValidFrom().AsTime(), d.GetExpirationTime().AsTime()
			it.NotBefore, it.NotAfter = from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339)
			it.Valid = !now.Before(from) && !now.After(to)
		}
		for _, san := range d.GetSubjectAltNames() {
			if u := san.GetUri(); strings.HasPrefix(u, "spiffe://") && it.TrustDomain == "" {
				it.TrustDomain, _, _ = strings.Cut(strings.TrimPrefix(u, "spiffe://"), "/")
			}
		}
	}
}

// Identity is the node id and Envoy version a config dump's bootstrap names (empty when it
// does not), copied: they outlive the document.
func (d *Dump) Identity() (nodeID, envoy string) {
	b, err := d.Bootstrap()
	if err != nil {
		return "", ""
	}
	node := b.GetBootstrap().GetNode()
	if node.GetUserAgentBuildVersion() != nil {
		envoy = strings.Clone(envoyVersion(node.GetUserAgentBuildVersion()))
	}
	return strings.Clone(node.GetId()), envoy
}
