package config

import (
	"github.com/google/go-containerregistry/pkg/name"
)

// Image returns the image named name, or nil.
func (c *Config) Image(imageName string) *Image {
	for i := range c.Images {
		if c.Images[i].Name == imageName {
			return &c.Images[i]
		}
	}
	return nil
}

// ImageByRepository returns the image whose repository is ref's, or nil. ref may be a
// repository or a full reference (a tag or digest is ignored); matching is by normalised
// repository, so nginx, docker.io/library/nginx and index.docker.io/library/nginx:1.27 all
// match an image with repository nginx.
func (c *Config) ImageByRepository(ref string) *Image {
	want, ok := normalizeRepository(ref)
	if !ok {
		return nil
	}
	for i := range c.Images {
		if got, ok := normalizeRepository(c.Images[i].Repository); ok && got == want {
			return &c.Images[i]
		}
	}
	return nil
}

// normalizeRepository returns the normalised repository of a repository or reference.
func normalizeRepository(s string) (string, bool) {
	if r, err := name.NewRepository(s); err == nil {
		return r.Name(), true
	}
	if r, err := name.ParseReference(s); err == nil {
		return r.Context().Name(), true
	}
	return "", false
}

// ImageByMarker returns the image a Flux $imagepolicy marker name ("namespace:name") means
// through an image's markers list, or nil. $ferry markers name images directly: use Image.
func (c *Config) ImageByMarker(marker string) *Image {
	for i := range c.Images {
		for _, m := range c.Images[i].Markers {
			if m == marker {
				return &c.Images[i]
			}
		}
	}
	return nil
}

// Registry returns the registries entry for a host (docker.io and index.docker.io are the
// same host), or nil.
func (c *Config) Registry(host string) *Registry {
	want, err := name.NewRegistry(host)
	if err != nil {
		return nil
	}
	for i := range c.Registries {
		if got, err := name.NewRegistry(c.Registries[i].Host); err == nil && got.RegistryStr() == want.RegistryStr() {
			return &c.Registries[i]
		}
	}
	return nil
}

// Environment returns the environment named name, or nil.
func (c *Config) Environment(envName string) *Environment {
	for i := range c.Environments {
		if c.Environments[i].Name == envName {
			return &c.Environments[i]
		}
	}
	return nil
}

// SourceOf returns the environment e gets its images from, or nil when e is fed from the
// registry.
func (c *Config) SourceOf(e *Environment) *Environment {
	if e.FromRegistry() {
		return nil
	}
	return c.Environment(e.Source)
}

// RegistryFed returns the environments with source: registry, in file order: those bump and
// watch write.
func (c *Config) RegistryFed() []Environment {
	var out []Environment
	for _, e := range c.Environments {
		if e.FromRegistry() {
			out = append(out, e)
		}
	}
	return out
}

// Downstream returns the environments whose source is the named environment, in file order.
func (c *Config) Downstream(envName string) []Environment {
	var out []Environment
	for _, e := range c.Environments {
		if e.Source == envName && !e.FromRegistry() {
			out = append(out, e)
		}
	}
	return out
}

// Ordered returns the environments in promotion order: every environment after its source;
// among those whose source is already placed, the one earliest in the file goes first. A
// loaded Config has no cycles.
func (c *Config) Ordered() []Environment {
	out := make([]Environment, 0, len(c.Environments))
	done := make([]bool, len(c.Environments))
	placed := map[string]bool{SourceRegistry: true}
	for len(out) < len(c.Environments) {
		progress := false
		for i, e := range c.Environments {
			if !done[i] && placed[e.Source] {
				out = append(out, e)
				done[i], placed[e.Name], progress = true, true, true
				break // rescan: the earliest ready environment in the file goes next
			}
		}
		if !progress { // only a hand-built Config with a cycle or a dangling source gets here
			for i, e := range c.Environments {
				if !done[i] {
					out = append(out, e)
					done[i] = true
				}
			}
		}
	}
	return out
}
