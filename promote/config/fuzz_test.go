package config

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// ignoreLines leaves out what a re-encoding cannot keep: source lines and the file name.
var ignoreLines = cmp.FilterPath(func(p cmp.Path) bool {
	sf, ok := p.Last().(cmp.StructField)
	return ok && (sf.Name() == "Line" || sf.Name() == "File")
}, cmp.Ignore())

// FuzzParse checks that Parse never panics, that every error is a positioned *Error, and that
// a config it accepts, encoded back to YAML, loads again to the same Config.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"testdata/full.yaml", "../../examples/ferry.yaml"} {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(img + "    policy: {semver: ^1}\n" + dev))
	f.Add([]byte("a: &x [*x]\n"))
	f.Add([]byte("images: [&i {name: a}, *i]\nenvironments: [{<<: {name: a, path: a}, source: registry, write: commit}]\n"))
	f.Add([]byte("environments:\n  - {name: a, path: a, source: b, write: commit}\n  - {name: b, path: b, source: a, write: commit}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("ferry.yaml", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "ferry.yaml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		out, err := yaml.Marshal(cfg)
		if err != nil {
			t.Fatalf("encoding a valid config: %v", err)
		}
		again, err := Parse("ferry.yaml", out)
		if err != nil {
			t.Fatalf("a valid config, re-encoded, does not load: %v\n%s", err, out)
		}
		if diff := cmp.Diff(cfg, again, ignoreLines); diff != "" {
			t.Fatalf("re-encoded config differs (-first +again):\n%s\n%s", diff, out)
		}
	})
}

func TestRoundTripFull(t *testing.T) {
	data, err := os.ReadFile("testdata/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Parse("ferry.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Parse("ferry.yaml", out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if diff := cmp.Diff(cfg, again, ignoreLines); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

// TestAliasBomb checks that aliases and merge keys cannot make a small file expensive to
// decode: the decoder stops at its node budget.
func TestAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("images:\n  - &a0 {name: api}\n")
	for i := 1; i <= 12; i++ {
		fmt.Fprintf(&b, "  - &a%d {<<: [", i)
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*a%d", i-1)
		}
		b.WriteString("]}\n")
	}
	_, err := Parse("ferry.yaml", []byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), "the document is too large") {
		t.Fatalf("Parse of an alias bomb: %v, want a too-large error", err)
	}
}
