// Package reliability holds ferry's reliability suite: tests that run the real ferry binary
// against a real registry (behind fault injection), bare Git remotes with hooks, a smart-HTTP
// Git server that drops connections, kill -9 at chosen points, and sentinel tokens, and check
// that the config repo only ever holds whole, verified commits and that no secret leaks.
//
// `go test` (and `make test`) runs the short form. FERRY_STRESS=1 (`make stress`) runs the
// long form: the same tests with more iterations, more seeds and more kill points.
//
// The package has no API; this file only documents it. See docs/reliability.md.
package reliability
