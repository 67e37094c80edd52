package manifests_test

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/ferryhq/ferry/manifests"
)

// BenchmarkSetImages rewrites one image in a generated tree of 10,000 manifests in 2,000
// directories (each with a kustomization), where 1% of the manifests use the image. Each
// iteration plans and writes a full rewrite (alternating between two tags). Files are read
// GOMAXPROCS at a time, as ferry set-image reads them; plan-1reader reads one at a time.
func BenchmarkSetImages(b *testing.B) {
	root := b.TempDir()
	const dirs, perDir = 2000, 5
	used := 0
	for d := 0; d < dirs; d++ {
		dir := filepath.Join(root, "apps", fmt.Sprintf("app%04d", d))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		files := map[string]string{
			"kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- deployment.yaml\n- service.yaml\n- configmap.yaml\n- hpa.yaml\n",
			"service.yaml":       fmt.Sprintf("apiVersion: v1\nkind: Service\nmetadata:\n  name: app%04d\nspec:\n  ports:\n  - port: 80\n    targetPort: 8080\n", d),
			"configmap.yaml":     fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app%04d\ndata:\n  LOG_LEVEL: info\n  FEATURE_X: \"true\"\n", d),
			"hpa.yaml":           fmt.Sprintf("apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: app%04d\nspec:\n  minReplicas: 2\n  maxReplicas: 10\n", d),
		}
		image := fmt.Sprintf("registry.example.com/team/app%04d:1.0.0", d)
		if d%(100/perDir) == 0 { // 100 of the 10,000 manifests
			image = "ghcr.io/acme/api:1.0.0"
			used++
		}
		files["deployment.yaml"] = fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: app%04d
  labels: {app: app%04d}
spec:
  replicas: 2
  template:
    spec:
      containers:
        - name: app
          image: %s # managed
          ports:
            - containerPort: 8080
          resources:
            limits: {cpu: 500m, memory: 256Mi}
`, d, d, image)
		for name, s := range files {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	fsys := os.DirFS(root)
	readers := runtime.GOMAXPROCS(0)
	plan := func(b *testing.B, i int) *manifests.Edit {
		tag := "2.0.0"
		if i%2 == 0 {
			tag = "1.0.0"
		}
		e, err := manifests.Plan(manifests.Options{FS: fsys, Path: "apps", Images: []manifests.Image{{Repository: "ghcr.io/acme/api", Tag: tag, Digest: digestA}}, Readers: readers})
		if err != nil {
			b.Fatal(err)
		}
		if len(e.Files) != used {
			b.Fatalf("rewrote %d files, want %d", len(e.Files), used)
		}
		return e
	}
	b.Run("plan", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			plan(b, 1)
		}
	})
	b.Run("plan-1reader", func(b *testing.B) {
		readers = 1
		defer func() { readers = runtime.GOMAXPROCS(0) }()
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			plan(b, 1)
		}
	})
	n := 0
	b.Run("plan+write", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			n++
			if err := writeEdit(root, plan(b, n)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
