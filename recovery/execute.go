package recovery

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/drsync/drsync/reconcile/journal"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/verify"
)

// Storage is what a recovery needs from a provider: the storage apply
// uses, and writable snapshots.
type Storage interface {
	model.Storage
	// Clone makes a writable snapshot of snapshot at dest (which must not
	// exist): on btrfs one sharing every extent, on dirfs a copy.
	Clone(ctx context.Context, snapshot, dest string) error
	// Move renames a snapshot within its filesystem, never replacing
	// what is at to.
	Move(from, to string) error
}

// Env is what Execute acts through.
type Env struct {
	Storage Storage
	Journal *journal.Journal
	// Offsite are the off-site targets by name, for recoveries that fetch
	// their copy from one.
	Offsite map[string]OffsiteSource
}

// Step is one step of a recovery, in the order they run.
type Step string

const (
	StepReceive   Step = "receive"    // the replica back from the drive, read-only
	StepClone     Step = "clone"      // a writable snapshot of it beside the target
	StepVerify    Step = "verify"     // the whole clone against the copy
	StepKeepAside Step = "keep-aside" // the existing target as a read-only snapshot
	StepPlace     Step = "place"      // the clone takes the target's place
)

// Event reports a step's progress to the caller.
type Event struct {
	Subvolume string      `json:"subvolume"`
	Step      Step        `json:"step"`
	Phase     model.Phase `json:"phase"`
	Detail    string      `json:"detail"`
	Seconds   float64     `json:"seconds,omitempty"`
	Err       error       `json:"-"`
	Error     string      `json:"error,omitempty"`
}

// Result is one recovery's outcome.
type Result struct {
	Subvolume string `json:"subvolume"`
	Snapshot  string `json:"snapshot"`
	Target    string `json:"target"`
	KeptAside string `json:"keptAside,omitempty"`
	// ReceivedBytes is the size of the stream received from the drive.
	ReceivedBytes int64 `json:"receivedBytes,omitempty"`
	// Verified is the comparison of the whole recovered tree with the copy.
	Verified verify.TreeReport `json:"verified"`
	Seconds  float64           `json:"seconds"`
	Error    string            `json:"error,omitempty"`
}

// Execute carries out a recovery plan and returns its subvolumes'
// results (see Run).
func Execute(ctx context.Context, p *Plan, env Env, notify func(Event)) ([]Result, error) {
	out, err := Run(ctx, p, env, notify)
	return out.Subvolumes, err
}

// Outcome is what a recovery run did, per component.
type Outcome struct {
	Subvolumes []Result        `json:"results,omitempty"`
	Services   []ServiceResult `json:"services,omitempty"`
}

// Run carries out a recovery plan, journaling every step before and after
// it runs: the subvolumes, then the services in the plan's order. Each
// recovery stops at its first failed step (the others go on, but not what
// comes after a failed one); a subvolume's target is touched only after its
// clone was verified, a service's after its archive was, and existing
// data is kept aside first.
func Run(ctx context.Context, p *Plan, env Env, notify func(Event)) (Outcome, error) {
	if notify == nil {
		notify = func(Event) {}
	}
	run := fmt.Sprintf("%s-%d", time.Now().UTC().Format("20060102T150405.000"), os.Getpid())
	j := env.Journal
	if err := j.Append(model.JournalEntry{Time: time.Now(), Run: run, Phase: model.PhaseRunStart, Command: "recover"}); err != nil {
		return Outcome{}, err
	}
	x := &executor{ctx: ctx, env: env, run: run, notify: notify, stamp: p.Now.Format(stampLayout), failed: map[string]bool{}}
	var results []Result
	var errs []error
	for _, r := range p.Recoveries {
		start := time.Now()
		res, err := x.recover1(r)
		res.Seconds = time.Since(start).Seconds()
		if err != nil {
			res.Error = err.Error()
			errs = append(errs, fmt.Errorf("recover %s: %w", r.Subvolume, err))
			x.failed[r.Subvolume] = true
		}
		results = append(results, res)
	}
	svcResults, err := x.recoverServices(p)
	if err != nil {
		errs = append(errs, err)
	}
	outcome := model.StatusApplied
	if len(errs) > 0 {
		outcome = model.StatusFailed
	}
	if err := j.Append(model.JournalEntry{Time: time.Now(), Run: run, Phase: model.PhaseRunEnd, Result: outcome, Command: "recover"}); err != nil {
		errs = append(errs, err)
	}
	return Outcome{Subvolumes: results, Services: svcResults}, errors.Join(errs...)
}

type executor struct {
	ctx    context.Context
	env    Env
	run    string
	notify func(Event)
	// stamp dates what a service recovery keeps aside, as the plan shows.
	stamp string
	// failed names the components whose recovery failed in this run: what
	// comes after them is not recovered.
	failed map[string]bool
}

