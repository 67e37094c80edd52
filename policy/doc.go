// Package policy selects container image tags: it filters (allow regexp, ignore globs, cosign's
// own signature tags), extracts the version (the allow regexp's named group "version"), orders
// (semver, numerical, alphabetical, newest build, or a mutable tag followed by digest) and
// explains every tag it rejects. Gates such as soak time are pure functions here too.
//
// The package is pure: no I/O, no network, no Git. Callers supply tags and, for newest-build,
// the created times.
package policy
