package main

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/drsync/drsync/reconcile"
	"github.com/drsync/drsync/schema"
	"github.com/drsync/drsync/verify"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"
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
			return runProofs(cmd, g, o, reconcile.KindTest)
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
		Short: "Full recovery drill: restore the whole newest replica, verify every file, measure the RTO",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runProofs(cmd, g, o, reconcile.KindDrill)
		},
	}
	cmd.Flags().StringArrayVar(&o.subvolumes, "subvolume", nil, "subvolume to drill (repeatable)")
	cmd.MarkFlagRequired("subvolume")
	cmd.Flags().BoolVarP(&o.verbose, "verbose", "v", false, "list every problem found")
	return cmd
}

// proofReport is `drsync test --json` and `drsync drill --json`.
type proofReport struct {
	Seed    int64                  `json:"seed,omitempty"`
	Result  string                 `json:"result"`
	Reports []reconcile.TestReport `json:"reports"`
	Skipped map[string]string      `json:"skipped,omitempty"`
}

func runProofs(cmd *cobra.Command, g *globalOptions, o proofOptions, kind reconcile.Kind) error {
	if o.sampleSize < 0 || o.sampleSize > verify.MaxSampleSize {
		return fmt.Errorf("--sample-size %d: must be 1 to %d (a sample is held in memory and restored file by file; a drill proves every file)", o.sampleSize, verify.MaxSampleSize)
	}
	d, err := schema.Load(g.file, g.tags)
	if err != nil {
		return err
	}
	names := o.subvolumes
	if len(names) == 0 {
		names = d.SubvolumeNames()
		if kind == reconcile.KindTest {
			names = append(names, d.ServiceNames()...)
		}
	}
	for _, n := range names {
		switch {
		case d.Subvolumes[n] != nil:
		case d.Services[n] != nil && kind == reconcile.KindTest:
		case d.Services[n] != nil:
			return fmt.Errorf("--subvolume %q is a service: drills restore subvolumes; test it with drsync test --subvolume %s", n, n)
		default:
			return fmt.Errorf("--subvolume %q: not declared in %s (declared: %s)", n, g.file, strings.Join(append(d.SubvolumeNames(), d.ServiceNames()...), ", "))
		}
	}
	if o.seed == 0 {
		o.seed = rand.Int64N(1e9) + 1
	}
	lock, err := reconcile.AcquireLock(d.StateDir, "drsync "+string(kind))
	if err != nil {
		return err
	}
	defer lock.Release()
	obs, err := observe(g, d, time.Now())
	if err != nil {
		return err
	}
	out := proofReport{Seed: o.seed, Result: reconcile.ResultPass, Skipped: map[string]string{}}
	if kind == reconcile.KindDrill {
		out.Seed = 0
	}
	p := &reconcile.Plan{Now: time.Now()}
	for _, n := range names {
		a, ok := reconcile.ProofAction(d, obs, n, kind)
		if !ok {
			out.Skipped[n] = "nothing to test yet"
			if kind == reconcile.KindDrill {
				out.Skipped[n] = "no replica on the external drive (absent, or nothing sent yet)"
			}
			continue
		}
		a.Seed = o.seed
		if o.sampleSize > 0 {
			a.SampleSize = o.sampleSize
		}
		a.Reason = "requested"
		tier := ""
		if s := d.Subvolumes[n]; s != nil {
			tier = s.Tier
		} else {
			tier = d.Services[n].Tier
		}
		p.Subvolumes = append(p.Subvolumes, reconcile.SubvolumePlan{Name: n, Tier: tier, Actions: []reconcile.Action{a}})
	}
	if o.dryRun {
		return dryRunProofs(g, p, out)
	}
	env, err := envFor(g, d)
	if err != nil {
		return err
	}
	bar := progressFor(g, kind)
	env.Command = string(kind)
	_, applyErr := reconcile.Apply(cmd.Context(), p, env, func(e reconcile.Event) {
		if e.Phase == reconcile.PhaseStart {
			if bar != nil && e.Bytes > 0 {
				bar.Set64(e.Bytes)
			}
			return
		}
		if e.Report != nil {
			out.Reports = append(out.Reports, *e.Report)
			if e.Report.Result == reconcile.ResultFail {
				out.Result = reconcile.ResultFail
			}
			return
		}
		if e.Phase == reconcile.PhaseFailed {
			out.Result = reconcile.ResultFail
			out.Skipped[e.Action.Subvolume] = "could not run: " + e.Error
		}
	})
	if bar != nil {
		bar.Finish()
		fmt.Fprintln(g.stderr)
	}
	// Nothing proven is a skip, never a pass.
	if out.Result == reconcile.ResultPass && !anyPassed(out.Reports) {
		out.Result = reconcile.ResultSkip
	}
	if g.json {
		if err := writeJSON(g.stdout, out); err != nil {
			return err
		}
	} else {
		printProofs(g, out, o.verbose)
	}
	if out.Result == reconcile.ResultFail || (applyErr != nil && len(out.Reports) == 0) {
		return exitCodeError{exitError}
	}
	return nil
}

