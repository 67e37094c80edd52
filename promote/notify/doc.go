// Package notify tells webhooks what a run did: commits, pull requests, refused tags and
// rollbacks, as Slack-compatible incoming-webhook messages ({"text": …}) or one JSON object per
// event.
//
// Rules:
//   - A notification never fails a run: [Notifier.Send] returns nothing, and a delivery that
//     fails after its attempts (default 3, with exponential backoff; connection errors, 429 and
//     5xx are retried, other answers are not) is a warning on the logger.
//   - A webhook URL is a secret. It is used to send and nowhere else: log lines and warnings
//     name the target ([Target.Name], e.g. notify[0]) and never the URL, not even inside a
//     wrapped *url.Error.
//   - A Notifier remembers the refused events it delivered, so that a long-running watcher
//     tells of an unsigned tag once, not every cycle.
//
// The package knows nothing of Git or ferry.yaml: package promote turns a run's result and the
// notify entries of ferry.yaml into [Event] and [Target] values.
package notify
