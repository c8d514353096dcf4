package view

import (
	"fmt"
	"io"
	"strings"

	"github.com/drsync/drsync/internal/humane"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/recovery"
)

// WriteEvent prints a recovery step as it finishes or fails.
func WriteEvent(w io.Writer, e recovery.Event) {
	switch e.Phase {
	case model.PhaseDone:
		fmt.Fprintf(w, "  ✓ %-10s %s: %s (%s)\n", e.Step, e.Subvolume, e.Detail, humane.Rounded(humane.Seconds(e.Seconds)))
	case model.PhaseFailed:
		fmt.Fprintf(w, "  ✗ %-10s %s: %v\n", e.Step, e.Subvolume, e.Err)
	}
}

// WriteOutcome prints what each subvolume's and service's recovery did,
// and where the data it replaced is kept.
func WriteOutcome(w io.Writer, out recovery.Outcome) {
	for _, r := range out.Subvolumes {
		if r.Error != "" {
			fmt.Fprintf(w, "✗ %s: %s\n", r.Subvolume, r.Error)
			continue
		}
		fmt.Fprintf(w, "✓ recovered %s from %s to %s: %s, %s compared and equal (%s)\n", r.Subvolume, r.Snapshot, r.Target,
			humane.Count(r.Verified.Files, "file"), humane.Bytes(r.Verified.Bytes/2), humane.Rounded(humane.Seconds(r.Seconds)))
		if r.KeptAside != "" {
			fmt.Fprintf(w, "  the previous source is kept as %s (read-only; delete it by hand when done)\n", r.KeptAside)
		}
	}
	for _, r := range out.Services {
		if r.Before != "" {
			fmt.Fprintf(w, "  %s before: %s\n", r.Service, r.Before)
		}
		if r.Error != "" {
			fmt.Fprintf(w, "✗ %s: %s\n", r.Service, r.Error)
			for _, c := range r.FailedCopies {
				fmt.Fprintf(w, "  the restored copy that failed is kept as %s for inspection\n", c)
			}
			continue
		}
		from := r.Archive
		if r.FetchedFrom != "" {
			from += " (fetched from " + r.FetchedFrom + ")"
		}
		fmt.Fprintf(w, "✓ recovered %s from %s: %s, %s verified; %s (%s)\n", r.Service, from,
			humane.Count(r.Files, "file"), humane.Bytes(r.Bytes), r.Ready, humane.Rounded(humane.Seconds(r.Seconds)))
		for _, k := range r.KeptAside {
			fmt.Fprintf(w, "  the previous data is kept as %s (delete it by hand when done)\n", k)
		}
	}
}

// WriteChecklists prints recover --verify-only's checklists.
func WriteChecklists(w io.Writer, lists []recovery.Checklist) {
	marks := map[model.Result]string{model.ResultPass: "✓", model.ResultFail: "✗", model.ResultSkip: "-"}
	for _, c := range lists {
		fmt.Fprintf(w, "%s  %s\n", c.Name(), strings.ToUpper(string(c.Result)))
		for _, k := range c.Checks {
			fmt.Fprintf(w, "  %s %-12s %s\n", marks[k.Result], k.Name, k.Detail)
		}
	}
}
