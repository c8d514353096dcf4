package proofview

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/drsync/drsync/internal/humane"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/schema"
)

// Proofs is `drsync test --json` and `drsync drill --json`.
type Proofs struct {
	Seed    int64              `json:"seed,omitempty"`
	Result  model.Result       `json:"result"`
	Reports []model.TestReport `json:"reports"`
	Skipped map[string]string  `json:"skipped,omitempty"`
	// ReportFiles are the text reports written (JSON beside each).
	ReportFiles []string `json:"reportFiles,omitempty"`
}

// Write prints the reports of a test or drill run, the skipped subvolumes,
// the report files written and the seed that repeats the sample.
func Write(w io.Writer, out Proofs, verbose bool) {
	for _, r := range out.Reports {
		verdict := strings.ToUpper(string(r.Result))
		what := fmt.Sprintf("%d files verified, %s in %.1fs", r.Files, humane.Bytes(r.Bytes), r.Seconds)
		if r.Kind == model.KindDrill {
			what = fmt.Sprintf("%d files restored and verified, %s; %s against a target of %s (%.0f%%)", r.Files, humane.Bytes(r.Bytes),
				DrillTimes(r), schema.FormatDuration(humane.Rounded(humane.Seconds(r.RTOTargetSeconds))),
				100*r.RTOSeconds()/max(r.RTOTargetSeconds, 1e-9))
		}
		fmt.Fprintf(w, "%s  %s  %s\n", r.Subvolume, verdict, what)
		fmt.Fprintf(w, "  snapshot %s on %s (%s)", r.Snapshot, r.Location, r.Why)
		if r.Reference != "" {
			fmt.Fprintf(w, "; also compared with %s", r.Reference)
		}
		fmt.Fprintln(w)
		for i, f := range r.Failures {
			if i == 10 && !verbose {
				fmt.Fprintf(w, "  … %d more (--verbose lists all)\n", len(r.Failures)-10)
				break
			}
			fmt.Fprintf(w, "  %s\n", FailureLine(f))
		}
		if names := CheckNames(r); names != "" {
			fmt.Fprintf(w, "  checks: %s\n", names)
		}
		if verbose {
			WriteChecked(w, r)
		}
		if r.Scratch != "" {
			fmt.Fprintf(w, "  scratch kept for inspection: %s\n", r.Scratch)
		}
	}
	WriteSkipped(w, out.Skipped)
	for _, f := range out.ReportFiles {
		fmt.Fprintf(w, "report: %s\n", f)
	}
	if out.Seed != 0 {
		fmt.Fprintf(w, "seed %d: repeat this sample with --seed %d\n", out.Seed, out.Seed)
	}
}

// WriteSkipped lists what a run skipped, and why.
func WriteSkipped(w io.Writer, skipped map[string]string) {
	for _, n := range slices.Sorted(maps.Keys(skipped)) {
		fmt.Fprintf(w, "%s  SKIP  %s\n", n, skipped[n])
	}
}

// DrillTimes is a drill's measured RTO (the restore) and, apart, the
// verification that followed it.
func DrillTimes(r model.TestReport) string {
	s := "RTO " + humane.Rounded(humane.Seconds(r.RTOSeconds())).String()
	if r.VerifySeconds > 0 {
		s += " + " + humane.Rounded(humane.Seconds(r.VerifySeconds)).String() + " verifying"
	}
	return s
}
