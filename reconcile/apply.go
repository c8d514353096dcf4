package reconcile

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/drsync/drsync/schema"
	"time"
)

// Event reports progress of an apply to the caller (CLI output, metrics).
type Event struct {
	Action   Action        `json:"action"`
	Phase    Phase         `json:"phase"`
	Bytes    int64         `json:"bytes,omitempty"`
	Duration time.Duration `json:"durationNs,omitempty"`
	Err      error         `json:"-"`
	// Error is Err's text, for JSON.
	Error string `json:"error,omitempty"`
	// Note explains a skip.
	Note string `json:"note,omitempty"`
	// Report is the evidence of a test or drill.
	Report *TestReport `json:"report,omitempty"`
}

// Env is what Apply acts through.
type Env struct {
	Storage  Storage
	Services ServiceStore
	Prover   Prover
	Journal  *Journal
	// Desired, when set, has Apply refresh the files that carry evidence
	// (metrics, runbooks) once the run is journaled, and check the external
	// drive is still there before each action on it.
	Desired *schema.Desired
	// Command names the run in the journal: "apply" (the default), "test"
	// or "drill". Only applies count as runs that can be interrupted.
	Command string
}

// Result sums up an apply.
type Result struct {
	Done    int `json:"done"`
	Failed  int `json:"failed"`
	Skipped int `json:"skipped"`
	// Bytes is what the sends carried to the drive.
	Bytes int64 `json:"bytes"`
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
func Apply(ctx context.Context, p *Plan, env Env, notify func(Event)) (Result, error) {
	j := env.Journal
	if notify == nil {
		notify = func(Event) {}
	}
	run := fmt.Sprintf("%s-%d", time.Now().UTC().Format("20060102T150405.000"), os.Getpid())
	var present []string
	for _, d := range p.Drives {
		if d.Present {
			present = append(present, d.Location)
		}
	}
	command := env.Command
	if command == "" {
		command = "apply"
	}
	if err := j.Append(JournalEntry{Time: time.Now(), Run: run, Phase: PhaseRunStart, Drives: present, Command: command}); err != nil {
		return Result{}, err
	}
	var res Result
	failed := map[string]string{} // subvolume or service (a file: its path) → the action that failed
	var stopErr error
	for _, a := range p.Actions() {
		a := a
		if stopErr == nil && ctx.Err() != nil {
			stopErr = ctx.Err()
		}
		owner := a.Subvolume
		if owner == "" {
			owner = a.Path
		}
		if stopErr != nil || failed[owner] != "" {
			note := "not run: " + failed[owner] + " failed earlier"
			if stopErr != nil {
				note = "not run: apply was stopped"
			}
			res.Skipped++
			if err := j.Append(JournalEntry{Time: time.Now(), Run: run, Phase: PhaseSkipped, Action: &a, Error: note}); err != nil {
				return res, err
			}
			notify(Event{Action: a, Phase: PhaseSkipped, Note: note})
			continue
		}
		if err := j.Append(JournalEntry{Time: time.Now(), Run: run, Phase: PhaseStart, Action: &a}); err != nil {
			return res, err
		}
		notify(Event{Action: a, Phase: PhaseStart})
		start := time.Now()
		var bytes int64
		var report *TestReport
		err := driveStillThere(env, a)
		if err == nil {
			bytes, report, err = run1(context.WithoutCancel(ctx), env, a, func(n int64) { notify(Event{Action: a, Phase: PhaseStart, Bytes: n}) })
		}
		e := JournalEntry{Time: time.Now(), Run: run, Phase: PhaseDone, Action: &a, Bytes: bytes, Seconds: time.Since(start).Seconds(), Report: report}
		if err != nil {
			e.Phase, e.Error = PhaseFailed, err.Error()
			failed[owner] = string(a.Kind) + " " + a.Snapshot
			res.Failed++
		} else {
			res.Done++
			if a.Kind == KindSend {
				res.Bytes += bytes
			}
		}
		if jerr := j.Append(e); jerr != nil {
			return res, jerr
		}
		notify(Event{Action: a, Phase: e.Phase, Bytes: bytes, Duration: time.Since(start), Err: err, Error: e.Error, Report: report})
	}
	result := "ok"
	if res.Failed > 0 {
		result = "failed"
	} else if stopErr != nil {
		result = "stopped"
	}
	if err := j.Append(JournalEntry{Time: time.Now(), Run: run, Phase: PhaseRunEnd, Result: result, Command: command}); err != nil {
		return res, err
	}
	if env.Desired != nil {
		if err := RefreshEvidence(env.Desired, env, time.Now().In(p.Now.Location())); err != nil {
			return res, err
		}
	}
	if stopErr != nil {
		return res, fmt.Errorf("apply stopped: %w", stopErr)
	}
	if res.Failed > 0 {
		return res, fmt.Errorf("%d of %d actions failed (see %s)", res.Failed, res.Done+res.Failed+res.Skipped, j.Path())
	}
	return res, nil
}

// driveStillThere probes the external drive again right before an action
// on it: a drive unplugged after the plan was made must not turn a send
// into a write onto the bare mount point.
func driveStillThere(env Env, a Action) error {
	if !a.External || env.Desired == nil {
		return nil
	}
	loc, ok := env.Desired.Locations[a.Location]
	if !ok {
		return nil
	}
	if d := env.Storage.Probe(loc); !d.Present {
		return fmt.Errorf("drive %s is no longer present: %s", a.Location, d.Reason)
	}
	return nil
}

func run1(ctx context.Context, env Env, a Action, progress func(int64)) (int64, *TestReport, error) {
	st := env.Storage
	switch a.Kind {
	case KindSnapshot:
		return 0, nil, st.Snapshot(ctx, a.From, a.Path)
	case KindSend:
		if a.Service != nil {
			if env.Services == nil {
				return 0, nil, fmt.Errorf("no service store configured for %s", a.Subvolume)
			}
			n, err := env.Services.CopyArchive(ctx, a.From, filepath.Dir(a.Path))
			return n, nil, err
		}
		n, err := st.Send(ctx, a.From, a.Parent, filepath.Dir(a.Path), progress)
		return n, nil, err
	case KindBackup:
		if env.Services == nil {
			return 0, nil, fmt.Errorf("no service store configured for %s", a.Subvolume)
		}
		n, err := env.Services.Backup(ctx, a.Service, a.Path)
		return n, nil, err
	case KindRepair, KindPrune:
		if a.Service != nil {
			if env.Services == nil {
				return 0, nil, fmt.Errorf("no service store configured for %s", a.Subvolume)
			}
			return 0, nil, env.Services.DeleteArchive(a.Path)
		}
		return 0, nil, st.Delete(ctx, a.Path)
	case KindWrite:
		return int64(len(a.Content)), nil, WriteFile(a.Path, []byte(a.Content))
	case KindTest, KindDrill:
		if env.Prover == nil {
			return 0, nil, fmt.Errorf("no prover configured for %s", a.Kind)
		}
		return prove(ctx, env.Prover, a, progress)
	}
	return 0, nil, fmt.Errorf("unknown action kind %q", a.Kind)
}

// prove runs a planned test or drill; a failing proof is a failed action,
// so the subvolume's prunes are held back until its copies verify again.
func prove(ctx context.Context, pr Prover, a Action, progress func(int64)) (int64, *TestReport, error) {
	req := TestRequest{Kind: a.Kind, Subvolume: a.Subvolume, Snapshot: a.Snapshot, SnapshotTime: a.SnapshotTime,
		SampleSize: a.SampleSize, Seed: a.Seed, Scratch: a.Scratch, RTOTarget: a.RTOTarget.Duration,
		Copy: a.Path, External: a.External, Location: a.Location, Reference: a.From, Service: a.Service}
	if req.Seed == 0 {
		req.Seed = time.Now().UnixNano() % 1e9
	}
	rep, err := pr.Prove(ctx, req, progress)
	if err != nil {
		// A test that cannot even run proves nothing: it is recorded as a
		// failure, so the alert fires and the verified snapshot is kept.
		rep = TestReport{Kind: a.Kind, Subvolume: a.Subvolume, Snapshot: a.Snapshot, SnapshotTime: a.SnapshotTime,
			Location: a.Location, Seed: req.Seed, Result: ResultFail, Started: time.Now(),
			Failures: []Failure{{Path: a.Path, Check: "run", Got: err.Error()}}}
		return 0, &rep, err
	}
	if rep.Result == ResultFail {
		return rep.Bytes, &rep, ProofFailure(rep)
	}
	return rep.Bytes, &rep, nil
}

// ProofFailure describes a failed test or drill as an error.
func ProofFailure(r TestReport) error {
	if len(r.Failures) == 0 {
		return fmt.Errorf("%s of %s failed", r.Kind, r.Snapshot)
	}
	f := r.Failures[0]
	return fmt.Errorf("%s of %s failed: %d problem(s), first %s: %s", r.Kind, r.Snapshot, len(r.Failures), f.Path, f.Check)
}
