package configdump

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// TestRedactionsOf walks whole admin documents by their message type, by the rules of
// Redactions; what cannot be walked is an error, never "nothing to redact".
func TestRedactionsOf(t *testing.T) {
	secret := `{"name": "default", "tls_certificate": {"certificate_chain": {"inline_string": "CERT"}, "private_key": {"inline_string": "KEY"}, "password": {"inline_bytes": "UEFTUw=="}}}`
	cases := []struct {
		name string
		doc  string
		typ  protoreflect.FullName
		want string // the document redacted, or the error
		err  bool
	}{
		{"secret", secret, "envoy.extensions.transport_sockets.tls.v3.Secret",
			`{"name": "default", "tls_certificate": {"certificate_chain": {"inline_string": "CERT"}, "private_key": {"inline_string": "[redacted]"}, "password": {"inline_bytes": "W3JlZGFjdGVkXQ=="}}}`, false},
		{"nothing sensitive", `{"version": "x", "node": {"id": "a", "metadata": {"k": "v"}}}`, "envoy.admin.v3.ServerInfo", `{"version": "x", "node": {"id": "a", "metadata": {"k": "v"}}}`, false},
		// A field this binary does not know holds what no type describes: what is under a
		// sensitive field's name is redacted all the same (docs/redaction.md, W9).
		{"unknown fields by name", `{"certificates": [], "future": {"private_key": "x", "note": "y"}}`, "envoy.admin.v3.Certificates", `{"certificates": [], "future": {"private_key": "[redacted]", "note": "y"}}`, false},
		{"whitespace around", " \n{}\n ", "envoy.admin.v3.Memory", " \n{}\n ", false},
		{"trailing data", `{} {"private_key": "x"}`, "envoy.admin.v3.Memory", "unexpected data after the document", true},
		{"not an object", `["x"]`, "envoy.admin.v3.Memory", "not a JSON object", true},
		{"broken", `{"allocated": `, "envoy.admin.v3.Memory", "", true},
		{"unknown type", `{}`, "example.v1.Nothing", "unknown message type", true},
		// Not JSON where no type describes the value: refused, never walked by brackets alone
		// (which would pass a secret by: docs/redaction.md, W13).
		{"missing colon in an unknown object", `{"zzz": {"q" "private_key": "SECRET2"}}`, "envoy.admin.v3.ServerInfo", "invalid JSON", true},
		{"missing colon in an unknown list", `{"zzz": [{"private_key" "SECRET3"}]}`, "envoy.admin.v3.ServerInfo", "invalid JSON", true},
		{"misnested", `{"zzz": {"a" "b" : ]}`, "envoy.admin.v3.ServerInfo", "invalid JSON", true},
		// Cut after a backslash: an error, not an index out of range.
		{"cut after a backslash in a key", `{"\`, "envoy.admin.v3.ServerInfo", "", true},
		{"cut after a backslash in a value", `{"zzz":"\`, "envoy.admin.v3.ServerInfo", "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			repl, err := RedactionsOf([]byte(tc.doc), tc.typ)
			if tc.err {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("error %v, want one containing %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(NewRedactedReader([]byte(tc.doc), repl))
			if string(got) != tc.want || RedactedSize(int64(len(tc.doc)), repl) != int64(len(tc.want)) {
				t.Errorf("redacted to %s (size %d), want %s", got, RedactedSize(int64(len(tc.doc)), repl), tc.want)
			}
		})
	}
}

// TestRedactedReader: read in any piece sizes, the document comes out with each replacement
// applied, and the offset follows the document.
func TestRedactedReader(t *testing.T) {
	doc := []byte("aaaSECRETbbbKEYccc")
	repl := []Replacement{{Start: 0, End: 0, Text: "<"}, {Start: 3, End: 9, Text: "[redacted]"}, {Start: 12, End: 15, Text: ""}, {Start: 18, End: 18, Text: ">"}}
	want := "<aaa[redacted]bbbccc>"
	for name, r := range map[string]func() io.Reader{
		"whole":     func() io.Reader { return NewRedactedReader(doc, repl) },
		"bytewise":  func() io.Reader { return iotest.OneByteReader(NewRedactedReader(doc, repl)) },
		"halfwise":  func() io.Reader { return iotest.HalfReader(NewRedactedReader(doc, repl)) },
		"no change": func() io.Reader { return NewRedactedReader([]byte(want), nil) },
	} {
		got, err := io.ReadAll(r())
		if err != nil || string(got) != want {
			t.Errorf("%s: %q, %v", name, got, err)
		}
	}
	if n := RedactedSize(int64(len(doc)), repl); n != int64(len(want)) {
		t.Errorf("size %d, want %d", n, len(want))
	}
	rr := NewRedactedReader(doc, repl)
	io.ReadAll(rr)
	if rr.Offset() != len(doc) {
		t.Errorf("offset %d at the end", rr.Offset())
	}
	if err := iotest.TestReader(NewRedactedReader(doc, repl), []byte(want)); err != nil {
		t.Error(err)
	}
}

// TestRedactionsWith: the parts handed to done cover the sections, in order.
func TestRedactionsWith(t *testing.T) {
	doc := []byte(`{"configs": [{"@type": "type.googleapis.com/envoy.admin.v3.SecretsConfigDump", "static_secrets": [{"name": "s", "secret": {"@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret", "tls_certificate": {"private_key": {"inline_string": "K"}}}}]}, {"@type": "type.googleapis.com/example.v1.Unknown", "x": "y"}]}`)
	d, err := Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	var parts [][]byte
	repl, err := d.RedactionsWith(func(p []byte) { parts = append(parts, p) })
	if err != nil || len(repl) != 1 || len(parts) != 2 || !bytes.HasPrefix(parts[0], []byte(`{"@type": "type.googleapis.com/envoy.admin.v3.SecretsConfigDump"`)) ||
		!bytes.Contains(parts[1], []byte("example.v1.Unknown")) {
		t.Errorf("replacements %v, parts %q, %v", repl, parts, err)
	}
}

// TestFillFromCerts completes file certificates from /certs: chain or CA, serial number
// zero-padded as the secret view prints it, dates, validity, trust domain; inline and
// undescribed ones are left alone.
func TestFillFromCerts(t *testing.T) {
	certs, err := ParseCerts([]byte(`{"certificates": [
	  {"ca_cert": [{"path": "/ca.pem", "serial_number": "ff", "valid_from": "2020-01-01T00:00:00Z", "expiration_time": "2021-01-01T00:00:00Z"}],
	   "cert_chain": [{"path": "/chain.pem", "serial_number": "0abc", "subject_alt_names": [{"dns": "x"}, {"uri": "spiffe://td.example/ns/a/sa/b"}], "valid_from": "2025-01-01T00:00:00Z", "expiration_time": "2030-01-01T12:30:00Z"},
	                  {"path": "/intermediate.pem", "serial_number": "1"}]},
	  {"cert_chain": [{"path": "<inline>", "serial_number": "2"}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	items := []SecretItem{
		{Name: "chain", CertFile: "/chain.pem"},
		{Name: "ca", CertFile: "/ca.pem"},
		{Name: "intermediate", CertFile: "/intermediate.pem"},
		{Name: "nowhere", CertFile: "/missing.pem"},
		{Name: "inline", Type: "CA", SerialNumber: "kept"},
	}
	if !NeedCerts(items) || NeedCerts(items[4:]) {
		t.Error("NeedCerts")
	}
	certs.FillFromCerts(items, now)
	want := []SecretItem{
		{Name: "chain", CertFile: "/chain.pem", Type: "Cert Chain", Valid: true, SerialNumber: "00000000000000000000000000000abc", NotBefore: "2025-01-01T00:00:00Z", NotAfter: "2030-01-01T12:30:00Z", TrustDomain: "td.example"},
		{Name: "ca", CertFile: "/ca.pem", Type: "CA", Valid: false, SerialNumber: "000000000000000000000000000000ff", NotBefore: "2020-01-01T00:00:00Z", NotAfter: "2021-01-01T00:00:00Z"},
		{Name: "intermediate", CertFile: "/intermediate.pem"},
		{Name: "nowhere", CertFile: "/missing.pem"},
		{Name: "inline", Type: "CA", SerialNumber: "kept"},
	}
	for i := range want {
		if items[i] != want[i] {
			t.Errorf("%s: %+v\nwant %+v", want[i].Name, items[i], want[i])
		}
	}
	if _, err := ParseCerts([]byte(`{"certificates": 5}`)); err == nil {
		t.Error("a broken /certs is accepted")
	}
}
