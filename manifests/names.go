package manifests

// IsKustomization reports whether a file is a kustomization (kustomization.yaml, .yml or
// Kustomization), whose images and bases span other files. Every other kind of file is
// rewritten and read on its own, so what Find reports for a tree without kustomizations is
// the union, in path order, of what it reports for each file alone.
func IsKustomization(p string) bool { return isKustomization(p) }
