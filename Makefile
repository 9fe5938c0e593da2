# proxyctl: see README.md and DEVELOPERS.md.
GO      ?= go
BIN     ?= bin/proxyctl
SHARED  ?= ../shared
FUZZTIME ?= 20s

# What `proxyctl version` prints: the nearest tag (else the commit), the commit, the tree state.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null)
TREE    ?= $(shell if [ -z "$$(git status --porcelain 2>/dev/null)" ]; then echo clean; else echo dirty; fi)
BUILDINFO := github.com/proxyctl/proxyctl/internal/buildinfo
LDFLAGS ?= -X $(BUILDINFO).version=$(VERSION) -X $(BUILDINFO).gitCommit=$(COMMIT) -X $(BUILDINFO).gitTreeState=$(TREE)

.PHONY: all build install test conformance e2e bench fuzz lint fmt docs testdata clean

all: build

## build: bin/proxyctl, stamped with its version
build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/proxyctl

## install: proxyctl into $(go env GOBIN), else $(go env GOPATH)/bin, stamped as build stamps it
install:
	$(GO) install -ldflags "$(LDFLAGS)" ./cmd/proxyctl

## test: unit and golden tests (the command CI runs first)
test:
	$(GO) test ./...

## conformance: the reference suites beside the checkout: istioctl's outputs on real dumps,
## Envoy's router_check_tool tests (route-check) and Istio's traffic simulator cases (explain);
## all run, any failing fails
conformance: build
	@rc=0; \
	$(SHARED)/conformance/run ./$(BIN) || rc=1; \
	$(SHARED)/routecheck/run ./$(BIN) || rc=1; \
	$(SHARED)/explain/run ./$(BIN) || rc=1; \
	exit $$rc

## e2e: end-to-end tests against a real kube-apiserver and a kubelet speaking port-forward
e2e:
	hack/e2e/env.sh build
	$(GO) test -tags e2e -count=1 -timeout 20m ./test/e2e/...

## bench: times the binary on 50 MB and 200 MB dumps of two kinds (internal/gendump's, and the
## real-shaped ones of $(SHARED)/bench/gen_big_dump.py), then the Go benchmarks
bench: build
	$(GO) build -o bin/bench-floor ./hack/bench/floor
	$(GO) build -o bin/bench-run ./hack/bench/run
	$(GO) run ./hack/bench -bin ./$(BIN) -floor bin/bench-floor -runner bin/bench-run -shared $(SHARED) -runs 5 -md docs/performance.md
	$(GO) test -run '^$$' -bench . -benchtime 3x ./configdump/ ./formatter/ ./internal/traffic/ ./internal/cli/

## fuzz: each fuzz target for FUZZTIME
fuzz:
	hack/fuzz.sh $(FUZZTIME)

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "run make fmt"; exit 1; }
	$(GO) vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

## docs: regenerate the command reference from the cobra commands
docs:
	$(GO) run ./hack/gendocs docs/reference

## testdata: regenerate the sample dumps under testdata/sample
testdata:
	$(GO) run ./internal/gendump/cmd/gendump -services 1 -o testdata/sample/config_dump.json
	$(GO) run ./internal/gendump/cmd/gendump -services 1 -clusters -o testdata/sample/clusters.json
	for d in server_info certs listeners runtime memory; do $(GO) run ./internal/gendump/cmd/gendump -services 1 -doc $$d -o testdata/sample/$$d.json || exit 1; done
	$(GO) run ./internal/gendump/cmd/gendump -services 1 -doc stats -o testdata/sample/stats.txt

clean:
	rm -rf bin
