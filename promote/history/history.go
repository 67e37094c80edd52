package history

import (
	"encoding/json"
	"slices"
	"sort"
	"time"
)

// How an event's change was made, from its commit's trailers.
const (
	HowBump     = "bump"
	HowWatch    = "watch"
	HowPromote  = "promote"
	HowRollback = "rollback"
	HowManual   = "manual"
)

// SourceRegistry is the Source of an event whose version came from the registry.
const SourceRegistry = "registry"

// Event is one change of one image in one environment.
type Event struct {
	// Time is the committer time of the commit on the branch (for a merged pull request, the
	// merge commit's).
	Time        time.Time `json:"time"`
	Commit      string    `json:"commit"`
	Author      string    `json:"author"`
	Environment string    `json:"environment"`
	Image       string    `json:"image"`
	// From and To are the references as written ("" when the image was added or removed).
	From string `json:"from"`
	To   string `json:"to"`
	// FromDigest and ToDigest are their digests, when pinned.
	FromDigest string `json:"fromDigest,omitempty"`
	ToDigest   string `json:"toDigest,omitempty"`
	How        string `json:"how"`
	// Source is the environment the version came from, or "registry"; empty for manual.
	Source string `json:"source,omitempty"`
	// Signer names the verify entry that verified To, as ferry.yaml names it.
	Signer string `json:"signer,omitempty"`
	// RolledBackFrom is, for a rollback, the reference rolled back from.
	RolledBackFrom string `json:"rolledBackFrom,omitempty"`
	// LeadTime is nil when unknown.
	LeadTime *Duration `json:"leadTime,omitempty"`
}

// Summary is one environment's DORA figures over the history read.
type Summary struct {
	Environment         string    `json:"environment"`
	Deployments         int       `json:"deployments"`
	PerWeek             float64   `json:"perWeek"`
	LeadTimeMedian      *Duration `json:"leadTimeMedian,omitempty"`
	Rollbacks           int       `json:"rollbacks"`
	ChangeFailureRate   float64   `json:"changeFailureRate"`
	TimeToRestoreMedian *Duration `json:"timeToRestoreMedian,omitempty"`
}

// Report is what `ferry history` prints: events newest first, and a summary per environment
// in ferry.yaml's order.
type Report struct {
	// Since and Until bound the history read; Complete is true when it reached the branch's
	// first commit before Since.
	Since    time.Time `json:"since"`
	Until    time.Time `json:"until"`
	Complete bool      `json:"complete"`
	Events   []Event   `json:"events"`
	Summary  []Summary `json:"summary"`
}

// Duration marshals as a Go duration string ("26h0m0s") and reads one back.
type Duration time.Duration

// MarshalJSON writes the duration as a string such as "1h30m0s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a string written by MarshalJSON.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

func durPtr(d time.Duration) *Duration { v := Duration(d); return &v }

// Chains maps each environment to the first environment of its promotion chain (the one fed
// by the registry); an environment fed by the registry maps to itself.
type Chains map[string]string

// Finish takes the events in the walk's order (newest commit first, one commit's events
// together), orders each commit's events, fills in their lead times, drops the events keep refuses
// (nil keeps all) and computes the summary of the rest for each environment in envs
// (ferry.yaml's order). Lead times look up arrivals in the first environment of each chain,
// so the events must include that environment's even when keep drops them.
func Finish(rep *Report, envs []string, chains Chains, keep func(Event) bool) {
	sortEvents(rep.Events)
	leadTimes(rep.Events, chains)
	if keep != nil {
		rep.Events = slices.DeleteFunc(rep.Events, func(e Event) bool { return !keep(e) })
	}
	rep.Summary = summarize(rep.Events, envs, rep.Since, rep.Until)
}

// sortEvents keeps the commits in the walk's order (newest first along the branch, which is
// what matters: committer clocks can be skewed) and orders the events of one commit by
// environment, then image.
func sortEvents(ev []Event) {
	for i := 0; i < len(ev); {
		j := i + 1
		for j < len(ev) && ev[j].Commit == ev[i].Commit {
			j++
		}
		run := ev[i:j]
		sort.SliceStable(run, func(a, b int) bool {
			if run[a].Environment != run[b].Environment {
				return run[a].Environment < run[b].Environment
			}
			return run[a].Image < run[b].Image
		})
		i = j
	}
}

// leadTimes sets each event's lead time: from the first arrival of the same image digest in
// the first environment of its chain. Events are newest first.
func leadTimes(ev []Event, chains Chains) {
	first := map[[3]string]time.Time{} // root env, image, digest → earliest arrival
	for i := len(ev) - 1; i >= 0; i-- {
		e := ev[i]
		if e.ToDigest == "" {
			continue
		}
		k := [3]string{e.Environment, e.Image, e.ToDigest}
		if _, ok := first[k]; !ok {
			first[k] = e.Time
		}
	}
	for i := range ev {
		e := &ev[i]
		root, ok := chains[e.Environment]
		if !ok || e.ToDigest == "" {
			continue
		}
		if at, ok := first[[3]string{root, e.Image, e.ToDigest}]; ok && !at.After(e.Time) {
			e.LeadTime = durPtr(e.Time.Sub(at))
		}
	}
}

// summarize computes the DORA figures per environment.
func summarize(ev []Event, envs []string, since, until time.Time) []Summary {
	// A rate over less than a week says little and explodes for a young repo: the divisor is
	// at least one week.
	weeks := max(until.Sub(since).Hours()/(24*7), 1)
	out := make([]Summary, 0, len(envs))
	for _, env := range envs {
		s := Summary{Environment: env}
		var leads, restores []time.Duration
		for i, e := range ev {
			if e.Environment != env {
				continue
			}
			s.Deployments++
			if e.LeadTime != nil {
				leads = append(leads, time.Duration(*e.LeadTime))
			}
			if e.How != HowRollback {
				continue
			}
			s.Rollbacks++
			if at, ok := arrival(ev[i+1:], e); ok {
				restores = append(restores, e.Time.Sub(at))
			}
		}
		s.PerWeek = float64(s.Deployments) / weeks
		if others := s.Deployments - s.Rollbacks; others > 0 {
			s.ChangeFailureRate = float64(s.Rollbacks) / float64(others)
		}
		s.LeadTimeMedian = median(leads)
		s.TimeToRestoreMedian = median(restores)
		out = append(out, s)
	}
	return out
}

// arrival finds, in the older events, when the version a rollback rolled back from arrived
// in the rollback's environment.
func arrival(older []Event, rb Event) (time.Time, bool) {
	for _, e := range older {
		if e.Environment != rb.Environment || e.Image != rb.Image {
			continue
		}
		if sameVersion(e.To, e.ToDigest, rb.From, rb.FromDigest) {
			return e.Time, true
		}
	}
	return time.Time{}, false
}

func sameVersion(ref, digest, otherRef, otherDigest string) bool {
	if digest != "" && otherDigest != "" {
		return digest == otherDigest
	}
	return ref == otherRef
}

func median(ds []time.Duration) *Duration {
	if len(ds) == 0 {
		return nil
	}
	slices.Sort(ds)
	n := len(ds)
	if n%2 == 1 {
		return durPtr(ds[n/2])
	}
	return durPtr((ds[n/2-1] + ds[n/2]) / 2)
}
