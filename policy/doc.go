// Package policy selects container image tags: it filters (cosign's own signature tags, ignore
// globs, the allow regexp), extracts the version (the allow regexp's named group "version"),
// orders (semver, numerical, alphabetical, newest build, or a mutable tag followed by digest)
// and explains every tag it rejects. Gates such as soak time are pure functions here too.
//
// The package is pure: no I/O, no network, no Git. Callers supply tags and, for newest-build,
// the created times.
//
// Rules:
//   - New validates a Spec once; every later call is infallible for any input strings.
//   - A Spec with no kind is semver "*": every release, no prereleases.
//   - Each tag is checked in a fixed order and rejected with the first Reason that applies:
//     signature-tag, not-followed, ignored, no-match, unparsable, prerelease, out-of-range,
//     no-created-time.
//   - Rank lists each distinct input tag exactly once, candidates newest first (equal versions
//     by tag, byte-wise ascending), rejections by tag; the result does not depend on input order.
//   - Semver tags are MAJOR.MINOR.PATCH[-PRE][+BUILD], optionally prefixed with "v"; "1.2",
//     "01.2.3" and date-like tags such as "20241101" are unparsable, never huge versions.
//   - Numerical versions are exact decimals (-?digits[.digits]) of any length; "1e5", "0x10",
//     "Inf" are unparsable.
//   - asc means the greatest value is the newest, desc the least (as Flux's order field).
//
// See docs/policy.md for the behaviour in full and how it compares with Flux and Argo CD
// Image Updater.
package policy
