// Package watch is the engine of `drsync watch`: it follows a desired state
// in git (or a local file), validates each new revision before anything
// runs, and drives a Reconciler on every change and on a fixed interval, so
// that the machine converges on what the repository says (GitOps, as Flux
// does for clusters). A broken revision is never applied: the last good one
// stays in force until a fixed revision arrives.
package watch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/net/netutil"

	"github.com/drsync/drsync/reconcile/model"
)

// Reconciler is what watch drives; Pipeline implements it with schema and
// reconcile.
type Reconciler interface {
	// Validate loads the desired state at path (file or dir of .cue files)
	// without touching the machine.
	Validate(ctx context.Context, path string) error
	// Reconcile plans against path and, when apply is true, applies
	// unattended (guards apply).
	Reconcile(ctx context.Context, path string, apply bool) (Outcome, error)
	// Gatherer exposes backup metrics to merge into /metrics (may return nil).
	Gatherer() prometheus.Gatherer
}

// Outcome is what one Reconcile did.
type Outcome struct {
	// Result is how the run ended: unchanged (nothing to do), applied,
	// drift (changes found, apply off), guarded (refused by a safety
	// guard) or failed.
	Result  model.Status `json:"result"`
	Actions int          `json:"actions"`
	Message string       `json:"message"` // e.g. the plan summary or the guard's reason
	NextDue []string     `json:"next_due,omitempty"`
}

// Options configure a Watcher. Exactly one of Repo and File names the
// desired state.
type Options struct {
	// Repo is the git source: a URL, a file:// URL or a local path (a bare
	// repository will do). Branch defaults to "main"; Path is the desired
	// file or directory inside the repository (default "drsync.cue").
	Repo, Branch, Path string
	// File is a local desired-state file or directory, followed with
	// fsnotify instead of a repository.
	File string
	// WorkDir is drsync's own checkout area (e.g. <stateDir>/watch); each
	// revision is staged under WorkDir/checkouts.
	WorkDir string
	// Interval is how often the source is polled and the machine reconciled
	// even when nothing changed, so that due snapshots are taken on time
	// (default 1m).
	Interval time.Duration
	// Listen is the HTTP address (default 127.0.0.1:9813).
	Listen string
	// WebhookSecret is the HMAC-SHA256 secret of POST /hook; nil disables
	// the hook (404).
	WebhookSecret []byte
	// Apply carries out the plan; false only plans (drift is reported).
	Apply bool
	// Debounce gathers a burst of file events into one reconcile
	// (default 500ms).
	Debounce time.Duration
	Logger   *slog.Logger
}

// Defaults of Options.
const (
	DefaultBranch   = "main"
	DefaultPath     = "drsync.cue"
	DefaultInterval = time.Minute
	DefaultListen   = "127.0.0.1:9813"
	DefaultDebounce = 500 * time.Millisecond
)

// Bounds on the work done under Run's context; Reconcile has none (see Run).
const (
	listTimeout     = 30 * time.Second
	cloneTimeout    = 5 * time.Minute
	validateTimeout = 2 * time.Minute
	shutdownTimeout = 5 * time.Second
)

// Status is the watcher's view for /status and the CLI.
type Status struct {
	// Source is the repository (with branch and path) or the local file.
	Source string `json:"source"`
	// Revision is the last good revision: the one reconciles use.
	Revision string `json:"revision"`
	// LastAttemptedRevision is the newest revision seen, good or not;
	// LastAppliedRevision the revision of the last reconcile that completed
	// (unchanged or applied, or drift when apply is off). They differ while the newest
	// revision is broken or not yet reconciled.
	LastAttemptedRevision string `json:"last_attempted_revision"`
	LastAppliedRevision   string `json:"last_applied_revision"`
	// DesiredStateValid is false when the last attempted revision failed
	// validation (or none has been validated yet).
	DesiredStateValid bool `json:"desired_state_valid"`
	// LastError is the standing problem: a rejected revision's validation
	// error (kept until a new revision arrives), then a failed reconcile's,
	// then a failed fetch's; empty when all is well.
	LastError     string       `json:"last_error"`
	LastResult    model.Status `json:"last_result"`
	LastActions   int          `json:"last_actions"`
	LastMessage   string       `json:"last_message"`
	LastReconcile time.Time    `json:"last_reconcile"`
	NextDue       []string     `json:"next_due"`
	Reconciling   bool         `json:"reconciling"`
	Apply         bool         `json:"apply"`
}

// trigger says why a cycle runs; triggers that arrive while one runs are
// or-ed together into the next.
type trigger uint8

const (
	checkSource trigger = 1 << iota // the source may have a new revision
	periodic                        // reconcile even if nothing changed
)

