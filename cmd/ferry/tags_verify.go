package main

import (
	"log/slog"

	"github.com/urfave/cli/v2"

	"github.com/ferryhq/ferry/registry"
)

// Wires `ferry tags` to the cosign verifier: the verify flags of verify.go, and a Verifier whose
// requests go through the client's retrying, rate-limited transport.
func init() {
	tagsVerifyFlags = verifyFlags
	tagsVerifier = func(c *cli.Context, client *registry.Client) (registry.DigestVerifier, error) {
		entries, err := verifyEntriesFromFlags(c)
		if err != nil || len(entries) == 0 {
			return nil, err
		}
		return registry.NewVerifier(entries, registry.WithLogger(slog.Default()), registry.WithRemoteOptions(client.RemoteOptions(c.Context)...))
	}
}