func (x *executor) recover1(r Recovery) (Result, error) {
	res := Result{Subvolume: r.Subvolume, Snapshot: r.Snapshot, Target: r.Target.Path}
	st := x.env.Storage
	if r.Receive != "" {
		err := x.step(r, StepReceive, r.Copy, r.Receive, "receive "+r.Copy+" into "+filepath.Dir(r.Receive), func() error {
			if r.Offsite != "" {
				return x.fetch(r)
			}
			n, err := st.Send(x.ctx, r.Copy, "", filepath.Dir(r.Receive), nil)
			res.ReceivedBytes = n
			return err
		})
		if err != nil {
			return res, err
		}
	}
	if r.Target.State == TargetMissing {
		if err := os.MkdirAll(filepath.Dir(r.Target.Path), 0o755); err != nil {
			return res, fmt.Errorf("creating the parent of %s: %w", r.Target.Path, err)
		}
	}
	err := x.step(r, StepClone, r.Base, r.Staging, "writable snapshot of "+r.Base+" at "+r.Staging, func() error {
		return st.Clone(x.ctx, r.Base, r.Staging)
	})
	if err != nil {
		return res, err
	}
	// An off-site copy is compared as received: the fetch checked it
	// against what was sent (checksums, age's authentication).
	reference := r.Copy
	if r.Offsite != "" {
		reference = r.Receive
	}
	err = x.step(r, StepVerify, reference, r.Staging, "compare every file of "+r.Staging+" with "+reference, func() error {
		rep, err := verify.CompareTrees(x.ctx, reference, r.Staging, nil)
		res.Verified = rep
		if err != nil {
			return err
		}
		if n := len(rep.Mismatches); n > 0 {
			m := rep.Mismatches[0]
			return fmt.Errorf("the recovered tree differs from %s: %d problem(s), first %s: %s (want %s, got %s)",
				reference, n, m.Rel, m.Check, m.Want, m.Got)
		}
		return nil
	})
	if err != nil {
		// The clone and the received copy are this run's own, and not to
		// be trusted: both go. The target was not touched.
		for _, own := range []string{r.Staging, r.Receive} {
			if own == "" {
				continue
			}
			if derr := st.Delete(context.WithoutCancel(x.ctx), own); derr != nil {
				err = errors.Join(err, derr)
			}
		}
		if r.SnapshotHome != "" {
			err = errors.Join(err, removeEmptyDir(filepath.Dir(r.Receive)))
		}
		return res, err
	}
	if r.KeepAside != "" {
		err := x.step(r, StepKeepAside, r.Target.Path, r.KeepAside, "keep "+r.Target.Path+" aside as "+r.KeepAside, func() error {
			return st.Snapshot(x.ctx, r.Target.Path, r.KeepAside)
		})
		if err != nil {
			return res, err
		}
		res.KeptAside = r.KeepAside
	}
	exchange := r.Target.State != TargetMissing
	err = x.step(r, StepPlace, r.Staging, r.Target.Path, "put the verified tree at "+r.Target.Path, func() error {
		if err := x.place(r, exchange); err != nil {
			return err
		}
		if r.SnapshotHome == "" {
			return nil
		}
		if err := os.MkdirAll(filepath.Dir(r.SnapshotHome), 0o755); err != nil {
			return fmt.Errorf("snapshot directory: %w", err)
		}
		if err := x.env.Storage.Move(r.Receive, r.SnapshotHome); err != nil {
			return err
		}
		return removeEmptyDir(filepath.Dir(r.Receive))
	})
	return res, err
}

// place puts the verified staging tree at the target and removes what it
// displaced (kept aside before when it held data, empty otherwise).
func (x *executor) place(r Recovery, exchange bool) error {
	if err := putInPlace(r.Staging, r.Target.Path, exchange); err != nil {
		return err
	}
	if !exchange {
		return nil
	}
	// The replaced target is now at the staging name.
	if r.Target.Subvolume {
		return x.env.Storage.Delete(context.WithoutCancel(x.ctx), r.Staging)
	}
	return removeEmptyDir(r.Staging)
}

// step journals one step before and after it runs and reports it.
func (x *executor) step(r Recovery, s Step, from, path, detail string, do func() error) error {
	return x.stepOf(component{r.Subvolume, r.Location, r.Snapshot, r.External, r.SnapshotTime}, s, from, path, detail, do)
}

// component is what a journaled step says about the thing recovered: a
// subvolume or a service, and the copy it is recovered from.
type component struct {
	name, location, copy string
	external             bool
	copyTime             time.Time
}

func (x *executor) stepOf(c component, s Step, from, path, detail string, do func() error) error {
	a := model.Action{Kind: model.KindRecover, Subvolume: c.name, Location: c.location, Snapshot: c.copy,
		Path: path, External: c.external, Reason: string(s) + ": " + detail,
		Recover: &model.RecoverStep{Step: string(s), From: from, SnapshotTime: c.copyTime}}
	j := x.env.Journal
	if err := j.Append(model.JournalEntry{Time: time.Now(), Run: x.run, Phase: model.PhaseStart, Action: &a}); err != nil {
		return err
	}
	x.notify(Event{Subvolume: c.name, Step: s, Phase: model.PhaseStart, Detail: detail})
	start := time.Now()
	err := x.ctx.Err()
	if err == nil {
		err = do()
	}
	e := model.JournalEntry{Time: time.Now(), Run: x.run, Phase: model.PhaseDone, Action: &a, Seconds: time.Since(start).Seconds()}
	if err != nil {
		e.Phase, e.Error = model.PhaseFailed, err.Error()
	}
	if jerr := j.Append(e); jerr != nil {
		return errors.Join(err, jerr)
	}
	x.notify(Event{Subvolume: c.name, Step: s, Phase: e.Phase, Detail: detail, Seconds: e.Seconds, Err: err, Error: e.Error})
	return err
}
