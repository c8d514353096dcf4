package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/spf13/cobra"

	"github.com/drsync/drsync/reconcile"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/schema"
	"github.com/drsync/drsync/watch"
)

type watchOptions struct {
	repo, branch, path string
	workDir            string
	interval           time.Duration
	listen             string
	secretFile         string
	apply              bool
	// logLevelSet says --log-level was given; watch logs at info otherwise.
	logLevelSet bool
}

func newWatchCommand(g *globalOptions) *cobra.Command {
	var o watchOptions
	cmd := &cobra.Command{
		Use:   "watch",
		Short: "Reconcile continuously: on a git push, on a change of the file, and on a timer",
		Long: "Follows a git repository (--repo, --branch, --path) or a local file or directory (-f/--file), validates each " +
			"new revision before anything runs (a broken revision is never applied; the last good one stays in force), and " +
			"reconciles on every new revision, on POST /hook with a valid X-Hub-Signature-256, and every --interval, so due " +
			"snapshots, tests and prunes happen on time. Serves /metrics, /healthz and /status on --listen (loopback by default).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.logLevelSet = cmd.Flags().Changed("log-level")
			return runWatch(cmd.Context(), g, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.repo, "repo", "", "git repository (URL or local path) holding the desired state")
	f.StringVar(&o.branch, "branch", watch.DefaultBranch, "branch to follow")
	f.StringVar(&o.path, "path", watch.DefaultPath, "path of the desired-state file or directory inside the repository")
	f.StringVar(&o.workDir, "work-dir", "/var/lib/drsync/watch", "where watch keeps its checkouts")
	f.DurationVar(&o.interval, "interval", watch.DefaultInterval, "poll and reconcile interval")
	f.StringVar(&o.listen, "listen", watch.DefaultListen, "address for /metrics, /healthz, /status and POST /hook")
	f.StringVar(&o.secretFile, "webhook-secret-file", "", "file holding the HMAC-SHA256 secret for POST /hook (disabled without)")
	f.BoolVar(&o.apply, "apply", true, "apply changes; --apply=false only plans and reports drift")
	return cmd
}

// runWatch follows the desired state and reconciles until ctx ends.
func runWatch(ctx context.Context, g *globalOptions, o watchOptions) error {
	// A service's log is its only voice: revisions applied, errors.
	if !o.logLevelSet {
		slog.SetDefault(slog.New(slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: slog.LevelInfo})))
	}
	opts := watch.Options{Repo: o.repo, Branch: o.branch, Path: o.path, WorkDir: o.workDir,
		Interval: o.interval, Listen: o.listen, Apply: o.apply, Logger: loggerFor(g)}
	if o.repo == "" {
		opts.File = g.file
	}
	if o.secretFile != "" {
		secret, err := os.ReadFile(o.secretFile)
		if err != nil {
			return fmt.Errorf("--webhook-secret-file: %w", err)
		}
		opts.WebhookSecret = []byte(strings.TrimSpace(string(secret)))
		if len(opts.WebhookSecret) == 0 {
			return fmt.Errorf("--webhook-secret-file %s is empty", o.secretFile)
		}
	}
	// Errors name the user's file, not watch's staged copy of it.
	shownAs := ""
	if opts.File != "" {
		shownAs = opts.File
		if st, err := os.Stat(opts.File); err == nil && !st.IsDir() {
			shownAs = filepath.Dir(opts.File)
		}
		shownAs = strings.TrimSuffix(shownAs, "/") + "/"
	}
	w, err := watch.New(opts, &reconciler{g: g, stop: ctx, shownAs: shownAs})
	if err != nil {
		return err
	}
	fmt.Fprintf(g.stderr, "drsync watch: serving /metrics, /healthz, /status on %s\n", o.listen)
	return w.Run(ctx)
}

// reconciler is watch's view of plan/apply: one unattended run, guarded.
type reconciler struct {
	g *globalOptions
	// stop is cancelled by SIGTERM/SIGINT: the apply stops between actions.
	stop context.Context
	// shownAs replaces the staged checkout's directory in error messages:
	// the local file's directory, or nothing (paths inside the repository).
	shownAs string
	// last is the desired state of the newest reconcile, for /metrics.
	mu   sync.Mutex
	last *schema.Desired
}

func (r *reconciler) Validate(_ context.Context, path string) error {
	_, err := loadDesired(r.g, path, r.g.tags)
	if err != nil {
		staged, _ := filepath.Abs(path)
		if st, serr := os.Stat(staged); serr == nil && !st.IsDir() {
			staged = filepath.Dir(staged)
		}
		return r.shown(err, staged+"/")
	}
	return nil
}

