package reliability

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ferryhq/ferry/registry/registrytest"
)

// outcome is what a faulted run may leave on main.
type outcome int

const (
	wholeOrNothing outcome = iota // either is fine, never anything in between
	allWritten                    // the faults were absorbed: every image at 1.1.0
	nothingWritten                // the faults must stop the run from writing
)

func kindIs(k registrytest.Kind) func(*http.Request) bool {
	return func(r *http.Request) bool { return registrytest.Classify(r) == k }
}

func isSignature(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, ".sig") }

func isBlobGet(r *http.Request) bool { return registrytest.Classify(r) == registrytest.BlobGet }

// signatureOf matches requests for the cosign signature tag of digest.
func signatureOf(digest string) func(*http.Request) bool {
	tag := strings.Replace(digest, ":", "-", 1) + ".sig"
	return func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/"+tag) }
}

// TestRegistryFaults runs `ferry watch` and `ferry bump` through a registry that answers 5xx,
// 429 with Retry-After, resets connections, stalls, trickles, truncates and corrupts bodies.
// Every run finishes (exit 0, 1 or 3, never a panic or a hang); main is either untouched or
// gains whole commits whose trailers match their changes; no commit ever writes a digest
// without a signature; faults during signature fetches refuse rather than pass; and a clean
// re-run reaches the intended state.
func TestRegistryFaults(t *testing.T) {
	type tc struct {
		name  string
		args  []string // after the command; default: watch
		setup func(w *world, p *faultProxy)
		codes []int
		want  outcome
		// stdout must contain this (e.g. a skip reason).
		stdout string
	}
	watch := []string{"watch"}
	cases := []tc{
		{name: "503 twice on manifests", setup: func(w *world, _ *faultProxy) {
			w.reg.Inject(registrytest.ManifestGet, registrytest.Fault{Status: 503}, registrytest.Fault{Status: 503})
			w.reg.Inject(registrytest.ManifestHead, registrytest.Fault{Status: 502})
		}, codes: []int{0}, want: allWritten},
		{name: "429 with Retry-After on tag lists", setup: func(w *world, _ *faultProxy) {
			w.reg.Inject(registrytest.TagList, registrytest.Fault{Status: 429, RetryAfter: "1"}, registrytest.Fault{Status: 429, RetryAfter: "1"})
		}, codes: []int{0}, want: allWritten},
		{name: "connection resets", setup: func(w *world, _ *faultProxy) {
			w.reg.Inject(registrytest.ManifestHead, registrytest.Fault{Reset: true}, registrytest.Fault{Reset: true})
			w.reg.Inject(registrytest.TagList, registrytest.Fault{Reset: true})
			w.reg.Inject(registrytest.BlobGet, registrytest.Fault{Reset: true})
		}, codes: []int{0}, want: allWritten},
		{name: "latency on every request", setup: func(w *world, _ *faultProxy) { w.reg.SetLatency(30 * time.Millisecond) },
			codes: []int{0}, want: allWritten},
		{name: "slow bodies everywhere", setup: func(_ *world, p *faultProxy) {
			p.damage(func(*http.Request) bool { return true }, slowBody, -1)
		}, codes: []int{0}, want: allWritten},
		{name: "stalls before bodies", setup: func(_ *world, p *faultProxy) {
			p.damage(kindIs(registrytest.ManifestGet), slowStall, 3)
		}, codes: []int{0}, want: allWritten},
		{name: "truncated manifests", setup: func(_ *world, p *faultProxy) {
			p.damage(kindIs(registrytest.ManifestGet), truncate, 2)
		}, codes: []int{0, 1}},
		{name: "truncated signature payloads", setup: func(_ *world, p *faultProxy) {
			p.damage(isBlobGet, truncate, -1)
		}, codes: []int{0, 1}, want: nothingWritten},
		{name: "corrupted signature manifests", setup: func(_ *world, p *faultProxy) {
			p.damage(isSignature, corrupt, -1)
		}, codes: []int{0, 1}, want: nothingWritten},
		{name: "corrupted signature payloads", setup: func(_ *world, p *faultProxy) {
			p.damage(isBlobGet, corrupt, -1)
		}, codes: []int{0, 1}, want: nothingWritten},
		{name: "corrupted image manifests", setup: func(_ *world, p *faultProxy) {
			p.damage(func(r *http.Request) bool { return kindIs(registrytest.ManifestGet)(r) && !isSignature(r) }, corrupt, -1)
		}, codes: []int{0, 1}},
		{name: "signature fetch fails with 500", setup: func(w *world, _ *faultProxy) {
			for _, img := range w.images {
				w.reg.FailWhere(signatureOf(w.digest[img+":1.1.0"]), registrytest.Fault{Status: 500})
			}
		}, codes: []int{0, 1}, want: nothingWritten, stdout: "registry-error"},
		{name: "signature fetch resets", setup: func(w *world, _ *faultProxy) {
			for _, img := range w.images {
				w.reg.FailWhere(signatureOf(w.digest[img+":1.1.0"]), registrytest.Fault{Reset: true})
			}
		}, codes: []int{0, 1}, want: nothingWritten},
		{name: "signature tag answers 404", setup: func(w *world, _ *faultProxy) {
			for _, img := range w.images {
				w.reg.FailWhere(signatureOf(w.digest[img+":1.1.0"]), registrytest.Fault{Status: 404})
			}
		}, codes: []int{0}, want: nothingWritten, stdout: "unsigned"},
		{name: "tag list fails with 500", setup: func(w *world, _ *faultProxy) {
			w.reg.FailWhere(kindIs(registrytest.TagList), registrytest.Fault{Status: 500})
		}, codes: []int{0, 1}, want: nothingWritten},
		{name: "bump: signature fetch fails with 500", args: []string{"bump"}, setup: func(w *world, _ *faultProxy) {
			w.reg.FailWhere(signatureOf(w.digest["img01:1.1.0"]), registrytest.Fault{Status: 500})
		}, codes: []int{3}, want: nothingWritten, stdout: "registry-error"},
		{name: "bump: corrupted signature payloads", args: []string{"bump"}, setup: func(_ *world, p *faultProxy) {
			p.damage(isBlobGet, corrupt, -1)
		}, codes: []int{1, 3}, want: nothingWritten},
		{name: "bump: 503 and resets absorbed", args: []string{"bump"}, setup: func(w *world, _ *faultProxy) {
			w.reg.Inject(registrytest.ManifestHead, registrytest.Fault{Status: 503}, registrytest.Fault{Reset: true})
			w.reg.Inject(registrytest.ManifestGet, registrytest.Fault{Reset: true}, registrytest.Fault{Status: 500})
		}, codes: []int{0}, want: allWritten},
	}
	for seed := range iters(3, 40) {
		cases = append(cases, tc{name: fmt.Sprintf("random faults %d", seed), setup: func(w *world, p *faultProxy) {
			randomFaults(rand.New(rand.NewPCG(uint64(seed), 7)), w, p)
		}, codes: []int{0, 1, 3}})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var proxy *faultProxy
			w := newWorld(t, worldOptions{proxy: func(reg *registrytest.Server) string {
				proxy = newFaultProxy(t, reg)
				return proxy.host
			}})
			seed := w.head()
			want := map[string]string{}
			for _, img := range w.images {
				want[img] = w.repo(img) + ":1.1.0@" + w.digest[img+":1.1.0"]
			}
			args := c.args
			if args == nil {
				args = watch
			}
			args = append(slices.Clone(args), "--repo", w.bare, "--output", "json")
			if args[0] == "bump" {
				for _, img := range w.images {
					args = append(args, w.repo(img)+":1.1.0")
				}
			}
			c.setup(w, proxy)
			r := ferry(t, nil, args...)
			t.Logf("faulted run: exit %d: %s", r.code, strings.TrimSpace(lastLine(r.stderr)))
			if !slices.Contains(c.codes, r.code) {
				t.Errorf("exit %d, want one of %v\n%s", r.code, c.codes, r)
			}
			if strings.Contains(r.stderr, "panic:") {
				t.Fatalf("ferry panicked:\n%s", r)
			}
			if c.stdout != "" && !strings.Contains(r.stdout, c.stdout) {
				t.Errorf("stdout does not mention %q:\n%s", c.stdout, r)
			}
			fsck(t, w.bare)
			w.checkWholeCommits(seed)
			w.checkEveryCommitVerified()
			switch c.want {
			case allWritten:
				if diff := cmp.Diff(want, w.devImages("main")); diff != "" {
					t.Errorf("envs/dev after the faults were absorbed (-want +got):\n%s", diff)
				}
			case nothingWritten:
				if h := w.head(); h != seed {
					t.Errorf("main moved to %s although the faults should have stopped every write\n%s", h, r)
				}
			}
			if args[0] == "bump" && w.head() != seed {
				// All or nothing across the REFs of one bump.
				if diff := cmp.Diff(want, w.devImages("main")); diff != "" {
					t.Errorf("bump wrote some of its REFs only (-want +got):\n%s", diff)
				}
			}

			// Faults gone, a re-run reaches the intended state.
			w.reg.ClearFaults()
			w.reg.SetLatency(0)
			proxy.clear()
			r = ferry(t, nil, args...)
			if r.code != 0 {
				t.Fatalf("the clean re-run failed:\n%s", r)
			}
			if diff := cmp.Diff(want, w.devImages("main")); diff != "" {
				t.Errorf("envs/dev after the clean re-run (-want +got):\n%s", diff)
			}
			w.checkWholeCommits(seed)
			w.checkEveryCommitVerified()
			w.checkLinear()
			fsck(t, w.bare)
		})
	}
}

