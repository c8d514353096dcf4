package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/drsync/drsync/internal/humane"
	"github.com/drsync/drsync/reconcile"
	"github.com/drsync/drsync/reconcile/journal"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/recovery"
	"github.com/drsync/drsync/recovery/checklist"
	"github.com/drsync/drsync/recovery/prepare"
	"github.com/drsync/drsync/recovery/view"
	"github.com/drsync/drsync/schema"
)

type recoverOptions struct {
	from, at, to string
	now          string
	autoApprove  bool
	verifyOnly   bool
	acceptSource bool
	offsite      recoverOffsiteOptions
}

func newRecoverCommand(g *globalOptions) *cobra.Command {
	var o recoverOptions
	cmd := &cobra.Command{
		Use:   "recover [NAME...]",
		Short: "Recover whole subvolumes and services from their newest verified copies, verified",
		Long: "Recovers each named subvolume from its newest verified copy (--from SNAPSHOT, or --at TIME for the newest " +
			"verified copy taken at or before TIME): a local snapshot, or the replica on the drive, which is first " +
			"received back into the snapshot directory so the next apply sends incrementally. The target (the " +
			"declared source, or NAME inside --to DIR) becomes a writable snapshot of that copy, compared file by " +
			"file with it before it takes the target's place. A source holding data is kept aside first as the " +
			"read-only snapshot NAME.pre-recover-TIME in its snapshot directory (never pruned by drsync). Shows the " +
			"plan and asks on a terminal; --auto-approve for scripts.\n\n" +
			"A service is recovered from its newest verified archive (--from ARCHIVE, --at TIME), the local one or its " +
			"copy on the drive: the archive is verified and restored beside the data, the service stopped (its unit, or " +
			"its stop command), the current data kept aside as PATH.pre-recover-TIME, the restored data moved in, the " +
			"service started and checked ready; when it is not, the kept-aside data goes back and it is started again.\n\n" +
			"--at TIME without names recovers every subvolume and service to the newest verified copies at or before " +
			"TIME, showing how far each lies from TIME, in the order the services' after fields declare.\n\n" +
			"--verify-only checks the named subvolumes and services (default: all) without changing anything.\n" +
			"--accept-source accepts a source that looks wiped or replaced as it is, so prunes resume.",
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRecover(cmd.Context(), g, o, args)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.from, "from", "", "snapshot to recover from, as drsync list shows it")
	f.StringVar(&o.at, "at", "", "recover the newest verified copy taken at or before this time (RFC 3339, or local 2006-01-02T15:04)")
	f.StringVar(&o.to, "to", "", "recover into this directory (as DIR/NAME) instead of the declared source, e.g. a mounted new root")
	f.StringVar(&o.now, "now", "", "the time that names the kept-aside snapshot (default: the clock)")
	f.BoolVar(&o.autoApprove, "auto-approve", false, "recover without asking")
	f.BoolVar(&o.verifyOnly, "verify-only", false, "check the named subvolumes (default: all) and change nothing")
	f.BoolVar(&o.acceptSource, "accept-source", false, "accept the named sources as they are (no recovery): their prunes resume")
	addRecoverOffsiteFlags(cmd, &o.offsite)
	return cmd
}

// recoverReport is recover's --json output.
type recoverReport struct {
	Plan     *recovery.Plan           `json:"plan"`
	Results  []recovery.Result        `json:"results,omitempty"`
	Services []recovery.ServiceResult `json:"services,omitempty"`
	Error    string                   `json:"error,omitempty"`
}

