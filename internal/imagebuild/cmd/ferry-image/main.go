// Command ferry-image builds ferry's own multi-arch image from static binaries (see package
// imagebuild) and writes it as an OCI layout, pushes it, or both. `make image` runs it:
//
//	go run ./internal/imagebuild/cmd/ferry-image \
//	  --binary linux/amd64=dist/image/bin/linux_amd64/ferry \
//	  --binary linux/arm64=dist/image/bin/linux_arm64/ferry \
//	  --version 1.2.0 --revision $(git rev-parse HEAD) --created $(git log -1 --format=%ct) \
//	  [--out dist/image/oci] [--push ghcr.io/ferryhq/ferry:1.2.0]
//
// It prints the index digest and each platform's manifest digest on stdout. Pushing uses the
// Docker keychain (~/.docker/config.json and credential helpers), like crane and cosign.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ferryhq/ferry/internal/imagebuild"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "ferry-image:", err)
		os.Exit(1)
	}
}

// binaries is the repeatable --binary OS/ARCH[/VARIANT]=PATH flag.
type binaries []string

func (b *binaries) String() string     { return strings.Join(*b, ",") }
func (b *binaries) Set(v string) error { *b = append(*b, v); return nil }

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("ferry-image", flag.ContinueOnError)
	var bins binaries
	fs.Var(&bins, "binary", "OS/ARCH=PATH of a static ferry binary (repeatable, one per platform)")
	caCerts := fs.String("ca-certs", "/etc/ssl/certs/ca-certificates.crt", "the PEM bundle of CA certificates to ship")
	version := fs.String("version", "", "the version (also the layout's ref name)")
	revision := fs.String("revision", "", "the commit the binaries were built from")
	source := fs.String("source", "https://github.com/ferryhq/ferry", "the source repository URL")
	created := fs.String("created", "", "the commit time: Unix seconds or RFC 3339")
	out := fs.String("out", "", "write an OCI layout to this directory (replaced)")
	push := fs.String("push", "", "push the index to this reference")
	fast := fs.Bool("fast", false, "gzip's fastest level instead of its best (larger layers; for tests)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *out == "" && *push == "" {
		return errors.New("nothing to do: give --out DIR, --push REF or both")
	}
	var ref name.Reference
	if *push != "" {
		var err error
		if ref, err = name.ParseReference(*push); err != nil {
			return fmt.Errorf("parsing --push %q: %w", *push, err)
		}
	}
	t, err := parseTime(*created)
	if err != nil {
		return err
	}
	o := imagebuild.Options{Version: *version, Revision: *revision, Source: *source, Created: t, FastCompression: *fast}
	for _, b := range bins {
		platform, path, ok := strings.Cut(b, "=")
		if !ok {
			return fmt.Errorf("--binary %q: want OS/ARCH=PATH", b)
		}
		p, err := v1.ParsePlatform(platform)
		if err != nil {
			return fmt.Errorf("--binary %q: %w", b, err)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("reading the %s binary: %w", platform, err)
		}
		o.Binaries = append(o.Binaries, imagebuild.Binary{Platform: *p, Data: data})
	}
	if o.CACerts, err = os.ReadFile(*caCerts); err != nil {
		return fmt.Errorf("reading CA certificates: %w (install ca-certificates, or pass --ca-certs FILE)", err)
	}

	idx, err := imagebuild.Build(o)
	if err != nil {
		return err
	}
	if *out != "" {
		if err := writeLayout(*out, idx, o.Version); err != nil {
			return fmt.Errorf("writing the OCI layout %s: %w", *out, err)
		}
		fmt.Fprintf(stdout, "wrote %s (OCI layout, ref name %s)\n", *out, o.Version)
	}
	if ref != nil {
		if err := remote.WriteIndex(ref, idx, remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)); err != nil {
			return fmt.Errorf("pushing %s: %w", ref, err)
		}
		fmt.Fprintf(stdout, "pushed %s\n", ref)
	}
	return describe(stdout, idx)
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, errors.New("no --created: give the commit time (git log -1 --format=%ct)")
	}
	if secs, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(secs, 0).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("--created %q: want Unix seconds or RFC 3339", s)
	}
	return t, nil
}

// writeLayout replaces dir with an OCI layout whose index.json names idx by version.
func writeLayout(dir string, idx v1.ImageIndex, version string) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	return p.AppendIndex(idx, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": version}))
}

// describe prints the index digest and each platform's manifest digest and size.
func describe(w io.Writer, idx v1.ImageIndex) error {
	d, err := idx.Digest()
	if err != nil {
		return err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "index %s\n", d)
	for _, m := range im.Manifests {
		img, err := idx.Image(m.Digest)
		if err != nil {
			return err
		}
		layers, err := img.Layers()
		if err != nil {
			return err
		}
		var size int64
		for _, l := range layers {
			s, err := l.Size()
			if err != nil {
				return err
			}
			size += s
		}
		fmt.Fprintf(w, "  %s %s (layers %.1f MB compressed)\n", m.Platform, m.Digest, float64(size)/1e6)
	}
	return nil
}
