// Package reconcile carries plans out: the pipeline (lock, observe once,
// compute, guard, review, apply, refresh evidence), the observation of the
// machine through a small Storage interface, and the executors of each
// action kind, journaling every action. The plan itself is computed by the
// pure package planner over the types of package model.
package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/drsync/drsync/reconcile/evidence"
	"github.com/drsync/drsync/reconcile/guard"
	"github.com/drsync/drsync/reconcile/journal"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/reconcile/planner"
	"github.com/drsync/drsync/render"
	"github.com/drsync/drsync/reports"
	"github.com/drsync/drsync/schema"
)

// Step names a stage of the reconcile pipeline, in the order Run takes
// them. A step that fails ends the run: nothing after it happens.
type Step string

const (
	StepLock     Step = "lock"     // one apply at a time (not for dry runs)
	StepObserve  Step = "observe"  // the run's one observation, journal included
	StepCompute  Step = "compute"  // the plan (or the saved plan, checked)
	StepGuard    Step = "guard"    // unattended runs refuse mass prunes
	StepReview   Step = "review"   // the caller sees the plan and may decline
	StepApply    Step = "apply"    // the actions, journaled
	StepEvidence Step = "evidence" // runbooks rewritten with the new evidence
	StepMetrics  Step = "metrics"  // the metrics textfile rewritten
)

// Planner makes a run's plan from its one observation.
type Planner func(d *schema.Desired, o *model.Observed, now time.Time) (*model.Plan, error)

// RunOptions say what one run of the pipeline does; the commands differ
// only in these.
type RunOptions struct {
	// Command names the run in the lock and the journal: apply, watch,
	// test or drill. Only applies and watch count as runs that can be
	// interrupted.
	Command string
	// Now is the run's clock: plans are made at Now and everything the run
	// records is timed from it.
	Now time.Time
	// DryRun stops after the guard: nothing is locked or written.
	DryRun bool
	// Unattended runs the guard (watch): a plan that would prune more
	// than the desired state's watch.maxPruneShare is refused.
	Unattended bool
	// Planner replaces Compute (test and drill plan the proofs asked for).
	Planner Planner
	// Review sees the plan before it is applied; its error declines it.
	Review func(*model.Plan) error
	// Notify hears every action's progress.
	Notify func(Event)
}

// Outcome is what a run did.
type Outcome struct {
	Status model.Status
	// Step is the step that ended the run early ("" when it ran through).
	Step     Step
	Plan     *model.Plan
	Observed *model.Observed
	Result   Result
	// Reports are the report files the run's tests and drills wrote.
	Reports []reports.Ref
}

// ErrDeclined is the error of a run whose review declined the plan.
var ErrDeclined = errors.New("plan declined")

// run is one pass through the pipeline.
type run struct {
	ctx   context.Context
	env   Env
	d     *schema.Desired
	opts  RunOptions
	lock  *Lock
	out   Outcome
	clock func() time.Time
	// applyErr is the actions' failure, reported once evidence is written.
	applyErr error
	files    map[string][]byte
	pings    *runPings // nil: no pings for this run
	// fold is the journal's fold the observation was made from; the run
	// folds its own entries into it (see learn).
	fold *journal.Fold
	// proofs are the run's test and drill reports, for the report files.
	proofs []model.TestReport
}