// checkout is a staged, validated revision.
type checkout struct {
	rev, dir string
}

// Watcher follows a desired state and reconciles the machine with it.
type Watcher struct {
	opts    Options
	r       Reconciler
	log     *slog.Logger
	src     source
	metrics *metrics

	wake chan struct{} // buffered 1: a pending trigger is waiting

	mu          sync.Mutex
	pending     trigger
	status      Status
	validateErr error // of the last attempted revision; sticky until a new one
	reconcErr   error
	fetchErr    error

	good *checkout // touched only by the worker (Run's goroutine)

	hookLog struct { // see badSignature
		sync.Mutex
		next       time.Time
		suppressed int
	}
}

// New checks opts and fills in defaults; nothing runs until Run.
func New(opts Options, r Reconciler) (*Watcher, error) {
	if r == nil {
		return nil, errors.New("watch: no reconciler")
	}
	if (opts.Repo == "") == (opts.File == "") {
		// Reconcile takes one desired state; two sources would fight over
		// the same machine.
		return nil, errors.New("watch: set exactly one of a repository and a local file")
	}
	if opts.WorkDir == "" {
		return nil, errors.New("watch: no work directory")
	}
	wd, err := filepath.Abs(opts.WorkDir)
	if err != nil {
		return nil, fmt.Errorf("watch: work directory: %w", err)
	}
	opts.WorkDir = wd
	if opts.Branch == "" {
		opts.Branch = DefaultBranch
	}
	if opts.Path == "" {
		opts.Path = DefaultPath
	}
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.Listen == "" {
		opts.Listen = DefaultListen
	}
	if opts.Debounce <= 0 {
		opts.Debounce = DefaultDebounce
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	w := &Watcher{
		opts:    opts,
		r:       r,
		log:     slog.New(redactingHandler{opts.Logger.Handler()}).With("component", "watch"),
		metrics: newMetrics(),
		wake:    make(chan struct{}, 1),
	}
	if opts.Repo != "" {
		if !filepath.IsLocal(opts.Path) {
			return nil, fmt.Errorf("watch: path %q must be relative and inside the repository", opts.Path)
		}
		w.src, err = newGitSource(opts.Repo, opts.Branch, opts.Path)
	} else {
		w.src, err = newFileSource(opts.File)
	}
	if err != nil {
		return nil, fmt.Errorf("watch: %w", err)
	}
	w.status.Source = w.src.describe()
	w.status.Apply = opts.Apply
	return w, nil
}

// Run serves HTTP and reconciles until ctx is done; then it stops taking
// work, lets a running Reconcile return and returns nil. Reconcile is given
// a context that ctx does not cancel: a signal must not cut an apply
// between a snapshot and its journal entry, so the apply reaches its own
// safe point and the process exits after it. Fetches and validation are
// cancelled with ctx. Run is meant to be called once.
func (w *Watcher) Run(ctx context.Context) error {
	if err := os.MkdirAll(w.checkoutsDir(), 0o755); err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	ln, err := net.Listen("tcp", w.opts.Listen)
	if err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	srv := newServer(w.handler())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(netutil.LimitListener(ln, maxConnections)) }()
	w.log.Info("watching", "source", w.status.Source, "listen", ln.Addr().String(), "interval", w.opts.Interval, "apply", w.opts.Apply)

	var followed chan struct{}
	if fs, ok := w.src.(*fileSource); ok {
		fw, err := fs.watch()
		if err != nil {
			shutdown(srv, served)
			return fmt.Errorf("watch: %w", err)
		}
		followed = make(chan struct{})
		go func() {
			defer close(followed)
			defer fw.Close()
			w.follow(ctx, fs, fw)
		}()
	}

	w.restore(ctx)
	w.request(checkSource | periodic)
	w.work(ctx)

	if followed != nil {
		<-followed
	}
	if err := shutdown(srv, served); err != nil {
		w.log.Warn("http shutdown", "error", err)
	}
	w.log.Info("stopped")
	return nil
}

// shutdown stops the HTTP server, waiting a bounded time for requests in
// flight.
func shutdown(srv *http.Server, served <-chan error) error {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	err := srv.Shutdown(ctx)
	if err != nil {
		err = errors.Join(err, srv.Close())
	}
	if serr := <-served; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}

// request asks for a cycle. Requests made while a cycle runs merge into
// exactly one more.
func (w *Watcher) request(t trigger) {
	w.mu.Lock()
	w.pending |= t
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// work runs one cycle at a time until ctx is done.
func (w *Watcher) work(ctx context.Context) {
	ticker := time.NewTicker(w.opts.Interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			w.request(checkSource | periodic)
			continue
		case <-w.wake:
		}
		w.mu.Lock()
		t := w.pending
		w.pending = 0
		w.mu.Unlock()
		if t != 0 {
			w.cycle(ctx, t)
		}
	}
}

