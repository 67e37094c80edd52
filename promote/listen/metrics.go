package listen

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ferryhq/ferry/promote"
)

// Metrics are the watcher's Prometheus metrics, in a registry of their own (with the Go and
// process collectors).
type Metrics struct {
	reg           *prometheus.Registry
	cycles        *prometheus.CounterVec
	duration      prometheus.Histogram
	requests      *prometheus.CounterVec
	refusals      *prometheus.CounterVec
	commits       *prometheus.CounterVec
	pullRequests  *prometheus.CounterVec
	lastSelection *prometheus.GaugeVec
	events        *prometheus.CounterVec
}

// NewMetrics registers the metrics.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		cycles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ferry_watch_cycles_total", Help: "Watch cycles run, by outcome (ok or error) and trigger (event or interval).",
		}, []string{"outcome", "trigger"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "ferry_watch_cycle_duration_seconds", Help: "How long watch cycles took.",
			Buckets: prometheus.ExponentialBuckets(0.05, 2, 14), // 50ms … ~7min
		}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ferry_registry_requests_total", Help: "Registry requests sent (retries included), by host, kind and status code (0: no answer).",
		}, []string{"host", "kind", "code"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ferry_refusals_total", Help: "Tags or images not written, by reason (unsigned, wrong-signer, policy, …).",
		}, []string{"reason"}),
		commits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ferry_commits_total", Help: "Commits pushed, by environment.",
		}, []string{"environment"}),
		pullRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ferry_pull_requests_total", Help: "Pull requests opened or updated (or branches pushed with no forge), by environment.",
		}, []string{"environment"}),
		lastSelection: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ferry_last_selection_timestamp_seconds", Help: "When a watch cycle last chose a verified tag for the image (Unix time).",
		}, []string{"image"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ferry_webhook_events_total", Help: "Webhook requests, by kind and outcome (accepted, coalesced, unknown-image, ignored, unauthorized, malformed, too-large).",
		}, []string{"kind", "outcome"}),
	}
	m.reg.MustRegister(m.cycles, m.duration, m.requests, m.refusals, m.commits, m.pullRequests, m.lastSelection, m.events,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// ObserveRequest counts a registry request; it is a registry.RequestObserver.
func (m *Metrics) ObserveRequest(host, kind string, status int) {
	m.requests.WithLabelValues(host, kind, strconv.Itoa(status)).Inc()
}

// observeCycle records a finished cycle.
func (m *Metrics) observeCycle(trigger string, res *promote.Result, err error, took time.Duration, now time.Time) {
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	m.cycles.WithLabelValues(outcome, trigger).Inc()
	m.duration.Observe(took.Seconds())
	if res == nil {
		return
	}
	for _, s := range res.Skipped {
		m.refusals.WithLabelValues(s.Reason).Inc()
	}
	for _, c := range res.Commits {
		m.commits.WithLabelValues(c.Environment).Inc()
	}
	for _, pr := range res.PullRequests {
		m.pullRequests.WithLabelValues(pr.Environment).Inc()
	}
	for _, s := range res.Selected {
		m.lastSelection.WithLabelValues(s.Image).Set(float64(now.Unix()))
	}
}

func (m *Metrics) event(kind, outcome string) { m.events.WithLabelValues(kind, outcome).Inc() }

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}
