# ferry — moves signed container images through environments the GitOps way.
SHELL := bash
.DEFAULT_GOAL := help

GO        ?= go
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
TOOLS     := $(CURDIR)/.tools
TOOLS_BIN := $(TOOLS)/bin
export FERRY_TOOLS_DIR := $(TOOLS_BIN)

KUSTOMIZE_VERSION   := v5.8.2
CRANE_VERSION       := v0.22.1
GITEA_VERSION       := v1.26.0
STATICCHECK_VERSION := v0.8.2
FUZZTIME            ?= 10s

.PHONY: help build tools test lint bench bench-go demo fuzz docs clean

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sort | awk 'BEGIN{FS=":.*## "}{printf "  %-10s %s\n", $$1, $$2}'

build: ## build bin/ferry (version injected with -ldflags)
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/ferry ./cmd/ferry

tools: $(TOOLS_BIN)/kustomize $(TOOLS_BIN)/crane $(TOOLS_BIN)/gitea ## install the pinned test tools into .tools/

$(TOOLS_BIN)/kustomize:
	GOBIN=$(TOOLS_BIN) $(GO) install sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION)

$(TOOLS_BIN)/crane:
	GOBIN=$(TOOLS_BIN) $(GO) install github.com/google/go-containerregistry/cmd/crane@$(CRANE_VERSION)

# Gitea for the pull-request tests: built from its module (go install refuses its replace
# directives); keeps the source tree next to the binary as gitea-src (its STATIC_ROOT_PATH).
$(TOOLS_BIN)/gitea:
	GO=$(GO) GITEA_VERSION=$(GITEA_VERSION) ./scripts/build-gitea.sh $(TOOLS_BIN)

test: tools ## run every test with the race detector
	$(GO) test -race -count=1 ./...

lint: ## gofmt, go vet and staticcheck (pinned)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

fuzz: ## run each fuzz target for FUZZTIME
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; done

bench: $(TOOLS_BIN)/kustomize $(TOOLS_BIN)/crane ## side-by-side benchmarks (ferry against crane, kustomize…); writes docs/benchmarks.md
	./scripts/bench.sh

bench-go: ## the in-process Go micro-benchmarks (go test -bench)
	$(GO) test -run '^$$' -bench . -benchmem ./...

demo: build ## the main job on an embedded default
	@./scripts/demo.sh ./bin/ferry

docs: ## regenerate docs/cli.md from the CLI definition
	$(GO) run ./cmd/ferry docs --out docs/cli.md

clean: ## remove build outputs and tools
	rm -rf bin .tools
