package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/drsync/drsync/recovery"
	"github.com/drsync/drsync/recovery/runner"
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
		accepted, unchanged, err := runner.Accept(g.session(), d, names, now)
		for _, n := range unchanged {
			fmt.Fprintf(g.stdout, "%s: nothing to accept: the source does not look destroyed\n", n)
		}
		for _, a := range accepted {
			fmt.Fprintf(g.stdout, "%s: the source is accepted as it is (%s); its prunes resume\n", a.Subvolume, a.Why)
		}
		return err
	}
	ro := runner.Options{Request: recovery.Request{Names: names, From: o.from, To: o.to, Now: now,
		FromTarget: o.offsite.fromTarget, AllowUnverified: o.offsite.allowUnverified}, Identity: o.offsite.identity}
	if o.at != "" {
		if ro.Request.At, err = parseTimeFlag("--at", o.at); err != nil {
			return err
		}
	}
	ro.Warn = func(w string) { fmt.Fprintf(g.stderr, "warning: %s\n", w) }
	ro.Review = func(p *recovery.Plan) error {
		if !g.json {
			view.WritePlan(g.stdout, p)
		}
		if o.autoApprove {
			return nil
		}
		if g.json {
			return fmt.Errorf("--json needs --auto-approve: a confirmation prompt would corrupt the JSON")
		}
		return confirm(g)
	}
	ro.Event = func(e recovery.Event) {
		if !g.json {
			view.WriteEvent(g.stdout, e)
		}
	}
	out, err := runner.Recover(ctx, g.session(), d, ro)
	if !out.Ran {
		return err // nothing was planned, or nothing approved: the error says why
	}
	if g.json {
		rep := recoverReport{Plan: out.Plan, Results: out.Subvolumes, Services: out.Services}
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
	view.WriteOutcome(g.stdout, out.Outcome)
	if out.Report != "" {
		fmt.Fprintf(g.stdout, "report: %s\n", out.Report)
	}
	return err
}

// parseTimeFlag reads a time flag: RFC 3339 or local wall clock.
func parseTimeFlag(flag, s string) (time.Time, error) {
	t, err := parseNow(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %q: want RFC 3339 (2026-11-22T02:00:00+01:00) or local 2026-11-22T02:00", flag, s)
	}
	return t, nil
}

// runVerifyRecovery is recover --verify-only: exit 1 when any check fails.
func runVerifyRecovery(ctx context.Context, g *globalOptions, d *schema.Desired, names []string) error {
	lists, failed, err := runner.Verify(ctx, g.session(), d, names)
	if err != nil {
		return err
	}
	if g.json {
		if err := writeJSON(g.stdout, lists); err != nil {
			return err
		}
	} else {
		view.WriteChecklists(g.stdout, lists)
	}
	if failed {
		return exitCodeError{exitError}
	}
	return nil
}
