package portforward

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/proxyctl/proxyctl/internal/kubetest"
)

func kubeFor(t *testing.T, api *kubetest.Server) *Kube {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", api.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	k, err := NewKube(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestCreateToken(t *testing.T) {
	api := kubetest.NewServer(t)
	api.AddServiceAccount("istio-system", "default", "the-token")
	k := kubeFor(t, api)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	token, expires, err := k.CreateToken(ctx, "istio-system", "default", []string{"istio-ca"}, time.Hour)
	if err != nil || token != "the-token" || time.Until(expires) < 50*time.Minute {
		t.Fatalf("token %q, expires %v, err %v", token, expires, err)
	}
	reqs := api.TokenRequests()
	if len(reqs) != 1 || !reflect.DeepEqual(reqs[0].Audiences, []string{"istio-ca"}) || *reqs[0].ExpirationSeconds != 3600 {
		t.Errorf("requests %+v", reqs)
	}
	_, _, err = k.CreateToken(ctx, "istio-system", "missing", []string{"istio-ca"}, time.Hour)
	if !errors.Is(err, ErrNotFound) || err.Error() != "requesting a token of serviceaccount missing in namespace istio-system: it does not exist" {
		t.Errorf("missing service account: %v", err)
	}
}

func TestGetConfigMap(t *testing.T) {
	api := kubetest.NewServer(t)
	api.AddConfigMap("istio-system", "istio-ca-root-cert", map[string]string{"root-cert.pem": "PEM"})
	k := kubeFor(t, api)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cm, err := k.GetConfigMap(ctx, "istio-system", "istio-ca-root-cert")
	if err != nil || cm.Data["root-cert.pem"] != "PEM" {
		t.Fatalf("configmap %+v, err %v", cm, err)
	}
	_, err = k.GetConfigMap(ctx, "istio-system", "nope")
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "configmap nope in namespace istio-system not found") {
		t.Errorf("missing configmap: %v", err)
	}
}
