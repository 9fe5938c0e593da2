// Package buildinfo says which proxyctl this is: the version `make build` stamps in with the
// linker, else what the Go toolchain recorded in the binary (the module version of `go install
// ...@v1.2.3`, the VCS revision of a build in a checkout).
package buildinfo

import (
	"runtime"
	"runtime/debug"
	"strings"
)

// Set with -ldflags "-X github.com/proxyctl/proxyctl/internal/buildinfo.version=..." (see the
// Makefile's LDFLAGS); empty otherwise.
var (
	version      string
	gitCommit    string
	gitTreeState string
)

// Info is the client version `proxyctl version` prints (its -o json field names are kubectl's).
type Info struct {
	Version      string `json:"version"`
	GitCommit    string `json:"gitCommit,omitempty"`
	GitTreeState string `json:"gitTreeState,omitempty"`
	BuildDate    string `json:"buildDate,omitempty"`
	GoVersion    string `json:"goVersion"`
	Platform     string `json:"platform"`
}

// Stamp is what the linker set.
type Stamp struct{ Version, GitCommit, GitTreeState string }

// Get returns this binary's Info.
func Get() Info {
	bi, _ := debug.ReadBuildInfo()
	return FromBuildInfo(bi, Stamp{version, gitCommit, gitTreeState})
}

// FromBuildInfo combines the linker's stamp with the toolchain's record (either may be empty):
// the stamp wins; then the main module's version unless it is "(devel)"; then "devel".
func FromBuildInfo(bi *debug.BuildInfo, s Stamp) Info {
	info := Info{Version: s.Version, GitCommit: s.GitCommit, GitTreeState: s.GitTreeState,
		GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi != nil {
		if bi.GoVersion != "" {
			info.GoVersion = bi.GoVersion
		}
		if v := bi.Main.Version; info.Version == "" && v != "" && v != "(devel)" {
			info.Version = v
		}
		settings := map[string]string{}
		for _, kv := range bi.Settings {
			settings[kv.Key] = kv.Value
		}
		if info.GitCommit == "" {
			info.GitCommit = settings["vcs.revision"]
		}
		if info.GitTreeState == "" {
			switch settings["vcs.modified"] {
			case "true":
				info.GitTreeState = "dirty"
			case "false":
				info.GitTreeState = "clean"
			}
		}
		info.BuildDate = settings["vcs.time"]
		if goos, goarch := settings["GOOS"], settings["GOARCH"]; goos != "" && goarch != "" {
			info.Platform = goos + "/" + goarch
		}
	}
	if info.Version == "" {
		info.Version = "devel"
	}
	info.Version = strings.TrimSpace(info.Version)
	return info
}
