package gitrepo

import (
	"net/http"

	"github.com/go-git/go-git/v5/plumbing/transport/client"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"

	"github.com/ferryhq/ferry/internal/authguard"
)

// Git's smart HTTP goes through ferry's credential guard: the basic credentials go-git adds
// for the remote reach no other host, whatever a redirect says (go-git strips them on a
// cross-origin redirect too; ferry does not rely on it). go-git picks transports from a
// process-wide table, so this package installs its own for http and https.
func init() {
	c := githttp.NewClient(&http.Client{Transport: &authguard.Transport{Next: http.DefaultTransport}})
	client.InstallProtocol("https", c)
	client.InstallProtocol("http", c)
}