// Run is the reconcile pipeline: lock → observe once → compute → guard
// (unattended) → review → apply → refresh evidence → metrics → notify, with
// one Env and one observation (pings at start and end: see notify.go). A failed step stops the later ones; failed actions
// do not stop the evidence and metrics, which must show them.
func Run(ctx context.Context, env Env, opts RunOptions) (out Outcome, err error) {
	if env.Desired == nil {
		return Outcome{Status: model.StatusFailed}, errors.New("reconcile: Run needs the desired state")
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	if opts.Command == "" {
		opts.Command = "apply"
	}
	r := &run{ctx: ctx, env: env, d: env.Desired, opts: opts, clock: planClock(opts.Now)}
	defer func() { r.lock.Release() }() // r.lock is taken by the first step
	r.pingStart()
	defer func() { r.pingEnd(out, err) }()
	steps := []struct {
		name Step
		do   func() (more bool, err error)
	}{
		{StepLock, r.acquire},
		{StepObserve, r.observe},
		{StepCompute, r.compute},
		{StepGuard, r.guard},
		{StepReview, r.review},
		{StepApply, r.apply},
		{StepEvidence, r.evidence},
		{StepMetrics, r.metrics},
	}
	for _, s := range steps {
		more, err := s.do()
		if err != nil {
			r.out.Step = s.name
			if r.out.Status == "" || r.out.Status == model.StatusApplied || r.out.Status == model.StatusUnchanged {
				r.out.Status = model.StatusFailed
			}
			return r.out, err
		}
		if !more {
			r.out.Step = s.name
			return r.out, nil
		}
	}
	return r.out, r.applyErr
}

func (r *run) acquire() (bool, error) {
	if r.opts.DryRun {
		return true, nil
	}
	l, err := AcquireLock(r.d.StateDir, "drsync "+r.opts.Command)
	r.lock = l
	return true, err
}

func (r *run) observe() (bool, error) {
	o, f, err := observe(r.d, r.env, r.opts.Now.Location())
	r.out.Observed, r.fold = o, f
	return true, err
}

func (r *run) compute() (bool, error) {
	plan := r.opts.Planner
	if plan == nil {
		plan = func(d *schema.Desired, o *model.Observed, now time.Time) (*model.Plan, error) {
			return planner.Compute(d, o, now), nil
		}
	}
	p, err := plan(r.d, r.out.Observed, r.opts.Now)
	if err != nil {
		return false, err
	}
	r.out.Plan = p
	return true, nil
}

func (r *run) guard() (bool, error) {
	p := r.out.Plan
	if r.opts.Unattended && !p.Empty() {
		if err := guard.Prunes(p, r.out.Observed, r.d.Watch.MaxPruneShare); err != nil {
			r.out.Status = model.StatusGuarded
			return false, err
		}
	}
	if r.opts.DryRun {
		r.out.Status = model.StatusUnchanged
		if !p.Empty() {
			r.out.Status = model.StatusDrift
		}
		return false, nil
	}
	return true, nil
}

func (r *run) review() (bool, error) {
	if r.opts.Review == nil {
		return true, nil
	}
	if err := r.opts.Review(r.out.Plan); err != nil {
		r.out.Status = model.StatusDeclined
		return false, err
	}
	return true, nil
}

func (r *run) apply() (bool, error) {
	p := r.out.Plan
	if p.Empty() {
		r.out.Status = model.StatusUnchanged
		r.keepHistory()
		return true, nil
	}
	res, written, err := apply(r.ctx, p, r.env, r.opts.Command, r.clock, r.collectReports(r.opts.Notify))
	r.out.Reports = evidence.WriteReports(r.d, r.proofs)
	r.out.Result = res
	if r.fold == nil {
		r.fold = journal.NewFold()
	}
	learn(r.out.Observed, r.fold, written, r.opts.Now.Location())
	observeCoverage(r.d, r.env.Storage, r.out.Observed)
	r.keepHistory()
	if err != nil {
		return false, err
	}
	switch r.applyErr = res.err(r.env.Journal); {
	case res.Failed > 0:
		r.out.Status = model.StatusFailed
	case res.Stopped != nil:
		r.out.Status = model.StatusStopped
	default:
		r.out.Status = model.StatusApplied
	}
	return true, nil
}

// collectReports passes every event on to notify and keeps the run's test
// and drill reports, for the report files.
func (r *run) collectReports(notify func(Event)) func(Event) {
	return func(e Event) {
		if e.Report != nil {
			r.proofs = append(r.proofs, *e.Report)
		}
		if notify != nil {
			notify(e)
		}
	}
}

// keepHistory checkpoints the journal's fold the run ends with and
// rotates and expires the journal (see Journal.keepHistory). It is an
// optimisation over the journal, which stays the record: a failure is
// logged, and the next run replays more of the journal.
func (r *run) keepHistory() {
	j := r.env.Journal
	if j == nil || r.fold == nil {
		return
	}
	if err := j.KeepHistory(r.fold, r.opts.Now, r.d.History.Keep.Duration, journal.RotateSize); err != nil {
		slog.Warn("journal checkpoint", "err", err)
	}
}

// evidence renders the generated files from the observation the run
// learned its own results into, and rewrites the runbooks.
func (r *run) evidence() (bool, error) {
	files, err := render.Files(planner.RenderInput(r.d, r.out.Observed, r.clock()))
	if err != nil {
		return false, fmt.Errorf("rendering evidence: %w", err)
	}
	r.files = files
	return true, evidence.Write(files, r.out.Observed, func(path string) bool { return evidence.IsRunbook(r.d, path) })
}

func (r *run) metrics() (bool, error) {
	return true, evidence.Write(r.files, r.out.Observed, func(path string) bool { return path == r.d.Generate.Metrics })
}
