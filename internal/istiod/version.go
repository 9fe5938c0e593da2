package istiod

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"unicode"
)

// VersionPath is istiod's build version, on its HTTP monitoring and debug port (15014): the
// text VERSION-GITREVISION-BUILDSTATUS (istio/istio, pilot/pkg/bootstrap/monitoring.go).
const VersionPath = "/version"

// maxVersionBytes bounds the /version answer (a line of some 60 bytes).
const maxVersionBytes = 4096

// Version is the build of one istiod replica.
type Version struct {
	Istiod      string `json:"istiod"`
	Namespace   string `json:"namespace,omitempty"`
	Version     string `json:"version"`
	GitRevision string `json:"gitRevision,omitempty"`
	BuildStatus string `json:"buildStatus,omitempty"`
}

// ParseVersion reads istiod's /version text. Its version may hold dashes (1.26.0-beta.1), its
// revision and status do not: they are the last two fields.
func ParseVersion(text string) (Version, error) {
	s := strings.TrimSpace(text)
	if s == "" || len(s) > 512 || strings.IndexFunc(s, func(r rune) bool {
		return !(r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("._+-", r)))
	}) >= 0 {
		return Version{}, fmt.Errorf("%s answered %q, not istiod's VERSION-REVISION-STATUS", VersionPath, snippet([]byte(s)))
	}
	v := Version{Version: s}
	if i := strings.LastIndexByte(s, '-'); i > 0 {
		if j := strings.LastIndexByte(s[:i], '-'); j > 0 {
			v.Version, v.GitRevision, v.BuildStatus = s[:j], s[j+1:i], s[i+1:]
		}
	}
	return v, nil
}

// Versions asks every target for its build, concurrently; a target that fails is reported in
// errs (in target order) and the others still count.
func (f *Fetcher) Versions(ctx context.Context, targets []Target) (versions []Version, errs []*TargetError) {
	results := make([]Version, len(targets))
	failures := make([]error, len(targets))
	limited := &Fetcher{Client: f.client(), MaxBodyBytes: maxVersionBytes}
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body, err := limited.get(ctx, t, VersionPath, nil)
			if err == nil {
				results[i], err = ParseVersion(string(body))
			}
			results[i].Istiod, results[i].Namespace = t.Name, t.Namespace
			failures[i] = err
		}()
	}
	wg.Wait()
	for i, t := range targets {
		if failures[i] != nil {
			errs = append(errs, &TargetError{Target: t, Err: failures[i]})
			continue
		}
		versions = append(versions, results[i])
	}
	return versions, errs
}
