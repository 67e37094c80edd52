// Package config loads and validates ferry.yaml, the file at the root of a config repo that
// names the images ferry moves, how each is picked and verified, and the environments they move
// through.
//
// Decoding is strict and works on the YAML node tree, so every error names the file, the line
// and the key path, for example
//
//	ferry.yaml:14: images[0].policy: two policy kinds (semver and numerical); choose one
//
// Every problem in a file is reported, not only the first: [Parse] and [Load] return the
// [*Error] values joined with errors.Join, sorted by line. Each matches [ErrInvalid] with
// errors.Is.
//
// Validation happens at load: unknown keys, wrong types, regular expressions, semver
// constraints, globs, templates, image references, paths (relative, inside the repo, environment
// paths not nested in one another), environment sources (every source names the registry or an
// environment, and they form no cycle). What needs the repo's files (that key files, trusted
// roots and environment directories exist) is checked separately by [Config.CheckFiles], so that
// the pipeline can load a config before it has a checkout.
//
// Defaults are applied in one place after validation: pin tag+digest, fields[].part ref,
// git.branch [DefaultBranch], git.author [DefaultAuthor], the committer equal to the author,
// git.commitMessage [DefaultCommitMessage], notify[].format json, pullRequest.title [DefaultTitle] and body
// [DefaultBody], and, for write: pull-request environments, their own pullRequest keys merged
// key by key over git.pullRequest (lists replace). write: commit environments get no
// pull-request settings.
//
// Templates see [TemplateData]; render them with [Config.RenderCommitMessage],
// [Environment.RenderTitle] and [Environment.RenderBody].
//
// Values of the form env://VAR (keys, signing keys, notify URLs, which must be env://) are kept as references: only their syntax is
// checked here; the pipeline reads the variable when it needs the value, so secrets never sit in
// a Config.
//
// The package does no network I/O and knows nothing of Git. docs/config.md is the user's
// reference for every key.
package config
