package registry_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/ferryhq/ferry/policy"
	"github.com/ferryhq/ferry/registry"
	"github.com/ferryhq/ferry/registry/registrytest"
)

// fakeVerifier stands in for the cosign verifier (tested in verify_test.go): it accepts the
// digests it was told are signed and refuses the others. It counts calls by digest.
type fakeVerifier struct {
	signed      map[string]string // digest → signer
	wrongSigner map[string]bool
	lie         map[string]string // digest → the digest it claims verified
	mu          sync.Mutex
	calls       map[string]int
}

func (v *fakeVerifier) Verify(_ context.Context, ref name.Digest) (*registry.Verification, error) {
	d := ref.DigestStr()
	v.mu.Lock()
	if v.calls == nil {
		v.calls = map[string]int{}
	}
	v.calls[d]++
	v.mu.Unlock()
	if other, ok := v.lie[d]; ok {
		return &registry.Verification{Digest: other, Signer: "liar"}, nil
	}
	if signer, ok := v.signed[d]; ok {
		return &registry.Verification{Digest: d, Signer: signer}, nil
	}
	reason := registry.ReasonUnsigned
	detail := "no signatures found"
	if v.wrongSigner[d] {
		reason, detail = registry.ReasonWrongSigner, "no signature matches the key"
	}
	return nil, &registry.RefusalError{Image: ref.String(), Digest: d, Reason: reason, Detail: detail}
}

var _ registry.DigestVerifier = (*fakeVerifier)(nil)

func mustPolicy(t testing.TB, s policy.Spec) *policy.Policy {
	t.Helper()
	p, err := policy.New(s)
	if err != nil {
		t.Fatalf("policy.New(%+v): %v", s, err)
	}
	return p
}

