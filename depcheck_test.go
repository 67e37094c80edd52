package ferry_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestDependencyDirection keeps the data flow one way: cmd → promote → {registry, policy,
// manifests}. policy and manifests stay pure (no network, no disk I/O), registry knows
// nothing of environments.
func TestDependencyDirection(t *testing.T) {
	const mod = "github.com/ferryhq/ferry/"
	forbidden := map[string][]string{
		"policy":    {"registry", "manifests", "promote", "cmd"},
		"manifests": {"registry", "policy", "promote", "cmd"},
		"registry":  {"manifests", "promote", "cmd"},
		"promote":   {"cmd"},
	}
	netPkgs := []string{"net/http", "net", "github.com/google/go-containerregistry/pkg/v1/remote", "github.com/go-git/go-git/v5"}
	// The pure packages' own (non-test) imports: no network and no disk. They read through an
	// fs.FS and return what to write; the caller writes (cmd/ferry through internal/atomicfile,
	// promote into Git trees).
	pureBans := []string{"net", "net/http", "os", "os/exec", "io/ioutil", "path/filepath"}
	for _, pkg := range []string{"policy", "manifests"} {
		out, err := exec.Command("go", "list", "-f", `{{join .Imports " "}}`, "./"+pkg+"/...").CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", pkg, err, out)
		}
		for _, d := range strings.Fields(string(out)) {
			if slices.Contains(pureBans, d) {
				t.Errorf("%s is pure and must not import %s", pkg, d)
			}
		}
	}
	for pkg, bad := range forbidden {
		out, err := exec.Command("go", "list", "-deps", "./"+pkg+"/...").CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", pkg, err, out)
		}
		deps := strings.Fields(string(out))
		for _, d := range deps {
			for _, b := range bad {
				if d == mod+b || strings.HasPrefix(d, mod+b+"/") {
					t.Errorf("%s must not import %s", pkg, d)
				}
			}
			if pkg == "registry" && strings.HasPrefix(d, "github.com/prometheus/") {
				t.Errorf("registry must not import %s: it exposes WithRequestObserver, and promote/listen counts", d)
			}
			if pkg == "policy" || pkg == "manifests" {
				for _, n := range netPkgs {
					// net and net/http arrive transitively through kyaml and
					// go-containerregistry's pkg/name (validation helpers); the pure packages
					// must not import them directly (checked below).
					if d == n && n != "net" && n != "net/http" {
						t.Errorf("%s is pure and must not import %s", pkg, d)
					}
				}
			}
		}
	}
}
