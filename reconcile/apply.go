package reconcile

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/drsync/drsync/notify"
	"github.com/drsync/drsync/reconcile/guard"
	"github.com/drsync/drsync/reconcile/journal"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/schema"
)

// Event reports progress of an apply to the caller (CLI output, metrics).
type Event struct {
	Action   model.Action  `json:"action"`
	Phase    model.Phase   `json:"phase"`
	Bytes    int64         `json:"bytes,omitempty"`
	Duration time.Duration `json:"durationNs,omitempty"`
	Err      error         `json:"-"`
	// Error is Err's text, for JSON.
	Error string `json:"error,omitempty"`
	// Note explains a skip.
	Note string `json:"note,omitempty"`
	// Report is the evidence of a test or drill.
	Report *model.TestReport `json:"report,omitempty"`
}

// Env is what Apply acts through.
type Env struct {
	Storage  model.Storage
	Services model.ServiceStore
	Prover   model.Prover
	Journal  *journal.Journal
	// Targets opens off-site targets; nil leaves them unobserved (their
	// work deferred).
	Targets Targets
	// Desired, when set, has Apply check the external drive is still
	// there before each action on it.
	Desired *schema.Desired
	// Pings, when set, tell people how each run went (see notify.go).
	Pings *notify.Sender
}

// Result sums up an apply.
type Result struct {
	Done    int `json:"done"`
	Failed  int `json:"failed"`
	Skipped int `json:"skipped"`
	// Bytes is what the sends carried to the drive.
	Bytes int64 `json:"bytes"`
	// Stopped is the cancellation that stopped the apply between actions.
	Stopped error `json:"-"`
}

// Apply carries out a plan's actions in order (repairs, snapshots and
// backups, sends, tests and drills, prunes, generated files), journaling
// each before and after it runs. Once an action of a subvolume (or
// service) fails, its remaining actions are skipped: in
// particular no snapshot is pruned after its send failed, and no prune
// runs on the retention verdict of a snapshot that was never made.
// A cancelled ctx stops the apply between actions: the running action
// finishes (it gets a context that ctx's cancellation does not reach), so
// a signal never leaves a half-made snapshot or an unrecorded action.
// Everything it records is timed by the plan's clock (see planClock).
// Run wraps it in the whole pipeline; Apply alone writes no evidence.
func Apply(ctx context.Context, p *model.Plan, env Env, notify func(Event)) (Result, error) {
	res, _, err := apply(ctx, p, env, "apply", planClock(p.Now), notify)
	if err != nil {
		return res, err
	}
	return res, res.err(env.Journal)
}

// planClock reads time as the plan sees it: the plan's now plus the time
// elapsed since, so `apply --now T` journals its actions at T (and `plan
// --now T` right after finds nothing to do), while durations stay real.
func planClock(now time.Time) func() time.Time {
	start := time.Now()
	if now.IsZero() {
		return time.Now
	}
	return func() time.Time { return now.Add(time.Since(start)) }
}

// err turns a finished apply into the error its caller reports.
func (res Result) err(j *journal.Journal) error {
	if res.Stopped != nil {
		return fmt.Errorf("apply stopped: %w", res.Stopped)
	}
	if res.Failed > 0 {
		return fmt.Errorf("%d of %d actions failed (see %s)", res.Failed, res.Done+res.Failed+res.Skipped, j.Path())
	}
	return nil
}