// randomFaults queues a random mix of registry and body faults.
func randomFaults(rng *rand.Rand, w *world, p *faultProxy) {
	kinds := []registrytest.Kind{registrytest.Ping, registrytest.TagList, registrytest.ManifestHead, registrytest.ManifestGet, registrytest.BlobGet}
	faults := []registrytest.Fault{
		{Status: 500}, {Status: 502}, {Status: 503}, {Status: 429, RetryAfter: "1"}, {Reset: true},
		{Latency: 200 * time.Millisecond}, {Status: 404},
	}
	for _, k := range kinds {
		var q []registrytest.Fault
		for range rng.IntN(4) {
			q = append(q, faults[rng.IntN(len(faults))])
		}
		if len(q) > 0 {
			w.reg.Inject(k, q...)
		}
	}
	if rng.IntN(3) == 0 {
		img := w.images[rng.IntN(len(w.images))]
		w.reg.FailWhere(signatureOf(w.digest[img+":1.1.0"]), faults[rng.IntN(len(faults))])
	}
	bodies := []bodyFault{slowBody, truncate, corrupt, slowStall}
	for range rng.IntN(3) {
		var match func(*http.Request) bool
		switch rng.IntN(3) {
		case 0:
			match = isSignature
		case 1:
			match = isBlobGet
		default:
			match = kindIs(registrytest.ManifestGet)
		}
		p.damage(match, bodies[rng.IntN(len(bodies))], 1+rng.IntN(3))
	}
}
