package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const lintConfig = `images:
  - name: api
    repository: ghcr.io/acme/api
    policy: {semver: ^1}
    verify:
      - key: keys/api.pub
      - key: env://API_KEY
      - keyless: {issuer: https://issuer.example, identity: me, trustedRoot: keys/root.json}
environments:
  - {name: dev, path: envs/dev, source: registry, write: commit}
  - {name: prod, path: envs/prod, source: dev, write: pull-request}
`

// lintRepo writes a config repo with the given files (a trailing "/" makes a directory).
func lintRepo(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if name[len(name)-1] == '/' {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLint(t *testing.T) {
	complete := map[string]string{
		"ferry.yaml": lintConfig, "keys/api.pub": "pem", "keys/root.json": "{}",
		"envs/dev/": "", "envs/prod/": "",
	}
	with := func(extra map[string]string, drop ...string) map[string]string {
		m := map[string]string{}
		for k, v := range complete {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		for _, k := range drop {
			delete(m, k)
		}
		return m
	}
	elsewhere := t.TempDir()
	absConfig := filepath.Join(elsewhere, "ferry.yaml")
	if err := os.WriteFile(absConfig, []byte(lintConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		files     map[string]string
		args      []string
		wantCode  int
		wantOut   string
		wantErr   string
		errPrefix bool
	}{{
		name: "ok", files: complete, wantOut: "ferry.yaml: ok\n",
	}, {
		name: "ok with a config in a subdirectory", files: with(map[string]string{"deploy/ferry.yaml": lintConfig}, "ferry.yaml"),
		args: []string{"--config", "./deploy/ferry.yaml"}, wantOut: "deploy/ferry.yaml: ok\n",
	}, {
		name: "absolute config names a local file", files: with(nil, "ferry.yaml"),
		args: []string{"--config", absConfig}, wantOut: absConfig + ": ok\n",
	}, {
		name: "missing files", files: with(map[string]string{"envs/prod": "not a dir"}, "keys/root.json", "envs/prod/"),
		wantCode: 1,
		wantErr: "ferry.yaml:8: images[0].verify[2].keyless.trustedRoot: keys/root.json does not exist in the repo\n" +
			"ferry.yaml:11: environments[1].path: envs/prod is not a directory\n" +
			"ferry.yaml: 2 problems\n",
	}, {
		name: "invalid config", files: with(map[string]string{"ferry.yaml": lintConfig + "git: {branch: main, brnach: x}\n"}),
		wantCode: 1,
		wantErr:  "ferry.yaml:12: git.brnach: unknown key; did you mean \"branch\"?\nferry.yaml: 1 problem\n",
	}, {
		name: "no config", files: with(nil, "ferry.yaml"), wantCode: 1,
		wantErr: "ferry: reading ferry.yaml: open ferry.yaml: no such file or directory; is --repo ", errPrefix: true,
	}, {
		name: "remote repo is a usage error", files: complete, args: []string{"--repo", "https://github.com/acme/config"}, wantCode: 2,
		wantErr: `ferry: --repo "https://github.com/acme/config": lint reads a local checkout, not a remote; clone it first or run lint inside it` + "\n",
	}, {
		name: "scp-like repo is a usage error", files: complete, args: []string{"--repo", "git@github.com:acme/config.git"}, wantCode: 2,
		wantErr: `ferry: --repo "git@github.com:acme/config.git": lint reads a local checkout`, errPrefix: true,
	}, {
		name: "config outside the repo", files: complete, args: []string{"--config", "../ferry.yaml"}, wantCode: 2,
		wantErr: `ferry: --config "../ferry.yaml": a relative path names a file inside the repo; use an absolute path for a file elsewhere` + "\n",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := lintRepo(t, tc.files)
			args := append([]string{"lint", "--repo", dir}, tc.args...)
			code, out, errOut := runCLI(t, args...)
			if tc.errPrefix && len(errOut) > len(tc.wantErr) {
				errOut = errOut[:len(tc.wantErr)]
			}
			if diff := cmp.Diff([]any{tc.wantCode, tc.wantOut, tc.wantErr}, []any{code, out, errOut}); diff != "" {
				t.Errorf("ferry %v (-want +got):\n%s", args, diff)
			}
		})
	}
}

// TestLintExample lints the example config against a repo laid out as it describes.
func TestLintExample(t *testing.T) {
	data, err := os.ReadFile("../../examples/ferry.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := lintRepo(t, map[string]string{
		"ferry.yaml": string(data), "keys/api.pub": "pem",
		"envs/dev/": "", "envs/staging/": "", "envs/prod/": "",
	})
	code, out, errOut := runCLI(t, "lint", "--repo", dir)
	if code != 0 || out != "ferry.yaml: ok\n" {
		t.Errorf("lint of examples/ferry.yaml: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}