// shown renames the staged checkout in err's positions to what the user
// knows; a schema error stays a *schema.Error, its problems positioned.
func (r *reconciler) shown(err error, staged string) error {
	var se *schema.Error
	if !errors.As(err, &se) {
		return errors.New(strings.ReplaceAll(err.Error(), staged, r.shownAs))
	}
	out := &schema.Error{Problems: make([]schema.Problem, len(se.Problems))}
	for i, p := range se.Problems {
		p.Pos = strings.Replace(p.Pos, staged, r.shownAs, 1)
		p.Message = strings.ReplaceAll(p.Message, staged, r.shownAs)
		out.Problems[i] = p
	}
	return out
}

// Reconcile is one unattended run of the pipeline: guarded, and a dry run
// when apply is false.
func (r *reconciler) Reconcile(ctx context.Context, path string, apply bool) (watch.Outcome, error) {
	d, err := loadDesired(r.g, path, r.g.tags)
	if err != nil {
		return watch.Outcome{Result: watch.ResultFailed, Message: err.Error()}, err
	}
	r.mu.Lock()
	r.last = d
	r.mu.Unlock()
	env, err := envFor(r.g, d)
	if err != nil {
		return watch.Outcome{Result: watch.ResultFailed, Message: err.Error()}, err
	}
	now := time.Now()
	// r.stop, not ctx: a signal stops the apply between actions.
	ran, err := reconcile.Run(r.stop, env, reconcile.RunOptions{Command: "watch", Now: now, DryRun: !apply, Unattended: true})
	return watchOutcome(d, ran, now, err)
}

// watchOutcome turns a pipeline outcome into what watch reports.
func watchOutcome(d *schema.Desired, ran reconcile.Outcome, now time.Time, err error) (watch.Outcome, error) {
	p := ran.Plan
	if p == nil {
		return watch.Outcome{Result: watch.ResultFailed, Message: err.Error()}, err
	}
	out := watch.Outcome{Actions: len(p.Actions()), Message: p.Summary(), NextDue: nextDue(d, ran.Observed, p, now)}
	res := ran.Result
	switch ran.Status {
	case reconcile.StatusUnchanged:
		out.Result = watch.ResultOK
	case reconcile.StatusDrift:
		out.Result = watch.ResultDrift
	case reconcile.StatusGuarded:
		out.Result, out.Message = watch.ResultGuarded, err.Error()
		return out, nil
	case reconcile.StatusApplied:
		out.Result = watch.ResultOK
		out.Message = fmt.Sprintf("%s applied: %d done, %d failed, %d skipped", p.Summary(), res.Done, res.Failed, res.Skipped)
	default:
		out.Result = watch.ResultFailed
		out.Message = fmt.Sprintf("%s applied: %d done, %d failed, %d skipped", p.Summary(), res.Done, res.Failed, res.Skipped)
		if ran.Status == reconcile.StatusStopped {
			out.Message += " (stopped by a signal between actions)"
		}
	}
	return out, err
}

// Gatherer serves the backup metrics of the newest desired state in force,
// observed at scrape time.
func (r *reconciler) Gatherer() prometheus.Gatherer {
	return prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		r.mu.Lock()
		d := r.last
		r.mu.Unlock()
		if d == nil {
			return nil, nil
		}
		return metricsGatherer(r.g, d).Gather()
	})
}

// nextDue lists what the plan would do next, or when each subvolume's next
// snapshot and send slot comes.
func nextDue(d *schema.Desired, obs *model.Observed, p *model.Plan, now time.Time) []string {
	var out []string
	for _, a := range p.Actions() {
		out = append(out, fmt.Sprintf("%s %s %s (%s)", a.Kind, a.Subvolume, a.Snapshot, a.Reason))
	}
	if len(out) > 0 {
		return out
	}
	for _, name := range d.SubvolumeNames() {
		s, st := d.Subvolumes[name], obs.Subvolumes[name]
		var newest time.Time
		if n := len(st.Local); n > 0 {
			newest = st.Local[n-1].Time
		}
		line := fmt.Sprintf("%s: snapshot at %s", name, s.Snapshots.Schedule.Next(newest, now).Format("2006-01-02 15:04"))
		if s.External != nil {
			var newestExt time.Time
			if n := len(st.External); n > 0 {
				newestExt = st.External[n-1].Time
			}
			line += fmt.Sprintf(", send at %s", s.External.Schedule.Next(newestExt, now).Format("2006-01-02 15:04"))
		}
		out = append(out, line)
	}
	return out
}
