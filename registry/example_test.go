package registry_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"

	"github.com/google/go-containerregistry/pkg/name"
	ggcr "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ferryhq/ferry/policy"
	"github.com/ferryhq/ferry/registry"
)

// Select picks the newest tag within the semver range; without a verifier it does not verify.
func ExampleClient_Select() {
	srv := httptest.NewServer(ggcr.New(ggcr.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	repo := srv.Listener.Addr().String() + "/acme/api"
	for _, tag := range []string{"1.2.0", "1.3.0", "2.0.0", "latest"} {
		ref, _ := name.NewTag(repo + ":" + tag)
		if err := remote.Write(ref, empty.Image); err != nil {
			fmt.Println(err)
			return
		}
	}
	cache, _ := os.MkdirTemp("", "ferry-example")
	defer os.RemoveAll(cache)

	c, err := registry.New(registry.WithCacheDir(cache))
	if err != nil {
		fmt.Println(err)
		return
	}
	p, err := policy.New(policy.Spec{Semver: "^1", Ignore: []string{"latest"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	sel, err := c.Select(context.Background(), registry.SelectOptions{Repository: repo, Policy: p})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("chosen:", sel.Chosen.Tag)
	for _, n := range sel.NotReached {
		fmt.Println("older:", n.Tag)
	}
	for _, r := range sel.Rejected {
		fmt.Println("rejected:", r.Tag, r.Reason)
	}
	// Output:
	// chosen: 1.3.0
	// older: 1.2.0
	// rejected: 2.0.0 out-of-range
	// rejected: latest ignored
}
