//go:build tools

// This file pins the modules the packages are being built on, so that `go mod tidy` keeps them
// while the packages that import them are written. It is never compiled.
package testenv

import (
	_ "code.gitea.io/sdk/gitea"
	_ "github.com/Masterminds/semver/v3"
	_ "github.com/bradleyfalzon/ghinstallation/v2"
	_ "github.com/go-git/go-git/v5"
	_ "github.com/google/go-cmp/cmp"
	_ "github.com/google/go-containerregistry/pkg/authn"
	_ "github.com/google/go-containerregistry/pkg/registry"
	_ "github.com/google/go-containerregistry/pkg/v1/random"
	_ "github.com/google/go-containerregistry/pkg/v1/remote"
	_ "github.com/google/go-github/v84/github"
	_ "github.com/sigstore/cosign/v2/pkg/cosign"
	_ "github.com/sigstore/cosign/v2/pkg/oci/remote"
	_ "github.com/sigstore/cosign/v2/pkg/signature"
	_ "github.com/sigstore/sigstore-go/pkg/verify"
	_ "github.com/urfave/cli/v2"
	_ "gitlab.com/gitlab-org/api/client-go"
	_ "sigs.k8s.io/kustomize/kyaml/kio"
	_ "sigs.k8s.io/kustomize/kyaml/yaml"
)
