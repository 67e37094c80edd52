package registry

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/ferryhq/ferry/policy"
)

// DigestVerifier verifies the image at one digest (the cosign *Verifier does). It returns a
// *RefusalError when the image does not verify; any other error is treated as a refusal too
// (fail closed).
type DigestVerifier interface {
	Verify(ctx context.Context, ref name.Digest) (*Verification, error)
}

var _ DigestVerifier = (*Verifier)(nil)

// SelectOptions says what Select looks for. Zero values are the defaults.
type SelectOptions struct {
	// Repository is the image repository, such as ghcr.io/acme/api. Required.
	Repository string
	// Policy filters and orders the tags. Required.
	Policy *policy.Policy
	// Verifier verifies each candidate; nil means no verification (ferry tags without verify
	// flags). Callers that deploy what they select always pass one.
	Verifier DigestVerifier
	// Platforms the chosen image must serve, each os/arch[/variant].
	Platforms []string
	// Concurrency bounds the created-time lookups of a newest-build policy (default 8).
	Concurrency int
}

// Selection is the outcome of Select.
type Selection struct {
	Repository string `json:"repository"`
	// Chosen is the newest candidate that verified and serves every platform; nil when none did.
	Chosen *Chosen `json:"chosen"`
	// PassedOver lists candidates newer than the chosen one (or all, when none qualified) that
	// were examined and refused, newest first.
	PassedOver []Candidate `json:"passedOver"`
	// NotReached lists the candidates older than the chosen one, which were not examined.
	NotReached []policy.Candidate `json:"notReached"`
	// Rejected lists the tags the policy left out, with why.
	Rejected []policy.Rejection `json:"rejected"`
}

// Chosen is the selected image. Digest is exactly the digest that verified.
type Chosen struct {
	Tag    string `json:"tag"`
	Digest string `json:"digest"`
	// Signer names who signed (empty without a verifier).
	Signer string `json:"signer,omitempty"`
}

// Candidate is a tag Select examined and passed over.
type Candidate struct {
	Tag    string `json:"tag"`
	Digest string `json:"digest,omitempty"`
	// Reason is one of the Reason constants (unsigned, wrong-signer, attestation, platform,
	// registry-error).
	Reason string `json:"reason"`
	Detail string `json:"detail,omitempty"`
}

// ErrNothingQualifies is matched (errors.Is) by a *NoQualifyingTagError.
var ErrNothingQualifies = errors.New("no tag qualifies")

// NoQualifyingTagError is Select's error when no tag passes policy, verification and platforms.
// Selection says why each tag lost.
type NoQualifyingTagError struct {
	Selection *Selection
}

func (e *NoQualifyingTagError) Error() string {
	s := e.Selection
	if len(s.PassedOver) == 0 && len(s.Rejected) == 0 {
		return fmt.Sprintf("no tag of %s qualifies: the repository has no tags", s.Repository)
	}
	var parts []string
	if len(s.PassedOver) > 0 {
		counts := map[string]int{}
		for _, c := range s.PassedOver {
			counts[c.Reason]++
		}
		parts = append(parts, fmt.Sprintf("%d refused (%s)", len(s.PassedOver), countList(counts)))
	}
	if len(s.Rejected) > 0 {
		counts := map[string]int{}
		for _, r := range s.Rejected {
			counts[string(r.Reason)]++
		}
		parts = append(parts, fmt.Sprintf("%d left out by the policy (%s)", len(s.Rejected), countList(counts)))
	}
	msg := fmt.Sprintf("no tag of %s qualifies: %s", s.Repository, strings.Join(parts, "; "))
	if len(s.PassedOver) > 0 {
		c := s.PassedOver[0]
		msg += fmt.Sprintf("; newest candidate %s: %s", c.Tag, c.Reason)
		if c.Detail != "" {
			msg += ": " + c.Detail
		}
	}
	return msg
}

func (e *NoQualifyingTagError) Is(target error) bool { return target == ErrNothingQualifies }

func countList(m map[string]int) string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, fmt.Sprintf("%d %s", m[k], k))
	}
	return strings.Join(out, ", ")
}

