package forge_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ferryhq/ferry/promote/forge"
)

func ExampleProviderFor() {
	for _, remote := range []string{
		"https://github.com/acme/config.git",
		"git@gitlab.example.com:platform/deploy/config.git",
		"https://codeberg.org/acme/config",
		"file:///srv/git/config.git",
		"https://git.example.com/acme/config",
	} {
		p, err := forge.ProviderFor(forge.Config{RemoteURL: remote})
		switch {
		case errors.Is(err, forge.ErrNoForge):
			fmt.Println("no forge: push the branch only")
		case errors.Is(err, forge.ErrUnknownProvider):
			fmt.Println("set git.pullRequest.provider")
		default:
			fmt.Println(p)
		}
	}
	// Output:
	// github
	// gitlab
	// gitea
	// no forge: push the branch only
	// set git.pullRequest.provider
}

// mergedOnThirdLook is a Forge whose pull request is merged by the third time it is asked.
type mergedOnThirdLook struct{ looks int }

func (f *mergedOnThirdLook) EnsurePullRequest(context.Context, forge.Spec) (*forge.PullRequest, error) {
	return &forge.PullRequest{Number: 12}, nil
}

func (f *mergedOnThirdLook) State(context.Context, int) (forge.State, error) {
	f.looks++
	if f.looks == 3 {
		return forge.StateMerged, nil
	}
	return forge.StateOpen, nil
}

func ExampleWait() {
	f := &mergedOnThirdLook{}
	st, err := forge.Wait(context.Background(), f, 12, time.Millisecond, time.Minute)
	fmt.Println(st, err)
	// Output: merged <nil>
}
