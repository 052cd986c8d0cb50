# crmsync: `make help` lists the targets.
SHELL := /bin/bash
GO    ?= go
BIN   := $(CURDIR)/bin

# Pinned tools, installed into ./bin (git-ignored) from the Go module proxy when missing.
TEMPORAL_CLI_VERSION  := v1.5.1
WORKFLOWCHECK_VERSION := v0.6.0
GOLANGCI_LINT_VERSION := v2.15.0

TEMPORAL      := $(BIN)/temporal
WORKFLOWCHECK := $(BIN)/workflowcheck
GOLANGCI_LINT := $(BIN)/golangci-lint

# Tests and the demo find the dev server here.
export TEMPORAL_CLI := $(TEMPORAL)

.DEFAULT_GOAL := help
.PHONY: help build demo bench test test-short lint fmt vet workflowcheck golangci-lint tools ci clean

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[1m%-16s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## build the worker and the starter CLI into bin/
	$(GO) build -o $(BIN)/worker ./worker
	$(GO) build -o $(BIN)/starter ./starter

# The CRM the demo syncs from: hubspot, salesforce, pipedrive or zoho (all simulated).
PROVIDER ?= hubspot

demo: build $(TEMPORAL) ## run the demo (PROVIDER=hubspot|salesforce|pipedrive|zoho): Temporal dev server + Web UI, simulator, worker, schedules (Ctrl-C stops all)
	$(BIN)/starter demo --provider $(PROVIDER) $(DEMO_ARGS)

bench: build $(TEMPORAL) ## run the benchmarks (BENCH_ARGS="--quick --scenarios a,p"; p: every provider's backfill); results in .bench/
	$(GO) run ./internal/bench $(BENCH_ARGS)

test: $(TEMPORAL) ## run the whole suite (real PostgreSQL, real Temporal dev server, the simulator)
	$(GO) test -race -count=1 -timeout 25m ./...

test-short: ## unit tests only (no Temporal dev server)
	$(GO) test -short -count=1 ./...

lint: fmt vet workflowcheck golangci-lint ## every static check CI runs

fmt: ## fail if any file is not gofmt-ed
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet: ## go vet
	$(GO) vet ./...

workflowcheck: $(WORKFLOWCHECK) ## check workflow code for non-determinism
	$(WORKFLOWCHECK) ./workflows/...

golangci-lint: $(GOLANGCI_LINT) ## the curated linters in .golangci.yml
	$(GOLANGCI_LINT) run ./...

tools: $(TEMPORAL) $(WORKFLOWCHECK) $(GOLANGCI_LINT) ## install the pinned tools into bin/

ci: tools lint test ## what .ci/run does

$(TEMPORAL):
	@echo "installing the Temporal CLI $(TEMPORAL_CLI_VERSION) into bin/ (about 5 minutes the first time)"
	GOBIN=$(BIN) $(GO) install github.com/temporalio/cli/cmd/temporal@$(TEMPORAL_CLI_VERSION)

$(WORKFLOWCHECK):
	GOBIN=$(BIN) $(GO) install go.temporal.io/sdk/contrib/tools/workflowcheck@$(WORKFLOWCHECK_VERSION)

$(GOLANGCI_LINT):
	GOBIN=$(BIN) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)

clean: ## remove build output and the demo's working files
	rm -rf $(BIN)/worker $(BIN)/starter .demo