func runRecover(ctx context.Context, g *globalOptions, o recoverOptions, names []string) error {
	now, err := parseNow(o.now)
	if err != nil {
		return err
	}
	d, err := schema.Load(g.file, g.tags)
	if err != nil {
		return err
	}
	if o.verifyOnly {
		return runVerifyRecovery(ctx, g, d, names)
	}
	if len(names) == 0 && o.at == "" {
		return fmt.Errorf("name the subvolumes or services to recover, or a time with --at (declared: %s)",
			strings.Join(append(d.SubvolumeNames(), d.ServiceNames()...), ", "))
	}
	if o.acceptSource {
		return runAcceptSource(g, d, names, now)
	}
	req := recovery.Request{Names: names, From: o.from, To: o.to, Now: now,
		FromTarget: o.offsite.fromTarget, AllowUnverified: o.offsite.allowUnverified}
	if o.at != "" {
		if req.At, err = parseTimeFlag("--at", o.at); err != nil {
			return err
		}
	}
	base, err := newStorage(g)
	if err != nil {
		return err
	}
	st, ok := base.(recovery.Storage)
	if !ok {
		return fmt.Errorf("--storage %s cannot make writable snapshots", g.storage)
	}
	lock, err := reconcile.AcquireLock(d.StateDir, "drsync recover")
	if err != nil {
		return err
	}
	defer lock.Release()
	p, j, offsite, err := planRecovery(ctx, g, d, st, req, o.offsite)
	if err != nil {
		return err
	}
	if !g.json {
		view.WritePlan(g.stdout, p)
	}
	if !o.autoApprove {
		if g.json {
			return fmt.Errorf("--json needs --auto-approve: a confirmation prompt would corrupt the JSON")
		}
		if err := confirm(g); err != nil {
			return err
		}
	}
	started := time.Now()
	out, err := recovery.Run(ctx, p, recovery.Env{Storage: st, Journal: j, Offsite: offsite}, func(e recovery.Event) {
		if !g.json {
			printRecoverEvent(g, e)
		}
	})
	defer writeRecoverReport(g, d, started, out.Subvolumes, out.Services)
	if g.json {
		rep := recoverReport{Plan: p, Results: out.Subvolumes, Services: out.Services}
		if err != nil {
			rep.Error = err.Error()
		}
		if jerr := writeJSON(g.stdout, rep); jerr != nil {
			return jerr
		}
		if err != nil {
			return exitCodeError{exitError}
		}
		return nil
	}
	fmt.Fprintln(g.stdout)
	for _, r := range out.Subvolumes {
		if r.Error != "" {
			fmt.Fprintf(g.stdout, "✗ %s: %s\n", r.Subvolume, r.Error)
			continue
		}
		fmt.Fprintf(g.stdout, "✓ recovered %s from %s to %s: %s, %s compared and equal (%s)\n", r.Subvolume, r.Snapshot, r.Target,
			humane.Count(r.Verified.Files, "file"), humane.Bytes(r.Verified.Bytes/2), humane.Rounded(humane.Seconds(r.Seconds)))
		if r.KeptAside != "" {
			fmt.Fprintf(g.stdout, "  the previous source is kept as %s (read-only; delete it by hand when done)\n", r.KeptAside)
		}
	}
	printServiceResults(g, out.Services)
	return err
}

func printServiceResults(g *globalOptions, results []recovery.ServiceResult) {
	for _, r := range results {
		if r.Before != "" {
			fmt.Fprintf(g.stdout, "  %s before: %s\n", r.Service, r.Before)
		}
		if r.Error != "" {
			fmt.Fprintf(g.stdout, "✗ %s: %s\n", r.Service, r.Error)
			for _, c := range r.FailedCopies {
				fmt.Fprintf(g.stdout, "  the restored copy that failed is kept as %s for inspection\n", c)
			}
			continue
		}
		from := r.Archive
		if r.FetchedFrom != "" {
			from += " (fetched from " + r.FetchedFrom + ")"
		}
		fmt.Fprintf(g.stdout, "✓ recovered %s from %s: %s, %s verified; %s (%s)\n", r.Service, from,
			humane.Count(r.Files, "file"), humane.Bytes(r.Bytes), r.Ready, humane.Rounded(humane.Seconds(r.Seconds)))
		for _, k := range r.KeptAside {
			fmt.Fprintf(g.stdout, "  the previous data is kept as %s (delete it by hand when done)\n", k)
		}
	}
}

