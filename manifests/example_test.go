package manifests_test

import (
	"fmt"
	"testing/fstest"

	"github.com/ferryhq/ferry/manifests"
)

func ExamplePlan() {
	tree := fstest.MapFS{
		"envs/dev/deploy.yaml": {Data: []byte(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  template:
    spec:
      containers:
        - name: api
          image: ghcr.io/acme/api:1.2.0 # the API
`)},
	}
	img, _ := manifests.ParseImageArg("ghcr.io/acme/api:1.3.0")
	e, err := manifests.Plan(manifests.Options{FS: tree, Path: "envs/dev", Images: []manifests.Image{img}})
	if err != nil {
		panic(err)
	}
	for _, c := range e.Changes {
		fmt.Printf("%s:%d %s: %s -> %s\n", c.File, c.Line, c.Field, c.From, c.To)
	}
	fmt.Print(e.Diff())
	// Output:
	// envs/dev/deploy.yaml:10 spec.template.spec.containers[0].image: ghcr.io/acme/api:1.2.0 -> ghcr.io/acme/api:1.3.0
	// --- a/envs/dev/deploy.yaml
	// +++ b/envs/dev/deploy.yaml
	// @@ -7,4 +7,4 @@
	//      spec:
	//        containers:
	//          - name: api
	// -          image: ghcr.io/acme/api:1.2.0 # the API
	// +          image: ghcr.io/acme/api:1.3.0 # the API
}

func ExampleFind() {
	tree := fstest.MapFS{
		"base/kustomization.yaml": {Data: []byte("resources: [deploy.yaml]\n")},
		"base/deploy.yaml": {Data: []byte(`apiVersion: apps/v1
kind: Deployment
spec:
  template:
    spec:
      containers:
      - image: nginx:1.25
`)},
		"envs/prod/kustomization.yaml": {Data: []byte(`resources: [../../base]
images:
- name: nginx
  newTag: "1.27"
`)},
	}
	refs, err := manifests.Find(manifests.Options{FS: tree, Path: "envs/prod", Images: []manifests.Image{{Name: "web", Repository: "docker.io/library/nginx"}}})
	if err != nil {
		panic(err)
	}
	for _, r := range refs {
		fmt.Printf("%s runs %s:%s (%s:%d %s)\n", r.Image, r.Repository, r.Tag, r.File, r.Line, r.Field)
	}
	// Output:
	// web runs nginx:1.27 (envs/prod/kustomization.yaml:3 images[0])
}

func ExampleParseImageArg() {
	img, err := manifests.ParseImageArg("nginx=ghcr.io/acme/nginx:1.27@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	fmt.Println(img.Repository, img.NewName, img.Tag, img.Digest[:15], err)
	// Output: nginx ghcr.io/acme/nginx 1.27 sha256:01234567 <nil>
}
