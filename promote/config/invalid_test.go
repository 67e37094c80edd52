package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// img is a valid image entry to vary; env lines are valid environments.
const (
	img = "images:\n  - name: api\n    repository: ghcr.io/acme/api\n    verify: [{key: keys/api.pub}]\n"
	dev = "environments:\n  - {name: dev, path: envs/dev, source: registry, write: commit}\n"
)

func TestParseInvalid(t *testing.T) {
	for _, tc := range []struct {
		name string
		yaml string
		want []string
	}{{
		name: "empty file",
		yaml: "",
		want: []string{"ferry.yaml: the file is empty; see docs/config.md for the keys it needs"},
	}, {
		name: "syntax error",
		yaml: "images:\n  - name: [api\n",
		want: []string{"ferry.yaml:2: invalid YAML: did not find expected ',' or ']'"},
	}, {
		name: "two documents",
		yaml: "git: {branch: main}\n---\ngit: {branch: dev}\n",
		want: []string{"ferry.yaml:2: more than one YAML document; ferry.yaml holds exactly one"},
	}, {
		name: "top level is a list",
		yaml: "- a\n",
		want: []string{"ferry.yaml:1: want a mapping, got a list"},
	}, {
		name: "unknown top-level key",
		yaml: "imagez: []\n",
		want: []string{`ferry.yaml:1: imagez: unknown key; did you mean "images"?`},
	}, {
		name: "unknown key lists the known ones",
		yaml: img + "    policy: {semver: ^1}\n    frobnicate: true\n",
		want: []string{"ferry.yaml:6: images[0].frobnicate: unknown key; want one of name, repository, policy, tags, platforms, verify, insecureSkipVerify, pin, markers, fields"},
	}, {
		name: "duplicate key",
		yaml: img + "    policy: {semver: ^1}\n    pin: tag\n    pin: digest\n",
		want: []string{"ferry.yaml:7: images[0].pin: duplicate key (first at line 6)"},
	}, {
		name: "wrong types",
		yaml: img + "    policy: {semver: ^1}\n    insecureSkipVerify: \"yes\"\n    platforms: linux/amd64\n    markers: [{a: b}]\n" +
			"registries: [{host: quay.io, requestsPerSecond: fast}]\n",
		want: []string{
			`ferry.yaml:6: images[0].insecureSkipVerify: want true or false, got string "yes"`,
			`ferry.yaml:7: images[0].platforms: want a list, got string "linux/amd64"`,
			"ferry.yaml:8: images[0].markers[0]: want a string, got a mapping",
			`ferry.yaml:9: registries[0].requestsPerSecond: want a number, got string "fast"`,
		},
	}, {
		name: "boolean for a string",
		yaml: img + "    policy: {semver: ^1}\n    pin: true\n",
		want: []string{"ferry.yaml:6: images[0].pin: want a string, got boolean true; quote it if you mean the text"},
	}, {
		name: "missing policy",
		yaml: img,
		want: []string{"ferry.yaml:2: images[0].policy: missing; set exactly one of semver, numerical, alphabetical, newestBuild or digest"},
	}, {
		name: "policy with no kind",
		yaml: img + "    policy: {prerelease: true}\n",
		want: []string{"ferry.yaml:5: images[0].policy: no policy kind; set exactly one of semver, numerical, alphabetical, newestBuild or digest"},
	}, {
		name: "two policy kinds",
		yaml: img + "    policy:\n      semver: ^1\n      numerical: asc\n",
		want: []string{"ferry.yaml:5: images[0].policy: two policy kinds (semver and numerical); choose one"},
	}, {
		name: "three policy kinds",
		yaml: img + "    policy: {semver: ^1, newestBuild: {}, digest: latest}\n",
		want: []string{"ferry.yaml:5: images[0].policy: three policy kinds (semver, newestBuild and digest); choose one"},
	}, {
		name: "bad semver",
		yaml: img + "    policy: {semver: '>=banana'}\n",
		want: []string{`ferry.yaml:5: images[0].policy.semver: ">=banana" is not a semver constraint: improper constraint: ">=banana"`},
	}, {
		name: "empty semver",
		yaml: img + "    policy: {semver: ''}\n",
		want: []string{`ferry.yaml:5: images[0].policy.semver: empty; write a constraint like ">=1.2.0 <2.0.0"`},
	}, {
		name: "numerical order",
		yaml: img + "    policy: {numerical: up}\n",
		want: []string{`ferry.yaml:5: images[0].policy.numerical: "up" is not an order; want asc or desc`},
	}, {
		name: "alphabetical order",
		yaml: img + "    policy: {alphabetical: ASC}\n",
		want: []string{`ferry.yaml:5: images[0].policy.alphabetical: "ASC" is not an order; want asc or desc`},
	}, {
		name: "newestBuild takes no options",
		yaml: img + "    policy: {newestBuild: {since: 1d}}\n",
		want: []string{`ferry.yaml:5: images[0].policy.newestBuild.since: unknown key; want one of `},
	}, {
		name: "digest policy needs a tag",
		yaml: img + "    policy: {digest: 'not a tag'}\n",
		want: []string{`ferry.yaml:5: images[0].policy.digest: "not a tag" is not a tag; name the mutable tag to follow, e.g. latest`},
	}, {
		name: "prerelease outside semver",
		yaml: img + "    policy: {numerical: asc, prerelease: true}\n",
		want: []string{"ferry.yaml:5: images[0].policy.prerelease: applies to semver policies only"},
	}, {
		name: "bad allow regexp and ignore glob",
		yaml: img + "    policy: {semver: ^1}\n    tags:\n      allow: '^(v'\n      ignore: ['ok-*', '[x']\n",
		want: []string{
			"ferry.yaml:7: images[0].tags.allow: not a valid regular expression: error parsing regexp: missing closing ): `^(v`",
			`ferry.yaml:8: images[0].tags.ignore[1]: "[x" is not a valid glob: syntax error in pattern`,
		},
	}, {
		name: "bad platform",
		yaml: img + "    policy: {semver: ^1}\n    platforms: [linux, linux/amd64, linux/amd64]\n",
		want: []string{
			`ferry.yaml:6: images[0].platforms[0]: "linux" is not a platform: want 2 or 3 parts separated by /; write os/arch or os/arch/variant, e.g. linux/arm64/v8`,
			`ferry.yaml:6: images[0].platforms[2]: duplicate platform "linux/amd64"`,
		},
	}, {
		name: "neither verify nor insecureSkipVerify",
		yaml: "images:\n  - name: api\n    repository: ghcr.io/acme/api\n    policy: {semver: ^1}\n",
		want: []string{"ferry.yaml:2: images[0]: no verify entries: add a key or keyless entry, or set insecureSkipVerify: true to accept unverified images"},
	}, {
		name: "empty verify list",
		yaml: "images:\n  - name: api\n    repository: ghcr.io/acme/api\n    policy: {semver: ^1}\n    verify: []\n",
		want: []string{"ferry.yaml:5: images[0].verify: no verify entries: add a key or keyless entry, or set insecureSkipVerify: true to accept unverified images"},
	}, {
		name: "verify and insecureSkipVerify",
		yaml: img + "    policy: {semver: ^1}\n    insecureSkipVerify: true\n",
		want: []string{"ferry.yaml:6: images[0].insecureSkipVerify: true while verify entries are listed; remove one or the other"},
	}, {
		name: "verify entry with both and neither",
		yaml: "images:\n  - name: api\n    repository: ghcr.io/acme/api\n    policy: {semver: ^1}\n    verify:\n" +
			"      - key: k.pub\n        keyless: {issuer: i, identity: x}\n      - requireTlog: true\n",
		want: []string{
			"ferry.yaml:6: images[0].verify[0]: both key and keyless; an entry is one or the other (list two entries to accept either)",
			"ferry.yaml:8: images[0].verify[1]: neither key nor keyless; set one",
		},
	}, {
		name: "attestations: bad predicate type, regexp, severity, unknown key, limits on provenance",
		yaml: "images:\n  - name: api\n    repository: ghcr.io/acme/api\n    policy: {semver: ^1}\n    verify:\n" +
			"      - key: k.pub\n        attestations:\n" +
			"          - predicateType: slsa\n" +
			"          - predicateType: slsaprovenance1\n            match:\n              buildDefinition.externalParameters.workflow.ref: /^refs/(heads/main$/\n              a..b: x\n" +
			"            maxSeverity: low\n" +
			"          - predicateType: vuln\n            maxSeverity: severe\n            maxAge: 1week\n            scanner: trivy\n" +
			"          - {}\n",
		want: []string{
			`ferry.yaml:8: images[0].verify[0].attestations[0].predicateType: predicate type "slsa" is neither a URI nor one of cosign's names (custom, cyclonedx, link, openvex, slsaprovenance, slsaprovenance02, slsaprovenance1, spdx, spdxjson, vuln)`,
			`ferry.yaml:11: images[0].verify[0].attestations[1].match.buildDefinition.externalParameters.workflow.ref: "/^refs/(heads/main$/" is not a valid regular expression: error parsing regexp: missing closing ): ` + "`^refs/(heads/main$`",
			`ferry.yaml:12: images[0].verify[0].attestations[1].match.a..b: "a..b" is not a dotted path into the predicate like buildDefinition.externalParameters.workflow.ref`,
			"ferry.yaml:13: images[0].verify[0].attestations[1].maxSeverity: applies to vulnerability attestations (vuln, https://cosign.sigstore.dev/attestation/vuln/v1), not https://slsa.dev/provenance/v1",
			`ferry.yaml:15: images[0].verify[0].attestations[2].maxSeverity: severity "severe" is not one of none, low, medium, high, critical`,
			`ferry.yaml:16: images[0].verify[0].attestations[2].maxAge: "1week" is not a duration; write it like 24h, 90m or 1h30m`,
			"ferry.yaml:17: images[0].verify[0].attestations[2].scanner: unknown key; want one of predicateType, match, maxSeverity, maxAge",
			"ferry.yaml:18: images[0].verify[0].attestations[3].predicateType: missing; a URI such as https://slsa.dev/provenance/v1, or slsaprovenance1, vuln, …",
		},
	}, {
		name: "attestation match is not a mapping, and a value is a list",
		yaml: "images:\n  - name: api\n    repository: ghcr.io/acme/api\n    policy: {semver: ^1}\n    verify:\n" +
			"      - key: k.pub\n        attestations:\n" +
			"          - {predicateType: custom, match: [a, b]}\n" +
			"          - {predicateType: custom, match: {a: [1]}}\n",
		want: []string{
			"ferry.yaml:8: images[0].verify[0].attestations[0].match: want a mapping of dotted predicate paths to values, got a list",
			"ferry.yaml:9: images[0].verify[0].attestations[1].match.a: want a string, got a list",
		},
	}, {
		name: "keyless without issuer or identity",
		yaml: "images:\n  - name: api\n    repository: ghcr.io/acme/api\n    policy: {semver: ^1}\n    verify:\n" +
			"      - keyless: {trustedRoot: root.json}\n",
		want: []string{
			"ferry.yaml:6: images[0].verify[0].keyless: neither issuer nor issuerRegexp; set one to the OIDC issuer, e.g. https://token.actions.githubusercontent.com",
			"ferry.yaml:6: images[0].verify[0].keyless: neither identity nor identityRegexp; set one to the certificate identity, e.g. ^https://github.com/acme/api/",
		},
	}, {
		name: "keyless with both forms and bad regexps",
		yaml: "images:\n  - name: api\n    repository: ghcr.io/acme/api\n    policy: {semver: ^1}\n    verify:\n" +
			"      - keyless:\n          issuer: a\n          issuerRegexp: b\n          identityRegexp: '(('\n      - keyless: {issuerRegexp: '[', identity: x}\n        requireTlog: true\n",
		want: []string{
			"ferry.yaml:6: images[0].verify[0].keyless: both issuer and issuerRegexp; set one",
			"ferry.yaml:9: images[0].verify[0].keyless.identityRegexp: not a valid regular expression: error parsing regexp: missing closing ): `((`",
			"ferry.yaml:10: images[0].verify[1].keyless.issuerRegexp: not a valid regular expression: error parsing regexp: missing closing ]: `[`",
			"ferry.yaml:11: images[0].verify[1].requireTlog: applies to key entries; keyless entries require the log unless keyless.insecureIgnoreTlog is true",
		},
	}, {
		name: "key paths",
		yaml: "images:\n  - name: api\n    repository: ghcr.io/acme/api\n    policy: {semver: ^1}\n    verify:\n" +
			"      - key: /etc/cosign.pub\n      - key: ../outside.pub\n      - key: env://1BAD\n      - key: awskms://alias/x\n" +
			"      - keyless: {issuer: i, identity: x, trustedRoot: keys/../../root.json}\n",
		want: []string{
			`ferry.yaml:6: images[0].verify[0].key: "/etc/cosign.pub" is absolute; write it relative to the repo root`,
			`ferry.yaml:7: images[0].verify[1].key: "../outside.pub" escapes the repo root; paths stay inside the config repo`,
			`ferry.yaml:8: images[0].verify[2].key: "env://1BAD": env:// must be followed by an environment variable name, e.g. env://COSIGN_PUBLIC_KEY`,
			`ferry.yaml:9: images[0].verify[3].key: "awskms://alias/x": want a path in the repo or env://VAR`,
			`ferry.yaml:10: images[0].verify[4].keyless.trustedRoot: "keys/../../root.json" escapes the repo root; paths stay inside the config repo`,
		},
	}, {
		name: "pin",
		yaml: img + "    policy: {semver: ^1}\n    pin: sha\n",
		want: []string{`ferry.yaml:6: images[0].pin: "sha" is not a pin; want tag+digest, digest or tag`},
	}, {
		name: "fields",
		yaml: img + "    policy: {semver: ^1}\n    fields:\n      - {path: a..b, part: version, files: '[x'}\n      - {part: tag}\n",
		want: []string{
			`ferry.yaml:7: images[0].fields[0].path: "a..b" is not a dotted path of keys like app.image.tag`,
			`ferry.yaml:7: images[0].fields[0].part: "version" is not a part; want ref, name, tag or digest`,
			`ferry.yaml:7: images[0].fields[0].files: "[x" is not a valid glob: syntax error in pattern`,
			"ferry.yaml:8: images[0].fields[1].path: missing; write a dotted path like app.image.tag",
		},
	}, {
		name: "image name and repository",
		yaml: "images:\n  - {repository: 'ghcr.io/acme/api:1.0', policy: {semver: ^1}, insecureSkipVerify: true}\n" +
			"  - {name: 'a b', repository: ghcr.io/Acme/api, policy: {semver: ^1}, insecureSkipVerify: true}\n",
		want: []string{
			"ferry.yaml:2: images[0].name: missing; give the image a name, used in markers, messages and branches",
			`ferry.yaml:2: images[0].repository: "ghcr.io/acme/api:1.0" is not an image repository; write the repository without a tag or digest: repository can only contain the characters ` + "`abcdefghijklmnopqrstuvwxyz0123456789_-./`: acme/api:1.0",
			`ferry.yaml:3: images[1].name: "a b" cannot be used in a branch name (ferry/<env>/<image>): it must not contain ' '`,
			"ferry.yaml:3: images[1].repository: \"ghcr.io/Acme/api\" is not an image repository: repository can only contain the characters `abcdefghijklmnopqrstuvwxyz0123456789_-./`: Acme/api",
		},
	}, {
		name: "duplicate image names, repositories and markers",
		yaml: "images:\n  - {name: web, repository: nginx, policy: {semver: ^1}, insecureSkipVerify: true, markers: [ns:web]}\n" +
			"  - {name: web, repository: docker.io/library/nginx, policy: {semver: ^1}, insecureSkipVerify: true, markers: [ns:web]}\n",
		want: []string{
			`ferry.yaml:3: images[1].name: duplicate image name "web" (first at line 2)`,
			"ferry.yaml:3: images[1].repository: repository index.docker.io/library/nginx is already named by the image at line 2; one image per repository",
			`ferry.yaml:3: images[1].markers[0]: marker "ns:web" is already used at line 2; a marker names one image`,
		},
	}, {
		name: "registries",
		yaml: "registries:\n  - {host: 'https://quay.io', tokenEnv: env://TOKEN}\n  - {host: docker.io, requestsPerSecond: -1}\n  - {host: index.docker.io}\n  - {insecure: true}\n",
		want: []string{
			`ferry.yaml:2: registries[0].host: "https://quay.io": write the host without a scheme (insecure: true allows plain HTTP)`,
			`ferry.yaml:2: registries[0].tokenEnv: "env://TOKEN" is not an environment variable name (write the name alone, without env:// or $)`,
			"ferry.yaml:3: registries[1].requestsPerSecond: -1 is negative; leave it out (or 0) for no limit",
			"ferry.yaml:4: registries[2].host: duplicate registry index.docker.io (first at line 3)",
			"ferry.yaml:5: registries[3].host: missing; set the registry host, e.g. registry.internal:5000",
		},
	}, {
		name: "environment names",
		yaml: "environments:\n  - {name: dev, path: a, source: registry, write: commit}\n  - {name: dev, path: b, source: registry, write: commit}\n" +
			"  - {name: registry, path: c, source: registry, write: commit}\n  - {name: 'my env', path: d, source: registry, write: commit}\n" +
			"  - {name: x.lock, path: e, source: registry, write: commit}\n  - {path: f, source: registry, write: commit}\n",
		want: []string{
			`ferry.yaml:3: environments[1].name: duplicate environment name "dev" (first at line 2)`,
			`ferry.yaml:4: environments[2].name: "registry" is reserved for source: registry; choose another name`,
			`ferry.yaml:5: environments[3].name: "my env" cannot be used in a branch name (ferry/<env>/…): it must not contain ' '`,
			`ferry.yaml:6: environments[4].name: "x.lock" cannot be used in a branch name (ferry/<env>/…): it must not end with . or .lock`,
			"ferry.yaml:7: environments[5].name: missing; give the environment a name",
		},
	}, {
		name: "environment fields missing",
		yaml: "environments:\n  - name: dev\n",
		want: []string{
			"ferry.yaml:2: environments[0].path: missing; set the environment path, relative to the repo root",
			"ferry.yaml:2: environments[0].write: missing; set commit or pull-request",
			"ferry.yaml:2: environments[0].source: missing; set registry or the name of another environment",
		},
	}, {
		name: "source names nothing",
		yaml: "environments:\n  - {name: dev, path: envs/dev, source: registy, write: commit}\n",
		want: []string{`ferry.yaml:2: environments[0].source: "registy" names no environment; want registry or one of dev`},
	}, {
		name: "source names itself",
		yaml: "environments:\n  - {name: dev, path: envs/dev, source: dev, write: commit}\n",
		want: []string{`ferry.yaml:2: environments[0].source: "dev" names the environment itself`},
	}, {
		name: "cycle of two",
		yaml: dev + "  - {name: staging, path: envs/staging, source: prod, write: commit}\n  - {name: prod, path: envs/prod, source: staging, write: commit}\n",
		want: []string{"ferry.yaml:3: environments[1].source: sources form a cycle: staging -> prod -> staging; one environment in it must have source: registry"},
	}, {
		name: "cycle of three",
		yaml: "environments:\n  - {name: a, path: a, source: c, write: commit}\n  - {name: b, path: b, source: a, write: commit}\n" +
			"  - {name: c, path: c, source: b, write: commit}\n  - {name: d, path: d, source: c, write: commit}\n",
		want: []string{"ferry.yaml:2: environments[0].source: sources form a cycle: a -> c -> b -> a; one environment in it must have source: registry"},
	}, {
		name: "write mode",
		yaml: "environments:\n  - {name: dev, path: envs/dev, source: registry, write: push}\n",
		want: []string{`ferry.yaml:2: environments[0].write: "push" is not a write mode; want commit or pull-request`},
	}, {
		name: "paths",
		yaml: "environments:\n  - {name: a, path: /srv/envs/a, source: registry, write: commit}\n  - {name: b, path: envs/../../b, source: registry, write: commit}\n" +
			"  - {name: c, path: envs, source: registry, write: commit}\n  - {name: d, path: envs/d, source: registry, write: commit}\n  - {name: e, path: ./envs/, source: registry, write: commit}\n",
		want: []string{
			`ferry.yaml:2: environments[0].path: "/srv/envs/a" is absolute; write it relative to the repo root`,
			`ferry.yaml:3: environments[1].path: "envs/../../b" escapes the repo root; paths stay inside the config repo`,
			`ferry.yaml:5: environments[3].path: envs/d is inside environment "c"'s path envs (line 4); environment paths must not nest`,
			`ferry.yaml:6: environments[4].path: envs is also the path of environment "c" (line 4); each environment needs its own directory`,
		},
	}, {
		name: "gates",
		yaml: dev + "  - {name: prod, path: envs/prod, source: dev, write: commit, gates: {soak: 1 day}}\n" +
			"  - {name: qa, path: envs/qa, source: dev, write: commit, gates: {soak: -1h}}\n" +
			"  - {name: perf, path: envs/perf, source: registry, write: commit, gates: {soak: 1h}}\n",
		want: []string{
			`ferry.yaml:3: environments[1].gates.soak: "1 day" is not a duration; write it like 24h, 90m or 1h30m`,
			"ferry.yaml:4: environments[2].gates.soak: -1h0m0s is not a positive duration; write it like 24h",
			"ferry.yaml:5: environments[3].gates.soak: set on an environment fed from the registry; soak counts time in a source environment, so it needs source: <environment>",
		},
	}, {
		name: "pullRequest on a commit environment",
		yaml: "environments:\n  - name: dev\n    path: envs/dev\n    source: registry\n    write: commit\n    pullRequest: {labels: [x]}\n",
		want: []string{"ferry.yaml:6: environments[0].pullRequest: set on an environment with write: commit; it applies to write: pull-request only"},
	}, {
		name: "git",
		yaml: "git:\n  branch: 'feature..x'\n  author: ferry\n  committer: <a@b>\n  commitMessage: '{{ .Env }}'\n  signingKey: {gpg: k, ssh: /k}\n",
		want: []string{
			`ferry.yaml:2: git.branch: "feature..x" is not a valid branch name: it must not contain .. or @{`,
			`ferry.yaml:3: git.author: "ferry" is not "Name <email>"`,
			`ferry.yaml:4: git.committer: "<a@b>" has no name before <email>`,
			`ferry.yaml:5: git.commitMessage: not a valid template: template: git.commitMessage:1:3: executing "git.commitMessage" at <.Env>: can't evaluate field Env in type config.TemplateData`,
			"ferry.yaml:6: git.signingKey: both gpg and ssh; set one",
		},
	}, {
		name: "signing key",
		yaml: "git:\n  signingKey:\n    ssh: ../id_ed25519\n",
		want: []string{`ferry.yaml:3: git.signingKey.ssh: "../id_ed25519" escapes the repo root; paths stay inside the config repo`},
	}, {
		name: "empty signing key",
		yaml: "git:\n  signingKey: {}\n",
		want: []string{"ferry.yaml:2: git.signingKey: neither gpg nor ssh; set one, or remove signingKey to leave commits unsigned"},
	}, {
		name: "pull request settings",
		yaml: "git:\n  pullRequest:\n    provider: bitbucket\n    url: ftp://x\n    title: '{{ .Source'\n    labels: ['']\n" +
			"environments:\n  - {name: prod, path: p, source: registry, write: pull-request, pullRequest: {url: 'https://u:p@h/api', body: '{{ .Changes.X }}'}}\n",
		want: []string{
			`ferry.yaml:3: git.pullRequest.provider: "bitbucket" is not a provider; want github, gitlab or gitea (or leave it out to infer it from the remote)`,
			`ferry.yaml:4: git.pullRequest.url: "ftp://x" is not an http(s) URL of the forge's API (and holds no credentials)`,
			`ferry.yaml:5: git.pullRequest.title: not a valid template: template: git.pullRequest.title:1: unclosed action`,
			"ferry.yaml:6: git.pullRequest.labels[0]: empty",
			`ferry.yaml:8: environments[0].pullRequest.url: "https://u:p@h/api" is not an http(s) URL of the forge's API (and holds no credentials)`,
			`ferry.yaml:8: environments[0].pullRequest.body: not a valid template: template: environments[0].pullRequest.body:1:11: executing "environments[0].pullRequest.body" at <.Changes.X>: can't evaluate field X in type []config.TemplateChange`,
		},
	}, {
		name: "notify entries",
		yaml: img + "    policy: {semver: ^1}\n" + dev +
			"notify:\n  - {url: 'https://hooks.slack.com/services/T/B/X', format: slack}\n" +
			"  - url: env://1BAD\n    format: teams\n    on: [commit, deploy, commit]\n" +
			"  - {format: json, frequency: 1}\n",
		want: []string{
			"ferry.yaml:9: notify[0].url: want env://VAR naming the variable that holds the webhook URL (the URL is a secret: keep it out of ferry.yaml)",
			"ferry.yaml:10: notify[1].url: want env://VAR naming the variable that holds the webhook URL (the URL is a secret: keep it out of ferry.yaml)",
			`ferry.yaml:11: notify[1].format: "teams" is not a format; want slack or json`,
			`ferry.yaml:12: notify[1].on[1]: "deploy" is not an event; want commit, pull-request, refused or rollback`,
			`ferry.yaml:12: notify[1].on[2]: "commit" listed twice`,
			"ferry.yaml:13: notify[2].frequency: unknown key; want one of ",
			"ferry.yaml:13: notify[2].url: missing; set env://VAR, the variable holding the webhook URL",
		},
	}, {
		name: "errors sorted by line across sections",
		yaml: "environments:\n  - {name: dev, path: /abs, source: registry, write: commit}\n" +
			"images:\n  - {name: api, repository: ghcr.io/acme/api, policy: {semver: '=>>1'}, insecureSkipVerify: true}\n",
		want: []string{
			`ferry.yaml:2: environments[0].path: "/abs" is absolute; write it relative to the repo root`,
			`ferry.yaml:4: images[0].policy.semver: "=>>1" is not a semver constraint: improper constraint: "=>>1"`,
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse("ferry.yaml", []byte(tc.yaml))
			if err == nil {
				t.Fatalf("Parse succeeded, want errors:\n%s", strings.Join(tc.want, "\n"))
			}
			if cfg != nil {
				t.Errorf("Parse returned a Config with its error")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("errors.Is(err, ErrInvalid) = false for %v", err)
			}
			got := strings.Split(err.Error(), "\n")
			// An "unknown key" listing is checked by its start only.
			for i := range got {
				if i < len(tc.want) && strings.HasSuffix(tc.want[i], "want one of ") && strings.HasPrefix(got[i], tc.want[i]) {
					got[i] = tc.want[i]
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestErrorFields(t *testing.T) {
	_, err := Parse("repo/ferry.yaml", []byte(img+"    policy: {semver: '>=banana'}\n"))
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v is not an *Error", err)
	}
	want := &Error{File: "repo/ferry.yaml", Line: 5, Path: "images[0].policy.semver", Msg: `">=banana" is not a semver constraint: improper constraint: ">=banana"`}
	if diff := cmp.Diff(want, e, cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Err" }, cmp.Ignore())); diff != "" {
		t.Errorf("Error (-want +got):\n%s", diff)
	}
	if e.Err == nil {
		t.Errorf("Error.Err is nil; want the semver error")
	}
}
