package configdump

import (
	"fmt"
	"sort"
	"strings"

	adminv3 "github.com/envoyproxy/go-control-plane/envoy/admin/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
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
}

// BootstrapVersions reads the versions istioctl's bootstrap summary shows.
func BootstrapVersions(b *adminv3.BootstrapConfigDump) Versions {
	var v Versions
	node := b.GetBootstrap().GetNode()
	md := node.GetMetadata().GetFields()
	if f, ok := md["ISTIO_VERSION"]; ok {
		v.Istio = f.GetStringValue()
	}
	if f, ok := md["ISTIO_PROXY_SHA"]; ok {
		v.IstioProxySHA = f.GetStringValue()
		if parts := strings.Split(v.IstioProxySHA, ":"); len(parts) > 1 {
			v.IstioProxySHA = parts[1]
		}
	}
	v.Envoy = envoyVersion(node.GetUserAgentBuildVersion())
	return v
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
