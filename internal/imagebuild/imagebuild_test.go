package imagebuild_test

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/ferryhq/ferry/internal/imagebuild"
)

const testCerts = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

var (
	amd64 = v1.Platform{OS: "linux", Architecture: "amd64"}
	arm64 = v1.Platform{OS: "linux", Architecture: "arm64"}
)

func testOptions() imagebuild.Options {
	return imagebuild.Options{
		Binaries: []imagebuild.Binary{
			{Platform: amd64, Data: []byte("amd64 binary")},
			{Platform: arm64, Data: []byte("arm64 binary")},
		},
		CACerts:  []byte(testCerts),
		Version:  "1.2.0",
		Revision: "0123456789abcdef0123456789abcdef01234567",
		Source:   "https://github.com/ferryhq/ferry",
		Created:  time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC),
	}
}

// entry is what a test compares of one tar entry.
type entry struct {
	Name     string
	Mode     int64
	UID, GID int
	ModTime  time.Time
	Data     string
}

func layerEntries(t *testing.T, l v1.Layer) []entry {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var out []entry
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, entry{Name: h.Name, Mode: h.Mode, UID: h.Uid, GID: h.Gid, ModTime: h.ModTime.UTC(), Data: string(data)})
	}
}

// TestBuild checks the index, each platform's config and both layers' files.
func TestBuild(t *testing.T) {
	o := testOptions()
	idx, err := imagebuild.Build(o)
	if err != nil {
		t.Fatal(err)
	}
	wantAnn := map[string]string{
		"org.opencontainers.image.title":    "ferry",
		"org.opencontainers.image.version":  "1.2.0",
		"org.opencontainers.image.revision": o.Revision,
		"org.opencontainers.image.source":   o.Source,
		"org.opencontainers.image.created":  "2026-11-20T10:00:00Z",
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if im.MediaType != types.OCIImageIndex {
		t.Errorf("index media type %s, want %s", im.MediaType, types.OCIImageIndex)
	}
	if diff := cmp.Diff(wantAnn, im.Annotations); diff != "" {
		t.Errorf("index annotations (-want +got):\n%s", diff)
	}
	var platforms []string
	for _, m := range im.Manifests {
		platforms = append(platforms, m.Platform.String())
		if diff := cmp.Diff(wantAnn, m.Annotations); diff != "" {
			t.Errorf("%s descriptor annotations (-want +got):\n%s", m.Platform, diff)
		}
	}
	if diff := cmp.Diff([]string{"linux/amd64", "linux/arm64"}, platforms); diff != "" {
		t.Fatalf("platforms (-want +got):\n%s", diff)
	}

	created := o.Created
	wantBase := []entry{
		{Name: "etc/", Mode: 0o755, ModTime: created},
		{Name: "etc/passwd", Mode: 0o644, ModTime: created, Data: "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"},
		{Name: "etc/group", Mode: 0o644, ModTime: created, Data: "root:x:0:\nnonroot:x:65532:\n"},
		{Name: "etc/ssl/", Mode: 0o755, ModTime: created},
		{Name: "etc/ssl/certs/", Mode: 0o755, ModTime: created},
		{Name: "etc/ssl/certs/ca-certificates.crt", Mode: 0o644, ModTime: created, Data: testCerts},
		{Name: "home/", Mode: 0o755, ModTime: created},
		{Name: "home/nonroot/", Mode: 0o700, UID: 65532, GID: 65532, ModTime: created},
		{Name: "tmp/", Mode: 0o1777, ModTime: created},
	}
	var baseDigests []v1.Hash
	for i, m := range im.Manifests {
		t.Run(m.Platform.String(), func(t *testing.T) {
			img, err := idx.Image(m.Digest)
			if err != nil {
				t.Fatal(err)
			}
			man, err := img.Manifest()
			if err != nil {
				t.Fatal(err)
			}
			if man.MediaType != types.OCIManifestSchema1 || man.Config.MediaType != types.OCIConfigJSON {
				t.Errorf("media types %s, config %s; want OCI", man.MediaType, man.Config.MediaType)
			}
			if diff := cmp.Diff(wantAnn, man.Annotations); diff != "" {
				t.Errorf("manifest annotations (-want +got):\n%s", diff)
			}
			cf, err := img.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			if cf.OS != m.Platform.OS || cf.Architecture != m.Platform.Architecture || !cf.Created.Time.Equal(created) {
				t.Errorf("config: %s/%s created %v; want %s created %v", cf.OS, cf.Architecture, cf.Created, m.Platform, created)
			}
			want := v1.Config{
				User:       "65532:65532",
				Entrypoint: []string{"/usr/local/bin/ferry"},
				Env:        []string{"PATH=/usr/local/bin", "HOME=/home/nonroot", "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"},
				WorkingDir: "/home/nonroot",
				Labels:     wantAnn,
			}
			if diff := cmp.Diff(want, cf.Config); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
			layers, err := img.Layers()
			if err != nil {
				t.Fatal(err)
			}
			if len(layers) != 2 || len(cf.History) != 2 {
				t.Fatalf("%d layers, %d history entries; want 2 and 2", len(layers), len(cf.History))
			}
			for _, l := range layers {
				if mt, _ := l.MediaType(); mt != types.OCILayer {
					t.Errorf("layer media type %s, want %s", mt, types.OCILayer)
				}
			}
			d, err := layers[0].Digest()
			if err != nil {
				t.Fatal(err)
			}
			baseDigests = append(baseDigests, d)
			if diff := cmp.Diff(wantBase, layerEntries(t, layers[0])); diff != "" {
				t.Errorf("base layer (-want +got):\n%s", diff)
			}
			wantBin := []entry{
				{Name: "usr/", Mode: 0o755, ModTime: created},
				{Name: "usr/local/", Mode: 0o755, ModTime: created},
				{Name: "usr/local/bin/", Mode: 0o755, ModTime: created},
				{Name: "usr/local/bin/ferry", Mode: 0o755, ModTime: created, Data: string(o.Binaries[i].Data)},
			}
			if diff := cmp.Diff(wantBin, layerEntries(t, layers[1])); diff != "" {
				t.Errorf("binary layer (-want +got):\n%s", diff)
			}
		})
	}
	if len(baseDigests) == 2 && baseDigests[0] != baseDigests[1] {
		t.Errorf("the base layer differs between platforms: %v", baseDigests)
	}
}

// TestBuildReproducible builds the same inputs twice and gets the same digest; another commit
// time gives another digest.
func TestBuildReproducible(t *testing.T) {
	digest := func(o imagebuild.Options) v1.Hash {
		t.Helper()
		idx, err := imagebuild.Build(o)
		if err != nil {
			t.Fatal(err)
		}
		d, err := idx.Digest()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	first, second := digest(testOptions()), digest(testOptions())
	if first != second {
		t.Errorf("two builds of the same inputs: %s and %s", first, second)
	}
	later := testOptions()
	later.Created = later.Created.Add(time.Second)
	if d := digest(later); d == first {
		t.Errorf("a later commit time gives the same digest %s", d)
	}
}

func TestBuildRejects(t *testing.T) {
	tests := []struct {
		name   string
		change func(*imagebuild.Options)
		want   string
	}{
		{"no binaries", func(o *imagebuild.Options) { o.Binaries = nil }, "no binaries"},
		{"no architecture", func(o *imagebuild.Options) { o.Binaries[1].Platform = v1.Platform{OS: "linux"} }, "binary 1: platform"},
		{"platform twice", func(o *imagebuild.Options) { o.Binaries[1].Platform = amd64 }, "binary 1: platform linux/amd64 given twice"},
		{"empty binary", func(o *imagebuild.Options) { o.Binaries[0].Data = nil }, "binary 0 (linux/amd64) is empty"},
		{"no certificates", func(o *imagebuild.Options) { o.CACerts = []byte("not PEM") }, "no PEM certificate"},
		{"no version", func(o *imagebuild.Options) { o.Version = "" }, "no version"},
		{"no created time", func(o *imagebuild.Options) { o.Created = time.Time{} }, "no created time"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := testOptions()
			tc.change(&o)
			_, err := imagebuild.Build(o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func ExampleBuild() {
	idx, err := imagebuild.Build(testOptions())
	if err != nil {
		panic(err)
	}
	im, _ := idx.IndexManifest()
	for _, m := range im.Manifests {
		img, _ := idx.Image(m.Digest)
		cf, _ := img.ConfigFile()
		fmt.Println(m.Platform, cf.Config.User, cf.Config.Entrypoint)
	}
	// Output:
	// linux/amd64 65532:65532 [/usr/local/bin/ferry]
	// linux/arm64 65532:65532 [/usr/local/bin/ferry]
}

// TestBuildCompression: the fast level changes only the compressed bytes, never the content.
func TestBuildCompression(t *testing.T) {
	fast := testOptions()
	fast.FastCompression = true
	var diffIDs [2][]v1.Hash
	var digests [2]v1.Hash
	for i, o := range []imagebuild.Options{testOptions(), fast} {
		idx, err := imagebuild.Build(o)
		if err != nil {
			t.Fatal(err)
		}
		im, err := idx.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		img, err := idx.Image(im.Manifests[0].Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		diffIDs[i] = cf.RootFS.DiffIDs
		if digests[i], err = idx.Digest(); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff(diffIDs[0], diffIDs[1]); diff != "" {
		t.Errorf("layer contents differ with FastCompression (-best +fast):\n%s", diff)
	}
	if digests[0] == digests[1] {
		t.Errorf("the fast and best levels give the same index digest %s", digests[0])
	}
}
