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
COSIGN_VERSION      := v2.6.5
GITEA_VERSION       := v1.26.0
STATICCHECK_VERSION := v0.8.2
FUZZTIME            ?= 10s

.PHONY: help build tools test lint bench bench-go bench-bump demo fuzz stress docs clean release image

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sort | awk 'BEGIN{FS=":.*## "}{printf "  %-10s %s\n", $$1, $$2}'

build: ## build bin/ferry (version injected with -ldflags)
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/ferry ./cmd/ferry

tools: tools-apt $(TOOLS_BIN)/kustomize $(TOOLS_BIN)/crane $(TOOLS_BIN)/cosign $(TOOLS_BIN)/gitea ## install the pinned test tools into .tools/

# System tools the tests run: sshd (SSH remotes), ssh-keygen/ssh-agent (keys, SSH signatures),
# gpg (GPG signatures), git, chromium (headless, renders ferry history's HTML page). Installed with apt only when one is missing, so a warm machine
# pays nothing; installing needs root.
APT_PACKAGES := openssh-server openssh-client gnupg git chromium
APT_COMMANDS := /usr/sbin/sshd ssh-keygen ssh-agent gpg git chromium
.PHONY: tools-apt
tools-apt: ## install sshd, ssh-keygen, ssh-agent, gpg, git, chromium with apt-get when missing (needs root)
	@missing=; for c in $(APT_COMMANDS); do \
	  command -v $$c >/dev/null 2>&1 || missing="$$missing $$c"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	echo "missing:$$missing; installing $(APT_PACKAGES) with apt-get"; \
	if [ "$$(id -u)" != 0 ]; then \
	  echo "error: installing $(APT_PACKAGES) needs root: run as root, or install them yourself (apt-get install -y --no-install-recommends $(APT_PACKAGES))" >&2; exit 1; fi; \
	if ! command -v apt-get >/dev/null 2>&1; then \
	  echo "error: no apt-get: install$$missing (packages $(APT_PACKAGES) on Debian) yourself" >&2; exit 1; fi; \
	export DEBIAN_FRONTEND=noninteractive; \
	apt-get update -q && apt-get install -y -q --no-install-recommends $(APT_PACKAGES)

$(TOOLS_BIN)/kustomize:
	GOBIN=$(TOOLS_BIN) $(GO) install sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION)

$(TOOLS_BIN)/crane:
	GOBIN=$(TOOLS_BIN) $(GO) install github.com/google/go-containerregistry/cmd/crane@$(CRANE_VERSION)

# The cosign CLI signs and attests images in registry/cosign_cli_test.go, so that the verifier is
# checked against what the real tool writes.
$(TOOLS_BIN)/cosign:
	GOBIN=$(TOOLS_BIN) $(GO) install github.com/sigstore/cosign/v2/cmd/cosign@$(COSIGN_VERSION)

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

# Fuzz targets are found by grepping the test files (listing them with go test -list would
# build every package's tests first); a crasher lands in testdata/fuzz/, commit it.
fuzz: ## run each fuzz target for FUZZTIME (a duration, or Nx executions; CI: 100000x)
	@set -e; for dir in $$(grep -rl --include='*_test.go' --exclude-dir=.tools '^func Fuzz' . | xargs -n1 dirname | sort -u); do \
	  for f in $$(grep -h '^func Fuzz' $$dir/*_test.go | sed 's/^func \(Fuzz[A-Za-z0-9_]*\).*/\1/'); do \
	    echo "fuzz $$dir $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$dir; \
	  done; done

stress: tools ## the reliability suite's long form (FERRY_STRESS=1: more rounds, seeds and kill points)
	FERRY_STRESS=1 $(GO) test -count=1 -timeout 60m -v ./internal/reliability/

bench: $(TOOLS_BIN)/kustomize $(TOOLS_BIN)/crane ## side-by-side benchmarks (ferry against crane, kustomize, the git CLI…); writes docs/benchmarks.md
	./scripts/bench.sh

bench-go: ## the in-process Go micro-benchmarks (go test -bench)
	$(GO) test -run '^$$' -bench . -benchmem ./...

bench-bump: ## only the Git write-back section of make bench (ferry bump against the git CLI)
	./scripts/bench.sh bump

demo: build ## the main job end to end on loopback: registry, signed images, config repo (ferry demo)
	@./bin/ferry demo

docs: ## regenerate docs/cli.md from the CLI definition
	$(GO) run ./cmd/ferry docs --out docs/cli.md

clean: ## remove build outputs and tools
	rm -rf bin dist .tools

# Releases: the tag without its v is the version (1.2.0); off a tag, GoReleaser makes a
# snapshot version and `make image` uses git describe's. Both take their times from the commit.
SOURCE_URL   := https://github.com/ferryhq/ferry
COMMIT       := $(shell git rev-parse HEAD 2>/dev/null)
COMMIT_TIME  := $(shell git log -1 --format=%ct 2>/dev/null)
RELEASE_TAG  := $(shell git describe --exact-match --tags --match 'v*' HEAD 2>/dev/null)
IMAGE_VERSION ?= $(patsubst v%,%,$(VERSION))
IMAGE_PLATFORMS := linux/amd64 linux/arm64
GORELEASER   := $(GO) tool -modfile=tools/go.mod goreleaser
# GoReleaser reads the commit and its time with git and gives up on all of it when the repo has
# no remote (a local clone does); name the source repo for it then.
NO_REMOTE_ENV = $(if $(shell git remote 2>/dev/null),,GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=remote.origin.url GIT_CONFIG_VALUE_0=$(SOURCE_URL))

release: ## archives (linux, darwin × amd64, arm64), checksums.txt and CycloneDX SBOMs into dist/ (GoReleaser; offline, publishes nothing)
	$(NO_REMOTE_ENV) GOMODCACHE="$$($(GO) env GOMODCACHE)" GOCACHE="$$($(GO) env GOCACHE)" \
	  $(GORELEASER) release --clean --skip=publish,announce $(if $(RELEASE_TAG),,--snapshot)
	@ls -l dist/*.tar.gz dist/*.cdx.json dist/checksums.txt

image: ## ferry's own image (linux/amd64, linux/arm64) from scratch: an OCI layout in dist/image/oci, or PUSH=REF to push it
	@set -e; for p in $(IMAGE_PLATFORMS); do \
	  echo "go build $$p"; \
	  CGO_ENABLED=0 GOOS=$${p%/*} GOARCH=$${p#*/} $(GO) build -trimpath \
	    -ldflags '-s -w -buildid= -X main.version=$(IMAGE_VERSION)' -o dist/image/bin/$${p/\//_}/ferry ./cmd/ferry; \
	done
	$(GO) run ./internal/imagebuild/cmd/ferry-image \
	  $(foreach p,$(IMAGE_PLATFORMS),--binary $(p)=dist/image/bin/$(subst /,_,$(p))/ferry) \
	  --version '$(IMAGE_VERSION)' --revision '$(COMMIT)' --created '$(COMMIT_TIME)' --source '$(SOURCE_URL)' \
	  $(if $(PUSH),--push '$(PUSH)',--out dist/image/oci)
