// Package bundle is the format of proxyctl's capture bundles: a .tar.gz holding, for each proxy
// captured, the documents its Envoy admin API served, and a manifest.json saying what each
// document is, where it came from and how it was fetched. It writes and reads bundles, and
// validates them; it knows nothing of Kubernetes, HTTP or the views (see docs/bundle.md).
//
// The archive is an ordinary gzip-compressed tar (tar xzf reads it), laid out so that a reader
// needs neither to decompress it whole nor to hold it in memory: manifest.json is the first
// entry, in a gzip member of its own, and every document is in a gzip member of its own too,
// whose offset (counted from the end of the manifest's member) the manifest records. Reading
// one document is reading the manifest, then one member.
package bundle

import (
	"encoding/hex"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"
)

// FormatVersion is the version of the format this package writes, and the newest it reads.
// A reader refuses a bundle of a newer version: the format changes only in ways an older
// reader would misread.
const FormatVersion = 1

// Kind is the manifest's "kind": what tells a proxyctl bundle from another tarball.
const Kind = "proxyctl-capture"

// ManifestName is the manifest's path in the archive.
const ManifestName = "manifest.json"

// Manifest describes a bundle.
type Manifest struct {
	Kind            string    `json:"kind"`
	FormatVersion   int       `json:"format_version"`
	ProxyctlVersion string    `json:"proxyctl_version"`
	Created         time.Time `json:"created"`
	// Proxies are sorted by name.
	Proxies []Proxy `json:"proxies"`
	// BodySize is the size of the archive after the manifest's gzip member: a reader that
	// finds the archive shorter knows it is truncated.
	BodySize int64 `json:"body_size"`
}

// Proxy statuses.
const (
	// ProxyOK: every document was fetched, or answered 404 (an Envoy without the endpoint).
	ProxyOK = "ok"
	// ProxyPartial: the config dump was fetched, but another document failed.
	ProxyPartial = "partial"
	// ProxyFailed: the proxy could not be reached, or its config dump could not be fetched.
	ProxyFailed = "failed"
)

// Proxy is one captured proxy.
type Proxy struct {
	// Name is how users name the proxy: POD.NAMESPACE, or the admin URL's HOST:PORT.
	Name string `json:"name"`
	// Dir is the proxy's folder in the archive: NAMESPACE/POD, or the admin URL's host.
	Dir       string `json:"dir"`
	Namespace string `json:"namespace,omitempty"`
	Pod       string `json:"pod,omitempty"`
	// AdminURL is set for a proxy captured through --admin-url (its password removed).
	AdminURL     string `json:"admin_url,omitempty"`
	NodeID       string `json:"node_id,omitempty"`
	EnvoyVersion string `json:"envoy_version,omitempty"`
	Status       string `json:"status"`
	// Error says why the proxy failed, or which documents did (partial).
	Error string `json:"error,omitempty"`
	Files []File `json:"files"`
}

// File statuses.
const (
	// FileOK: the document is in the archive.
	FileOK = "ok"
	// FileNotFound: Envoy answered 404 Not Found (it has no such endpoint); not an error.
	FileNotFound = "not_found"
	// FileError: the document could not be fetched, or could not be checked for secrets, and
	// is not in the archive.
	FileError = "error"
)

// File is one document of a proxy.
type File struct {
	// Name is the document's file name in the proxy's folder (config_dump.json...).
	Name string `json:"name"`
	// AdminPath is what was asked of the admin API (config_dump?include_eds=true...).
	AdminPath string `json:"admin_path"`
	Status    string `json:"status"`
	// HTTPStatus is the admin API's answer, when there was one.
	HTTPStatus int    `json:"http_status,omitempty"`
	Error      string `json:"error,omitempty"`
	// Size and SHA256 are those of the document as archived (after redaction).
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256,omitempty"`
	// Redacted counts the secret values proxyctl replaced (Envoy had left them in the clear).
	Redacted int `json:"redacted,omitempty"`
	// Offset is where the document's gzip member starts, counted from the end of the
	// manifest's member (see Manifest.BodySize).
	Offset int64 `json:"offset"`
}

// Path is the file's path in the archive.
func (p *Proxy) Path(f *File) string { return p.Dir + "/" + f.Name }

