package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/drsync/drsync/applyview"
	"github.com/drsync/drsync/internal/progress"
	"github.com/drsync/drsync/reconcile"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/reconcile/savedplan"
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
	d, err := g.session().Load()
	if err != nil {
		return err
	}
	env, err := g.session().Env(d)
	if err != nil {
		return err
	}
	report := applyReport{}
	var bar *progress.Transfers
	if !g.json {
		bar = progress.NewTransfers(g.stderr)
	}
	opts := reconcile.RunOptions{Command: "apply", Now: now,
		Notify: func(e reconcile.Event) {
			bar.Event(e)
			switch {
			case e.Phase == model.PhaseStart:
			case g.json:
				report.Events = append(report.Events, e)
			default:
				applyview.WriteEvent(g.stdout, e)
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
		applyview.WriteSummary(g.stdout, out.Result)
	}
	return err
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