func TestSelect(t *testing.T) {
	s := registrytest.New(t)
	d100 := s.PushRandom(t, "app:1.0.0", registrytest.Image{})
	d110 := s.PushIndex(t, "app:1.1.0", "linux/amd64", "linux/arm64/v8")
	d120 := s.PushRandom(t, "app:1.2.0", registrytest.Image{Platform: "linux/amd64"})
	s.Tag(t, "app", d120, "v1.2.0") // an alias: same digest, verified once
	d130 := s.PushRandom(t, "app:1.3.0", registrytest.Image{})
	d200 := s.PushRandom(t, "app:2.0.0", registrytest.Image{})
	s.Tag(t, "app", d200, "latest")

	semver1 := policy.Spec{Semver: "^1", Ignore: []string{"latest"}}
	rejected := []policy.Rejection{
		{Tag: "2.0.0", Reason: policy.ReasonOutOfRange, Detail: `2.0.0 is outside "^1"`},
		{Tag: "latest", Reason: policy.ReasonIgnored, Detail: `matches ignore glob "latest"`},
	}
	tests := []struct {
		name      string
		spec      policy.Spec
		verifier  *fakeVerifier
		platforms []string
		want      *registry.Selection
		wantErr   bool
		// wantCalls is how many times each digest was verified.
		wantCalls map[string]int
	}{
		{
			name: "no verifier: the newest candidate",
			spec: semver1,
			want: &registry.Selection{
				Chosen:     &registry.Chosen{Tag: "1.3.0", Digest: d130},
				PassedOver: []registry.Candidate{},
				NotReached: []policy.Candidate{{Tag: "1.2.0", Version: "1.2.0"}, {Tag: "v1.2.0", Version: "1.2.0"}, {Tag: "1.1.0", Version: "1.1.0"}, {Tag: "1.0.0", Version: "1.0.0"}},
				Rejected:   rejected,
			},
		},
		{
			name:     "unsigned and wrong signer passed over, aliases verified once",
			spec:     semver1,
			verifier: &fakeVerifier{signed: map[string]string{d110: "key.pub", d100: "key.pub"}, wrongSigner: map[string]bool{d130: true}},
			want: &registry.Selection{
				Chosen: &registry.Chosen{Tag: "1.1.0", Digest: d110, Signer: "key.pub"},
				PassedOver: []registry.Candidate{
					{Tag: "1.3.0", Digest: d130, Reason: "wrong-signer", Detail: "no signature matches the key"},
					{Tag: "1.2.0", Digest: d120, Reason: "unsigned", Detail: "no signatures found"},
					{Tag: "v1.2.0", Digest: d120, Reason: "unsigned", Detail: "no signatures found"},
				},
				NotReached: []policy.Candidate{{Tag: "1.0.0", Version: "1.0.0"}},
				Rejected:   rejected,
			},
			wantCalls: map[string]int{d130: 1, d120: 1, d110: 1},
		},
		{
			name:      "platforms checked before verifying",
			spec:      semver1,
			verifier:  &fakeVerifier{signed: map[string]string{d130: "k", d120: "k", d110: "k", d100: "k"}},
			platforms: []string{"linux/arm64/v8", "linux/amd64"},
			want: &registry.Selection{
				Chosen: &registry.Chosen{Tag: "1.1.0", Digest: d110, Signer: "k"},
				PassedOver: []registry.Candidate{
					{Tag: "1.3.0", Digest: d130, Reason: "platform", Detail: "does not serve linux/arm64 (serves linux/amd64)"},
					{Tag: "1.2.0", Digest: d120, Reason: "platform", Detail: "does not serve linux/arm64 (serves linux/amd64)"},
					{Tag: "v1.2.0", Digest: d120, Reason: "platform", Detail: "does not serve linux/arm64 (serves linux/amd64)"},
				},
				NotReached: []policy.Candidate{{Tag: "1.0.0", Version: "1.0.0"}},
				Rejected:   rejected,
			},
			wantCalls: map[string]int{d110: 1},
		},
		{
			name:     "a verifier vouching for another digest is refused",
			spec:     policy.Spec{Semver: "~1.3"},
			verifier: &fakeVerifier{lie: map[string]string{d130: d100}},
			wantErr:  true,
		},
		{
			name:     "nothing qualifies",
			spec:     semver1,
			verifier: &fakeVerifier{},
			wantErr:  true,
		},
		{
			name: "digest policy follows a mutable tag",
			spec: policy.Spec{Digest: "latest"},
			want: &registry.Selection{
				Chosen:     &registry.Chosen{Tag: "latest", Digest: d200},
				PassedOver: []registry.Candidate{},
				NotReached: []policy.Candidate{},
				Rejected:   notFollowed(t, "latest", "1.0.0", "1.1.0", "1.2.0", "1.3.0", "2.0.0", "v1.2.0"),
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t)
			o := registry.SelectOptions{Repository: s.Repo("app"), Policy: mustPolicy(t, tc.spec), Platforms: tc.platforms}
			if tc.verifier != nil {
				o.Verifier = tc.verifier
			}
			got, err := c.Select(context.Background(), o)
			if tc.wantErr {
				var nq *registry.NoQualifyingTagError
				if !errors.As(err, &nq) || !errors.Is(err, registry.ErrNothingQualifies) {
					t.Fatalf("Select = %+v, %v; want a NoQualifyingTagError", got, err)
				}
				if nq.Selection.Chosen != nil || len(nq.Selection.PassedOver) == 0 {
					t.Errorf("selection in the error: %+v", nq.Selection)
				}
				return
			}
			if err != nil {
				t.Fatalf("Select: %v", err)
			}
			tc.want.Repository = s.Repo("app")
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Select (-want +got):\n%s", diff)
			}
			if tc.wantCalls != nil {
				if diff := cmp.Diff(tc.wantCalls, tc.verifier.calls); diff != "" {
					t.Errorf("verifications by digest (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func notFollowed(t *testing.T, followed string, tags ...string) []policy.Rejection {
	t.Helper()
	var out []policy.Rejection
	for _, tag := range tags {
		out = append(out, policy.Rejection{Tag: tag, Reason: policy.ReasonNotFollowed, Detail: fmt.Sprintf("the policy follows tag %q", followed)})
	}
	return out
}

func TestSelectNothingQualifiesMessage(t *testing.T) {
	s := registrytest.New(t)
	d := s.PushRandom(t, "app:1.0.0", registrytest.Image{})
	s.Tag(t, "app", d, "0.9.0", "latest")
	c := newClient(t)
	_, err := c.Select(context.Background(), registry.SelectOptions{
		Repository: s.Repo("app"),
		Policy:     mustPolicy(t, policy.Spec{Semver: ">=1"}),
		Verifier:   &fakeVerifier{},
	})
	want := "no tag of " + s.Repo("app") + " qualifies: 1 refused (1 unsigned); 2 left out by the policy (1 out-of-range, 1 unparsable); newest candidate 1.0.0: unsigned: no signatures found"
	if err == nil || err.Error() != want {
		t.Errorf("error:\n got %v\nwant %s", err, want)
	}
}

func TestSelectRegistryErrorPassesOver(t *testing.T) {
	s := registrytest.New(t)
	s.PushRandom(t, "app:1.0.0", registrytest.Image{})
	s.PushRandom(t, "app:1.1.0", registrytest.Image{})
	s.FailWhere(func(r *http.Request) bool {
		return r.Method == http.MethodHead && strings.HasSuffix(r.URL.Path, "/manifests/1.1.0")
	}, registrytest.Fault{Status: http.StatusNotFound})
	c := newClient(t)
	got, err := c.Select(context.Background(), registry.SelectOptions{Repository: s.Repo("app"), Policy: mustPolicy(t, policy.Spec{Semver: "*"})})
	if err != nil {
		t.Fatal(err)
	}
	if got.Chosen.Tag != "1.0.0" || len(got.PassedOver) != 1 || got.PassedOver[0].Reason != registry.ReasonRegistryError {
		t.Errorf("Select = %+v (chosen %+v)", got, got.Chosen)
	}
}

func TestSelectNewestBuild(t *testing.T) {
	s := registrytest.New(t)
	base := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	// main-<n> built in an order that differs from the tags' byte order.
	order := []int{3, 1, 4, 0, 2}
	digests := map[string]string{}
	for i, n := range order {
		tag := fmt.Sprintf("main-%d", n)
		digests[tag] = s.PushRandom(t, "app:"+tag, registrytest.Image{Created: base.Add(time.Duration(i) * time.Hour)})
	}
	s.PushRandom(t, "app:epoch", registrytest.Image{Created: time.Unix(0, 0)})
	spec := policy.Spec{NewestBuild: true, Allow: "^main-"}
	dir := t.TempDir()
	ctx := context.Background()
	run := func(opts ...registry.Option) *registry.Selection {
		t.Helper()
		s.ResetCounts()
		c, err := registry.New(append([]registry.Option{registry.WithCacheDir(dir)}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		sel, err := c.Select(ctx, registry.SelectOptions{Repository: s.Repo("app"), Policy: mustPolicy(t, spec), Platforms: []string{"linux/amd64"}})
		if err != nil {
			t.Fatal(err)
		}
		return sel
	}

	sel := run()
	if diff := cmp.Diff(&registry.Chosen{Tag: "main-2", Digest: digests["main-2"]}, sel.Chosen); diff != "" {
		t.Errorf("chosen (-want +got):\n%s", diff)
	}
	// Cold: one manifest GET by tag (it gives the digest: no HEAD) and one config GET per
	// allowed tag; "epoch" is not allowed, so nothing is fetched for it.
	if diff := cmp.Diff(map[registrytest.Kind]int{registrytest.Ping: 1, registrytest.TagList: 1, registrytest.ManifestGet: 5, registrytest.BlobGet: 5}, s.Counts()); diff != "" {
		t.Errorf("cold requests (-want +got):\n%s", diff)
	}

	// Warm, same cache: the list, one HEAD per candidate tag, no manifest or blob GET.
	sel = run()
	if sel.Chosen.Tag != "main-2" {
		t.Errorf("warm chosen %+v", sel.Chosen)
	}
	if diff := cmp.Diff(map[registrytest.Kind]int{registrytest.Ping: 1, registrytest.TagList: 1, registrytest.ManifestHead: 5}, s.Counts()); diff != "" {
		t.Errorf("warm requests (-want +got):\n%s", diff)
	}

	// A tag moved to a newer build: its HEAD shows a new digest, which alone is fetched, and it
	// wins.
	digests["main-1"] = s.PushRandom(t, "app:main-1", registrytest.Image{Created: base.Add(10 * time.Hour)})
	sel = run()
	if diff := cmp.Diff(&registry.Chosen{Tag: "main-1", Digest: digests["main-1"]}, sel.Chosen); diff != "" {
		t.Errorf("after main-1 moved, chosen (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[registrytest.Kind]int{registrytest.Ping: 1, registrytest.TagList: 1, registrytest.ManifestHead: 5, registrytest.ManifestGet: 1, registrytest.BlobGet: 1}, s.Counts()); diff != "" {
		t.Errorf("moved-tag requests (-want +got):\n%s", diff)
	}
	if sel = run(); sel.Chosen.Tag != "main-1" {
		t.Errorf("warm chosen after the move %+v", sel.Chosen)
	}
	if diff := cmp.Diff(map[registrytest.Kind]int{registrytest.Ping: 1, registrytest.TagList: 1, registrytest.ManifestHead: 5}, s.Counts()); diff != "" {
		t.Errorf("warm requests after the move (-want +got):\n%s", diff)
	}

	// immutableTags: the cache's tag→digest records are trusted, so no HEAD at all.
	imm := registry.WithHosts(registry.Host{Name: s.Host, ImmutableTags: true})
	run(imm)
	sel = run(imm)
	if sel.Chosen.Tag != "main-1" {
		t.Errorf("immutable chosen %+v", sel.Chosen)
	}
	if diff := cmp.Diff(map[registrytest.Kind]int{registrytest.Ping: 1, registrytest.TagList: 1}, s.Counts()); diff != "" {
		t.Errorf("immutableTags requests (-want +got):\n%s", diff)
	}
}

func TestSelectSecondRunSemver(t *testing.T) {
	s := registrytest.New(t)
	var signed = map[string]string{}
	for i := range 6 {
		d := s.PushIndex(t, fmt.Sprintf("app:1.%d.0", i), "linux/amd64", "linux/arm64")
		if i < 3 {
			signed[d] = "k"
		}
	}
	dir := t.TempDir()
	for run := range 2 {
		s.ResetCounts()
		c, err := registry.New(registry.WithCacheDir(dir))
		if err != nil {
			t.Fatal(err)
		}
		sel, err := c.Select(context.Background(), registry.SelectOptions{
			Repository: s.Repo("app"), Policy: mustPolicy(t, policy.Spec{Semver: "*"}),
			Verifier: &fakeVerifier{signed: signed}, Platforms: []string{"linux/arm64"},
		})
		if err != nil {
			t.Fatal(err)
		}
		if sel.Chosen.Tag != "1.2.0" || len(sel.PassedOver) != 3 {
			t.Errorf("run %d: chosen %+v, passed over %+v", run, sel.Chosen, sel.PassedOver)
		}
		// Walked 4 candidates: 4 HEADs each run; manifests read once, on the first run.
		want := map[registrytest.Kind]int{registrytest.Ping: 1, registrytest.TagList: 1, registrytest.ManifestHead: 4}
		if run == 0 {
			want[registrytest.ManifestGet] = 4
		}
		if diff := cmp.Diff(want, s.Counts()); diff != "" {
			t.Errorf("run %d requests (-want +got):\n%s", run, diff)
		}
	}
}

func TestSelectFaults(t *testing.T) {
	s := registrytest.New(t)
	for i := range 3 {
		s.PushRandom(t, fmt.Sprintf("app:1.%d.0", i), registrytest.Image{})
	}
	s.Inject(registrytest.TagList, registrytest.Fault{Status: 429, RetryAfter: "0"}, registrytest.Fault{Reset: true})
	s.Inject(registrytest.ManifestHead, registrytest.Fault{Status: 503}, registrytest.Fault{Latency: 10 * time.Millisecond})
	c := newClient(t, registry.WithRetry(registry.Retry{BaseDelay: time.Millisecond, MaxDelay: 10 * time.Millisecond}))
	sel, err := c.Select(context.Background(), registry.SelectOptions{Repository: s.Repo("app"), Policy: mustPolicy(t, policy.Spec{Semver: "*"})})
	if err != nil {
		t.Fatal(err)
	}
	if sel.Chosen.Tag != "1.2.0" || len(sel.PassedOver) != 0 {
		t.Errorf("chosen %+v, passed over %+v", sel.Chosen, sel.PassedOver)
	}
	if n := s.PendingFaults(); n != 0 {
		t.Errorf("%d faults not consumed", n)
	}
	if diff := cmp.Diff(map[registrytest.Kind]int{registrytest.Ping: 1, registrytest.TagList: 3, registrytest.ManifestHead: 2}, s.Counts()); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
}
