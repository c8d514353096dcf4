// Package applyview is what `drsync apply` prints: a line per action as it
// ends, and the sum of the run.
package applyview

import (
	"fmt"
	"io"

	"github.com/drsync/drsync/internal/humane"
	"github.com/drsync/drsync/proofview"
	"github.com/drsync/drsync/reconcile"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/schema"
)

// WriteEvent prints an action that ended: done (with what it sent or
// proved), failed or skipped. Starts and progress print nothing.
func WriteEvent(w io.Writer, e reconcile.Event) {
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
		fmt.Fprintf(w, "  ✓ %-8s %s (%.1fs%s)\n", a.Kind, a.Snapshot, e.Duration.Seconds(), extra)
	case model.PhaseFailed:
		fmt.Fprintf(w, "  ✗ %-8s %s: %v\n", a.Kind, a.Snapshot, e.Err)
	case model.PhaseSkipped:
		fmt.Fprintf(w, "  - %-8s %s: %s\n", a.Kind, a.Snapshot, e.Note)
	}
}

// WriteSummary prints the sum of an apply.
func WriteSummary(w io.Writer, res reconcile.Result) {
	fmt.Fprintf(w, "\nApply complete: %d done, %d failed, %d skipped; %s sent.\n",
		res.Done, res.Failed, res.Skipped, humane.Bytes(res.Bytes))
}
