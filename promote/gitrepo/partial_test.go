package gitrepo

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/ferryhq/ferry/promote/gitrepo/gittest"
)

// bigSeed is seed with more than wholeTipFiles other files beside it.
func bigSeed() map[string]string {
	files := map[string]string{}
	for k, v := range seed {
		files[k] = v
	}
	for i := 0; i <= wholeTipFiles; i++ {
		files[fmt.Sprintf("other/d%02d/f%04d.txt", i%40, i)] = fmt.Sprintf("file %d\n", i)
	}
	return files
}

// has reports whether the clone holds the object at rev of bare (a blob by path: main:x).
func has(t *testing.T, r *Repo, bare, rev string) bool {
	t.Helper()
	h := plumbing.NewHash(git(t, bare, "rev-parse", rev))
	if _, ok := r.clone.mem(plumbing.AnyObject, h); ok {
		return true
	}
	return r.clone.Storage.HasEncodedObject(h) == nil
}

// partialServer serves a bare repository of files that allows partial clones over smart HTTP.
func partialServer(t *testing.T, files map[string]string) (bare, url string, srv *gittest.HTTPServer) {
	t.Helper()
	bare = newBare(t, files)
	gittest.AllowPartial(t, bare)
	git(t, bare, "config", "http.receivepack", "true")
	url, srv = gittest.RepoURL(t, bare, DefaultUsername, sentinelToken)
	return bare, url, srv
}

