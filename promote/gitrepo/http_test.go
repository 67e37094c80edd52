package gitrepo

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

const sentinelToken = "tok-SENTINEL-5f1d2c"

// smartHTTP serves the bare repos under root with git http-backend through net/http/cgi,
// requiring basic auth user:token.
func smartHTTP(t *testing.T, root, user, token string) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	execPath := git(t, ".", "--exec-path")
	backend := &cgi.Handler{
		Path: filepath.Join(execPath, "git-http-backend"),
		Env:  []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"},
	}
	var refused atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || u != user || p != token {
			refused.Add(1)
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		backend.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &refused
}

func TestSmartHTTP(t *testing.T) {
	bare := newBare(t, seed)
	git(t, bare, "config", "http.receivepack", "true")
	srv, refused := smartHTTP(t, filepath.Dir(bare), DefaultUsername, sentinelToken)
	url := srv.URL + "/config.git"
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
		before := refused.Load()
		_, err := Open(ctx, url, Options{Auth: Auth{Token: "wrong-" + sentinelToken}})
		if err == nil {
			t.Fatal("Open with a wrong token succeeded")
		}
		if strings.Contains(err.Error(), sentinelToken) {
			t.Errorf("error holds the token: %v", err)
		}
		if refused.Load() == before {
			t.Error("the server never refused a request: auth was not exercised")
		}
	})

	t.Run("no token", func(t *testing.T) {
		_, err := Open(ctx, url, Options{})
		if err == nil {
			t.Fatal("Open without a token succeeded")
		}
	})
}
