package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// The test binary doubles as the floor and as a fake proxyctl when
// BENCH_TEST_FAKE is set: "FILE" acts as the floor, "pc VIEW -f FILE ..."
// as proxyctl, failing for the secret view.
func TestMain(m *testing.M) {
	if os.Getenv("BENCH_TEST_FAKE") == "1" {
		os.Exit(fake(os.Args[1:]))
	}
	os.Exit(m.Run())
}

func fake(args []string) int {
	switch args[0] {
	case "-targz": // the floor's archiving
		return 0
	case "capture": // proxyctl capture: fetch each admin API's config dump
		for i, a := range args {
			if a != "--admin-url" {
				continue
			}
			resp, err := http.Get(args[i+1] + "/config_dump?include_eds=true")
			if err != nil {
				fmt.Fprintln(os.Stderr, "error:", err)
				return 1
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !json.Valid(body) {
				fmt.Fprintln(os.Stderr, "error: bad config dump")
				return 1
			}
		}
		return 0
	}
	if len(args) == 1 {
		// The floor: slower than any fake view, so that the wall targets are met.
		time.Sleep(30 * time.Millisecond)
	}
	file := args[len(args)-1]
	if i := slices.Index(args, "-f"); i >= 0 {
		file = args[i+1]
	}
	if slices.Contains(args, "secret") {
		fmt.Fprintln(os.Stderr, "error: secret view is not implemented yet")
		fmt.Fprintln(os.Stderr, "a second line that must not be shown")
		return 1
	}
	data, err := os.ReadFile(file)
	if err != nil || !json.Valid(data) {
		fmt.Fprintln(os.Stderr, "error: bad input")
		return 1
	}
	if slices.Contains(args, "diff") {
		return 1 // different, as the dumps are
	}
	return 0
}

// buildRunner builds the process runner (hack/bench/run) into dir.
func buildRunner(t *testing.T, dir string) string {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go tool to build the runner")
	}
	runner := filepath.Join(dir, "bench-run")
	if out, err := exec.Command("go", "build", "-o", runner, "./run").CombinedOutput(); err != nil {
		t.Fatalf("building the runner: %v\n%s", err, out)
	}
	return runner
}

// shared is the shared material beside the checkout, for the real-shaped input.
const shared = "../../../shared"

