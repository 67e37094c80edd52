package listen

import (
	"slices"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/ferryhq/ferry/promote/config"
)

// catalog maps the repositories a webhook may name to ferry.yaml's image names.
type catalog struct {
	byRepo map[string][]string // normalised repository (index.docker.io/library/nginx) → names
	byPath map[string][]string // repository path without host (library/nginx) → names
}

func newCatalog(cfg *config.Config) *catalog {
	c := &catalog{byRepo: map[string][]string{}, byPath: map[string][]string{}}
	for i := range cfg.Images {
		img := &cfg.Images[i]
		r, err := name.NewRepository(img.Repository)
		if err != nil {
			continue // validated at load
		}
		c.byRepo[r.Name()] = append(c.byRepo[r.Name()], img.Name)
		c.byPath[r.RepositoryStr()] = append(c.byPath[r.RepositoryStr()], img.Name)
	}
	return c
}

// images returns the names of the images repo means. The repository is matched with its host
// first; when no image has that host and path, by its path alone, since senders do not always
// know the host clients pull from (Docker Hub names none, a registry behind a proxy names its
// own). A loose match costs at most a cycle that finds nothing new.
func (c *catalog) images(repo string) []string {
	r, err := name.NewRepository(repo)
	if err != nil {
		return nil
	}
	if names := c.byRepo[r.Name()]; len(names) > 0 {
		return slices.Clone(names)
	}
	return slices.Clone(c.byPath[r.RepositoryStr()])
}
