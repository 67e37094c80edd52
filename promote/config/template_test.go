package config

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRenderDefaults(t *testing.T) {
	cfg, err := Parse("ferry.yaml", []byte(`
environments:
  - {name: dev, path: envs/dev, source: registry, write: pull-request}
  - {name: prod, path: envs/prod, source: dev, write: pull-request}
`))
	if err != nil {
		t.Fatal(err)
	}
	changes := []TemplateChange{
		{Image: "api", Repository: "ghcr.io/acme/api", From: "1.2.0", To: "1.3.0", Digest: "sha256:aa", Signer: "keys/api.pub"},
		{Image: "docs", Repository: "nginx", To: "1.27", Digest: "sha256:bb", Unverified: true},
	}
	for _, tc := range []struct {
		name                string
		env                 string
		source              string
		commit, title, body string
	}{{
		name: "registry", env: "dev", source: "registry",
		commit: "dev: update api, docs\n\n- api: 1.2.0 -> 1.3.0\n- docs: (none) -> 1.27 (unverified)",
		title:  "Update api, docs in dev",
		body: "ferry updates **dev** from the registry.\n\n" +
			"| image | from | to | digest | signed by |\n| --- | --- | --- | --- | --- |\n" +
			"| api | 1.2.0 | 1.3.0 | sha256:aa | keys/api.pub |\n" +
			"| docs | (none) | 1.27 | sha256:bb | **unverified** (insecureSkipVerify) |",
	}, {
		name: "promotion", env: "prod", source: "dev",
		commit: "prod: update api, docs from dev\n\n- api: 1.2.0 -> 1.3.0\n- docs: (none) -> 1.27 (unverified)",
		title:  "Promote dev to prod",
		body: "ferry promotes **dev** to **prod**.\n\n" +
			"| image | from | to | digest | signed by |\n| --- | --- | --- | --- | --- |\n" +
			"| api | 1.2.0 | 1.3.0 | sha256:aa | keys/api.pub |\n" +
			"| docs | (none) | 1.27 | sha256:bb | **unverified** (insecureSkipVerify) |",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			data := TemplateData{Environment: tc.env, Source: tc.source, Changes: changes}
			env := cfg.Environment(tc.env)
			var got [3]string
			var errs [3]error
			got[0], errs[0] = cfg.RenderCommitMessage(data)
			got[1], errs[1] = env.RenderTitle(data)
			got[2], errs[2] = env.RenderBody(data)
			for _, err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			if diff := cmp.Diff([3]string{tc.commit, tc.title, tc.body}, got); diff != "" {
				t.Errorf("rendered (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRenderConfigured(t *testing.T) {
	cfg, err := Parse("ferry.yaml", []byte(`
environments:
  - name: prod
    path: envs/prod
    source: registry
    write: pull-request
    pullRequest:
      title: |
        [{{ .Environment }}]
        {{ len .Changes }} change(s)
      body: "{{ range .Changes }}* {{ .Repository }}@{{ .Digest }}\n{{ end }}"
git:
  commitMessage: "{{ .Environment }}: {{ range .Changes }}{{ .Image }} {{ .From }} -> {{ .To }} {{ end }}"
`))
	if err != nil {
		t.Fatal(err)
	}
	data := TemplateData{Environment: "prod", Source: "registry", Changes: []TemplateChange{
		{Image: "api", Repository: "ghcr.io/acme/api", From: "1", To: "2", Digest: "sha256:aa"},
	}}
	env := cfg.Environment("prod")
	commit, err := cfg.RenderCommitMessage(data)
	if err != nil {
		t.Fatal(err)
	}
	title, err := env.RenderTitle(data)
	if err != nil {
		t.Fatal(err)
	}
	body, err := env.RenderBody(data)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"prod: api 1 -> 2", "[prod] 1 change(s)", "* ghcr.io/acme/api@sha256:aa"}
	if diff := cmp.Diff(want, []string{commit, title, body}); diff != "" {
		t.Errorf("rendered (-want +got):\n%s", diff)
	}
}

func TestRenderErrorOnHandBuiltConfig(t *testing.T) {
	cfg := &Config{Git: Git{CommitMessage: "{{ .Nope }}"}}
	if _, err := cfg.RenderCommitMessage(TemplateData{}); err == nil {
		t.Fatal("rendering a template with an unknown field succeeded")
	}
}
