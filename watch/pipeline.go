package watch

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/drsync/drsync/reconcile"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/schema"
	"github.com/drsync/drsync/session"
)

// Pipeline is the Reconciler of `drsync watch`: each run is one unattended,
// guarded pass of the reconcile pipeline over the staged desired state.
type Pipeline struct {
	// session gives the tags, host and storage every revision loads with.
	session session.Options
	// stop is cancelled by SIGTERM/SIGINT: the apply stops between actions.
	stop context.Context
	// shownAs replaces the staged checkout's directory in error messages:
	// the local file's directory, or nothing (paths inside the repository).
	shownAs string
	// last is the desired state of the newest reconcile, for /metrics.
	mu   sync.Mutex
	last *schema.Desired
}

// NewPipeline reconciles with s's tags, host and storage; stop ends an
// apply between actions. file is the local desired state followed ("" for
// a repository), which errors name instead of watch's staged copy of it.
func NewPipeline(stop context.Context, s session.Options, file string) *Pipeline {
	shownAs := ""
	if file != "" {
		shownAs = file
		if st, err := os.Stat(file); err == nil && !st.IsDir() {
			shownAs = filepath.Dir(file)
		}
		shownAs = strings.TrimSuffix(shownAs, "/") + "/"
	}
	return &Pipeline{session: s, stop: stop, shownAs: shownAs}
}

// Validate loads the desired state at path, positioning its errors in the
// user's file.
func (r *Pipeline) Validate(_ context.Context, path string) error {
	_, err := r.session.LoadFrom(path, r.session.Tags)
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
func (r *Pipeline) shown(err error, staged string) error {
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
func (r *Pipeline) Reconcile(ctx context.Context, path string, apply bool) (Outcome, error) {
	d, err := r.session.LoadFrom(path, r.session.Tags)
	if err != nil {
		return Outcome{Result: model.StatusFailed, Message: err.Error()}, err
	}
	r.mu.Lock()
	r.last = d
	r.mu.Unlock()
	env, err := r.session.Env(d)
	if err != nil {
		return Outcome{Result: model.StatusFailed, Message: err.Error()}, err
	}
	now := time.Now()
	// r.stop, not ctx: a signal stops the apply between actions.
	ran, err := reconcile.Run(r.stop, env, reconcile.RunOptions{Command: "watch", Now: now, DryRun: !apply, Unattended: true})
	return outcome(d, ran, now, err)
}

// outcome turns a pipeline outcome into what watch reports.
func outcome(d *schema.Desired, ran reconcile.Outcome, now time.Time, err error) (Outcome, error) {
	p := ran.Plan
	if p == nil {
		return Outcome{Result: model.StatusFailed, Message: err.Error()}, err
	}
	out := Outcome{Actions: len(p.Actions()), Message: p.Summary(), NextDue: nextDue(d, ran.Observed, p, now)}
	res := ran.Result
	out.Result = ran.Status
	switch ran.Status {
	case model.StatusUnchanged, model.StatusDrift:
	case model.StatusGuarded:
		out.Message = err.Error()
		return out, nil
	case model.StatusApplied:
		out.Message = fmt.Sprintf("%s applied: %d done, %d failed, %d skipped", p.Summary(), res.Done, res.Failed, res.Skipped)
	default:
		out.Result = model.StatusFailed
		out.Message = fmt.Sprintf("%s applied: %d done, %d failed, %d skipped", p.Summary(), res.Done, res.Failed, res.Skipped)
		if ran.Status == model.StatusStopped {
			out.Message += " (stopped by a signal between actions)"
		}
	}
	return out, err
}

// Gatherer serves the backup metrics of the newest desired state in force,
// observed at scrape time.
func (r *Pipeline) Gatherer() prometheus.Gatherer {
	return prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		r.mu.Lock()
		d := r.last
		r.mu.Unlock()
		if d == nil {
			return nil, nil
		}
		return r.session.Metrics(d).Gather()
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
