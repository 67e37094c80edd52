package notify

import (
	"fmt"
	"strings"
)

// SlackText is an event's one-message summary in Slack's mrkdwn.
func SlackText(e Event) string {
	var b strings.Builder
	switch e.Event {
	case Commit:
		fmt.Fprintf(&b, "ferry %s committed to *%s* on `%s`%s", e.Command, e.Environment, e.Branch, shortSHA(e.SHA))
	case PullRequest:
		fmt.Fprintf(&b, "ferry %s %s for *%s*", e.Command, prWords(e), e.Environment)
	case Rollback:
		if e.Write == PullRequest {
			fmt.Fprintf(&b, ":rewind: ferry rollback of *%s*: %s", e.Environment, prWords(e))
		} else {
			fmt.Fprintf(&b, ":rewind: ferry rolled back *%s* on `%s`%s", e.Environment, e.Branch, shortSHA(e.SHA))
		}
	case Refused:
		fmt.Fprintf(&b, ":warning: ferry %s refused `%s:%s` for *%s*: %s", e.Command, e.Image, e.Tag, e.Environment, e.Reason)
		if e.Detail != "" {
			fmt.Fprintf(&b, " (%s)", e.Detail)
		}
		return b.String()
	default:
		fmt.Fprintf(&b, "ferry %s: %s", e.Command, e.Event)
	}
	for _, c := range e.Changes {
		from := c.From
		if from == "" {
			from = "(none)"
		}
		fmt.Fprintf(&b, "\n• %s: %s → %s", c.Image, from, c.To)
	}
	return b.String()
}

func shortSHA(sha string) string {
	if len(sha) > 12 {
		sha = sha[:12]
	}
	if sha == "" {
		return ""
	}
	return " (" + sha + ")"
}

func prWords(e Event) string {
	verb := "opened"
	if e.Updated {
		verb = "updated"
	}
	switch {
	case e.URL != "" && e.Number > 0:
		return fmt.Sprintf("%s pull request <%s|#%d>", verb, e.URL, e.Number)
	case e.URL != "":
		return fmt.Sprintf("%s pull request <%s>", verb, e.URL)
	}
	return fmt.Sprintf("pushed branch `%s` (no forge: open the pull request by hand)", e.Branch)
}
