package imagebuild

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// What every image holds and how it runs.
const (
	Entrypoint = "/usr/local/bin/ferry"
	User       = "65532:65532"
	CACertPath = "etc/ssl/certs/ca-certificates.crt"
	Home       = "/home/nonroot"
)

// The OCI annotation keys Build sets.
const (
	AnnotationSource   = "org.opencontainers.image.source"
	AnnotationRevision = "org.opencontainers.image.revision"
	AnnotationVersion  = "org.opencontainers.image.version"
	AnnotationCreated  = "org.opencontainers.image.created"
	AnnotationTitle    = "org.opencontainers.image.title"
)

const (
	passwd = "root:x:0:0:root:/root:/sbin/nologin\n" +
		"nonroot:x:65532:65532:nonroot:" + Home + ":/sbin/nologin\n"
	group = "root:x:0:\nnonroot:x:65532:\n"
)

// Binary is one platform's static ferry binary.
type Binary struct {
	Platform v1.Platform // OS and Architecture (and Variant, if any)
	Data     []byte
}

// Options are Build's inputs. Every field but Revision and Source is required.
type Options struct {
	Binaries []Binary // one per platform, in the index's order
	CACerts  []byte   // a PEM bundle of CA certificates
	Version  string   // the version ferry reports, e.g. 1.2.0
	Revision string   // the commit the binaries were built from
	Source   string   // the repository URL
	Created  time.Time

	// FastCompression compresses layers with gzip's fastest level instead of its best: about
	// 2 MB more per platform, several times faster (for tests; releases leave it off).
	FastCompression bool
}

// Build returns the image index: one image per binary, in the order given.
func Build(o Options) (v1.ImageIndex, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	created := o.Created.UTC()
	ann := o.annotations()
	base, err := layer([]file{
		{name: "etc/", mode: 0o755},
		{name: "etc/passwd", mode: 0o644, data: []byte(passwd)},
		{name: "etc/group", mode: 0o644, data: []byte(group)},
		{name: "etc/ssl/", mode: 0o755},
		{name: "etc/ssl/certs/", mode: 0o755},
		{name: CACertPath, mode: 0o644, data: o.CACerts},
		{name: "home/", mode: 0o755},
		{name: strings.TrimPrefix(Home, "/") + "/", mode: 0o700, uid: 65532},
		{name: "tmp/", mode: 0o1777},
	}, created, o.level())
	if err != nil {
		return nil, fmt.Errorf("making the base layer: %w", err)
	}

	var idx v1.ImageIndex = mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	var adds []mutate.IndexAddendum
	for _, b := range o.Binaries {
		img, err := platformImage(b, base, created, ann, o.level())
		if err != nil {
			return nil, fmt.Errorf("building the %s image: %w", b.Platform, err)
		}
		p := b.Platform
		adds = append(adds, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: &p, Annotations: ann},
		})
	}
	idx = mutate.AppendManifests(idx, adds...)
	return mutate.Annotations(idx, ann).(v1.ImageIndex), nil
}

func (o Options) validate() error {
	if len(o.Binaries) == 0 {
		return errors.New("no binaries: give one per platform")
	}
	seen := map[string]bool{}
	for i, b := range o.Binaries {
		if b.Platform.OS == "" || b.Platform.Architecture == "" {
			return fmt.Errorf("binary %d: platform %q needs an OS and an architecture", i, b.Platform)
		}
		if seen[b.Platform.String()] {
			return fmt.Errorf("binary %d: platform %s given twice", i, b.Platform)
		}
		seen[b.Platform.String()] = true
		if len(b.Data) == 0 {
			return fmt.Errorf("binary %d (%s) is empty", i, b.Platform)
		}
	}
	if !bytes.Contains(o.CACerts, []byte("-----BEGIN CERTIFICATE-----")) {
		return errors.New("CA certificates: no PEM certificate in the bundle")
	}
	if o.Version == "" {
		return errors.New("no version")
	}
	if o.Created.IsZero() {
		return errors.New("no created time: use the commit time")
	}
	return nil
}

func (o Options) annotations() map[string]string {
	ann := map[string]string{
		AnnotationTitle:   "ferry",
		AnnotationVersion: o.Version,
		AnnotationCreated: o.Created.UTC().Format(time.RFC3339),
	}
	if o.Revision != "" {
		ann[AnnotationRevision] = o.Revision
	}
	if o.Source != "" {
		ann[AnnotationSource] = o.Source
	}
	return ann
}

func (o Options) level() int {
	if o.FastCompression {
		return gzip.BestSpeed
	}
	return gzip.BestCompression
}

func platformImage(b Binary, base v1.Layer, created time.Time, ann map[string]string, level int) (v1.Image, error) {
	bin, err := layer([]file{
		{name: "usr/", mode: 0o755},
		{name: "usr/local/", mode: 0o755},
		{name: "usr/local/bin/", mode: 0o755},
		{name: strings.TrimPrefix(Entrypoint, "/"), mode: 0o755, data: b.Data},
	}, created, level)
	if err != nil {
		return nil, fmt.Errorf("making the binary layer: %w", err)
	}
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err = mutate.Append(img,
		mutate.Addendum{Layer: base, History: v1.History{Created: v1.Time{Time: created}, CreatedBy: "imagebuild: user nonroot, CA certificates, /tmp"}},
		mutate.Addendum{Layer: bin, History: v1.History{Created: v1.Time{Time: created}, CreatedBy: "imagebuild: " + Entrypoint}},
	)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant, cf.OSVersion = b.Platform.OS, b.Platform.Architecture, b.Platform.Variant, b.Platform.OSVersion
	cf.Created = v1.Time{Time: created}
	cf.Config = v1.Config{
		User:       User,
		Entrypoint: []string{Entrypoint},
		Env:        []string{"PATH=/usr/local/bin", "HOME=" + Home, "SSL_CERT_FILE=/" + CACertPath},
		WorkingDir: Home,
		Labels:     ann,
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, err
	}
	return mutate.Annotations(img, ann).(v1.Image), nil
}

// file is one tar entry; a name ending in / is a directory.
type file struct {
	name string
	mode int64
	uid  int
	data []byte
}

// layer makes an OCI layer of files, gzip-compressed at level, owned by root unless uid is
// set, all modified at mtime.
func layer(files []file, mtime time.Time, level int) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{
			Name:    f.name,
			Mode:    f.mode,
			Uid:     f.uid,
			Gid:     f.uid,
			ModTime: mtime,
			Format:  tar.FormatPAX,
		}
		if strings.HasSuffix(f.name, "/") {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(f.data))
		}
		if f.uid != 0 {
			h.Uname, h.Gname = "nonroot", "nonroot"
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}, tarball.WithMediaType(types.OCILayer), tarball.WithCompressedCaching, tarball.WithCompressionLevel(level))
}
