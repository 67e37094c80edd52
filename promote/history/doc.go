// Package history is the audit trail's model: the events `ferry history` reports (one per
// environment × image change read from the config repo's first-parent history), the DORA
// summary computed from them, and the renderers for text, markdown and a self-contained HTML
// page. It is pure: the events come from package promote, which reads Git; nothing here does
// I/O beyond writing to the io.Writer it is given.
//
// The rules, which docs/history.md explains for users:
//
//   - An event is a change of the image reference an environment's manifests name, between a
//     commit on the branch and its first parent. A commit whose trailers claim a change its
//     tree does not make yields no event; a change with no matching ferry trailers is How
//     "manual" (a hand edit, a git revert, a merge of someone's branch).
//   - LeadTime is the time from the moment the same digest first reached the first
//     environment of the event's promotion chain (the one fed by the registry) to the event.
//     Unknown (nil) when that arrival is outside the history read.
//   - Per environment: Deployments counts its events; PerWeek divides them by the weeks the
//     history covers (at least one); Rollbacks counts events with How "rollback";
//     ChangeFailureRate is rollbacks over the other deployments (a rollback marks one earlier change as failed);
//     TimeToRestoreMedian is the median, over rollbacks, of the time from the arrival of the
//     version rolled back from to the rollback.
package history
