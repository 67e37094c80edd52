package gitrepo

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"strings"
	"testing"

	"github.com/ferryhq/ferry/promote/gitrepo/gittest"
)

const sentinelToken = "tok-SENTINEL-5f1d2c"

func TestSmartHTTP(t *testing.T) {
	bare := newBare(t, seed)
	git(t, bare, "config", "http.receivepack", "true")
	url, srv := gittest.RepoURL(t, bare, DefaultUsername, sentinelToken)
	ctx := context.Background()

	t.Run("token", func(t *testing.T) {
		var logs bytes.Buffer
		logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		r := open(t, url, Options{Auth: Auth{Token: sentinelToken}, Logger: logger})
		res, err := r.Apply(ctx, setFile("envs/dev/http.yaml", "over: http\n", "dev: over http"))
		if err != nil {
			t.Fatal(err)
		}
		if got := git(t, bare, "rev-parse", "main"); got != res.SHA {
			t.Errorf("main at %s, want %s", got, res.SHA)
		}
		// A conflict over HTTP: recomputed and pushed.
		n := 0
		res, err = r.Apply(ctx, func(ctx context.Context, tip fs.FS) (*Change, error) {
			n++
			if n == 1 {
				pushFromClone(t, bare, "main", map[string]string{"human": "x"}, "human")
			}
			return &Change{Files: map[string][]byte{"envs/dev/http.yaml": []byte("over: http, again\n")}, Message: "again"}, nil
		})
		if err != nil || res.Attempts != 2 {
			t.Fatalf("conflict over http: %+v, %v", res, err)
		}
		if strings.Contains(logs.String(), sentinelToken) || strings.Contains(r.URL(), sentinelToken) || strings.Contains(r.opts.Auth.String(), sentinelToken) {
			t.Errorf("token leaked into logs or descriptions:\n%s", logs.String())
		}
		if logs.Len() == 0 {
			t.Error("no debug logs at all: the leak check proves nothing")
		}
		assertNoForcePush(t, bare, "main")
	})

	t.Run("token in URL", func(t *testing.T) {
		withCreds := strings.Replace(url, "http://", "http://"+DefaultUsername+":"+sentinelToken+"@", 1)
		r := open(t, withCreds, Options{})
		if strings.Contains(r.URL(), sentinelToken) {
			t.Errorf("URL() = %s holds the token", r.URL())
		}
		_, err := Open(ctx, withCreds, Options{Branch: "missing"})
		if err == nil || !errors.Is(err, ErrBranchNotFound) || strings.Contains(err.Error(), sentinelToken) {
			t.Errorf("err = %v: want ErrBranchNotFound without the token", err)
		}
	})

	t.Run("wrong token", func(t *testing.T) {
		before := srv.Refused()
		_, err := Open(ctx, url, Options{Auth: Auth{Token: "wrong-" + sentinelToken}})
		if err == nil {
			t.Fatal("Open with a wrong token succeeded")
		}
		if strings.Contains(err.Error(), sentinelToken) {
			t.Errorf("error holds the token: %v", err)
		}
		if srv.Refused() == before {
			t.Error("the server never refused a request: auth was not exercised")
		}
	})

	t.Run("no token", func(t *testing.T) {
		_, err := Open(ctx, url, Options{})
		if err == nil {
			t.Fatal("Open without a token succeeded")
		}
	})

	t.Run("TokenFor picks it for the remote", func(t *testing.T) {
		var asked []string
		tokenFor := func(remote string) (string, string) {
			asked = append(asked, remote)
			return "", sentinelToken
		}
		r := open(t, url, Options{Auth: Auth{TokenFor: tokenFor}})
		if _, err := r.Apply(ctx, setFile("envs/dev/token-for.yaml", "picked: per host\n", "dev: token for the host")); err != nil {
			t.Fatal(err)
		}
		if len(asked) != 1 || asked[0] != url {
			t.Errorf("TokenFor asked for %q, want once for %s (without credentials)", asked, url)
		}
		// Re-picked as nothing (ferry.yaml says no forge serves the host): refused.
		if err := r.SetTokenFor(func(string) (string, string) { return "", "" }); err != nil {
			t.Fatal(err)
		}
		before := srv.Refused()
		if _, err := r.Apply(ctx, setFile("envs/dev/token-for.yaml", "picked: nothing\n", "dev: no token")); err == nil || srv.Refused() == before {
			t.Errorf("push with no credential: err %v, refused %d → %d; want refused", err, before, srv.Refused())
		}
	})

	t.Run("the URL's credentials win over TokenFor", func(t *testing.T) {
		withCreds := strings.Replace(url, "http://", "http://"+DefaultUsername+":"+sentinelToken+"@", 1)
		r := open(t, withCreds, Options{Auth: Auth{TokenFor: func(string) (string, string) { return "", "other-" + sentinelToken }}})
		if _, err := r.Apply(ctx, setFile("envs/dev/url-wins.yaml", "url: wins\n", "dev: url credentials")); err != nil {
			t.Fatal(err)
		}
	})
}
