package cli

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/proxyctl/proxyctl/internal/kubetest"
)

// TestAdminPortByMesh reaches a pod of each mesh, shaped as its injector shapes it, through a
// port-forward to the admin port the pod says: only that port reaches the Envoy stand-in, so a
// view works only when the right port is picked. When it is not 15000, stderr says which and
// why.
func TestAdminPortByMesh(t *testing.T) {
	_, fromFile, _ := run(t, "", "pc", "cluster", "-f", sampleDump)
	for _, mp := range kubetest.MeshPods() {
		t.Run(mp.Name, func(t *testing.T) {
			admin, _ := startAdmin(t)
			srv := httptest.NewServer(admin)
			defer srv.Close()
			port := mp.AdminPort
			if port == 0 {
				port = 15000
			}
			spec := mp.Pod.Spec
			api := kubetest.NewServer(t, kubetest.Pod{Name: "web-1", Namespace: "mesh", Labels: mp.Pod.Labels, Annotations: mp.Pod.Annotations,
				Spec: &spec, Forward: map[int32]string{int32(port): strings.TrimPrefix(srv.URL, "http://")}})
			code, out, errOut := run(t, "", "pc", "cluster", "web-1.mesh", "--kubeconfig", api.Kubeconfig)
			if mp.AdminPort == 0 {
				if code != ExitRuntime || !strings.Contains(errOut, "has no istio-proxy container and no container port 15000") ||
					!strings.Contains(errOut, "--proxy-admin-port") {
					t.Errorf("a pod without Envoy: exit %d, %q", code, errOut)
				}
				// Named, its port works.
				code, out, errOut = run(t, "", "pc", "cluster", "web-1.mesh", "--kubeconfig", api.Kubeconfig, "--proxy-admin-port", "15000")
				if code != 0 || out != fromFile || errOut != "" {
					t.Errorf("--proxy-admin-port 15000: exit %d, stderr %q", code, errOut)
				}
				return
			}
			if code != 0 || out != fromFile {
				t.Fatalf("exit %d, stderr %q\n%s", code, errOut, out)
			}
			switch {
			case mp.AdminPort == 15000 && len(mp.OtherAdminPorts) == 0:
				if errOut != "" {
					t.Errorf("stderr %q, want nothing for port 15000", errOut)
				}
			default:
				want := fmt.Sprintf("note: using Envoy admin port %d of pod web-1 in namespace mesh: ", mp.AdminPort)
				if !strings.HasPrefix(errOut, want) || strings.Count(errOut, "\n") != 1 || (mp.Mesh != "" && !strings.Contains(errOut, mp.Mesh+" Envoy (")) {
					t.Errorf("stderr %q, want one line %q... naming %q", errOut, want, mp.Mesh)
				}
				for _, other := range mp.OtherAdminPorts {
					if !strings.Contains(errOut, fmt.Sprint(other)) {
						t.Errorf("stderr %q does not name the other admin port %d", errOut, other)
					}
				}
			}
			// --proxy-admin-port wins over what the pod says.
			code, _, errOut = run(t, "", "pc", "cluster", "web-1.mesh", "--kubeconfig", api.Kubeconfig, "--proxy-admin-port", "1", "--timeout", "5s")
			if code != ExitRuntime || !strings.Contains(errOut, "port 1 ") || !strings.Contains(errOut, "pod web-1 in namespace mesh") {
				t.Errorf("--proxy-admin-port 1: exit %d, %q", code, errOut)
			}
		})
	}
}
