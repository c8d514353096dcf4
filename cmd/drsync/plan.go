package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/drsync/drsync/internal/shellwords"
	"github.com/drsync/drsync/notify"
	"github.com/drsync/drsync/prove"
	"github.com/drsync/drsync/providers/services"
	"github.com/drsync/drsync/reconcile"
	"github.com/drsync/drsync/reconcile/journal"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/reconcile/planner"
	"github.com/drsync/drsync/reconcile/savedplan"
	"github.com/drsync/drsync/schema"
	"github.com/drsync/drsync/target"
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

func readObserved(path string) (*model.Observed, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("observation: %w", err)
	}
	var o model.Observed
	if err := json.Unmarshal(b, &o); err != nil {
		return nil, fmt.Errorf("%s: not an observation: %w", path, err)
	}
	return &o, nil
}

// loadObserved loads the desired state and observes the machine now.
func loadObserved(g *globalOptions) (*schema.Desired, *model.Observed, time.Time, error) {
	d, err := loadDesired(g, g.file, g.tags)
	if err != nil {
		return nil, nil, time.Time{}, err
	}
	now := time.Now()
	obs, err := observe(g, d, now)
	return d, obs, now, err
}

// envFor is what an apply, test or drill of d acts through.
func envFor(g *globalOptions, d *schema.Desired) (reconcile.Env, error) {
	st, err := newStorage(g)
	if err != nil {
		return reconcile.Env{}, err
	}
	j, err := journal.OpenJournal(d.StateDir)
	if err != nil {
		return reconcile.Env{}, err
	}
	return reconcile.Env{Storage: st, Services: services.Store{}, Prover: prove.New(st, d), Journal: j, Desired: d, Pings: notify.FromDesired(d),
		Targets: func(name string) (target.Target, error) { return openTarget(d, name) }}, nil
}

func observe(g *globalOptions, d *schema.Desired, now time.Time) (*model.Observed, error) {
	env, err := envFor(g, d)
	if err != nil {
		return nil, err
	}
	return reconcile.Observe(d, env, now.Location())
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
	d, err := loadDesired(g, g.file, g.tags)
	if err != nil {
		return err
	}
	var obs *model.Observed
	if o.observed != "" {
		obs, err = readObserved(o.observed)
	} else {
		obs, err = observe(g, d, now)
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
		saved, err := savedplan.New(file, g.tags, g.storage, p)
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
	_, obs, _, err := loadObserved(g)
	if err != nil {
		return err
	}
	return writeJSON(g.stdout, obs)
}
