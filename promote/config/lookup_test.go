package config

import (
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

const lookupYAML = `
images:
  - {name: api, repository: ghcr.io/acme/api, policy: {semver: ^1}, verify: [{key: keys/api.pub}], markers: [flux-system:api]}
  - {name: web, repository: nginx, policy: {semver: ^1}, insecureSkipVerify: true}
  - {name: local, repository: 'localhost:5000/acme/local', policy: {semver: ^1}, insecureSkipVerify: true}
registries:
  - {host: docker.io, requestsPerSecond: 1}
environments:
  - {name: prod, path: envs/prod, source: staging, write: pull-request}
  - {name: staging, path: envs/staging, source: dev, write: pull-request}
  - {name: dev, path: envs/dev, source: registry, write: commit}
  - {name: qa, path: envs/qa, source: dev, write: commit}
  - {name: hotfix, path: envs/hotfix, source: registry, write: commit}
`

func names(envs []Environment) []string {
	var out []string
	for _, e := range envs {
		out = append(out, e.Name)
	}
	return out
}

func TestLookups(t *testing.T) {
	cfg, err := Parse("ferry.yaml", []byte(lookupYAML))
	if err != nil {
		t.Fatal(err)
	}
	imageName := func(i *Image) string {
		if i == nil {
			return "<nil>"
		}
		return i.Name
	}
	for _, tc := range []struct{ ref, want string }{
		{"ghcr.io/acme/api", "api"},
		{"ghcr.io/acme/api:1.4.2", "api"},
		{"ghcr.io/acme/api:1.4.2@sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "api"},
		{"nginx", "web"},
		{"nginx:1.27", "web"},
		{"docker.io/library/nginx", "web"},
		{"index.docker.io/library/nginx:latest", "web"},
		{"localhost:5000/acme/local:2", "local"},
		{"ghcr.io/acme/other", "<nil>"},
		{"Not A Ref", "<nil>"},
	} {
		if got := imageName(cfg.ImageByRepository(tc.ref)); got != tc.want {
			t.Errorf("ImageByRepository(%q) = %s, want %s", tc.ref, got, tc.want)
		}
	}
	if got := imageName(cfg.Image("web")); got != "web" {
		t.Errorf("Image(web) = %s", got)
	}
	if got := imageName(cfg.Image("nope")); got != "<nil>" {
		t.Errorf("Image(nope) = %s", got)
	}
	if got := imageName(cfg.ImageByMarker("flux-system:api")); got != "api" {
		t.Errorf("ImageByMarker = %s", got)
	}
	if got := cfg.Images[1].NormalizedRepository(); got != "index.docker.io/library/nginx" {
		t.Errorf("NormalizedRepository = %s", got)
	}
	if r := cfg.Registry("index.docker.io"); r == nil || r.Host != "docker.io" {
		t.Errorf("Registry(index.docker.io) = %+v, want the docker.io entry", r)
	}
	if r := cfg.Registry("quay.io"); r != nil {
		t.Errorf("Registry(quay.io) = %+v, want nil", r)
	}
	for _, tc := range []struct {
		name string
		got  []string
		want []string
	}{
		{"Ordered", names(cfg.Ordered()), []string{"dev", "staging", "prod", "qa", "hotfix"}},
		{"RegistryFed", names(cfg.RegistryFed()), []string{"dev", "hotfix"}},
		{"Downstream(dev)", names(cfg.Downstream("dev")), []string{"staging", "qa"}},
		{"Downstream(prod)", names(cfg.Downstream("prod")), nil},
	} {
		if diff := cmp.Diff(tc.want, tc.got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}
	prod := cfg.Environment("prod")
	if src := cfg.SourceOf(prod); src == nil || src.Name != "staging" || prod.FromRegistry() {
		t.Errorf("SourceOf(prod) = %v, FromRegistry %v", src, prod.FromRegistry())
	}
	if dev := cfg.Environment("dev"); cfg.SourceOf(dev) != nil || !dev.FromRegistry() {
		t.Errorf("dev: SourceOf = %v, FromRegistry = %v; want nil, true", cfg.SourceOf(dev), dev.FromRegistry())
	}
	if cfg.Environment("nope") != nil {
		t.Errorf("Environment(nope) is not nil")
	}
}

func TestOrderedHandBuiltCycle(t *testing.T) {
	cfg := &Config{Environments: []Environment{{Name: "a", Source: "b"}, {Name: "b", Source: "a"}, {Name: "a", Source: "registry"}}}
	if diff := cmp.Diff([]string{"a", "b", "a"}, names(cfg.Ordered())); diff != "" {
		t.Errorf("Ordered (-want +got):\n%s", diff)
	}
}

func TestEnvVar(t *testing.T) {
	for _, tc := range []struct {
		in   string
		name string
		ok   bool
	}{{"env://KEY", "KEY", true}, {"env://_k1", "_k1", true}, {"env://1K", "", false}, {"keys/a.pub", "", false}, {"env://", "", false}} {
		name, ok := EnvVar(tc.in)
		if name != tc.name || ok != tc.ok {
			t.Errorf("EnvVar(%q) = %q, %v; want %q, %v", tc.in, name, ok, tc.name, tc.ok)
		}
	}
}

func TestCheckFiles(t *testing.T) {
	cfg, err := Parse("ferry.yaml", []byte(`images:
  - name: api
    repository: ghcr.io/acme/api
    policy: {semver: ^1}
    verify:
      - key: keys/api.pub
      - key: env://KEY
      - keyless: {issuer: i, identity: x, trustedRoot: keys/root.json}
      - key: keys/dir
environments:
  - {name: dev, path: envs/dev, source: registry, write: commit}
  - {name: prod, path: envs/prod, source: dev, write: commit}
  - {name: qa, path: envs/qa, source: dev, write: commit}
git:
  signingKey: {ssh: keys/signing}
`))
	if err != nil {
		t.Fatal(err)
	}
	fsys := fstest.MapFS{
		"keys/api.pub":                {Data: []byte("pem")},
		"keys/dir/x":                  {Data: []byte("x")},
		"envs/dev/kustomization.yaml": {Data: []byte("{}")},
		"envs/prod":                   {Data: []byte("a file")},
	}
	err = cfg.CheckFiles(fsys)
	want := "ferry.yaml:8: images[0].verify[2].keyless.trustedRoot: keys/root.json does not exist in the repo\n" +
		"ferry.yaml:9: images[0].verify[3].key: keys/dir is a directory, not a file\n" +
		"ferry.yaml:12: environments[1].path: envs/prod is not a directory\n" +
		"ferry.yaml:13: environments[2].path: envs/qa does not exist in the repo; create the environment's directory or fix the path\n" +
		"ferry.yaml:15: git.signingKey.ssh: keys/signing does not exist in the repo"
	if err == nil {
		t.Fatal("CheckFiles found nothing missing")
	}
	if diff := cmp.Diff(want, err.Error()); diff != "" {
		t.Errorf("CheckFiles (-want +got):\n%s", diff)
	}
	fsys["keys/root.json"] = &fstest.MapFile{Data: []byte("{}")}
	fsys["keys/signing"] = &fstest.MapFile{Data: []byte("k")}
	fsys["envs/qa/a.yaml"] = &fstest.MapFile{Data: []byte("{}")}
	delete(fsys, "envs/prod")
	fsys["envs/prod/a.yaml"] = &fstest.MapFile{Data: []byte("{}")}
	cfg.Images[0].Verify = cfg.Images[0].Verify[:3]
	if err := cfg.CheckFiles(fsys); err != nil {
		t.Errorf("CheckFiles with every file present: %v", err)
	}
}
