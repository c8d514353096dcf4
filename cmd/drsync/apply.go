package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/drsync/drsync/internal/humane"
	"github.com/drsync/drsync/proofview"
	"github.com/drsync/drsync/reconcile"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/reconcile/savedplan"
	"github.com/drsync/drsync/schema"
)

type applyOptions struct {
	now         string
	autoApprove bool
	planFile    string
	// storageSet says --storage was given, so it wins over a saved plan's.
	storageSet bool
}

func newApplyCommand(g *globalOptions) *cobra.Command {
	var o applyOptions
	cmd := &cobra.Command{
		Use:   "apply [PLANFILE]",
		Short: "Carry out the plan: snapshots, backups, sends, repairs, tests, drills, prunes and generated files",
		Long: "Plan and carry out the changes after confirmation (--auto-approve for services). " +
			"With PLANFILE, apply exactly that saved plan, refusing if the machine changed since it was made.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.planFile = args[0]
			}
			o.storageSet = cmd.Flags().Changed("storage")
			return runApply(cmd.Context(), *g, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.now, "now", "", "plan as if it were this time (RFC 3339, or 2006-01-02T15:04 in local time)")
	f.BoolVar(&o.autoApprove, "auto-approve", false, "apply without asking (for services and timers)")
	return cmd
}

// applyReport is apply's --json output.
type applyReport struct {
	Plan   *model.Plan       `json:"plan"`
	Events []reconcile.Event `json:"events,omitempty"`
	Result reconcile.Result  `json:"result"`
	Error  string            `json:"error,omitempty"`
}

// runApply plans (or takes a saved plan), shows it, asks, and applies it
// through the reconcile pipeline. g is a copy: a saved plan's file, tags
// and storage replace the flags for this run only.
func runApply(ctx context.Context, g globalOptions, o applyOptions) error {
	now, err := parseNow(o.now)
	if err != nil {
		return err
	}
	var saved *savedplan.Plan
	if o.planFile != "" {
		pf, err := savedplan.Read(o.planFile)
		if err != nil {
			return err
		}
		saved = pf
		g.file, g.tags = pf.File, pf.Tags
		if !o.storageSet && pf.Storage != "" {
			g.storage = pf.Storage
		}
	}
	d, err := loadDesired(&g, g.file, g.tags)
	if err != nil {
		return err
	}
	env, err := envFor(&g, d)
	if err != nil {
		return err
	}
	report := applyReport{}
	bar := newTransferBar(&g)
	opts := reconcile.RunOptions{Command: "apply", Now: now,
		Notify: func(e reconcile.Event) {
			bar.event(e)
			switch {
			case e.Phase == model.PhaseStart:
			case g.json:
				report.Events = append(report.Events, e)
			default:
				printEvent(&g, e)
			}
		}}
	if saved != nil {
		opts.Planner = saved.Planner(o.planFile)
	} else {
		opts.Review = func(p *model.Plan) error {
			if !g.json {
				p.WriteText(g.stdout, false)
			}
			if p.Empty() || o.autoApprove {
				return nil
			}
			if g.json {
				return fmt.Errorf("--json needs --auto-approve: a confirmation prompt would corrupt the JSON")
			}
			return confirm(&g)
		}
	}
	out, err := reconcile.Run(ctx, env, opts)
	report.Plan, report.Result = out.Plan, out.Result
	if out.Plan == nil || out.Step == reconcile.StepReview {
		return err // nothing was planned, or nothing applied: the error says why
	}
	if g.json {
		if err != nil {
			report.Error = err.Error()
		}
		if jerr := writeJSON(g.stdout, report); jerr != nil {
			return jerr
		}
		if err != nil {
			return exitCodeError{exitError}
		}
		return nil
	}
	if !out.Plan.Empty() {
		res := out.Result
		fmt.Fprintf(g.stdout, "\nApply complete: %d done, %d failed, %d skipped; %s sent.\n",
			res.Done, res.Failed, res.Skipped, humane.Bytes(res.Bytes))
	}
	return err
}

func printEvent(g *globalOptions, e reconcile.Event) {
	a := e.Action
	switch e.Phase {
	case model.PhaseDone:
		extra := ""
		switch r := e.Report; {
		case a.Kind == model.KindSend:
			extra = ", " + humane.Bytes(e.Bytes)
		case r != nil && r.Kind == model.KindDrill:
			extra = fmt.Sprintf(", %d files verified, %s (target %s)", r.Files, proofview.DrillTimes(*r), schema.FormatDuration(humane.Rounded(humane.Seconds(r.RTOTargetSeconds))))
		case r != nil:
			extra = fmt.Sprintf(", %d files verified: %s", r.Files, r.Result)
		}
		fmt.Fprintf(g.stdout, "  ✓ %-8s %s (%.1fs%s)\n", a.Kind, a.Snapshot, e.Duration.Seconds(), extra)
	case model.PhaseFailed:
		fmt.Fprintf(g.stdout, "  ✗ %-8s %s: %v\n", a.Kind, a.Snapshot, e.Err)
	case model.PhaseSkipped:
		fmt.Fprintf(g.stdout, "  - %-8s %s: %s\n", a.Kind, a.Snapshot, e.Note)
	}
}

// confirm asks on a terminal; without one it refuses rather than guess.
func confirm(g *globalOptions) error {
	f, ok := g.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return fmt.Errorf("refusing to apply without confirmation: standard input is not a terminal; review the plan and pass --auto-approve, or apply a saved plan file")
	}
	fmt.Fprint(g.stdout, "\nDo you want to perform these actions? Only 'yes' will be accepted: ")
	line, _ := bufio.NewReader(f).ReadString('\n')
	if strings.TrimSpace(line) != "yes" {
		return fmt.Errorf("apply cancelled")
	}
	return nil
}