// planRecovery observes and plans a recovery (prepare.Plan).
func planRecovery(ctx context.Context, g *globalOptions, d *schema.Desired, st recovery.Storage, req recovery.Request,
	oo recoverOffsiteOptions) (*recovery.Plan, *journal.Journal, map[string]recovery.OffsiteSource, error) {
	obs, err := observe(g, d, req.Now)
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
	p, sources, err := prepare.Plan(ctx, prepare.Setting{Desired: d, Observed: obs, Entries: entries, Storage: st,
		OpenTarget: openTarget, Identity: oo.identity, Warn: func(w string) { fmt.Fprintf(g.stderr, "warning: %s\n", w) }}, req)
	return p, j, sources, err
}

func printRecoverEvent(g *globalOptions, e recovery.Event) {
	switch e.Phase {
	case model.PhaseDone:
		fmt.Fprintf(g.stdout, "  ✓ %-10s %s: %s (%s)\n", e.Step, e.Subvolume, e.Detail, humane.Rounded(humane.Seconds(e.Seconds)))
	case model.PhaseFailed:
		fmt.Fprintf(g.stdout, "  ✗ %-10s %s: %v\n", e.Step, e.Subvolume, e.Err)
	}
}

// parseTimeFlag reads a time flag: RFC 3339 or local wall clock.
func parseTimeFlag(flag, s string) (time.Time, error) {
	t, err := parseNow(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %q: want RFC 3339 (2026-11-22T02:00:00+01:00) or local 2026-11-22T02:00", flag, s)
	}
	return t, nil
}

// runVerifyRecovery is recover --verify-only: the checklist of each named
// subvolume and service (default: all); exit 1 when any check fails.
func runVerifyRecovery(ctx context.Context, g *globalOptions, d *schema.Desired, names []string) error {
	obs, err := observe(g, d, time.Now())
	if err != nil {
		return err
	}
	j, err := journal.OpenJournal(d.StateDir)
	if err != nil {
		return err
	}
	entries, err := j.Entries()
	if err != nil {
		return err
	}
	lists, err := checklist.Run(ctx, d, obs, entries, names)
	if err != nil {
		return err
	}
	failed := false
	for _, c := range lists {
		failed = failed || c.Result == model.ResultFail
	}
	if g.json {
		if err := writeJSON(g.stdout, lists); err != nil {
			return err
		}
	} else {
		marks := map[model.Result]string{model.ResultPass: "✓", model.ResultFail: "✗", model.ResultSkip: "-"}
		for _, c := range lists {
			fmt.Fprintf(g.stdout, "%s  %s\n", c.Name(), strings.ToUpper(string(c.Result)))
			for _, k := range c.Checks {
				fmt.Fprintf(g.stdout, "  %s %-12s %s\n", marks[k.Result], k.Name, k.Detail)
			}
		}
	}
	if failed {
		return exitCodeError{exitError}
	}
	return nil
}

// runAcceptSource journals that a person accepts each named source as it
// is, though it looks wiped or replaced: its prunes resume.
func runAcceptSource(g *globalOptions, d *schema.Desired, names []string, now time.Time) error {
	lock, err := reconcile.AcquireLock(d.StateDir, "drsync recover --accept-source")
	if err != nil {
		return err
	}
	defer lock.Release()
	obs, err := observe(g, d, now)
	if err != nil {
		return err
	}
	j, err := journal.OpenJournal(d.StateDir)
	if err != nil {
		return err
	}
	accepted, unchanged, err := recovery.AcceptSources(j, obs, names)
	for _, n := range unchanged {
		fmt.Fprintf(g.stdout, "%s: nothing to accept: the source does not look destroyed\n", n)
	}
	for _, a := range accepted {
		fmt.Fprintf(g.stdout, "%s: the source is accepted as it is (%s); its prunes resume\n", a.Subvolume, a.Why)
	}
	return err
}
