package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/drsync/drsync/internal/termtext"
	"github.com/drsync/drsync/proofview"
	"github.com/drsync/drsync/reconcile"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/reconcile/planner"
	"github.com/drsync/drsync/schema"
	"github.com/drsync/drsync/verify"
)

type proofOptions struct {
	subvolumes []string
	sampleSize int
	seed       int64
	dryRun     bool
	verbose    bool
}

// checks are what a restore test verifies on every sampled file.
const checks = "sha256, size, mode, owner, mtime, xattrs (incl. security.selinux), symlink target"

func newTestCommand(g *globalOptions) *cobra.Command {
	var o proofOptions
	cmd := &cobra.Command{
		Use:   "test",
		Short: "Restore a sample of files from the newest snapshots to scratch and verify them",
		Long: "For each subvolume, restore a random sample of files from the newest snapshot (the replica on the " +
			"external drive when present, else the local one) into scratch and verify " + checks + ". " +
			"Exits 0 when all pass, 1 when any fails. The seed is printed, so any sample can be repeated.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runProofs(cmd.Context(), g, o, model.KindTest)
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.subvolumes, "subvolume", nil, "subvolume or service to test (repeatable; default all)")
	f.IntVar(&o.sampleSize, "sample-size", 0, "files per subvolume (default: the tier's sampleSize)")
	f.Int64Var(&o.seed, "seed", 0, "seed of the random sample (default: a new one, printed)")
	f.BoolVar(&o.dryRun, "dry-run", false, "show which snapshot and which files would be tested")
	f.BoolVarP(&o.verbose, "verbose", "v", false, "list every file and its checks")
	return cmd
}

func newDrillCommand(g *globalOptions) *cobra.Command {
	var o proofOptions
	cmd := &cobra.Command{
		Use:   "drill --subvolume NAME",
		Short: "Full recovery drill: restore the whole newest replica (or a service's archive and start the service on it), verify every file, measure the RTO",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runProofs(cmd.Context(), g, o, model.KindDrill)
		},
	}
	cmd.Flags().StringArrayVar(&o.subvolumes, "subvolume", nil, "subvolume or service to drill (repeatable)")
	cmd.MarkFlagRequired("subvolume")
	cmd.Flags().BoolVarP(&o.verbose, "verbose", "v", false, "list every problem found")
	return cmd
}

// runProofs tests or drills the named subvolumes (default all) through
// the reconcile pipeline, with a plan of just those proofs.
func runProofs(ctx context.Context, g *globalOptions, o proofOptions, kind model.Kind) error {
	if o.sampleSize < 0 || o.sampleSize > verify.MaxSampleSize {
		return fmt.Errorf("--sample-size %d: must be 1 to %d (a sample is held in memory and restored file by file; a drill proves every file)", o.sampleSize, verify.MaxSampleSize)
	}
	d, err := loadDesired(g, g.file, g.tags)
	if err != nil {
		return err
	}
	names, err := proofTargets(g, d, o.subvolumes, kind)
	if err != nil {
		return err
	}
	if o.seed == 0 {
		o.seed = rand.Int64N(1e9) + 1
	}
	out := proofview.Proofs{Seed: o.seed, Result: model.ResultPass, Skipped: map[string]string{}}
	if kind == model.KindDrill {
		out.Seed = 0
	}
	env, err := envFor(g, d)
	if err != nil {
		return err
	}
	bar := progressFor(g, kind)
	ran, runErr := reconcile.Run(ctx, env, reconcile.RunOptions{Command: string(kind), DryRun: o.dryRun,
		Planner: func(d *schema.Desired, obs *model.Observed, now time.Time) (*model.Plan, error) {
			return proofPlan(d, obs, now, names, kind, o, out.Skipped), nil
		},
		Notify: func(e reconcile.Event) {
			if e.Phase == model.PhaseStart {
				if bar != nil && e.Bytes > 0 {
					bar.Set64(e.Bytes)
				}
				return
			}
			if e.Report != nil {
				out.Reports = append(out.Reports, *e.Report)
				if e.Report.Result == model.ResultFail {
					out.Result = model.ResultFail
				}
				return
			}
			if e.Phase == model.PhaseFailed {
				out.Result = model.ResultFail
				out.Skipped[e.Action.Subvolume] = "could not run: " + e.Error
			}
		}})
	if o.dryRun && ran.Plan != nil {
		return dryRunProofs(g, ran.Plan, out)
	}
	if bar != nil {
		bar.Finish()
		fmt.Fprintln(g.stderr)
	}
	for _, ref := range ran.Reports {
		out.ReportFiles = append(out.ReportFiles, ref.Text)
	}
	if ran.Step != "" && ran.Step != reconcile.StepApply && len(out.Reports) == 0 {
		return runErr // the proofs never ran: a lock held, an unreadable machine
	}
	// Nothing proven is a skip, never a pass.
	if out.Result == model.ResultPass && !anyPassed(out.Reports) {
		out.Result = model.ResultSkip
	}
	if g.json {
		if err := writeJSON(g.stdout, out); err != nil {
			return err
		}
	} else {
		proofview.Write(g.stdout, out, o.verbose)
	}
	if out.Result == model.ResultFail || (runErr != nil && len(out.Reports) == 0) {
		return exitCodeError{exitError}
	}
	// A drill that could not run proves nothing: the recovery it stands for
	// is untested, which a script or timer must not take for success.
	if kind == model.KindDrill && len(out.Skipped) > 0 {
		return exitCodeError{exitError}
	}
	return nil
}