// Select lists the repository's tags, ranks them with the policy (fetching created times only
// when the policy needs them), and walks the candidates newest first: it resolves each one's
// digest (HEAD), checks its platforms, and verifies it, stopping at the first that passes.
// Verification binds to the digest: the digest returned is the digest that verified.
//
// When no tag qualifies the error is a *NoQualifyingTagError carrying the Selection.
// Registry errors on one candidate pass it over (reason registry-error); a cancelled context
// or a failed tag listing ends Select with an error.
func (c *Client) Select(ctx context.Context, o SelectOptions) (*Selection, error) {
	if o.Policy == nil {
		return nil, errors.New("select: no policy")
	}
	repo, err := c.ParseRepository(o.Repository)
	if err != nil {
		return nil, err
	}
	var required []string
	for _, p := range o.Platforms {
		n, err := ParsePlatform(p)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(required, n) {
			required = append(required, n)
		}
	}
	tags, err := c.tags(ctx, repo)
	if err != nil {
		return nil, fmt.Errorf("reading tags for %s: %w", repo.Name(), err)
	}
	sel := &Selection{Repository: repo.Name(), PassedOver: []Candidate{}, NotReached: []policy.Candidate{}}

	digests := map[string]string{}
	var created map[string]time.Time
	if o.Policy.NeedsCreated() {
		var failed []Candidate
		created, failed, err = c.createdTimes(ctx, repo, o.Policy, tags, digests, o.Concurrency)
		if err != nil {
			return nil, err
		}
		if len(failed) > 0 {
			bad := map[string]bool{}
			for _, f := range failed {
				bad[f.Tag] = true
			}
			tags = slices.DeleteFunc(tags, func(t string) bool { return bad[t] })
			sel.PassedOver = append(sel.PassedOver, failed...)
		}
	}
	ranking := o.Policy.Rank(tags, created)
	sel.Rejected = ranking.Rejected

	refusals := map[string]Candidate{} // by digest: aliases share an outcome
	for i, cand := range ranking.Candidates {
		dgst, ok := digests[cand.Tag]
		if !ok {
			dgst, err = c.digest(ctx, repo.Tag(cand.Tag))
			if err != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				sel.PassedOver = append(sel.PassedOver, Candidate{Tag: cand.Tag, Reason: ReasonRegistryError, Detail: "resolving the digest: " + err.Error()})
				continue
			}
		}
		if r, seen := refusals[dgst]; seen {
			r.Tag = cand.Tag
			sel.PassedOver = append(sel.PassedOver, r)
			continue
		}
		chosen, refusal, err := c.check(ctx, repo, dgst, required, o.Verifier)
		if err != nil {
			return nil, err
		}
		if refusal != nil {
			refusal.Tag = cand.Tag
			refusals[dgst] = *refusal
			sel.PassedOver = append(sel.PassedOver, *refusal)
			continue
		}
		chosen.Tag = cand.Tag
		sel.Chosen = chosen
		sel.NotReached = append(sel.NotReached, ranking.Candidates[i+1:]...)
		return sel, nil
	}
	return nil, &NoQualifyingTagError{Selection: sel}
}

// check examines one digest: platforms first (cheap, cached), then the signature. It returns the
// Chosen (without its tag) or why the digest is refused; the error is only a cancelled context.
func (c *Client) check(ctx context.Context, repo name.Repository, dgst string, required []string, v DigestVerifier) (*Chosen, *Candidate, error) {
	refuse := func(reason, detail string) (*Chosen, *Candidate, error) {
		return nil, &Candidate{Digest: dgst, Reason: reason, Detail: detail}, nil
	}
	if len(required) > 0 {
		served, err := c.platforms(ctx, repo, dgst)
		if err != nil {
			if ctx.Err() != nil {
				return nil, nil, ctx.Err()
			}
			return refuse(ReasonRegistryError, "reading platforms: "+err.Error())
		}
		if missing := missingPlatforms(required, served); len(missing) > 0 {
			return refuse(ReasonPlatform, fmt.Sprintf("does not serve %s (serves %s)", strings.Join(missing, ", "), orNone(served)))
		}
	}
	chosen := &Chosen{Digest: dgst}
	if v == nil {
		return chosen, nil, nil
	}
	ref := repo.Digest(dgst)
	ver, err := v.Verify(ctx, ref)
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		var re *RefusalError
		if errors.As(err, &re) {
			reason := re.Reason
			if reason == "" {
				reason = ReasonRegistryError
			}
			detail := re.Detail
			if detail == "" && re.Err != nil {
				detail = re.Err.Error()
			}
			return refuse(reason, detail)
		}
		return refuse(ReasonRegistryError, "verifying: "+err.Error())
	}
	if ver == nil || ver.Digest != dgst {
		got := "nothing"
		if ver != nil {
			got = ver.Digest
		}
		return refuse(ReasonRegistryError, fmt.Sprintf("the verifier vouched for %s, not %s: refusing", got, dgst))
	}
	chosen.Signer = ver.Signer
	return chosen, nil, nil
}

func missingPlatforms(required, served []string) []string {
	var missing []string
	for _, r := range required {
		if !slices.Contains(served, r) {
			missing = append(missing, r)
		}
	}
	return missing
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "no known platform"
	}
	return strings.Join(s, ", ")
}

// createdTimes resolves the digest and created time of every tag the policy allows, with at most
// n lookups at once. Digests land in digests; tags whose lookup failed come back as refusals.
func (c *Client) createdTimes(ctx context.Context, repo name.Repository, p *policy.Policy, tags []string, digests map[string]string, n int) (map[string]time.Time, []Candidate, error) {
	if n <= 0 {
		n = defaultConcurrency
	}
	var allowed []string
	for _, t := range tags {
		if p.Allows(t) == nil {
			allowed = append(allowed, t)
		}
	}
	type result struct {
		tag, digest string
		created     time.Time
		err         error
	}
	results := make([]result, len(allowed))
	// What the lookups learn is written to the cache once, as the repository's pack, when they
	// are done (see diskCache).
	endBatch := c.cache.batch(repo.Name())
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	for i, tag := range allowed {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				results[i] = result{tag: tag, err: ctx.Err()}
				return
			}
			defer func() { <-sem }()
			r := result{tag: tag}
			r.digest, r.created, r.err = c.tagCreated(ctx, repo, tag)
			results[i] = r
		}()
	}
	wg.Wait()
	if err := endBatch(); err != nil && ctx.Err() == nil {
		return nil, nil, fmt.Errorf("caching the created times of %s: %w", repo.Name(), err)
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	created := make(map[string]time.Time, len(results))
	var failed []Candidate
	for _, r := range results {
		if r.err != nil {
			failed = append(failed, Candidate{Tag: r.tag, Digest: r.digest, Reason: ReasonRegistryError, Detail: "reading the created time: " + r.err.Error()})
			continue
		}
		digests[r.tag] = r.digest
		created[r.tag] = r.created
	}
	return created, failed, nil
}
