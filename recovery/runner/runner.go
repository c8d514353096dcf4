// Package runner carries out drsync recover's three modes through a
// session: a recovery (observe, plan, review, run, report), the
// --verify-only checklists and --accept-source. The command fills
// Options, asks, and prints.
package runner

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/drsync/drsync/reconcile"
	"github.com/drsync/drsync/reconcile/journal"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/recovery"
	"github.com/drsync/drsync/recovery/checklist"
	"github.com/drsync/drsync/recovery/prepare"
	"github.com/drsync/drsync/reports"
	"github.com/drsync/drsync/schema"
	"github.com/drsync/drsync/session"
)

// Options are one recovery's request and the command's hooks.
type Options struct {
	Request recovery.Request
	// Identity is the age identity file for S3 copies ("": each target's).
	Identity string
	// Warn hears what the plan's choices warn of.
	Warn func(string)
	// Review sees the plan before anything changes; an error stops it.
	Review func(*recovery.Plan) error
	// Event hears every step of the run.
	Event func(recovery.Event)
}

// Outcome is what a recovery planned and did.
type Outcome struct {
	Plan *recovery.Plan
	recovery.Outcome
	// Ran says the plan was approved and run: Outcome says how it went.
	Ran bool
	// Report is the text report's path ("": none was written).
	Report string
}

// Recover plans the recovery o.Request asks for under the state
// directory's lock, lets o.Review approve it, runs it, and keeps its
// outcome as a report in <stateDir>/reports.
func Recover(ctx context.Context, s session.Options, d *schema.Desired, o Options) (Outcome, error) {
	var out Outcome
	base, err := s.NewStorage()
	if err != nil {
		return out, err
	}
	st, ok := base.(recovery.Storage)
	if !ok {
		return out, fmt.Errorf("--storage %s cannot make writable snapshots", s.Storage)
	}
	lock, err := reconcile.AcquireLock(d.StateDir, "drsync recover")
	if err != nil {
		return out, err
	}
	defer lock.Release()
	obs, j, entries, err := observeJournal(s, d, o.Request.Now)
	if err != nil {
		return out, err
	}
	p, offsite, err := prepare.Plan(ctx, prepare.Setting{Desired: d, Observed: obs, Entries: entries, Storage: st,
		OpenTarget: session.OpenTarget, Identity: o.Identity, Warn: o.Warn}, o.Request)
	if err != nil {
		return out, err
	}
	out.Plan = p
	if err := o.Review(p); err != nil {
		return out, err
	}
	started := time.Now()
	out.Ran = true
	out.Outcome, err = recovery.Run(ctx, p, recovery.Env{Storage: st, Journal: j, Offsite: offsite}, o.Event)
	out.Report = writeReport(d, started, out.Outcome)
	return out, err
}

// writeReport keeps a recovery's outcome as a report (recover-<time>.log
// and .json) and returns the text's path. A report that cannot be written
// is logged: the recovery is journaled.
func writeReport(d *schema.Desired, started time.Time, out recovery.Outcome) string {
	if len(out.Subvolumes)+len(out.Services) == 0 {
		return ""
	}
	r := recovery.Report(d.Host, started, out.Subvolumes, out.Services)
	ref, err := reports.Write(d.StateDir, d.Reports.Keep.Duration, r)
	if err != nil {
		slog.Warn("writing the recovery's report", "err", err)
		return ""
	}
	return ref.Text
}

// Verify is recover --verify-only: the checklist of each named subvolume
// and service (default: all), and whether any failed.
func Verify(ctx context.Context, s session.Options, d *schema.Desired, names []string) ([]recovery.Checklist, bool, error) {
	obs, _, entries, err := observeJournal(s, d, time.Now())
	if err != nil {
		return nil, false, err
	}
	lists, err := checklist.Run(ctx, d, obs, entries, names)
	if err != nil {
		return nil, false, err
	}
	failed := false
	for _, c := range lists {
		failed = failed || c.Result == model.ResultFail
	}
	return lists, failed, nil
}

// Accept is recover --accept-source: it journals that a person accepts
// each named source as it is, though it looks wiped or replaced, so its
// prunes resume. Unchanged are the names that did not look destroyed.
func Accept(s session.Options, d *schema.Desired, names []string, now time.Time) (accepted []recovery.Accepted, unchanged []string, err error) {
	lock, err := reconcile.AcquireLock(d.StateDir, "drsync recover --accept-source")
	if err != nil {
		return nil, nil, err
	}
	defer lock.Release()
	obs, err := s.Observe(d, now)
	if err != nil {
		return nil, nil, err
	}
	j, err := journal.OpenJournal(d.StateDir)
	if err != nil {
		return nil, nil, err
	}
	return recovery.AcceptSources(j, obs, names)
}

// observeJournal observes the machine and reads the journal.
func observeJournal(s session.Options, d *schema.Desired, now time.Time) (*model.Observed, *journal.Journal, []model.JournalEntry, error) {
	obs, err := s.Observe(d, now)
	if err != nil {
		return nil, nil, nil, err
	}
	j, err := journal.OpenJournal(d.StateDir)
	if err != nil {
		return nil, nil, nil, err
	}
	entries, err := j.Entries()
	if err != nil {
		return nil, nil, nil, err
	}
	return obs, j, entries, nil
}
