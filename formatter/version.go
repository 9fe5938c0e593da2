package formatter

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/proxyctl/proxyctl/configdump"
	"github.com/proxyctl/proxyctl/internal/buildinfo"
	"github.com/proxyctl/proxyctl/internal/istiod"
)

// VersionInfo is what `proxyctl version` prints; its -o json|yaml schema (field names after
// kubectl's clientVersion) is documented in docs/guide.md.
type VersionInfo struct {
	Client buildinfo.Info `json:"clientVersion"`
	// Proxy is the version of the proxy named (a pod, --admin-url, -f).
	Proxy *ProxyVersion `json:"proxyVersion,omitempty"`
	// ControlPlane are istiod's replicas (--remote).
	ControlPlane []istiod.Version `json:"controlPlaneVersions,omitempty"`
}

// ProxyVersion is an Envoy's build, from its /server_info or its bootstrap.
type ProxyVersion struct {
	Source           string `json:"source"`
	Envoy            string `json:"envoyVersion"`
	EnvoyBuild       string `json:"envoyBuild,omitempty"`
	EnvoyCommit      string `json:"envoyCommit,omitempty"`
	Istio            string `json:"istioVersion,omitempty"`
	IstioProxyCommit string `json:"istioProxyCommit,omitempty"`
}

// NewProxyVersion is the version of the proxy source describes.
func NewProxyVersion(source string, v configdump.Versions) *ProxyVersion {
	return &ProxyVersion{Source: source, Envoy: v.EnvoyNumber(), EnvoyBuild: v.Envoy, EnvoyCommit: v.EnvoyCommit,
		Istio: v.Istio, IstioProxyCommit: v.IstioProxySHA}
}

// WriteVersion writes v as text (short: the version numbers only), JSON or YAML.
func WriteVersion(w io.Writer, v VersionInfo, f Format, short bool) error {
	switch f {
	case JSON, YAML:
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		b = append(b, '\n')
		if f == YAML {
			if b, err = yamlConvert(b); err != nil {
				return err
			}
		}
		_, err = w.Write(b)
		return err
	}
	var sb strings.Builder
	c := v.Client
	fmt.Fprintf(&sb, "client version: %s", c.Version)
	if !short {
		sb.WriteString(details(labelled("commit", c.GitCommit), c.GitTreeState, labelled("built", c.BuildDate), c.GoVersion, c.Platform))
	}
	sb.WriteString("\n")
	if p := v.Proxy; p != nil {
		envoy, build := p.Envoy, p.EnvoyBuild
		if envoy == "" {
			envoy, build = "unknown", "unknown (the proxy does not say)"
		}
		if short {
			fmt.Fprintf(&sb, "envoy version: %s\n", envoy)
			if p.Istio != "" {
				fmt.Fprintf(&sb, "istio version: %s\n", p.Istio)
			}
		} else {
			fmt.Fprintf(&sb, "proxy: %s\n", p.Source)
			fmt.Fprintf(&sb, "  envoy version: %s%s\n", build, details(labelled("commit", p.EnvoyCommit)))
			if p.Istio != "" {
				fmt.Fprintf(&sb, "  istio version: %s%s\n", p.Istio, details(labelled("proxy commit", p.IstioProxyCommit)))
			}
		}
	}
	same := len(v.ControlPlane) > 0
	for _, cp := range v.ControlPlane {
		same = same && cp.Version == v.ControlPlane[0].Version
	}
	for i, cp := range v.ControlPlane {
		switch {
		case short && same && i > 0:
		case short && same:
			fmt.Fprintf(&sb, "control plane version: %s\n", cp.Version)
		case short:
			fmt.Fprintf(&sb, "control plane version: %s (%s)\n", cp.Version, cp.Istiod)
		default:
			where := cp.Istiod
			if cp.Namespace != "" {
				where += " in " + cp.Namespace
			}
			fmt.Fprintf(&sb, "control plane version: %s%s\n", cp.Version, details(where, labelled("commit", cp.GitRevision), cp.BuildStatus))
		}
	}
	_, err := io.WriteString(w, sb.String())
	return err
}

// details is " (a, b, c)" of the non-empty parts, or nothing.
func details(parts ...string) string {
	var kept []string
	for _, p := range parts {
		if p != "" {
			kept = append(kept, p)
		}
	}
	if len(kept) == 0 {
		return ""
	}
	return " (" + strings.Join(kept, ", ") + ")"
}

func labelled(label, value string) string {
	if value == "" {
		return ""
	}
	return label + " " + value
}
