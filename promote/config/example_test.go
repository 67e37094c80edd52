package config_test

import (
	"fmt"
	"testing/fstest"

	"github.com/ferryhq/ferry/promote/config"
)

func ExampleLoad() {
	repo := fstest.MapFS{"ferry.yaml": {Data: []byte(`
images:
  - name: api
    repository: ghcr.io/acme/api
    policy: {semver: ">=1.2.0 <2.0.0"}
    verify: [{key: keys/api.pub}]
environments:
  - {name: dev, path: envs/dev, source: registry, write: commit}
  - {name: prod, path: envs/prod, source: dev, write: pull-request}
`)}}
	cfg, err := config.Load(repo, "ferry.yaml")
	if err != nil {
		fmt.Println(err)
		return
	}
	img := cfg.ImageByRepository("ghcr.io/acme/api:1.4.2")
	fmt.Println(img.Name, img.Policy.Kind(), img.Pin)
	for _, env := range cfg.Ordered() {
		fmt.Println(env.Name, "from", env.Source, "by", env.Write)
	}
	title, _ := cfg.Environment("prod").RenderTitle(config.TemplateData{Environment: "prod", Source: "dev"})
	fmt.Println(title)
	// Output:
	// api semver tag+digest
	// dev from registry by commit
	// prod from dev by pull-request
	// Promote dev to prod
}

func ExampleParse_errors() {
	_, err := config.Parse("ferry.yaml", []byte(`images:
  - name: api
    repository: ghcr.io/acme/api
    policy: {semver: ^1, numerical: asc}
environments:
  - {name: dev, path: ../dev, source: staging, write: commit}
`))
	fmt.Println(err)
	// Output:
	// ferry.yaml:2: images[0]: no verify entries: add a key or keyless entry, or set insecureSkipVerify: true to accept unverified images
	// ferry.yaml:4: images[0].policy: two policy kinds (semver and numerical); choose one
	// ferry.yaml:6: environments[0].path: "../dev" escapes the repo root; paths stay inside the config repo
	// ferry.yaml:6: environments[0].source: "staging" names no environment; want registry or one of dev
}
