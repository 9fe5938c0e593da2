package cli

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/proxyctl/proxyctl/internal/kubetest"
	"github.com/proxyctl/proxyctl/portforward"
)

// TestClusterFlag: --cluster is the endpoint filter wherever it exists, as in istioctl; the
// kubeconfig's --cluster override is gone.
func TestClusterFlag(t *testing.T) {
	_, all, _ := run(t, "", "pc", "all", "-f", sampleDump, "--cluster", "agent")
	_, eds, _ := run(t, "", "pc", "endpoint", "-f", sampleDump, "--cluster", "agent")
	i := strings.Index(all, "endpoint/")
	if i < 0 || !strings.Contains(all[i:], "agent") || strings.Contains(all[i:], "xds-grpc") || !strings.Contains(eds, "agent") || strings.Contains(eds, "xds-grpc") {
		t.Errorf("--cluster agent does not filter endpoints:\n%s\n%s", all, eds)
	}
	for _, args := range [][]string{{"pc", "cluster", "-f", sampleDump, "--cluster", "x"}, {"--cluster", "x", "ps"}} {
		if code, _, errOut := run(t, "", args...); code != ExitUsage || !strings.Contains(errOut, "unknown flag: --cluster") {
			t.Errorf("%v: exit %d, %q", args, code, errOut)
		}
	}
	_, help, _ := run(t, "", "--help")
	if strings.Contains(help, "--cluster") || !strings.Contains(help, "--context") {
		t.Errorf("proxyctl --help:\n%s", help)
	}
}

// TestKubeconfigShorthand: -c is --kubeconfig on every command, as in istioctl.
func TestKubeconfigShorthand(t *testing.T) {
	api := kubetest.NewServer(t, kubetest.Pod{Name: "web-1", Namespace: "shop"})
	for _, args := range [][]string{
		{"pc", "cluster", "web-1.shop", "-c", api.Kubeconfig},
		{"-c", api.Kubeconfig, "pc", "cluster", "web-1.shop"},
		{"pc", "log", "-c", api.Kubeconfig, "web-1.shop"},
		{"ps", "-c", api.Kubeconfig},
	} {
		_, _, errOut := run(t, "", args...)
		// The pod is found (its port-forward then fails: nothing listens), or istiod is looked for
		// there: the kubeconfig was read.
		if strings.Contains(errOut, "no Kubernetes configuration") || strings.Contains(errOut, "unknown shorthand") ||
			!(strings.Contains(errOut, "pod web-1 in namespace shop") || strings.Contains(errOut, "istiod")) {
			t.Errorf("%v: %q", args, errOut)
		}
	}
}

// TestKubeconfigShorthandPerCommand: -c is a flag of each command, not of the root, so that a
// command with its own -c (route-check's -c/--config-path, as router_check_tool has it) keeps
// it, and still takes --kubeconfig.
func TestKubeconfigShorthandPerCommand(t *testing.T) {
	kube := portforward.NewKubeFlags()
	root := &cobra.Command{Use: "proxyctl", RunE: func(*cobra.Command, []string) error { return nil }}
	kube.AddFlags(root.PersistentFlags())
	var configPath string
	routeCheck := &cobra.Command{Use: "route-check", RunE: func(*cobra.Command, []string) error { return nil }}
	routeCheck.Flags().StringVarP(&configPath, "config-path", "c", "", "router config")
	group := &cobra.Command{Use: "pc"}
	group.PersistentFlags().StringP("context-lines", "c", "", "a group whose -c means something else")
	inGroup := &cobra.Command{Use: "diff", RunE: func(*cobra.Command, []string) error { return nil }}
	group.AddCommand(inGroup)
	view := &cobra.Command{Use: "view", RunE: func(*cobra.Command, []string) error { return nil }}
	root.AddCommand(routeCheck, group, view)
	addKubeconfigShorthands(root, kube)

	exec := func(args ...string) {
		t.Helper()
		root.SetArgs(args)
		root.SetOut(io.Discard)
		if err := root.Execute(); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
	}
	exec("route-check", "-c", "tests.yaml", "--kubeconfig", "k1")
	if configPath != "tests.yaml" || kube.Kubeconfig() != "k1" {
		t.Errorf("route-check -c: config path %q, kubeconfig %q", configPath, kube.Kubeconfig())
	}
	exec("view", "-c", "k2")
	if kube.Kubeconfig() != "k2" {
		t.Errorf("view -c: kubeconfig %q", kube.Kubeconfig())
	}
	if f := inGroup.Flags().ShorthandLookup("c"); f != nil {
		t.Errorf("diff got a -c of its own (%s) under a group whose -c is persistent", f.Name)
	}

	// In proxyctl's own tree: route-check keeps -c/--config-path, the others have -c/--kubeconfig.
	tree := NewRootCommand(Streams{})
	for _, path := range [][]string{{"route-check"}, {"pc", "cluster"}, {"ps"}, {"version"}, {"pc", "log"}} {
		cmd, _, err := tree.Find(path)
		if err != nil {
			t.Fatal(err)
		}
		want := "kubeconfig"
		if cmd.Name() == "route-check" {
			want = "config-path"
		}
		if f := cmd.Flags().ShorthandLookup("c"); f == nil || f.Name != want {
			t.Errorf("%s: -c is %v, want --%s", cmd.CommandPath(), f, want)
		}
		if cmd.Flags().Lookup("kubeconfig") == nil && cmd.InheritedFlags().Lookup("kubeconfig") == nil {
			t.Errorf("%s has no --kubeconfig", cmd.CommandPath())
		}
	}
}

