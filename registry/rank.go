package registry

import (
	"context"
	"fmt"
	"time"

	"github.com/ferryhq/ferry/policy"
)

// Rank lists the repository's tags and ranks them with the policy, fetching created times (from
// the cache where it can) only when the policy orders by build time. It verifies nothing; status
// uses it to count how many versions an environment is behind.
func (c *Client) Rank(ctx context.Context, repository string, p *policy.Policy) (*policy.Ranking, error) {
	repo, err := c.ParseRepository(repository)
	if err != nil {
		return nil, err
	}
	tags, err := c.tags(ctx, repo)
	if err != nil {
		return nil, fmt.Errorf("reading tags for %s: %w", repo.Name(), err)
	}
	var created = map[string]time.Time(nil)
	if p.NeedsCreated() {
		if created, _, err = c.createdTimes(ctx, repo, p, tags, map[string]string{}, 0); err != nil {
			return nil, err
		}
	}
	r := p.Rank(tags, created)
	return &r, nil
}
