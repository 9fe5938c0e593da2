package configdump

import (
	"fmt"
	"sort"
	"strings"

	adminv3 "github.com/envoyproxy/go-control-plane/envoy/admin/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/encoding/protojson"
)

// Bootstrap returns the dump's bootstrap section.
func (d *Dump) Bootstrap() (*adminv3.BootstrapConfigDump, error) {
	return section(d, BootstrapSection, func() *adminv3.BootstrapConfigDump { return &adminv3.BootstrapConfigDump{} })
}

// Versions is what a bootstrap says about the proxy's build.
type Versions struct {
	Istio         string // node metadata ISTIO_VERSION
	IstioProxySHA string // node metadata ISTIO_PROXY_SHA, without its "name:" prefix
	Envoy         string // user agent build version: major.minor.patch[-label][/status][/type][/ssl]
	EnvoyCommit   string // the build's revision.sha
}

// EnvoyNumber is the version number of Envoy's build, without status, type and SSL library:
// "1.32.3-dev".
func (v Versions) EnvoyNumber() string {
	n, _, _ := strings.Cut(v.Envoy, "/")
	return n
}

// BootstrapVersions reads the versions istioctl's bootstrap summary shows.
func BootstrapVersions(b *adminv3.BootstrapConfigDump) Versions {
	var v Versions
	node := b.GetBootstrap().GetNode()
	v.Istio, v.IstioProxySHA = nodeIstioVersions(node)
	v.Envoy = envoyVersion(node.GetUserAgentBuildVersion())
	if f, ok := node.GetUserAgentBuildVersion().GetMetadata().GetFields()["revision.sha"]; ok {
		v.EnvoyCommit = f.GetStringValue()
	}
	return v
}

// nodeIstioVersions reads the Istio versions a node's metadata names.
func nodeIstioVersions(node *corev3.Node) (istio, proxySHA string) {
	md := node.GetMetadata().GetFields()
	if f, ok := md["ISTIO_VERSION"]; ok {
		istio = f.GetStringValue()
	}
	if f, ok := md["ISTIO_PROXY_SHA"]; ok {
		proxySHA = f.GetStringValue()
		if parts := strings.Split(proxySHA, ":"); len(parts) > 1 {
			proxySHA = parts[1]
		}
	}
	return istio, proxySHA
}

// maxServerInfo bounds a /server_info document (a few KB; its command line options and node
// metadata at most some hundred).
const maxServerInfo = 16 << 20

// ServerInfoVersions reads the versions of Envoy's /server_info document: its version string,
// REVISION/VERSION/STATUS/TYPE/SSL, and the Istio metadata of its node. ok is false for a
// document that is not a server_info (a config dump, say).
func ServerInfoVersions(data []byte) (v Versions, ok bool, err error) {
	if len(data) > maxServerInfo {
		return v, false, fmt.Errorf("the /server_info document has %d bytes, more than the %d it could", len(data), maxServerInfo)
	}
	var si adminv3.ServerInfo
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(data, &si); err != nil {
		return v, false, fmt.Errorf("reading /server_info: %w", err)
	}
	if si.GetVersion() == "" {
		return v, false, nil
	}
	commit, rest, found := strings.Cut(si.GetVersion(), "/")
	if !found {
		commit, rest = "", si.GetVersion()
	}
	v.Envoy, v.EnvoyCommit = rest, commit
	v.Istio, v.IstioProxySHA = nodeIstioVersions(si.GetNode())
	return v, true, nil
}

func envoyVersion(bv *corev3.BuildVersion) string {
	var sb strings.Builder
	ver := bv.GetVersion()
	fmt.Fprintf(&sb, "%d.%d.%d", ver.GetMajorNumber(), ver.GetMinorNumber(), ver.GetPatch())
	md := bv.GetMetadata().GetFields()
	for _, k := range []struct{ key, sep string }{
		{"build.label", "-"}, {"revision.status", "/"}, {"build.type", "/"}, {"ssl.version", "/"},
	} {
		if f, ok := md[k.key]; ok {
			sb.WriteString(k.sep + f.GetStringValue())
		}
	}
	return sb.String()
}

// Ecds returns the dump's ECDS sections merged into one, as istioctl merges them.
func (d *Dump) Ecds() (*adminv3.EcdsConfigDump, error) {
	if d.kind != KindConfigDump {
		return nil, fmt.Errorf("the document is Envoy's cluster status (/clusters), not a config dump: it has no ecds section: %w", ErrMissingSection)
	}
	values := d.sectionValues(EcdsSection)
	if len(values) == 0 {
		return nil, fmt.Errorf("the config dump has no ecds section (%s): %w", EcdsSection, ErrMissingSection)
	}
	out := &adminv3.EcdsConfigDump{}
	for _, v := range values {
		part := &adminv3.EcdsConfigDump{}
		if err := unmarshalAnyValue(v, part, d.src, nil, nil); err != nil {
			return nil, fmt.Errorf("ecds section: %w", err)
		}
		out.EcdsFilters = append(out.EcdsFilters, part.EcdsFilters...)
	}
	return out, nil
}

// EcdsConfigs returns the extension configs of the ECDS sections, ordered by type URL then name.
func (d *Dump) EcdsConfigs() ([]*corev3.TypedExtensionConfig, error) {
	ecds, err := d.Ecds()
	if err != nil {
		return nil, err
	}
	res := make([]resource, 0, len(ecds.EcdsFilters))
	for i, f := range ecds.EcdsFilters {
		if f.EcdsFilter != nil {
			res = append(res, resource{f.EcdsFilter, "ecds_filters", i, "ecds_filter"})
		}
	}
	configs, err := newResources(d, EcdsSection, res, func() *corev3.TypedExtensionConfig { return &corev3.TypedExtensionConfig{} }).Decode()
	if err != nil {
		return nil, err
	}
	sort.Slice(configs, func(i, j int) bool {
		ti, tj := configs[i].GetTypedConfig().GetTypeUrl(), configs[j].GetTypedConfig().GetTypeUrl()
		if ti == tj {
			return configs[i].GetName() < configs[j].GetName()
		}
		return ti < tj
	})
	return configs, nil
}
