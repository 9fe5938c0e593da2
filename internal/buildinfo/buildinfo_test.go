package buildinfo

import (
	"runtime"
	"runtime/debug"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	vcs := &debug.BuildInfo{GoVersion: "go1.99.1", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"}, {Key: "vcs.modified", Value: "true"},
		{Key: "vcs.time", Value: "2026-01-02T03:04:05Z"}, {Key: "GOOS", Value: "darwin"}, {Key: "GOARCH", Value: "arm64"},
	}}
	installed := &debug.BuildInfo{GoVersion: "go1.99.1", Main: debug.Module{Version: "v1.4.0"}}
	tests := []struct {
		name  string
		bi    *debug.BuildInfo
		stamp Stamp
		want  Info
	}{
		{"make build stamps it", vcs, Stamp{"v1.5.0-3-gabcdef0-dirty", "abcdef0123", "dirty"},
			Info{Version: "v1.5.0-3-gabcdef0-dirty", GitCommit: "abcdef0123", GitTreeState: "dirty", BuildDate: "2026-01-02T03:04:05Z", GoVersion: "go1.99.1", Platform: "darwin/arm64"}},
		{"go build in a checkout", vcs, Stamp{},
			Info{Version: "devel", GitCommit: "0123456789abcdef0123456789abcdef01234567", GitTreeState: "dirty", BuildDate: "2026-01-02T03:04:05Z", GoVersion: "go1.99.1", Platform: "darwin/arm64"}},
		{"go install @version", installed, Stamp{},
			Info{Version: "v1.4.0", GoVersion: "go1.99.1", Platform: runtime.GOOS + "/" + runtime.GOARCH}},
		{"no build info", nil, Stamp{},
			Info{Version: "devel", GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}},
	}
	for _, tt := range tests {
		if got := FromBuildInfo(tt.bi, tt.stamp); got != tt.want {
			t.Errorf("%s:\n got %+v\nwant %+v", tt.name, got, tt.want)
		}
	}
}