func TestPartialClone(t *testing.T) {
	ctx := context.Background()
	bare, url, srv := partialServer(t, bigSeed())
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	r := open(t, url, Options{Auth: Auth{Token: sentinelToken}, Logger: logger})

	// The first fetch brings the tip's trees and no file.
	if n := srv.Served(); n != 2 {
		t.Errorf("opening made %d requests, want 2 (advertisement, fetch)", n)
	}
	if !has(t, r, bare, "main:other/d07") || !has(t, r, bare, "main^{tree}") {
		t.Error("the partial clone lacks a tree")
	}
	for _, p := range []string{"ferry.yaml", "envs/dev/kustomization.yaml", "other/d00/f0000.txt"} {
		if has(t, r, bare, "main:"+p) {
			t.Errorf("the partial clone fetched %s before it was read", p)
		}
	}

	// A file read is fetched on its own; a directory prefetched costs one fetch for all of it.
	tip, err := r.Tip(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := fs.ReadFile(tip.FS(), "ferry.yaml"); err != nil || string(b) != seed["ferry.yaml"] {
		t.Fatalf("ferry.yaml read %q, %v", b, err)
	}
	if n := srv.Served(); n != 4 {
		t.Errorf("after reading ferry.yaml: %d requests, want 4", n)
	}
	if err := tip.Prefetch(ctx, "envs", "README.md", "no/such/dir"); err != nil {
		t.Fatal(err)
	}
	if n := srv.Served(); n != 6 {
		t.Errorf("after prefetching envs and README.md: %d requests, want 6", n)
	}
	for _, p := range []string{"envs/dev/kustomization.yaml", "envs/prod/deploy.yaml", "envs/prod/nested/values.yaml", "README.md"} {
		if b, err := fs.ReadFile(tip.FS(), p); err != nil || string(b) != seed[p] {
			t.Errorf("%s read %q, %v", p, b, err)
		}
	}
	if err := tip.Prefetch(ctx, "envs"); err != nil {
		t.Fatal(err)
	}
	if n := srv.Served(); n != 6 {
		t.Errorf("reading prefetched files made requests: %d, want 6", n)
	}

	// A commit on a partial clone changes only its file and fetches nothing else; a lost race
	// is fetched and re-applied as on a whole clone.
	res, err := r.Apply(ctx, setFile("envs/dev/kustomization.yaml", "images:\n- name: api\n  newTag: 1.1.0\n", "dev: api 1.1.0"))
	if err != nil {
		t.Fatal(err)
	}
	if got := git(t, bare, "diff", "--name-only", res.SHA+"^", res.SHA); got != "envs/dev/kustomization.yaml" {
		t.Errorf("the commit changed %q", got)
	}
	n := 0
	res, err = r.Apply(ctx, func(ctx context.Context, tip fs.FS) (*Change, error) {
		if n++; n == 1 {
			pushFromClone(t, bare, "main", map[string]string{"other/d01/f0001.txt": "human\n"}, "human")
		}
		b, err := fs.ReadFile(tip, "envs/prod/deploy.yaml")
		if err != nil {
			return nil, err
		}
		return &Change{Files: map[string][]byte{"envs/prod/deploy.yaml": bytes.ReplaceAll(b, []byte("1.0.0"), []byte("1.1.0"))}, Message: "prod: api 1.1.0"}, nil
	})
	if err != nil || res.Attempts != 2 {
		t.Fatalf("race on a partial clone: %+v, %v", res, err)
	}
	if got := git(t, bare, "show", "main:other/d01/f0001.txt"); got != "human" {
		t.Errorf("the concurrent commit was lost: other/d01/f0001.txt is %q", got)
	}
	if got := git(t, bare, "show", "main:envs/prod/deploy.yaml"); got != "image: api:1.1.0" {
		t.Errorf("envs/prod/deploy.yaml is %q", got)
	}
	if has(t, r, bare, "main:other/d00/f0000.txt") {
		t.Error("writing fetched a file nothing read")
	}
	gittest.Fsck(t, bare)
	assertNoForcePush(t, bare, "main")

	// An old version of a file (as a rollback reads it) comes with the deepened history, or is
	// fetched when the server left it out because the tip has the same bytes.
	es, err := r.History(ctx, HistoryQuery{Path: "envs/dev"})
	if err != nil || len(es) < 2 {
		t.Fatalf("history of envs/dev: %d entries, %v", len(es), err)
	}
	old, err := r.SnapshotOf(ctx, es[1].SHA)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"envs/dev/kustomization.yaml", "other/d02/f0002.txt"} {
		want := git(t, bare, "show", es[1].SHA+":"+p) + "\n"
		if b, err := fs.ReadFile(old.FS(), p); err != nil || string(b) != want {
			t.Errorf("%s at %s read %q, %v; want %q", p, es[1].SHA[:7], b, err, want)
		}
	}
	if strings.Contains(logs.String(), sentinelToken) {
		t.Errorf("token leaked into logs:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "partial=true") {
		t.Errorf("the debug log does not say the clone is partial:\n%s", logs.String())
	}
}

// A tip of few files is fetched whole right after its trees; a remote that serves no filter
// is fetched whole in one go, as git clone --depth 1 would.
func TestPartialCloneFetchesWhole(t *testing.T) {
	t.Run("small tip", func(t *testing.T) {
		bare, url, srv := partialServer(t, seed)
		r := open(t, url, Options{Auth: Auth{Token: sentinelToken}})
		if n := srv.Served(); n != 4 {
			t.Errorf("opening made %d requests, want 4 (trees, then every blob)", n)
		}
		for p := range seed {
			if !has(t, r, bare, "main:"+p) {
				t.Errorf("%s was not fetched", p)
			}
		}
	})
	t.Run("no filter on the remote", func(t *testing.T) {
		bare := newBare(t, bigSeed())
		git(t, bare, "config", "http.receivepack", "true")
		url, srv := gittest.RepoURL(t, bare, DefaultUsername, sentinelToken)
		r := open(t, url, Options{Auth: Auth{Token: sentinelToken}})
		if n := srv.Served(); n != 2 {
			t.Errorf("opening made %d requests, want 2", n)
		}
		if !has(t, r, bare, "main:other/d00/f0000.txt") || !has(t, r, bare, "main:ferry.yaml") {
			t.Error("a remote without filter did not give the whole tip")
		}
	})
	t.Run("bare path", func(t *testing.T) {
		bare := newBare(t, bigSeed())
		gittest.AllowPartial(t, bare)
		r := open(t, bare, Options{})
		if has(t, r, bare, "main:other/d00/f0000.txt") {
			t.Error("a local bare repository allowing filters was fetched whole")
		}
		tip, err := r.Tip(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if b, err := fs.ReadFile(tip.FS(), "other/d00/f0000.txt"); err != nil || string(b) != "file 0\n" {
			t.Errorf("read %q, %v", b, err)
		}
	})
}

// A blob that cannot be fetched is an error naming the remote, not an empty file. (Over smart
// HTTP git serves any reachable object it is asked for, advertised or not; over its own
// protocol, as here through a bare path, it refuses one it does not allow.)
func TestPartialCloneFetchFails(t *testing.T) {
	bare := newBare(t, bigSeed())
	gittest.AllowPartial(t, bare)
	r := open(t, bare, Options{})
	git(t, bare, "config", "uploadpack.allowAnySHA1InWant", "false")
	tip, err := r.Tip(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	_, err = fs.ReadFile(tip.FS(), "ferry.yaml")
	if err == nil {
		t.Fatal("reading a blob the remote refuses to send succeeded")
	}
	if !strings.Contains(err.Error(), "file(s) from "+r.URL()) {
		t.Errorf("error %q: want it to name the remote", err)
	}
	if err := tip.Prefetch(context.Background(), "envs"); err == nil {
		t.Error("a prefetch the remote refuses succeeded")
	}
}
