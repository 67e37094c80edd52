package config

import (
	"fmt"
	"io/fs"
	"reflect"
	"slices"
)

// Load reads and validates the config at path in fsys (a config repo's tree, e.g. os.DirFS of
// a checkout). Paths inside the config are relative to fsys's root. Errors are *Error values
// joined with errors.Join, sorted by line; a file that cannot be read is an error wrapping the
// fs error (errors.Is(err, fs.ErrNotExist) works).
func Load(fsys fs.FS, path string) (*Config, error) {
	data, err := fs.ReadFile(fsys, path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return Parse(path, data)
}

// Parse decodes and validates a config, naming it name in errors, and applies the defaults.
// It never returns a partly valid Config: on any error the Config is nil.
func Parse(name string, data []byte) (*Config, error) {
	d := newDecoder(name)
	cfg := &Config{File: name}
	if root := d.parseDocument(data); root != nil {
		d.decode(root, reflect.ValueOf(cfg).Elem(), "")
		if !d.over {
			v := &validator{decoder: d, cfg: cfg}
			v.validate()
		}
	}
	if err := joinErrors(d.errs); err != nil {
		return nil, err
	}
	applyDefaults(cfg, d)
	return cfg, nil
}

// Defaults.
const (
	// DefaultBranch is git.branch when unset.
	DefaultBranch = "main"
	defaultPin    = PinTagDigest
	defaultPart   = PartRef
)

// DefaultAuthor is git.author when unset; git.committer defaults to the author.
var DefaultAuthor = Person{Name: "ferry", Email: "ferry@users.noreply.github.com"}

// applyDefaults fills every default, in this one place. The decoder tells which keys the file
// set, so that per-environment pullRequest keys can be merged over git.pullRequest.
func applyDefaults(cfg *Config, d *decoder) {
	for i := range cfg.Images {
		img := &cfg.Images[i]
		if img.Pin == "" {
			img.Pin = defaultPin
		}
		for j := range img.Fields {
			if img.Fields[j].Part == "" {
				img.Fields[j].Part = defaultPart
			}
		}
	}
	for i := range cfg.Notify {
		if cfg.Notify[i].Format == "" {
			cfg.Notify[i].Format = FormatJSON
		}
	}
	g := &cfg.Git
	if g.Branch == "" {
		g.Branch = DefaultBranch
	}
	if g.Author == (Person{}) {
		g.Author = DefaultAuthor
	}
	if g.Committer == (Person{}) {
		g.Committer = g.Author
	}
	if g.CommitMessage == "" {
		g.CommitMessage = DefaultCommitMessage
	}
	prDefaults(&g.PullRequest)
	prFields := fieldsOf(reflect.TypeOf(PullRequest{}))
	for i := range cfg.Environments {
		env := &cfg.Environments[i]
		if env.Write != WritePullRequest {
			continue // pull-request settings mean nothing to a commit environment
		}
		base := reflect.ValueOf(g.PullRequest)
		own := reflect.ValueOf(&env.PullRequest).Elem()
		prefix := fmt.Sprintf("environments[%d].pullRequest.", i)
		for _, key := range prFields.names {
			if d.has(prefix + key) {
				continue
			}
			f := base.Field(prFields.index[key])
			if f.Kind() == reflect.Slice && !f.IsNil() {
				f = reflect.ValueOf(slices.Clone(f.Interface().([]string)))
			}
			own.Field(prFields.index[key]).Set(f)
		}
		prDefaults(&env.PullRequest)
	}
}

func prDefaults(pr *PullRequest) {
	if pr.Title == "" {
		pr.Title = DefaultTitle
	}
	if pr.Body == "" {
		pr.Body = DefaultBody
	}
}
