package gendump

import (
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/url"
	"time"
)

// certSet holds the PEM documents the SDS secrets carry.
type certSet struct {
	root  []byte // ROOTCA trusted_ca
	chain []byte // "default" certificate_chain: workload leaf, then the root
}

// newCerts makes a real self-signed root and a workload certificate for
// spiffeID. Keys are Ed25519 derived from the seed and Ed25519 signatures are
// deterministic, so the same seed always gives the same bytes (ECDSA and RSA
// key generation in Go read fresh randomness whatever reader they are given).
func newCerts(seed uint64, spiffeID string, now time.Time) (*certSet, error) {
	rootKey := deriveKey(seed, "root")
	leafKey := deriveKey(seed, "workload")

	notBefore := now.Add(-30 * 24 * time.Hour).Truncate(time.Second)
	root := &x509.Certificate{
		SerialNumber:          deriveSerial(seed, "root"),
		Subject:               pkix.Name{Organization: []string{"cluster.local"}},
		NotBefore:             notBefore,
		NotAfter:              notBefore.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	rootDER, err := x509.CreateCertificate(nil, root, root, rootKey.Public(), rootKey)
	if err != nil {
		return nil, fmt.Errorf("create root certificate: %w", err)
	}
	rootCert, err := x509.ParseCertificate(rootDER)
	if err != nil {
		return nil, fmt.Errorf("parse root certificate: %w", err)
	}

	uri, err := url.Parse(spiffeID)
	if err != nil {
		return nil, fmt.Errorf("parse spiffe id %q: %w", spiffeID, err)
	}
	// Istio workload certificates live 24 hours and are rotated at half life.
	leafStart := now.Add(-7 * time.Hour).Truncate(time.Second)
	leaf := &x509.Certificate{
		SerialNumber:          deriveSerial(seed, "workload"),
		NotBefore:             leafStart,
		NotAfter:              leafStart.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		URIs:                  []*url.URL{uri},
	}
	leafDER, err := x509.CreateCertificate(nil, leaf, rootCert, leafKey.Public(), rootKey)
	if err != nil {
		return nil, fmt.Errorf("create workload certificate: %w", err)
	}

	rootPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rootDER})
	leafPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER})
	return &certSet{root: rootPEM, chain: append(leafPEM, rootPEM...)}, nil
}

func deriveKey(seed uint64, label string) ed25519.PrivateKey {
	sum := seedHash(seed, label)
	return ed25519.NewKeyFromSeed(sum[:])
}

func deriveSerial(seed uint64, label string) *big.Int {
	sum := seedHash(seed, "serial/"+label)
	sum[0] &= 0x7f // positive, 128 bits like Istio's CA
	return new(big.Int).SetBytes(sum[:16])
}

func seedHash(seed uint64, label string) [32]byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], seed)
	return sha256.Sum256(append(b[:], "gendump/"+label...))
}