func progressFor(g *globalOptions, kind reconcile.Kind) *progressbar.ProgressBar {
	f, ok := g.stderr.(*os.File)
	if kind != reconcile.KindDrill || g.json || !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return progressbar.DefaultBytes(-1, "restoring")
}

func dryRunProofs(g *globalOptions, p *reconcile.Plan, out proofReport) error {
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
		if a.Service == nil {
			var err error
			if files, err = verify.Sample(a.Path, a.SampleSize, a.Seed); err != nil {
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
			fmt.Fprintf(g.stdout, "  %s\n", f)
		}
	}
	printSkipped(g, out.Skipped)
	fmt.Fprintf(g.stdout, "seed %d: repeat this sample with --seed %d\n", out.Seed, out.Seed)
	return nil
}

func printProofs(g *globalOptions, out proofReport, verbose bool) {
	for _, r := range out.Reports {
		verdict := strings.ToUpper(r.Result)
		what := fmt.Sprintf("%d files verified, %s in %.1fs", r.Files, humanBytes(r.Bytes), r.Seconds)
		if r.Kind == reconcile.KindDrill {
			what = fmt.Sprintf("%d files restored and verified, %s; RTO %s against a target of %s (%.0f%%)", r.Files, humanBytes(r.Bytes),
				seconds(r.Seconds), schema.FormatDuration(seconds(r.RTOTargetSeconds)),
				100*r.Seconds/max(r.RTOTargetSeconds, 1e-9))
		}
		fmt.Fprintf(g.stdout, "%s  %s  %s\n", r.Subvolume, verdict, what)
		fmt.Fprintf(g.stdout, "  snapshot %s on %s (%s)", r.Snapshot, r.Location, r.Why)
		if r.Reference != "" {
			fmt.Fprintf(g.stdout, "; also compared with %s", r.Reference)
		}
		fmt.Fprintln(g.stdout)
		for i, f := range r.Failures {
			if i == 10 && !verbose {
				fmt.Fprintf(g.stdout, "  … %d more (--verbose lists all)\n", len(r.Failures)-10)
				break
			}
			detail := ""
			if f.Want != "" || f.Got != "" {
				detail = fmt.Sprintf(" (want %s, got %s)", f.Want, f.Got)
			}
			fmt.Fprintf(g.stdout, "  ✗ %s: %s%s\n", f.Path, f.Check, detail)
		}
		if verbose {
			for _, p := range r.Paths {
				fmt.Fprintf(g.stdout, "  ✓ %s\n", p)
			}
		}
		if r.Scratch != "" {
			fmt.Fprintf(g.stdout, "  scratch kept for inspection: %s\n", r.Scratch)
		}
	}
	printSkipped(g, out.Skipped)
	if out.Seed != 0 {
		fmt.Fprintf(g.stdout, "seed %d: repeat this sample with --seed %d\n", out.Seed, out.Seed)
	}
}

func printSkipped(g *globalOptions, skipped map[string]string) {
	for _, n := range slices.Sorted(maps.Keys(skipped)) {
		fmt.Fprintf(g.stdout, "%s  SKIP  %s\n", n, skipped[n])
	}
}

func anyPassed(reports []reconcile.TestReport) bool {
	for _, r := range reports {
		if r.Passed() {
			return true
		}
	}
	return false
}
