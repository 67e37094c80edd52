package listen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ferryhq/ferry/promote"
	"github.com/ferryhq/ferry/promote/config"
)

// Options configure Run. Secret, Watch and Config are required; zero values of the others
// mean the defaults.
type Options struct {
	// Addr is the address to listen on (e.g. :8080), unless Listener is set.
	Addr     string
	Listener net.Listener
	// Secret is the shared webhook secret (FERRY_WEBHOOK_SECRET).
	Secret []byte
	// Watch runs one cycle: for the named images, or every image when images is nil.
	Watch func(ctx context.Context, images []string) (*promote.Result, error)
	// Config reads ferry.yaml, to know which repositories its images are. It is read at the
	// start and again after each full cycle.
	Config func(ctx context.Context) (*config.Config, error)
	// Interval, when positive, runs a full cycle this often: the safety net for missed events.
	// A full cycle always runs at the start.
	Interval time.Duration
	// Metrics are served on /metrics and updated by every cycle; nil means NewMetrics().
	Metrics *Metrics
	// OnCycle is called after each cycle with what it did (e.g. to print it).
	OnCycle func(res *promote.Result, err error)
	// Delay gathers the events of a burst into one cycle: a cycle starts this long after the
	// event that woke it (default 100ms).
	Delay time.Duration
	// MaxBody bounds a webhook body (default 1 MiB); a longer one is 413.
	MaxBody int64
	// ShutdownTimeout bounds the wait for open requests when ctx ends (default 10s).
	ShutdownTimeout time.Duration
	// Log receives the server's log; nil discards it.
	Log *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// server is one Run's state.
type server struct {
	o       Options
	m       *Metrics
	log     *slog.Logger
	sched   *scheduler
	catalog atomic.Pointer[catalog]
	ready   atomic.Pointer[readiness]
}

type readiness struct {
	ok bool
	at time.Time
}

// Run serves webhooks, /metrics, /healthz and /readyz, and runs cycles as events and the
// interval ask, one at a time, until ctx ends. Then it stops accepting requests, lets the cycle
// in progress finish (so that a push lands whole or not at all), and returns nil.
func Run(ctx context.Context, o Options) error {
	s, err := newServer(o)
	if err != nil {
		return err
	}
	cfg, err := o.Config(ctx)
	if err != nil {
		return fmt.Errorf("reading the config to know its images: %w", err)
	}
	s.catalog.Store(newCatalog(cfg))
	ln := o.Listener
	if ln == nil {
		if ln, err = net.Listen("tcp", o.Addr); err != nil {
			return fmt.Errorf("listening on %s: %w", o.Addr, err)
		}
	}
	srv := &http.Server{
		Handler:           s.handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	s.log.Info("listening for registry webhooks", "addr", ln.Addr().String())

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.ShutdownTimeout)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			s.log.Warn("shutting the server down", "err", err)
		}
	}()
	s.loop(ctx)
	wg.Wait()
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func newServer(o Options) (*server, error) {
	switch {
	case len(o.Secret) == 0:
		return nil, errors.New("listen: no webhook secret: set FERRY_WEBHOOK_SECRET")
	case o.Watch == nil || o.Config == nil:
		return nil, errors.New("listen: Watch and Config are required")
	case o.Addr == "" && o.Listener == nil:
		return nil, errors.New("listen: no address")
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics()
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Delay <= 0 {
		o.Delay = 100 * time.Millisecond
	}
	if o.MaxBody <= 0 {
		o.MaxBody = 1 << 20
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = 10 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &server{o: o, m: o.Metrics, log: o.Log, sched: newScheduler()}
	return s, nil
}

// loop runs cycles, one at a time, until ctx ends; a cycle in progress then finishes.
func (s *server) loop(ctx context.Context) {
	var tick <-chan time.Time
	if s.o.Interval > 0 {
		t := time.NewTicker(s.o.Interval)
		defer t.Stop()
		tick = t.C
	}
	s.sched.all()
	for {
		select {
		case <-ctx.Done():
			s.log.Info("stopping: no cycle in progress")
			return
		case <-tick:
			s.sched.all()
		case <-s.sched.wake:
			select {
			case <-ctx.Done():
				s.log.Info("stopping: the events pending wait for the next start")
				return
			case <-time.After(s.o.Delay):
			}
			if images, full, ok := s.sched.take(); ok {
				s.cycle(ctx, images, full)
			}
		}
	}
}

// cycle runs one cycle to its end even when ctx ends meanwhile.
func (s *server) cycle(ctx context.Context, images []string, full bool) {
	trigger := "event"
	if full {
		trigger = "full"
	}
	s.log.Info("cycle", "trigger", trigger, "images", images)
	start := s.o.Now()
	cctx := context.WithoutCancel(ctx)
	res, err := s.o.Watch(cctx, images)
	s.m.observeCycle(trigger, res, err, s.o.Now().Sub(start), s.o.Now())
	s.ready.Store(&readiness{ok: err == nil, at: s.o.Now()})
	if s.o.OnCycle != nil {
		s.o.OnCycle(res, err)
	}
	if full && err == nil {
		if cfg, err := s.o.Config(cctx); err != nil {
			s.log.Warn("rereading the config; keeping the images known so far", "err", err)
		} else {
			s.catalog.Store(newCatalog(cfg))
		}
	}
}

func (s *server) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /webhook/{kind}", s.webhook)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { text(w, http.StatusOK, "ok") })
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", s.m.Handler())
	return mux
}

func text(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprintln(w, msg)
}

// readyz reports the last cycle's outcome: 200 when it succeeded, 503 before the first cycle
// ends or after one failed (the log says why; the answer does not, it is unauthenticated).
func (s *server) readyz(w http.ResponseWriter, _ *http.Request) {
	switch r := s.ready.Load(); {
	case r == nil:
		text(w, http.StatusServiceUnavailable, "no cycle has finished yet")
	case !r.ok:
		text(w, http.StatusServiceUnavailable, "the last cycle failed at "+r.at.UTC().Format(time.RFC3339)+"; see the log")
	default:
		text(w, http.StatusOK, "ok: the last cycle succeeded at "+r.at.UTC().Format(time.RFC3339))
	}
}

// webhookAnswer is the body of a 202.
type webhookAnswer struct {
	Accepted  int `json:"accepted"`
	Coalesced int `json:"coalesced"`
	Unknown   int `json:"unknown"`
}

func (s *server) webhook(w http.ResponseWriter, r *http.Request) {
	kind := r.PathValue("kind")
	if !slices.Contains(Kinds, kind) {
		text(w, http.StatusNotFound, "unknown webhook kind; want one of "+strings.Join(Kinds, ", "))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.o.MaxBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		s.refuse(w, r, kind, http.StatusRequestEntityTooLarge, "too-large", fmt.Sprintf("body over %d bytes", s.o.MaxBody))
		return
	case err != nil:
		s.refuse(w, r, kind, http.StatusBadRequest, "malformed", "reading the body failed")
		return
	}
	if why := authorize(kind, r, body, s.o.Secret); why != "" {
		s.refuse(w, r, kind, http.StatusUnauthorized, "unauthorized", why)
		return
	}
	pushes, err := Parse(kind, r.Header, body)
	switch {
	case errors.Is(err, ErrNotAPush):
		s.m.event(kind, "ignored")
		text(w, http.StatusOK, "not an image push; ignored")
		return
	case err != nil:
		// The parse error may quote the body: the sender is told, the log is not.
		s.refuse(nil, r, kind, http.StatusBadRequest, "malformed", "malformed payload")
		text(w, http.StatusBadRequest, "Bad Request: "+err.Error())
		return
	}
	var ans webhookAnswer
	cat := s.catalog.Load()
	for _, p := range pushes {
		names := cat.images(p.Repository)
		outcome := "accepted"
		switch {
		case len(names) == 0:
			outcome = "unknown-image"
			ans.Unknown++
		case s.sched.push(p.key(kind), names, s.o.Now()):
			ans.Accepted++
		default:
			outcome = "coalesced"
			ans.Coalesced++
		}
		s.m.event(kind, outcome)
		s.log.Info("webhook event", "kind", kind, "repository", p.Repository, "tag", p.Tag, "images", names, "outcome", outcome)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_ = json.NewEncoder(w).Encode(ans)
}

// refuse answers a request that is not acted on, and logs why, never with its body. A nil w
// logs only (the caller answers).
func (s *server) refuse(w http.ResponseWriter, r *http.Request, kind string, status int, outcome, why string) {
	s.m.event(kind, outcome)
	s.log.Warn("webhook refused", "kind", kind, "status", status, "reason", why, "remote", r.RemoteAddr, "bytes", r.ContentLength)
	if w != nil {
		text(w, status, http.StatusText(status)+": "+why)
	}
}