func TestHarness(t *testing.T) {
	t.Setenv("BENCH_TEST_FAKE", "1")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	runner := buildRunner(t, dir)
	inputs := "gen,real"
	if _, err := os.Stat(filepath.Join(shared, "bench", "gen_big_dump.py")); err != nil {
		t.Logf("no real-shaped input: %v", err)
		inputs = "gen"
	}
	md := filepath.Join(dir, "perf.md")
	args := []string{"-bin", self, "-floor", self, "-runner", runner, "-shared", shared, "-inputs", inputs, "-dir", dir, "-sizes", "1", "-runs", "2", "-md", md}

	var out, errOut bytes.Buffer
	if code := realMain(append(args, "-strict"), &out, &errOut); code != 1 {
		t.Fatalf("exit code %d with a failing view and -strict, want 1\nstdout:\n%s\nstderr:\n%s", code, out.String(), errOut.String())
	}
	if !strings.Contains(errOut.String(), "generated ") {
		t.Errorf("dumps were not generated: %s", errOut.String())
	}
	for _, f := range []string{"seed1-1MB-config_dump.json", "seed1-1MB-clusters.json"} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	lines := strings.Split(out.String(), "\n")
	// Each line ran and was judged: PASS, or a miss of its time or memory target (a loaded
	// machine can make the fake views slower than the fake floor), never a failed run.
	for _, name := range []string{"pc cluster", "pc listener -o json", "pc endpoint (/clusters)", "pc all -o json", "pc diff (1% changed)"} {
		if !hasRow(lines, name, "PASS") && !hasJudgedMiss(lines, name) {
			t.Errorf("no judged row for %q in\n%s", name, out.String())
		}
	}
	// The capture line ran against the 50 stand-ins, and says what it measured against.
	if !hasRow(lines, "capture 50 proxies", "") || !strings.Contains(out.String(), "capture: 50 stand-in admin APIs, one serving the 1.0MB dump") {
		t.Errorf("no capture line:\n%s", out.String())
	}
	if !hasRow(lines, "pc secret", "FAIL: exit status 1: error: secret view is not implemented yet") {
		t.Errorf("the failing view does not show its stderr's first line:\n%s", out.String())
	}
	if strings.Contains(out.String(), "second line") {
		t.Errorf("more than the first stderr line shown:\n%s", out.String())
	}
	data, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "| input | command | wall | floor | ratio | CPU | floor CPU | CPU ratio | RSS | RSS/file | target | result |") ||
		!strings.Contains(string(data), "| gen 1MB | pc route | ") {
		t.Errorf("markdown report:\n%s", data)
	}

	// Prose around the report's markers is kept when the report is written again.
	text := "# Performance\n\nProse.\n\n" + string(data) + "\nMore prose.\n"
	if err := os.WriteFile(md, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}

	// Without -strict a missed target is reported but does not fail, and
	// the dumps are reused.
	out.Reset()
	errOut.Reset()
	if code := realMain(append(args, "-run", "secret|^pc cluster$"), &out, &errOut); code != 0 {
		t.Fatalf("exit code %d without -strict, want 0\n%s", code, errOut.String())
	}
	if strings.Contains(errOut.String(), "generated ") {
		t.Errorf("dumps regenerated although present")
	}
	if n := strings.Count(out.String(), "\ngen 1MB "); n != 3 {
		t.Errorf("-run selected %d rows, want 3:\n%s", n, out.String())
	}
	data, err = os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(data), "# Performance\n\nProse.\n\n"+mdStart) || !strings.HasSuffix(string(data), mdEnd+"\n\nMore prose.\n") ||
		strings.Count(string(data), mdStart) != 1 || strings.Contains(string(data), "| gen 1MB | pc route | ") {
		t.Errorf("the report was not replaced in place:\n%s", data)
	}
}

// hasJudgedMiss tells whether command's row missed a time or memory target, having run.
func hasJudgedMiss(lines []string, command string) bool {
	for _, l := range lines {
		if strings.HasPrefix(l, "gen 1MB ") && strings.Contains(l, "  "+command+"  ") {
			_, result, ok := strings.Cut(l, "FAIL: ")
			return ok && (strings.HasPrefix(result, "wall") || strings.HasPrefix(result, "rss") || strings.HasPrefix(result, "cpu"))
		}
	}
	return false
}

func hasRow(lines []string, command, result string) bool {
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) > 2 && strings.HasPrefix(l, "gen 1MB ") && strings.Contains(l, "  "+command+"  ") && strings.HasSuffix(strings.TrimSpace(l), result) {
			return true
		}
	}
	return false
}

func TestMissingBinary(t *testing.T) {
	var out, errOut bytes.Buffer
	code := realMain([]string{"-bin", filepath.Join(t.TempDir(), "nope"), "-sizes", "1"}, &out, &errOut)
	if code != 2 || !strings.Contains(errOut.String(), "make build") {
		t.Errorf("exit %d, stderr %q: want 2 and a hint to build", code, errOut.String())
	}
}

