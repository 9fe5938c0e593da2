package configdump

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"time"

	adminv3 "github.com/envoyproxy/go-control-plane/envoy/admin/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
)

// Secrets returns the dump's secrets section.
func (d *Dump) Secrets() (*adminv3.SecretsConfigDump, error) {
	return section(d, SecretsSection, func() *adminv3.SecretsConfigDump { return &adminv3.SecretsConfigDump{} })
}

// SecretItem is one row of the secret view: a dynamic secret, or one trust domain of a SPIFFE
// trust bundle, with what its first certificate says.
type SecretItem struct {
	Name  string
	State string // ACTIVE or WARMING
	// Type is "Cert Chain", "CA", or empty when the secret holds no readable certificate.
	Type         string
	Valid        bool // a certificate was read and now is within its validity period
	SerialNumber string
	NotAfter     string
	NotBefore    string
	// TrustDomain is the SPIFFE trust domain, for bundles and certificates with a SPIFFE ID.
	TrustDomain string
	// FromTrustBundle is set on items read from a SPIFFE validator's trust bundles.
	FromTrustBundle bool
	// CertFile is the file of the certificate when the secret names one instead of holding it
	// (see Certs.FillFromCerts).
	CertFile string
}

// SecretItems lists the dynamic secrets, warming ones first, as istioctl does; a SPIFFE
// validator's trust bundle gives one item per trust domain. Validity is judged at now.
func (d *Dump) SecretItems(now time.Time) ([]SecretItem, error) {
	sd, err := d.Secrets()
	if err != nil {
		return nil, err
	}
	var items []SecretItem
	add := func(list []*adminv3.SecretsConfigDump_DynamicSecret, state string) error {
		for _, s := range list {
			secret := &tlsv3.Secret{}
			if err := d.UnmarshalAny(s.GetSecret(), secret); err != nil {
				return fmt.Errorf("secret %s: %w", s.GetName(), err)
			}
			st := state
			if state == "ACTIVE" && s.GetVersionInfo() == "uninitialized" {
				st = "UNINITIALIZED" // as istioctl says of a secret Envoy has not received yet
			}
			more, err := d.secretItems(s.GetName(), st, secret, now)
			if err != nil {
				return err
			}
			items = append(items, more...)
		}
		return nil
	}
	if err := add(sd.DynamicWarmingSecrets, "WARMING"); err != nil {
		return nil, err
	}
	if err := add(sd.DynamicActiveSecrets, "ACTIVE"); err != nil {
		return nil, err
	}
	return items, nil
}

// spiffeTrustDomains returns the trust domains of a SPIFFE certificate validator, and none for
// no custom validator or another kind; a SPIFFE validator that does not decode is an error.
func (d *Dump) spiffeTrustDomains(vc *tlsv3.CertificateValidationContext) ([]*tlsv3.SPIFFECertValidatorConfig_TrustDomain, error) {
	spiffe := &tlsv3.SPIFFECertValidatorConfig{}
	tc := vc.GetCustomValidatorConfig().GetTypedConfig()
	if tc == nil || canonicalName(tc.GetTypeUrl()) != spiffe.ProtoReflect().Descriptor().FullName() {
		return nil, nil
	}
	if err := d.UnmarshalAny(tc, spiffe); err != nil {
		return nil, fmt.Errorf("SPIFFE certificate validator: %w", err)
	}
	return spiffe.GetTrustDomains(), nil
}

func (d *Dump) secretItems(name, state string, s *tlsv3.Secret, now time.Time) ([]SecretItem, error) {
	vc := s.GetValidationContext()
	if len(inlineData(vc.GetTrustedCa())) == 0 {
		domains, err := d.spiffeTrustDomains(vc)
		if err != nil {
			return nil, fmt.Errorf("secret %s: %w", name, err)
		}
		if len(domains) > 0 {
			var items []SecretItem
			for _, td := range domains {
				for _, it := range bundleItems(name, state, inlineData(td.GetTrustBundle()), now) {
					it.TrustDomain, it.FromTrustBundle = td.GetName(), true
					items = append(items, it)
				}
			}
			return items, nil
		}
	}
	chain := s.GetTlsCertificate().GetCertificateChain()
	if data := inlineData(chain); len(data) > 0 {
		// A chain: its first certificate, the proxy's own, as istioctl shows it.
		return []SecretItem{newSecretItem(name, state, data, now)}, nil
	}
	if file := chain.GetFilename(); file != "" {
		// In a file, which the dump does not show (see Certs.FillFromCerts).
		it := newSecretItem(name, state, nil, now)
		it.CertFile = file
		return []SecretItem{it}, nil
	}
	if ca := vc.GetTrustedCa(); len(inlineData(ca)) == 0 && ca.GetFilename() != "" {
		it := newSecretItem(name, state, nil, now)
		it.CertFile = ca.GetFilename()
		return []SecretItem{it}, nil
	}
	return bundleItems(name, state, inlineData(vc.GetTrustedCa()), now), nil
}

