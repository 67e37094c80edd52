package registry_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	"github.com/ferryhq/ferry/internal/sigtest"
	"github.com/ferryhq/ferry/registry"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// A key-signed image verifies; the digest to write is the one in the Verification.
func ExampleVerifier_Verify() {
	ctx := context.Background()
	srv := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	tag, _ := name.NewTag(strings.TrimPrefix(srv.URL, "http://") + "/acme/api:1.4.2")
	img, _ := random.Image(64, 1)
	_ = remote.Write(tag, img)
	d, _ := img.Digest()
	ref := tag.Context().Digest(d.String())

	key, _ := sigtest.NewKeyPair()
	dir, _ := os.MkdirTemp("", "ferry-example")
	defer os.RemoveAll(dir)
	keyPath := filepath.Join(dir, "cosign.pub")
	_ = key.WritePublicKey(keyPath)
	_ = sigtest.SignWithKey(ctx, ref, key)

	v, err := registry.NewVerifier([]registry.VerifyEntry{{Key: keyPath}})
	if err != nil {
		fmt.Println(err)
		return
	}
	ver, err := v.Verify(ctx, ref)
	fmt.Println(err == nil, ver.Digest == d.String())

	unsigned, _ := random.Image(64, 1)
	_ = remote.Write(tag, unsigned)
	ud, _ := unsigned.Digest()
	_, err = v.Verify(ctx, tag.Context().Digest(ud.String()))
	var re *registry.RefusalError
	fmt.Println(errors.As(err, &re), re.Reason)
	// Output:
	// true true
	// true unsigned
}