// TestStumbles: what a new user trips over first gets a message that helps.
func TestStumbles(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope")
	cases := []struct {
		name string
		env  map[string]string
		args []string
		code int
		want string
	}{
		{"misspelt view with flags", nil, []string{"pc", "listners", "-f", sampleDump}, ExitUsage,
			`unknown command "listners" for "proxyctl proxy-config"; did you mean "listeners"? (see proxyctl proxy-config --help)`},
		{"misspelt view", nil, []string{"proxy-config", "clustr"}, ExitUsage, `did you mean "cluster"?`},
		{"misspelt command", nil, []string{"proxy-confg", "cluster", "-f", sampleDump}, ExitUsage,
			`unknown command "proxy-confg" for "proxyctl"; did you mean "proxy-config"? (see proxyctl --help)`},
		{"an alias", nil, []string{"pc", "endpionts"}, ExitUsage, `did you mean "endpoints"?`},
		{"pc help NOSUCH", nil, []string{"pc", "help", "nosuch"}, ExitUsage, `unknown command "nosuch" for "proxyctl proxy-config" (see proxyctl proxy-config --help)`},
		{"KUBECONFIG names a missing file", map[string]string{"KUBECONFIG": missing}, []string{"pc", "cluster", "web-1"}, ExitRuntime,
			"$KUBECONFIG names " + missing + ", which does not exist"},
		{"--kubeconfig names a missing file", nil, []string{"pc", "cluster", "web-1", "--kubeconfig", missing}, ExitRuntime, missing + ": no such file or directory"},
		{"no kubeconfig at all", map[string]string{"KUBECONFIG": ""}, []string{"pc", "cluster", "web-1"}, ExitRuntime,
			clientcmd.RecommendedHomeFile + " does not exist"},
		{"usage error", nil, []string{"pc", "cluster", "a", "b"}, ExitUsage, "accepts at most 1 arg(s), received 2 (see proxyctl proxy-config cluster --help)"},
		{"bad flag", nil, []string{"ps", "--bogus"}, ExitUsage, "unknown flag: --bogus (see proxyctl proxy-status --help)"},
		{"bad value", nil, []string{"pc", "listener", "-f", sampleDump, "--type", "UDP"}, ExitUsage, "(see proxyctl proxy-config listener --help)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := os.Stat(clientcmd.RecommendedHomeFile); err == nil && tc.name == "no kubeconfig at all" {
				t.Skip(clientcmd.RecommendedHomeFile + " exists here")
			}
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			code, out, errOut := run(t, "", tc.args...)
			if code != tc.code || out != "" || !strings.Contains(errOut, tc.want) || strings.Count(errOut, "\n") != 1 {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d and %q", code, out, errOut, tc.code, tc.want)
			}
		})
	}
	// pc help, pc help VIEW, and completion shown in --help.
	if code, out, _ := run(t, "", "pc", "help"); code != 0 || !strings.Contains(out, "Available Commands:") || !strings.Contains(out, "listener") {
		t.Errorf("pc help: exit %d\n%s", code, out)
	}
	if code, out, _ := run(t, "", "pc", "help", "listener"); code != 0 || !strings.Contains(out, "proxyctl proxy-config listener [POD") {
		t.Errorf("pc help listener: exit %d\n%s", code, out)
	}
	if _, out, _ := run(t, "", "--help"); !strings.Contains(out, "completion ") || !strings.Contains(out, "version ") {
		t.Errorf("--help does not show completion and version:\n%s", out)
	}
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		if code, out, _ := run(t, "", "completion", shell); code != 0 || !strings.Contains(out, "proxyctl") || len(out) < 1000 {
			t.Errorf("completion %s: exit %d, %d bytes", shell, code, len(out))
		}
	}
	// --admin-url HOST:PORT, as --istiod-url takes it.
	_, url := startAdmin(t)
	if code, out, errOut := run(t, "", "pc", "cluster", "--admin-url", strings.TrimPrefix(url, "http://")); code != 0 || !strings.Contains(out, "SERVICE FQDN") {
		t.Errorf("--admin-url HOST:PORT: exit %d, %s", code, errOut)
	}
}