// apply runs the actions and returns the journal entries it wrote; its
// error is a journal that cannot be written, which ends the run at once.
func apply(ctx context.Context, p *model.Plan, env Env, command string, clock func() time.Time, notify func(Event)) (Result, []model.JournalEntry, error) {
	var written []model.JournalEntry
	appendEntry := func(e model.JournalEntry) error {
		if err := env.Journal.Append(e); err != nil {
			return err
		}
		// The run learns what the journal keeps, so its fold equals a
		// later replay (and the checkpoint made from it).
		written = append(written, e.Journaled())
		return nil
	}
	if notify == nil {
		notify = func(Event) {}
	}
	run := fmt.Sprintf("%s-%d", clock().UTC().Format("20060102T150405.000"), os.Getpid())
	var present []string
	for _, d := range p.Drives {
		if d.Present {
			present = append(present, d.Location)
		}
	}
	if err := appendEntry(model.JournalEntry{Time: clock(), Run: run, Phase: model.PhaseRunStart, Drives: present, Command: command}); err != nil {
		return Result{}, written, err
	}
	var res Result
	failed := map[string]string{} // subvolume or service (a file: its path) → the action that failed
	for _, a := range p.Actions() {
		a := a
		if res.Stopped == nil && ctx.Err() != nil {
			res.Stopped = ctx.Err()
		}
		owner := a.Subvolume
		if owner == "" {
			owner = a.Path
		}
		if res.Stopped != nil || failed[owner] != "" {
			note := "not run: " + failed[owner] + " failed earlier"
			if res.Stopped != nil {
				note = "not run: apply was stopped"
			}
			res.Skipped++
			if err := appendEntry(model.JournalEntry{Time: clock(), Run: run, Phase: model.PhaseSkipped, Action: &a, Error: note}); err != nil {
				return res, written, err
			}
			notify(Event{Action: a, Phase: model.PhaseSkipped, Note: note})
			continue
		}
		started := clock()
		if err := appendEntry(model.JournalEntry{Time: started, Run: run, Phase: model.PhaseStart, Action: &a}); err != nil {
			return res, written, err
		}
		notify(Event{Action: a, Phase: model.PhaseStart})
		start := time.Now()
		var bytes int64
		var report *model.TestReport
		err := guard.DrivePresent(env.Storage, a)
		if err == nil {
			bytes, report, err = run1(context.WithoutCancel(ctx), env, a, func(n int64) { notify(Event{Action: a, Phase: model.PhaseStart, Bytes: n}) })
		}
		if report != nil {
			report.Started = started
		}
		e := model.JournalEntry{Time: clock(), Run: run, Phase: model.PhaseDone, Action: &a, Bytes: bytes, Seconds: time.Since(start).Seconds(), Report: report}
		if err != nil {
			e.Phase, e.Error = model.PhaseFailed, err.Error()
			failed[owner] = string(a.Kind) + " " + a.Snapshot
			res.Failed++
		} else {
			res.Done++
			if a.Kind == model.KindSend {
				res.Bytes += bytes
			}
		}
		if jerr := appendEntry(e); jerr != nil {
			return res, written, jerr
		}
		notify(Event{Action: a, Phase: e.Phase, Bytes: bytes, Duration: time.Since(start), Err: err, Error: e.Error, Report: report})
	}
	result := model.StatusApplied
	if res.Failed > 0 {
		result = model.StatusFailed
	} else if res.Stopped != nil {
		result = model.StatusStopped
	}
	if err := appendEntry(model.JournalEntry{Time: clock(), Run: run, Phase: model.PhaseRunEnd, Result: result, Command: command}); err != nil {
		return res, written, err
	}
	return res, written, nil
}

// run1 carries out one action: its kind alone says how.
func run1(ctx context.Context, env Env, a model.Action, progress func(int64)) (int64, *model.TestReport, error) {
	if err := guard.Action(env.Desired, env.Storage, a); err != nil {
		return 0, nil, err
	}
	run, ok := executors[a.Kind]
	if !ok {
		return 0, nil, fmt.Errorf("unknown action kind %q", a.Kind)
	}
	return run(ctx, env, a, progress)
}

// prove runs a planned test or drill; a failing proof is a failed action,
// so the subvolume's prunes are held back until its copies verify again.
func prove(ctx context.Context, pr model.Prover, a model.Action, progress func(int64)) (int64, *model.TestReport, error) {
	ps := a.Proof
	req := model.TestRequest{Kind: a.Kind, Subvolume: a.Subvolume, Snapshot: a.Snapshot, SnapshotTime: ps.SnapshotTime,
		SampleSize: ps.SampleSize, Seed: ps.Seed, Scratch: ps.Scratch, RTOTarget: ps.RTOTarget.Duration,
		Copy: a.Path, External: a.External, Location: a.Location, Reference: ps.Reference, Service: ps.Service,
		Slice: ps.Slice, Slices: ps.Slices, ReferenceLocation: ps.ReferenceLocation}
	if req.Seed == 0 {
		req.Seed = time.Now().UnixNano() % 1e9
	}
	rep, err := pr.Prove(ctx, req, progress)
	if err != nil {
		// A test that cannot even run proves nothing: it is recorded as a
		// failure, so the alert fires and the verified snapshot is kept.
		rep = model.TestReport{Kind: a.Kind, Subvolume: a.Subvolume, Snapshot: a.Snapshot, SnapshotTime: ps.SnapshotTime,
			Location: a.Location, Seed: req.Seed, Result: model.ResultFail, Started: time.Now(),
			Failures: []model.Failure{{Path: a.Path, Check: "run", Got: err.Error()}}}
		return 0, &rep, err
	}
	if rep.Result == model.ResultFail {
		return rep.Bytes, &rep, ProofFailure(rep)
	}
	return rep.Bytes, &rep, nil
}

// ProofFailure describes a failed test or drill as an error.
func ProofFailure(r model.TestReport) error {
	if len(r.Failures) == 0 {
		return fmt.Errorf("%s of %s failed", r.Kind, r.Snapshot)
	}
	f := r.Failures[0]
	return fmt.Errorf("%s of %s failed: %d problem(s), first %s: %s", r.Kind, r.Snapshot, len(r.Failures), f.Path, f.Check)
}