// cycle brings in a new revision if there is one and reconciles when the
// revision changed or the interval is up.
func (w *Watcher) cycle(ctx context.Context, t trigger) {
	changed := false
	if t&checkSource != 0 {
		changed = w.sync(ctx)
	}
	if (!changed && t&periodic == 0) || ctx.Err() != nil {
		return
	}
	if w.good == nil {
		w.log.Warn("no valid desired state yet; nothing to reconcile")
		return
	}
	w.reconcile(ctx, w.good)
}

// sync fetches the source's newest revision and, when it is new, stages
// and validates it. It reports whether the revision in force changed.
func (w *Watcher) sync(ctx context.Context) bool {
	rev, err := w.src.head(ctx)
	if err != nil {
		w.fetchFailed(err)
		return false
	}
	w.setFetchErr(nil)
	w.mu.Lock()
	attempted := w.status.LastAttemptedRevision
	w.mu.Unlock()
	if rev == attempted {
		// Nothing new; a rejected revision is not tried again.
		return false
	}
	if w.good != nil && rev == w.good.rev {
		w.accept(w.good)
		return true
	}
	tmp, err := os.MkdirTemp(w.checkoutsDir(), ".stage-")
	if err != nil {
		w.fetchFailed(err)
		return false
	}
	rev, err = w.src.stage(ctx, tmp)
	if err != nil {
		os.RemoveAll(tmp)
		w.fetchFailed(err)
		return false
	}
	if w.good != nil && rev == w.good.rev {
		// The source moved back between head and stage.
		os.RemoveAll(tmp)
		w.accept(w.good)
		return true
	}
	dir := filepath.Join(w.checkoutsDir(), rev)
	if err := os.RemoveAll(dir); err != nil {
		os.RemoveAll(tmp)
		w.fetchFailed(err)
		return false
	}
	if err := os.Rename(tmp, dir); err != nil {
		os.RemoveAll(tmp)
		w.fetchFailed(fmt.Errorf("staging %s: %w", rev, err))
		return false
	}
	if err := symlinksStayInside(dir); err != nil {
		w.reject(rev, dir, err)
		return false
	}
	vctx, cancel := context.WithTimeout(ctx, validateTimeout)
	err = w.r.Validate(vctx, w.src.desired(dir))
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			// Cut short by shutdown, not a verdict on the revision.
			os.RemoveAll(dir)
			return false
		}
		w.reject(rev, dir, err)
		return false
	}
	if err := w.swap(dir); err != nil {
		os.RemoveAll(dir)
		w.fetchFailed(err)
		return false
	}
	old := w.good
	w.good = &checkout{rev: rev, dir: dir}
	if old != nil {
		os.RemoveAll(old.dir)
	}
	w.accept(w.good)
	w.log.Info("new revision", "revision", rev)
	return true
}

// accept records c as the validated, newest revision.
func (w *Watcher) accept(c *checkout) {
	w.mu.Lock()
	w.status.LastAttemptedRevision = c.rev
	w.status.Revision = c.rev
	w.status.DesiredStateValid = true
	w.validateErr = nil
	w.mu.Unlock()
	w.metrics.valid.Set(1)
}

// reject records a revision that failed validation; the last good checkout
// stays in force.
func (w *Watcher) reject(rev, dir string, err error) {
	os.RemoveAll(dir)
	err = fmt.Errorf("%s %s is invalid, keeping %s: %w", w.src.kind(), rev, w.goodRev(), err)
	w.log.Error("desired state rejected", "revision", rev, "error", err)
	w.mu.Lock()
	w.status.LastAttemptedRevision = rev
	w.status.DesiredStateValid = false
	w.validateErr = err
	w.mu.Unlock()
	w.metrics.valid.Set(0)
}

func (w *Watcher) goodRev() string {
	if w.good == nil {
		return "no revision"
	}
	return w.good.rev
}

func (w *Watcher) fetchFailed(err error) {
	err = fmt.Errorf("fetching %s: %w", w.status.Source, err)
	w.log.Error("fetch failed", "error", err)
	w.metrics.fetchErrors.Inc()
	w.setFetchErr(err)
}

func (w *Watcher) setFetchErr(err error) {
	w.mu.Lock()
	w.fetchErr = err
	w.mu.Unlock()
}

