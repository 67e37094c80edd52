package manifests

import (
	"bytes"
	"hash/maphash"
	"sync"
)

// ParseCache remembers parsed files by path and content, so that runs over trees that share
// files (Find, then Plan on the same tip; one environment's Plan after another's commit left
// its files alone) parse each file once. Parsed files are never modified, so one may serve
// several runs, concurrently too. The zero value is ready to use; a nil *ParseCache caches
// nothing.
type ParseCache struct {
	mu   sync.Mutex
	seed maphash.Seed
	m    map[uint64][]*yfile
}

func (c *ParseCache) key(p string, src []byte) uint64 {
	var h maphash.Hash
	h.SetSeed(c.seed)
	h.WriteString(p)
	h.WriteByte(0)
	h.Write(src)
	return h.Sum64()
}

func (c *ParseCache) get(p string, src []byte) *yfile {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		return nil
	}
	for _, f := range c.m[c.key(p, src)] {
		if f.path == p && bytes.Equal(f.src, src) {
			return f
		}
	}
	return nil
}

func (c *ParseCache) put(f *yfile) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.seed, c.m = maphash.MakeSeed(), map[uint64][]*yfile{}
	}
	k := c.key(f.path, f.src)
	c.m[k] = append(c.m[k], f)
}

// parseCached is parseYAML through the run's cache.
func (r *run) parseCached(p string, src []byte) (*yfile, error) {
	if f := r.preparsed[p]; f != nil && bytes.Equal(f.src, src) {
		return f, nil
	}
	if f := r.cache.get(p, src); f != nil {
		return f, nil
	}
	f, err := parseYAML(p, src)
	if err == nil {
		r.cache.put(f)
	}
	return f, err
}
