// Package proofs runs `drsync test` and `drsync drill` by hand: a plan of
// just the proofs asked for, through the reconcile pipeline, summed up as
// one report.
package proofs

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/drsync/drsync/internal/progress"
	"github.com/drsync/drsync/internal/termtext"
	"github.com/drsync/drsync/proofview"
	"github.com/drsync/drsync/reconcile"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/reconcile/planner"
	"github.com/drsync/drsync/schema"
	"github.com/drsync/drsync/verify/sample"
)

// Options say which proofs a run makes.
type Options struct {
	Kind model.Kind
	// Names are the subvolumes and services to prove (default: every
	// subvolume and, for tests, every service).
	Names []string
	// File names the desired state in errors.
	File string
	// SampleSize replaces the tier's (0 keeps it).
	SampleSize int
	// Seed of the random sample (0: a new one).
	Seed   int64
	DryRun bool
	// Progress, when a terminal, shows a drill's restore as it goes.
	Progress io.Writer
}

// Outcome is what a run proved.
type Outcome struct {
	Proofs proofview.Proofs
	// DryRun, for a dry run, is which snapshot and files each test takes.
	DryRun *DryRun
	// Failed says the run must exit non-zero: a proof failed, none could
	// run, or a drill could not run (its recovery is untested, which a
	// script or timer must not take for success).
	Failed bool
}

// Run tests or drills what o names. Its error means the proofs never ran
// (a lock held, an unreadable machine) or a dry run could not sample.
func Run(ctx context.Context, env reconcile.Env, o Options) (Outcome, error) {
	if o.SampleSize < 0 || o.SampleSize > sample.MaxSize {
		return Outcome{}, fmt.Errorf("--sample-size %d: must be 1 to %d (a sample is held in memory and restored file by file; a drill proves every file)", o.SampleSize, sample.MaxSize)
	}
	d := env.Desired
	names, err := targets(d, o.File, o.Names, o.Kind)
	if err != nil {
		return Outcome{}, err
	}
	if o.Seed == 0 {
		o.Seed = rand.Int64N(1e9) + 1
	}
	out := proofview.Proofs{Seed: o.Seed, Result: model.ResultPass, Skipped: map[string]string{}}
	if o.Kind == model.KindDrill {
		out.Seed = 0
	}
	var bar *progressbar.ProgressBar
	if o.Kind == model.KindDrill {
		bar = progress.Restore(o.Progress)
	}
	ran, runErr := reconcile.Run(ctx, env, reconcile.RunOptions{Command: string(o.Kind), DryRun: o.DryRun,
		Planner: func(d *schema.Desired, obs *model.Observed, now time.Time) (*model.Plan, error) {
			return plan(d, obs, now, names, o, out.Skipped), nil
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
	if o.DryRun && ran.Plan != nil {
		dry, err := dryRun(ran.Plan, out)
		return Outcome{Proofs: out, DryRun: dry}, err
	}
	if bar != nil {
		bar.Finish()
		fmt.Fprintln(o.Progress)
	}
	for _, ref := range ran.Reports {
		out.ReportFiles = append(out.ReportFiles, ref.Text)
	}
	if ran.Step != "" && ran.Step != reconcile.StepApply && len(out.Reports) == 0 {
		return Outcome{}, runErr
	}
	// Nothing proven is a skip, never a pass.
	if out.Result == model.ResultPass && !anyPassed(out.Reports) {
		out.Result = model.ResultSkip
	}
	failed := out.Result == model.ResultFail || (runErr != nil && len(out.Reports) == 0) ||
		(o.Kind == model.KindDrill && len(out.Skipped) > 0)
	return Outcome{Proofs: out, Failed: failed}, nil
}

// targets checks the names asked for, defaulting to every subvolume (and,
// for tests, every service).
func targets(d *schema.Desired, file string, names []string, kind model.Kind) ([]string, error) {
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
			return nil, fmt.Errorf("--subvolume %q: not declared in %s (declared: %s)", n, file, strings.Join(append(d.SubvolumeNames(), d.ServiceNames()...), ", "))
		}
	}
	return names, nil
}

// plan is the plan of the proofs asked for, with the seed and sample size
// given; names with nothing to prove go to skipped with the reason.
func plan(d *schema.Desired, obs *model.Observed, now time.Time, names []string, o Options, skipped map[string]string) *model.Plan {
	p := &model.Plan{Now: now}
	for _, n := range names {
		a, ok := planner.ProofAction(d, obs, n, o.Kind)
		if !ok {
			skipped[n] = "nothing to test yet"
			if o.Kind == model.KindDrill && d.Services[n] != nil {
				skipped[n] = "no archive to drill yet"
			} else if o.Kind == model.KindDrill {
				skipped[n] = "no replica on the external drive (absent, or nothing sent yet)"
				if s := d.Subvolumes[n]; s != nil && s.External == nil {
					skipped[n] = "declares no external drive: a drill restores a whole replica, and there is none to restore"
				}
			}
			continue
		}
		a.Proof.Seed = o.Seed
		if o.SampleSize > 0 {
			a.Proof.SampleSize = o.SampleSize
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

func anyPassed(reports []model.TestReport) bool {
	for _, r := range reports {
		if r.Passed() {
			return true
		}
	}
	return false
}

// Planned is one test a dry run would make.
type Planned struct {
	Subvolume string   `json:"subvolume"`
	Snapshot  string   `json:"snapshot"`
	Location  string   `json:"location"`
	Path      string   `json:"path"`
	Files     []string `json:"files"`
}

// DryRun is `drsync test --dry-run`: the tests and their samples.
type DryRun struct {
	Seed    int64             `json:"seed"`
	Tests   []Planned         `json:"tests"`
	Skipped map[string]string `json:"skipped,omitempty"`
}

// dryRun samples the files each test of p would verify.
func dryRun(p *model.Plan, out proofview.Proofs) (*DryRun, error) {
	dry := &DryRun{Seed: out.Seed, Skipped: out.Skipped}
	for _, sp := range p.Subvolumes {
		a := sp.Actions[0]
		files := []string{"(the whole archive, every member against its checksum)"}
		if a.Proof.Service == nil {
			var err error
			if files, err = sample.Paths(a.Path, a.Proof.SampleSize, a.Proof.Seed); err != nil {
				return nil, err
			}
		}
		dry.Tests = append(dry.Tests, Planned{Subvolume: sp.Name, Snapshot: a.Snapshot, Location: a.Location, Path: a.Path, Files: files})
	}
	return dry, nil
}

// WriteText prints which files each test would verify and the seed that
// repeats the sample.
func (dry *DryRun) WriteText(w io.Writer) {
	for _, t := range dry.Tests {
		fmt.Fprintf(w, "%s: would test %d files of %s on %s\n", t.Subvolume, len(t.Files), t.Snapshot, t.Location)
		for _, f := range t.Files {
			fmt.Fprintf(w, "  %s\n", termtext.Escape(f))
		}
	}
	proofview.WriteSkipped(w, dry.Skipped)
	fmt.Fprintf(w, "seed %d: repeat this sample with --seed %d\n", dry.Seed, dry.Seed)
}
