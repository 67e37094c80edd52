package forge_test

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ferryhq/ferry/promote/forge"
)

func TestBody(t *testing.T) {
	tests := []struct {
		name string
		rows []forge.BodyRow
		want string
	}{{
		name: "empty",
		want: "| image | from | to | digest | signer | source commit |\n| --- | --- | --- | --- | --- | --- |\n",
	}, {
		name: "escapes pipes and newlines, marks unverified, links commits",
		rows: []forge.BodyRow{
			{Image: "api", From: "ghcr.io/acme/api:1.2.0", To: "ghcr.io/acme/api:1.3.0@sha256:ab", Digest: "sha256:ab",
				Signer:       "https://github.com/acme/api/.github/workflows/release.yml@refs/heads/main",
				SourceCommit: "0123456789abcdef0123", SourceCommitURL: "https://github.com/acme/config/commit/0123456789abcdef0123"},
			{Image: "web|x", From: "", To: "web:2\n| evil |", Digest: "sha256:cd", SourceCommit: "fedcba"},
		},
		want: "| image | from | to | digest | signer | source commit |\n| --- | --- | --- | --- | --- | --- |\n" +
			"| api | `ghcr.io/acme/api:1.2.0` | `ghcr.io/acme/api:1.3.0@sha256:ab` | `sha256:ab` | `https://github.com/acme/api/.github/workflows/release.yml@refs/heads/main` | [`0123456789ab`](https://github.com/acme/config/commit/0123456789abcdef0123) |\n" +
			"| web\\|x | — | `web:2 \\| evil \\|` | `sha256:cd` | not verified | `fedcba` |\n",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, forge.Body(tc.rows)); diff != "" {
				t.Errorf("Body (-want +got):\n%s", diff)
			}
		})
	}
}

func ExampleBody() {
	fmt.Print(forge.Body([]forge.BodyRow{{
		Image: "api", From: "ghcr.io/acme/api:1.4.1", To: "ghcr.io/acme/api:1.4.2@sha256:9f86d0",
		Digest: "sha256:9f86d0", Signer: "keys/api.pub",
		SourceCommit: "4b825dc642cb6eb9a060e54bf8d69288fbee4904", SourceCommitURL: "https://github.com/acme/config/commit/4b825dc6",
	}}))
	// Output:
	// | image | from | to | digest | signer | source commit |
	// | --- | --- | --- | --- | --- | --- |
	// | api | `ghcr.io/acme/api:1.4.1` | `ghcr.io/acme/api:1.4.2@sha256:9f86d0` | `sha256:9f86d0` | `keys/api.pub` | [`4b825dc642cb`](https://github.com/acme/config/commit/4b825dc6) |
}
