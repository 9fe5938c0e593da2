// Package e2e holds the end-to-end tests of proxyctl against a real kube-apiserver and a fake
// kubelet that speaks the kubelet's port-forward protocol (hack/e2e). The tests carry the build
// tag e2e:
//
//	hack/e2e/env.sh build && go test -tags e2e ./test/e2e/...
//
// TestMain brings the environment up and tears it down; to iterate quickly, start one by hand
// (hack/e2e/env.sh up), run the tests against it with E2E_DIR=<its directory>, and stop it with
// hack/e2e/env.sh down. hack/e2e/README.md describes the identities and pod annotations.
package e2e
