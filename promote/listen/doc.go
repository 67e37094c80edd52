// Package listen is the event-driven watcher behind `ferry watch --listen`: an HTTP server
// that receives registry push webhooks and runs a watch cycle for the pushed image alone,
// serves Prometheus metrics, and reports health and readiness.
//
// Routes: POST /webhook/<kind> for the kinds dockerhub, ghcr (GitHub package and
// registry_package events), harbor, quay, gitlab, distribution (CNCF distribution
// notifications; GitLab's registry sends the same envelope) and generic
// ({"repository": …, "tag": …}); GET /metrics, /healthz and /readyz (the last cycle's outcome).
//
// Rules:
//   - Every webhook carries the shared secret, checked in constant time: GitHub's
//     X-Hub-Signature-256 HMAC-SHA256 for ghcr; Authorization: Bearer (or Basic credentials
//     whose password is the secret) for the others; Docker Hub, which can send neither, a
//     secret query parameter. Anything else is 401, logged without its body.
//   - Bodies over the limit (1 MiB) are 413; a body that is not the kind's JSON is 400; an event
//     that is not a push (a GitHub ping) is 200 and ignored; a push of an image ferry.yaml does
//     not name is 202 and ignored; a push of a known image is 202 and starts a cycle for it
//     within Options.Delay.
//   - Cycles run one at a time. Events gather for Delay into one cycle; a repeat of a push
//     already seen adds nothing; a new push during a cycle queues one more cycle for its image.
//     A full cycle runs at the start and every Options.Interval.
//   - When the context ends the server stops accepting requests and the cycle in progress runs
//     to its end, so a push lands whole or not at all.
//
// The package runs cycles through Options.Watch and reads ferry.yaml through Options.Config;
// it does not itself touch Git or a registry.
package listen
