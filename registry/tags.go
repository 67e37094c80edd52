package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// maxTagPages bounds a listing, whatever a registry answers.
const maxTagPages = 10000

// maxTagPageBytes bounds one tag-list answer.
const maxTagPageBytes = 64 << 20

// Tags lists every tag of repo, in the order the registry gives them, each once.
//
// Pagination survives registries that page wrongly. A Link header is followed when present. A
// full page without one is not proof of the end (go-containerregistry's registry answers n=1000
// with 1,000 tags and no Link): ferry asks again with last=<the page's final tag>. It stops at a
// short or empty page, or at a page that brings no tag not already seen (registries that
// ignore n and last return the whole list every time).
func (c *Client) Tags(ctx context.Context, repo string) ([]string, error) {
	r, err := c.ParseRepository(repo)
	if err != nil {
		return nil, err
	}
	tags, err := c.tags(ctx, r)
	if err != nil {
		return nil, fmt.Errorf("reading tags for %s: %w", r.Name(), err)
	}
	return tags, nil
}

func (c *Client) tags(ctx context.Context, repo name.Repository) ([]string, error) {
	rt, err := c.transportFor(ctx, repo)
	if err != nil {
		return nil, err
	}
	client := &http.Client{Transport: rt}
	base := &url.URL{
		Scheme: repo.Scheme(),
		Host:   repo.RegistryStr(),
		Path:   fmt.Sprintf("/v2/%s/tags/list", repo.RepositoryStr()),
	}
	next := *base
	next.RawQuery = "n=" + strconv.Itoa(c.pageSize)

	// Sized by the first page, which for most repositories is all of them (a watch cycle
	// lists hundreds of repositories of a few tags each: sizing for a full page cost more than
	// the listing); a page's slice is decoded into again for the next (the strings themselves
	// are kept in out).
	var seen map[string]struct{}
	visited := map[string]bool{}
	var out, names []string
	for page := 0; page < maxTagPages; page++ {
		u := next.String()
		visited[u] = true
		var link *url.URL
		names, link, err = c.tagPage(ctx, client, repo, u, names[:0])
		if err != nil {
			return nil, err
		}
		if seen == nil {
			seen, out = make(map[string]struct{}, len(names)), make([]string, 0, len(names))
		}
		fresh := 0
		for _, t := range names {
			if _, dup := seen[t]; !dup {
				seen[t] = struct{}{}
				out = append(out, t)
				fresh++
			}
		}
		switch {
		case fresh == 0:
			// Empty, or nothing new: the registry has nothing more to say.
			return out, nil
		case link != nil:
			if visited[link.String()] {
				return out, nil
			}
			next = *link
		case len(names) < c.pageSize:
			return out, nil
		default:
			// A full page without Link: ask for what comes after its final tag.
			next = *base
			q := url.Values{}
			q.Set("n", strconv.Itoa(c.pageSize))
			q.Set("last", names[len(names)-1])
			next.RawQuery = q.Encode()
			if visited[next.String()] {
				return out, nil
			}
		}
	}
	return nil, fmt.Errorf("more than %d pages of tags: stopping", maxTagPages)
}

// tagPage fetches one page and returns its tags, decoded into buf's storage, and the Link
// header's next URL, if any.
func (c *Client) tagPage(ctx context.Context, client *http.Client, repo name.Repository, u string, buf []string) ([]string, *url.URL, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	if err := transport.CheckError(resp, http.StatusOK); err != nil {
		return nil, nil, err
	}
	var body struct {
		Tags []string `json:"tags"`
	}
	body.Tags = buf
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxTagPageBytes)).Decode(&body); err != nil {
		return nil, nil, fmt.Errorf("decoding tag list from %s: %w", redact(u), err)
	}
	link, err := nextLink(resp, repo)
	if err != nil {
		return nil, nil, err
	}
	return body.Tags, link, nil
}

// nextLink parses a Link header's rel="next" URL, resolved against the request. A link to
// another host or scheme is refused: a registry may not send ferry's credentials elsewhere.
func nextLink(resp *http.Response, repo name.Repository) (*url.URL, error) {
	for _, v := range resp.Header.Values("Link") {
		for part := range strings.SplitSeq(v, ",") {
			part = strings.TrimSpace(part)
			if !strings.HasPrefix(part, "<") {
				continue
			}
			end := strings.Index(part, ">")
			if end < 0 {
				return nil, fmt.Errorf("malformed Link header %q", v)
			}
			params := strings.ToLower(part[end+1:])
			if !strings.Contains(params, `rel="next"`) && !strings.Contains(params, "rel=next") {
				continue
			}
			target, err := url.Parse(part[1:end])
			if err != nil {
				return nil, fmt.Errorf("malformed Link header %q: %w", v, err)
			}
			if target.String() == "" {
				return nil, nil
			}
			scheme := repo.Scheme()
			if resp.Request != nil && resp.Request.URL != nil {
				target = resp.Request.URL.ResolveReference(target)
				scheme = resp.Request.URL.Scheme
			}
			if target.Host != repo.RegistryStr() || target.Scheme != scheme {
				return nil, fmt.Errorf("link header points to %s://%s, not to the registry %s: refusing to follow it", target.Scheme, target.Host, repo.RegistryStr())
			}
			return target, nil
		}
	}
	return nil, nil
}

// redact drops a URL's query and credentials for messages.
func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparsable URL)"
	}
	p.User = nil
	p.RawQuery = ""
	return p.String()
}