// reconcile runs the Reconciler against c. Its context is detached from
// ctx (see Run).
func (w *Watcher) reconcile(ctx context.Context, c *checkout) {
	w.mu.Lock()
	w.status.Reconciling = true
	w.mu.Unlock()
	start := time.Now()
	out, err := w.r.Reconcile(context.WithoutCancel(ctx), w.src.desired(c.dir), w.opts.Apply)
	elapsed := time.Since(start)
	if err != nil {
		out.Result = model.StatusFailed
		err = fmt.Errorf("reconciling %s: %w", c.rev, err)
	} else if out.Result == "" {
		out.Result = model.StatusFailed
		err = fmt.Errorf("reconciling %s: reconciler reported no result", c.rev)
	}
	now := time.Now()
	w.mu.Lock()
	w.status.Reconciling = false
	w.status.LastResult = out.Result
	w.status.LastActions = out.Actions
	w.status.LastMessage = out.Message
	w.status.LastReconcile = now
	w.status.NextDue = out.NextDue
	w.reconcErr = err
	applied := err == nil && (out.Result == model.StatusUnchanged || out.Result == model.StatusApplied || out.Result == model.StatusDrift)
	if applied {
		w.status.LastAppliedRevision = c.rev
	}
	w.mu.Unlock()

	w.metrics.reconciles.WithLabelValues(string(out.Result)).Inc()
	w.metrics.duration.Observe(elapsed.Seconds())
	w.metrics.lastReconcile.Set(float64(now.UnixNano()) / 1e9)
	if applied {
		w.metrics.applied.Reset()
		w.metrics.applied.WithLabelValues(c.rev).Set(1)
	}
	attrs := []any{"revision", c.rev, "result", out.Result, "actions", out.Actions, "duration", elapsed.Round(time.Millisecond)}
	switch {
	case err != nil:
		w.log.Error("reconcile failed", append(attrs, "error", err)...)
	case out.Result == model.StatusGuarded:
		w.log.Warn("reconcile guarded", append(attrs, "reason", out.Message)...)
	default:
		w.log.Info("reconciled", append(attrs, "message", out.Message)...)
	}
}

// Status returns a snapshot of the watcher's state.
func (w *Watcher) Status() Status {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.status
	s.NextDue = append([]string(nil), s.NextDue...)
	var msgs []string
	for _, err := range []error{w.validateErr, w.reconcErr, w.fetchErr} {
		if err != nil {
			msgs = append(msgs, err.Error())
		}
	}
	s.LastError = Redact(strings.Join(msgs, "; "))
	s.LastMessage = Redact(s.LastMessage)
	return s
}

func (w *Watcher) checkoutsDir() string { return filepath.Join(w.opts.WorkDir, "checkouts") }

func (w *Watcher) currentLink() string { return filepath.Join(w.opts.WorkDir, "current") }

// swap points WorkDir/current at dir in one rename, so that a restart finds
// the last good revision even if its successor is broken.
func (w *Watcher) swap(dir string) error {
	rel, err := filepath.Rel(w.opts.WorkDir, dir)
	if err != nil {
		return fmt.Errorf("swapping in %s: %w", dir, err)
	}
	tmp := w.currentLink() + ".new"
	os.Remove(tmp)
	if err := os.Symlink(rel, tmp); err != nil {
		return fmt.Errorf("swapping in %s: %w", dir, err)
	}
	if err := os.Rename(tmp, w.currentLink()); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("swapping in %s: %w", dir, err)
	}
	return nil
}

// restore adopts the checkout a previous run left as current, if it still
// validates, and clears what an interrupted run left behind. Without it a
// restart onto a broken head would leave no desired state in force.
func (w *Watcher) restore(ctx context.Context) {
	var keep string
	if target, err := os.Readlink(w.currentLink()); err == nil {
		dir := filepath.Join(w.opts.WorkDir, target)
		vctx, cancel := context.WithTimeout(ctx, validateTimeout)
		err := w.r.Validate(vctx, w.src.desired(dir))
		cancel()
		if err == nil {
			keep = dir
			w.good = &checkout{rev: filepath.Base(dir), dir: dir}
			w.mu.Lock()
			w.status.Revision = w.good.rev
			w.mu.Unlock()
			w.log.Info("restored last good revision", "revision", w.good.rev)
		} else {
			w.log.Warn("previous checkout no longer validates; ignoring it", "dir", dir, "error", err)
		}
	}
	entries, err := os.ReadDir(w.checkoutsDir())
	if err != nil {
		w.log.Warn("cleaning checkouts", "error", err)
		return
	}
	for _, e := range entries {
		if dir := filepath.Join(w.checkoutsDir(), e.Name()); dir != keep {
			os.RemoveAll(dir)
		}
	}
}