// File returns the proxy's file of that name, or nil.
func (p *Proxy) File(name string) *File {
	for i := range p.Files {
		if p.Files[i].Name == name {
			return &p.Files[i]
		}
	}
	return nil
}

// ErrNewerFormat is wrapped by the error about a bundle written in a newer format.
var ErrNewerFormat = errors.New("newer bundle format")

// Validate checks a manifest read from an archive: a known kind and version, unique names and
// folders, safe relative paths, and consistent file entries.
func (m *Manifest) Validate() error {
	if m.Kind != Kind {
		return fmt.Errorf("its manifest.json is not a proxyctl capture manifest (kind %q, want %q)", clip(m.Kind), Kind)
	}
	if m.FormatVersion > FormatVersion {
		by := ""
		if m.ProxyctlVersion != "" {
			by = " by proxyctl " + clip(m.ProxyctlVersion)
		}
		return fmt.Errorf("%w: it was written%s in bundle format %d, and this proxyctl reads formats up to %d; upgrade proxyctl to read it",
			ErrNewerFormat, by, m.FormatVersion, FormatVersion)
	}
	if m.FormatVersion < 1 {
		return fmt.Errorf("its manifest has no valid format_version (%d)", m.FormatVersion)
	}
	if m.BodySize < 0 {
		return fmt.Errorf("its manifest has a negative body_size")
	}
	names, dirs := map[string]bool{}, map[string]bool{}
	for i := range m.Proxies {
		p := &m.Proxies[i]
		switch {
		case p.Name == "" || !printable(p.Name) || !printable(p.Namespace) || !printable(p.Pod):
			return fmt.Errorf("proxy %d of its manifest has no name, or control characters in its name", i+1)
		case names[p.Name]:
			return fmt.Errorf("its manifest lists proxy %s twice", clip(p.Name))
		case !safeDir(p.Dir):
			return fmt.Errorf("proxy %s of its manifest has an unsafe folder %q", clip(p.Name), clip(p.Dir))
		case dirs[p.Dir]:
			return fmt.Errorf("its manifest gives folder %s to two proxies", clip(p.Dir))
		case p.Status != ProxyOK && p.Status != ProxyPartial && p.Status != ProxyFailed:
			return fmt.Errorf("proxy %s of its manifest has an unknown status %q", clip(p.Name), clip(p.Status))
		}
		names[p.Name], dirs[p.Dir] = true, true
		files := map[string]bool{}
		for j := range p.Files {
			f := &p.Files[j]
			switch {
			case !safeName(f.Name) || files[f.Name]:
				return fmt.Errorf("proxy %s of its manifest has a bad or repeated file name %q", clip(p.Name), clip(f.Name))
			case f.Status != FileOK && f.Status != FileNotFound && f.Status != FileError:
				return fmt.Errorf("file %s of its manifest has an unknown status %q", clip(p.Path(f)), clip(f.Status))
			case f.Status == FileOK && (f.Size < 0 || f.Offset < 0 || f.Offset >= m.BodySize || !validSum(f.SHA256)):
				return fmt.Errorf("file %s of its manifest has an invalid size, offset or sha256", clip(p.Path(f)))
			}
			files[f.Name] = true
		}
	}
	return nil
}

// safeDir is a relative path of one or two clean, non-special segments.
func safeDir(dir string) bool {
	parts := strings.Split(dir, "/")
	if len(parts) > 2 || path.Clean(dir) != dir {
		return false
	}
	for _, p := range parts {
		if !safeName(p) {
			return false
		}
	}
	return true
}

// safeName is a file or folder name that cannot climb out of the archive or hide.
func safeName(s string) bool {
	if s == "" || s == "." || s == ".." || len(s) > 255 || strings.HasPrefix(s, ".") {
		return false
	}
	for _, c := range s {
		if c < ' ' || c == '/' || c == '\\' || c == 0x7f {
			return false
		}
	}
	return true
}

func printable(s string) bool {
	for _, c := range s {
		if c < ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

func validSum(s string) bool {
	b, err := hex.DecodeString(s)
	return err == nil && len(b) == 32
}

// clip shortens a value quoted in an error.
func clip(s string) string {
	if len(s) > 100 {
		return s[:100] + "..."
	}
	return s
}
