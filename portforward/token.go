package portforward

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// CreateToken asks the API server for a token of service account sa in namespace ns, for
// audiences, valid for the given time (the TokenRequest API: POST
// /api/v1/namespaces/NS/serviceaccounts/SA/token, what `kubectl create token` does). It returns
// the token and when it expires. Errors never contain the token.
func (k *Kube) CreateToken(ctx context.Context, ns, sa string, audiences []string, valid time.Duration) (string, time.Time, error) {
	seconds := int64(valid / time.Second)
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{Audiences: audiences, ExpirationSeconds: &seconds}}
	out := &authenticationv1.TokenRequest{}
	what := fmt.Sprintf("serviceaccount %s in namespace %s", sa, ns)
	err := k.core.Post().Namespace(ns).Resource("serviceaccounts").Name(sa).SubResource("token").Body(req).Do(ctx).Into(out)
	switch {
	case err == nil:
	case apierrors.IsNotFound(err):
		return "", time.Time{}, errorf(ErrNotFound, "requesting a token of %s: it does not exist", what)
	case apierrors.IsForbidden(err):
		return "", time.Time{}, errorf(ErrForbidden, "you may not request a token of %s (%s); ask for RBAC access to create serviceaccounts/token there", what, err)
	default:
		return "", time.Time{}, tokenAPIError(err, what)
	}
	if out.Status.Token == "" {
		return "", time.Time{}, fmt.Errorf("requesting a token of %s: the API server answered without a token", what)
	}
	return out.Status.Token, out.Status.ExpirationTimestamp.Time, nil
}

func tokenAPIError(err error, what string) error {
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		return fmt.Errorf("cannot reach the Kubernetes API server at %s: %w; check --context and --kubeconfig", urlHost(urlErr.URL), urlErr.Err)
	}
	if apierrors.IsUnauthorized(err) {
		return fmt.Errorf("the API server did not accept your credentials requesting a token of %s: %w; check --kubeconfig and --context", what, err)
	}
	return fmt.Errorf("requesting a token of %s: %w", what, err)
}

// GetConfigMap reads a config map.
func (k *Kube) GetConfigMap(ctx context.Context, ns, name string) (*corev1.ConfigMap, error) {
	cm := &corev1.ConfigMap{}
	if err := k.core.Get().Namespace(ns).Resource("configmaps").Name(name).Do(ctx).Into(cm); err != nil {
		return nil, k.apiError(err, fmt.Sprintf("configmap %s in namespace %s", name, ns), "configmaps")
	}
	return cm, nil
}