// bundleItems lists a bundle of trusted roots: one item per certificate, so that a root CA
// being rotated shows its old and new roots (istioctl shows only the first).
func bundleItems(name, state string, pemData []byte, now time.Time) []SecretItem {
	var items []SecretItem
	for rest := pemData; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type == "CERTIFICATE" {
			items = append(items, newSecretItem(name, state, pem.EncodeToMemory(block), now))
		}
	}
	if len(items) == 0 {
		return []SecretItem{newSecretItem(name, state, pemData, now)}
	}
	return items
}

// inlineData returns a data source's inline bytes or string.
func inlineData(ds *corev3.DataSource) []byte {
	if b := ds.GetInlineBytes(); len(b) > 0 {
		return b
	}
	return []byte(ds.GetInlineString())
}

func newSecretItem(name, state string, pemData []byte, now time.Time) SecretItem {
	it := SecretItem{Name: name, State: state}
	block, _ := pem.Decode(pemData)
	if block == nil {
		return it
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return it
	}
	it.Type = "Cert Chain"
	if cert.IsCA {
		it.Type = "CA"
	}
	it.Valid = !now.Before(cert.NotBefore) && !now.After(cert.NotAfter)
	it.SerialNumber = fmt.Sprintf("%032x", cert.SerialNumber)
	it.NotAfter = cert.NotAfter.UTC().Format(time.RFC3339)
	it.NotBefore = cert.NotBefore.UTC().Format(time.RFC3339)
	for _, u := range cert.URIs {
		if u.Scheme == "spiffe" {
			it.TrustDomain = u.Host
			break
		}
	}
	return it
}

// RootCAs returns the certificates of the ROOTCA secret: its trusted CA bundle, or the bundles
// of its SPIFFE trust domains. There are several while a root is being rotated.
func (d *Dump) RootCAs() ([]*x509.Certificate, error) {
	sd, err := d.Secrets()
	if err != nil {
		return nil, err
	}
	for _, s := range sd.GetDynamicActiveSecrets() {
		if s.GetName() != "ROOTCA" {
			continue
		}
		secret := &tlsv3.Secret{}
		if err := d.UnmarshalAny(s.GetSecret(), secret); err != nil {
			return nil, fmt.Errorf("secret ROOTCA: %w", err)
		}
		vc := secret.GetValidationContext()
		bundles := [][]byte{inlineData(vc.GetTrustedCa())}
		domains, err := d.spiffeTrustDomains(vc)
		if err != nil {
			return nil, fmt.Errorf("secret ROOTCA: %w", err)
		}
		for _, td := range domains {
			bundles = append(bundles, inlineData(td.GetTrustBundle()))
		}
		var certs []*x509.Certificate
		for _, b := range bundles {
			certs = append(certs, parseCertificates(b)...)
		}
		if len(certs) == 0 {
			return nil, fmt.Errorf("secret ROOTCA holds no certificate")
		}
		return certs, nil
	}
	return nil, fmt.Errorf("no active ROOTCA secret: %w", ErrMissingSection)
}

// parseCertificates reads every certificate of a PEM bundle, skipping what is not one.
func parseCertificates(data []byte) []*x509.Certificate {
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return certs
		}
		if c, err := x509.ParseCertificate(block.Bytes); err == nil {
			certs = append(certs, c)
		}
	}
}

// RootComparison is what two proxies' root CAs have in common.
type RootComparison struct {
	Shared, OnlyA, OnlyB []*x509.Certificate
}

// CompareRoots compares two sets of roots by their DER bytes.
func CompareRoots(a, b []*x509.Certificate) RootComparison {
	inB := map[string]bool{}
	for _, c := range b {
		inB[string(c.Raw)] = true
	}
	var cmp RootComparison
	inA := map[string]bool{}
	for _, c := range a {
		if inA[string(c.Raw)] {
			continue
		}
		inA[string(c.Raw)] = true
		if inB[string(c.Raw)] {
			cmp.Shared = append(cmp.Shared, c)
		} else {
			cmp.OnlyA = append(cmp.OnlyA, c)
		}
	}
	seen := map[string]bool{}
	for _, c := range b {
		if !inA[string(c.Raw)] && !seen[string(c.Raw)] {
			seen[string(c.Raw)] = true
			cmp.OnlyB = append(cmp.OnlyB, c)
		}
	}
	return cmp
}

// SecretResources returns the dump's secrets: static ones, then dynamic active and warming
// ones (Origin tells which).
func (d *Dump) SecretResources() (Resources[*tlsv3.Secret], error) {
	sd, err := d.Secrets()
	if err != nil {
		return Resources[*tlsv3.Secret]{}, err
	}
	var res []resource
	for i, s := range sd.StaticSecrets {
		if s.Secret != nil {
			res = append(res, resource{s.Secret, "static_secrets", i, "secret"})
		}
	}
	for i, s := range sd.DynamicActiveSecrets {
		if s.Secret != nil {
			res = append(res, resource{s.Secret, "dynamic_active_secrets", i, "secret"})
		}
	}
	for i, s := range sd.DynamicWarmingSecrets {
		if s.Secret != nil {
			res = append(res, resource{s.Secret, "dynamic_warming_secrets", i, "secret"})
		}
	}
	return newResources(d, SecretsSection, res, func() *tlsv3.Secret { return &tlsv3.Secret{} }), nil
}
