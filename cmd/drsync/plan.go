package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/drsync/drsync/internal/shellwords"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/reconcile/planner"
	"github.com/drsync/drsync/reconcile/savedplan"
	"github.com/drsync/drsync/session"
)

type planOptions struct {
	observed         string
	now              string
	explain          bool
	detailedExitcode bool
	out              string
}

func newPlanCommand(g *globalOptions) *cobra.Command {
	var o planOptions
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Show what apply would change, and why",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			collectOnlyNearLimit()
			return runPlan(g, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.now, "now", "", "plan as if it were this time (RFC 3339, or 2006-01-02T15:04 in local time)")
	f.BoolVar(&o.explain, "explain", false, "show retention's verdict on every snapshot")
	f.BoolVar(&o.detailedExitcode, "detailed-exitcode", false, "exit 0 when nothing to do, 2 when there are changes, 1 on error")
	f.StringVarP(&o.out, "out", "o", "", "save the plan to this file for `drsync apply PLANFILE`")
	f.StringVar(&o.observed, "observed", "", "plan against an observation saved by `drsync observe` instead of this machine")
	return cmd
}

func newObserveCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "observe",
		Short: "Print what drsync sees on this machine, as JSON (for plan --observed and bug reports)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runObserve(g)
		},
	}
}

// parseNow reads --now; empty means the clock. Local time follows TZ.
func parseNow(s string) (time.Time, error) {
	if s == "" {
		return time.Now(), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.In(time.Local), nil
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("--now %q: want RFC 3339 (2026-11-22T02:00:00+01:00) or local 2026-11-22T02:00", s)
}

func writeJSON(w interface{ Write([]byte) (int, error) }, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// runPlan shows (and with -o saves) what apply would change, and why.
func runPlan(g *globalOptions, o planOptions) error {
	now, err := parseNow(o.now)
	if err != nil {
		return err
	}
	d, err := g.session().Load()
	if err != nil {
		return err
	}
	var obs *model.Observed
	if o.observed != "" {
		obs, err = session.ReadObserved(o.observed)
	} else {
		obs, err = g.session().Observe(d, now)
	}
	if err != nil {
		return err
	}
	p := planner.Compute(d, obs, now)
	if o.out != "" {
		// Absolute, so the plan applies from any directory.
		file, err := filepath.Abs(g.file)
		if err != nil {
			return err
		}
		saved, err := savedplan.New(file, g.tags, g.storage, p, obs)
		if err != nil {
			return err
		}
		if err := saved.Write(o.out); err != nil {
			return err
		}
	}
	if g.json {
		if err := writeJSON(g.stdout, p); err != nil {
			return err
		}
	} else {
		// Thousands of lines for a long history: one write, not one per line.
		w := bufio.NewWriterSize(g.stdout, 64<<10)
		p.WriteText(w, o.explain)
		if o.out != "" {
			fmt.Fprintf(w, "\nSaved the plan to %s; apply exactly it with: drsync apply %s\n", o.out, shellwords.Quote(o.out))
		}
		if err := w.Flush(); err != nil {
			return err
		}
	}
	if o.detailedExitcode && !p.Empty() {
		return exitCodeError{exitChanges}
	}
	return nil
}

// runObserve prints the observation of this machine.
func runObserve(g *globalOptions) error {
	_, obs, _, err := g.session().LoadObserved()
	if err != nil {
		return err
	}
	return writeJSON(g.stdout, obs)
}
