//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/proxyctl/proxyctl/internal/istiod/istiodtest"
)

// TestProxyStatusOverXDS: four istiod pods whose HTTP debug port is closed and whose xDS port is
// an in-process gRPC ADS server (TLS with a certificate of the mesh's CA, whose root is in the
// istio-ca-root-cert configmap), reached through real port-forwards. Each server authenticates
// the token it gets as istiod does, with a TokenReview for the audience istio-ca against the
// real apiserver, and wants it of the service account default in the Istio namespace: ps must
// request that token through the TokenRequest API, verify the servers, and print the reference
// table. A user who may not request the token gets one line naming the permission.
func TestProxyStatusOverXDS(t *testing.T) {
	ns := env.NewNamespace(t) // the Istio namespace (-i)
	ctx := ctxFor(t)
	if _, err := env.Client.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ca := istiodtest.NewCA(t, "istiod."+ns+".svc")
	if _, err := env.Client.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "istio-ca-root-cert"}, Data: map[string]string{"root-cert.pem": string(ca.RootPEM)},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	want := "system:serviceaccount:" + ns + ":default"
	authenticate := func(ctx context.Context, token string) error {
		review, err := env.Client.AuthenticationV1().TokenReviews().Create(ctx, &authenticationv1.TokenReview{
			Spec: authenticationv1.TokenReviewSpec{Token: token, Audiences: []string{"istio-ca"}},
		}, metav1.CreateOptions{})
		switch {
		case err != nil:
			return err
		case !review.Status.Authenticated:
			return fmt.Errorf("not authenticated: %s", review.Status.Error)
		case review.Status.User.Username != want:
			return fmt.Errorf("the token is of %s, not %s", review.Status.User.Username, want)
		}
		return nil
	}
	root := env.root
	for i := 1; i <= 4; i++ {
		name := fmt.Sprintf("istiod%d", i)
		fixture, err := os.ReadFile(filepath.Join(root, "testdata", "istiod", "multipilot", name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		srv := istiodtest.NewXDSServer(t, istiodtest.XDSOptions{Syncz: fixture, ID: name, CA: ca, Authenticate: authenticate, Namespace: ns})
		env.CreatePod(t, ns, PodOptions{Name: name, Labels: map[string]string{"app": "istiod"}, Forward: map[int32]string{15012: srv.Addr}})
	}
	golden, err := os.ReadFile(filepath.Join(root, "testdata", "golden", "cli", "ps_multipilot.out"))
	if err != nil {
		t.Fatal(err)
	}
	if ref, err := os.ReadFile(filepath.Join(root, "..", "shared", "reference", "proxy-status", "multiXdsStatusMultiPilot.txt")); err == nil && string(ref) != string(golden) {
		t.Fatalf("the golden file is not the reference table")
	}

	check := func(r Result) {
		t.Helper()
		if r.Code != 0 || r.Stdout != string(golden) {
			t.Fatalf("%s\nwant stdout:\n%s", r, golden)
		}
		var notes []string
		for _, l := range strings.Split(strings.TrimSpace(r.Stderr), "\n") {
			notes = append(notes, l)
		}
		slices.Sort(notes)
		for i, n := range notes {
			w := fmt.Sprintf("note: istiod istiod%d in %s: the HTTP debug port 15014 is closed (nothing is listening there); asking its xDS port 15012 instead", i+1, ns)
			if n != w {
				t.Errorf("stderr line %q, want %q", n, w)
			}
		}
		if len(notes) != 4 {
			t.Errorf("stderr %q: want a note per istiod", r.Stderr)
		}
	}
	// The admin: through the fallback, then with an xDS flag.
	check(Proxyctl(t, "ps", "-i", ns))
	r := Proxyctl(t, "ps", "-i", ns, "--xds-port", "15012")
	if r.Code != 0 || r.Stdout != string(golden) || r.Stderr != "" {
		t.Errorf("%s", r)
	}

	// A user who may find and port-forward to istiod and read the mesh's root, but not request
	// the token.
	reader := []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get"}}}
	env.Grant(t, ns, "e2e-xds-no-token", PodReader, PortForwarder, reader)
	r = ProxyctlWith(t, RunOptions{Kubeconfig: env.WriteImpersonatingKubeconfig(t, "e2e-xds-no-token")}, "ps", "-i", ns, "--xds-port", "15012")
	wantErr := "you may not request a token of serviceaccount default in namespace " + ns
	if r.Code != 1 || r.Stdout != "" || !strings.Contains(r.ErrorLine(), wantErr) || !strings.Contains(r.ErrorLine(), "create serviceaccounts/token") {
		t.Errorf("%s\nwant exit 1 and %q", r, wantErr)
	}
	// Given create on serviceaccounts/token, the same user sees the table.
	tokens := []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"serviceaccounts/token"}, Verbs: []string{"create"}}}
	env.Grant(t, ns, "e2e-xds-token", PodReader, PortForwarder, reader, tokens)
	check(ProxyctlWith(t, RunOptions{Kubeconfig: env.WriteImpersonatingKubeconfig(t, "e2e-xds-token")}, "ps", "-i", ns))
}