// proofTargets checks the names asked for, defaulting to every subvolume
// (and, for tests, every service).
func proofTargets(g *globalOptions, d *schema.Desired, names []string, kind model.Kind) ([]string, error) {
	if len(names) == 0 {
		names = d.SubvolumeNames()
		if kind == model.KindTest {
			names = append(names, d.ServiceNames()...)
		}
	}
	for _, n := range names {
		switch {
		case d.Subvolumes[n] != nil:
		case d.Services[n] != nil:
		default:
			return nil, fmt.Errorf("--subvolume %q: not declared in %s (declared: %s)", n, g.file, strings.Join(append(d.SubvolumeNames(), d.ServiceNames()...), ", "))
		}
	}
	return names, nil
}

// proofPlan is the plan of the proofs asked for, with the seed and sample
// size given; names with nothing to prove go to skipped with the reason.
func proofPlan(d *schema.Desired, obs *model.Observed, now time.Time, names []string, kind model.Kind,
	o proofOptions, skipped map[string]string) *model.Plan {
	p := &model.Plan{Now: now}
	for _, n := range names {
		a, ok := planner.ProofAction(d, obs, n, kind)
		if !ok {
			skipped[n] = "nothing to test yet"
			if kind == model.KindDrill && d.Services[n] != nil {
				skipped[n] = "no archive to drill yet"
			} else if kind == model.KindDrill {
				skipped[n] = "no replica on the external drive (absent, or nothing sent yet)"
				if s := d.Subvolumes[n]; s != nil && s.External == nil {
					skipped[n] = "declares no external drive: a drill restores a whole replica, and there is none to restore"
				}
			}
			continue
		}
		a.Proof.Seed = o.seed
		if o.sampleSize > 0 {
			a.Proof.SampleSize = o.sampleSize
		}
		tier := ""
		if s := d.Subvolumes[n]; s != nil {
			tier = s.Tier
		} else {
			tier = d.Services[n].Tier
		}
		p.Subvolumes = append(p.Subvolumes, model.SubvolumePlan{Name: n, Tier: tier, Actions: []model.Action{a}})
	}
	return p
}

func progressFor(g *globalOptions, kind model.Kind) *progressbar.ProgressBar {
	f, ok := g.stderr.(*os.File)
	if kind != model.KindDrill || g.json || !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return progressbar.DefaultBytes(-1, "restoring")
}

func dryRunProofs(g *globalOptions, p *model.Plan, out proofview.Proofs) error {
	type planned struct {
		Subvolume string   `json:"subvolume"`
		Snapshot  string   `json:"snapshot"`
		Location  string   `json:"location"`
		Path      string   `json:"path"`
		Files     []string `json:"files"`
	}
	var all []planned
	for _, sp := range p.Subvolumes {
		a := sp.Actions[0]
		files := []string{"(the whole archive, every member against its checksum)"}
		if a.Proof.Service == nil {
			var err error
			if files, err = verify.Sample(a.Path, a.Proof.SampleSize, a.Proof.Seed); err != nil {
				return err
			}
		}
		all = append(all, planned{Subvolume: sp.Name, Snapshot: a.Snapshot, Location: a.Location, Path: a.Path, Files: files})
	}
	if g.json {
		return writeJSON(g.stdout, struct {
			Seed    int64             `json:"seed"`
			Tests   []planned         `json:"tests"`
			Skipped map[string]string `json:"skipped,omitempty"`
		}{out.Seed, all, out.Skipped})
	}
	for _, t := range all {
		fmt.Fprintf(g.stdout, "%s: would test %d files of %s on %s\n", t.Subvolume, len(t.Files), t.Snapshot, t.Location)
		for _, f := range t.Files {
			fmt.Fprintf(g.stdout, "  %s\n", termtext.Escape(f))
		}
	}
	proofview.WriteSkipped(g.stdout, out.Skipped)
	fmt.Fprintf(g.stdout, "seed %d: repeat this sample with --seed %d\n", out.Seed, out.Seed)
	return nil
}

func anyPassed(reports []model.TestReport) bool {
	for _, r := range reports {
		if r.Passed() {
			return true
		}
	}
	return false
}