// TestAliases: istioctl's aliases, and its hidden eds view.
func TestAliases(t *testing.T) {
	_, url := startAdmin(t)
	_, viaLog, _ := run(t, "", "pc", "log", "--admin-url", url)
	_, viaO, _ := run(t, "", "pc", "o", "--admin-url", url)
	if viaLog == "" || viaLog != viaO {
		t.Errorf("pc o:\n%s\nwant pc log's:\n%s", viaO, viaLog)
	}
	if code, _, errOut := run(t, "", "pc", "rc"); code != ExitUsage || !strings.Contains(errOut, "rootca-compare compares two pods") {
		t.Errorf("pc rc: exit %d, %s", code, errOut)
	}
	_, eds, _ := run(t, "", "pc", "eds", "-f", sampleDump, "--port", "15020")
	_, endpoint, _ := run(t, "", "pc", "endpoint", "-f", sampleDump, "--port", "15020")
	if eds == "" || eds != endpoint || !strings.HasPrefix(eds, "NAME ") {
		t.Errorf("pc eds:\n%s\nwant the EDS endpoint view:\n%s", eds, endpoint)
	}
	// From an admin API, eds reads the EDS section, not /clusters.
	admin, url := startAdmin(t)
	if code, out, errOut := run(t, "", "pc", "eds", "--admin-url", url); code != 0 || !strings.HasPrefix(out, "NAME ") {
		t.Errorf("pc eds --admin-url: exit %d, %s%s", code, out, errOut)
	}
	if got := admin.Requests(); len(got) != 1 || !strings.Contains(got[0], "include_eds=true") {
		t.Errorf("pc eds fetched %q", got)
	}
	if _, help, _ := run(t, "", "pc", "--help"); strings.Contains(help, "eds ") && !strings.Contains(help, "ecds") {
		t.Errorf("eds is not hidden:\n%s", help)
	}
}

// TestErrorsSuggestOnlyOwnFlags: when Kubernetes cannot be used, every command's message
// suggests only flags the command has.
func TestErrorsSuggestOnlyOwnFlags(t *testing.T) {
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := closed.Addr().String()
	closed.Close()
	unreachable := filepath.Join(t.TempDir(), "kubeconfig")
	os.WriteFile(unreachable, []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "http://%s"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`, addr)), 0o600)
	commands := [][]string{
		{"pc", "cluster", "web-1"},
		{"pc", "log", "web-1"},
		{"pc", "rootca-compare", "web-1", "web-2"},
		{"ps"},
		{"ps", "web-1.shop"},
		{"version", "web-1"},
		{"version", "--remote"},
	}
	flagRE := regexp.MustCompile(`(?:^|[\s(,;])(--[a-z][a-z-]*|-[a-zA-Z])\b`)
	for _, env := range []string{filepath.Join(t.TempDir(), "missing"), unreachable} {
		for _, args := range commands {
			t.Run(filepath.Base(env)+" "+strings.Join(args, " "), func(t *testing.T) {
				t.Setenv("KUBECONFIG", env)
				code, _, errOut := run(t, "", append(args, "--timeout", "5s")...)
				if code == 0 || !strings.HasPrefix(errOut, "error: ") {
					t.Fatalf("exit %d, %q", code, errOut)
				}
				cmd, _, err := NewRootCommand(Streams{}).Find(args)
				if err != nil {
					t.Fatal(err)
				}
				for _, m := range flagRE.FindAllStringSubmatch(errOut, -1) {
					flag := m[1]
					var found bool
					if strings.HasPrefix(flag, "--") {
						found = cmd.Flags().Lookup(flag[2:]) != nil || cmd.InheritedFlags().Lookup(flag[2:]) != nil
					} else {
						found = cmd.Flags().ShorthandLookup(flag[1:]) != nil || cmd.InheritedFlags().ShorthandLookup(flag[1:]) != nil
					}
					if !found {
						t.Errorf("%s suggests %s, which %s lacks: %q", cmd.CommandPath(), flag, cmd.Name(), errOut)
					}
				}
			})
		}
	}
}