func TestJudge(t *testing.T) {
	tests := []struct {
		name string
		r    row
		pass bool
		want string
	}{
		{"within", row{m: measurement{usage: usage{wall: 140, rss: 140 << 20}, floor: usage{wall: 100}}, fileSize: 100 << 20, target: target{wall: 1.5, rss: 1.5}}, true, "PASS"},
		{"slow", row{m: measurement{usage: usage{wall: 160, rss: 140 << 20}, floor: usage{wall: 100}}, fileSize: 100 << 20, target: target{wall: 1.5, rss: 1.5}}, false, "FAIL: wall 1.60x"},
		{"fat", row{m: measurement{usage: usage{wall: 100, rss: 300 << 20}, floor: usage{wall: 100}}, fileSize: 100 << 20, target: target{rss: 2.5}}, false, "FAIL: rss 3.00x"},
		{"small file: memory not judged", row{m: measurement{usage: usage{wall: 100, rss: 20 << 20}, floor: usage{wall: 100}}, fileSize: 1 << 20, target: target{rss: 1.5}}, true, "PASS"},
		{"slower than an absolute limit", row{m: measurement{usage: usage{wall: 6 * time.Second}}, fileSize: 100 << 20, target: target{maxWall: 5 * time.Second}}, false, "FAIL: wall 6.000s"},
		{"no target", row{m: measurement{usage: usage{wall: 900, rss: 900}, floor: usage{wall: 100}}, fileSize: 100}, true, "PASS"},
		{"failed", row{m: measurement{err: fmt.Errorf("exit status 1: boom")}}, false, "FAIL: exit status 1: boom"},
		{"within 2x of another command", row{m: measurement{usage: usage{wall: 190}}, ref: measurement{usage: usage{wall: 100}}, target: target{relWall: 2, relTo: "pc route"}}, true, "PASS"},
		{"slower than 2x of another command", row{m: measurement{usage: usage{wall: 250}}, ref: measurement{usage: usage{wall: 100}}, target: target{relWall: 2, relTo: "pc route"}}, false, "FAIL: wall 2.50x pc route"},
		{"the reference failed", row{m: measurement{usage: usage{wall: 100}}, ref: measurement{err: fmt.Errorf("boom")}, target: target{relWall: 2, relTo: "pc route"}}, false, "FAIL: pc route: boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pass, got := judge(tt.r)
			if pass != tt.pass || got != tt.want {
				t.Errorf("judge = %v %q, want %v %q", pass, got, tt.pass, tt.want)
			}
		})
	}
}

// TestTargets: every line has the targets of its class, the same on every size, computed
// from the measurements (see TestJudge), never written in.
func TestTargets(t *testing.T) {
	for _, size := range []int{50, 200} {
		for _, b := range commands {
			tg := targetFor(size, b)
			switch b.class {
			case short, fullJSON, passthrough, fullYAML:
				if tg.wall == 0 || tg.rss != viewRSS {
					t.Errorf("%dMB %s: targets %v, want a wall ratio and rss %v", size, b.name, tg, viewRSS)
				}
			case proxyStatus:
				if tg.maxWall != time.Duration(size)*b.maxWallPerMB || tg.rss != proxyStatusRSS {
					t.Errorf("%dMB %s: targets %v", size, b.name, tg)
				}
			case relative:
				if tg.relTo == "" || !slices.ContainsFunc(commands, func(o benchCmd) bool { return o.name == tg.relTo }) {
					t.Errorf("%dMB %s: compared with %q, not a line", size, b.name, tg.relTo)
				}
			}
		}
	}
	if tg := targetFor(50, benchCmd{name: "pc all -o json", class: passthrough}); tg.wall != 1.2 {
		t.Errorf("pc all -o json: wall target %v, want 1.2x the floor", tg.wall)
	}
}

// TestChildRSS: a command's peak RSS is its own, however much memory the harness holds (Go
// starts children with vfork, whose peak RSS counts their parent's memory until they exec).
func TestChildRSS(t *testing.T) {
	t.Setenv("BENCH_TEST_FAKE", "1")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	c := config{runner: buildRunner(t, dir), floor: self, timeout: time.Minute}
	file := filepath.Join(dir, "small.json")
	if err := os.WriteFile(file, []byte(`{"configs": []}`), 0o644); err != nil {
		t.Fatal(err)
	}
	held := make([]byte, 256<<20)
	for i := 0; i < len(held); i += 4096 {
		held[i] = 1
	}
	u, err := runOnce(c, self, []string{"pc", "cluster", "-f", file}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if u.rss == 0 || u.rss > 128<<20 {
		t.Errorf("peak RSS of a small command %s while the harness holds %s: want its own", fmtBytes(u.rss), fmtBytes(int64(len(held))))
	}
	if u.wall <= 0 || u.cpu <= 0 {
		t.Errorf("wall %v, CPU %v: want both measured", u.wall, u.cpu)
	}
	runtime.KeepAlive(held)
}
