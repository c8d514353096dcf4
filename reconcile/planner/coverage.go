package planner

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/drsync/drsync/internal/humane"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/render/view"
	"github.com/drsync/drsync/schema"
)

// CoverageEvidence is how much of each copy of a subvolume the slices on
// record verified within its tier's window: a slice verified against the
// copy's newest snapshot counts whole, one verified against an older
// snapshot counts for the files unchanged since.
func CoverageEvidence(d *schema.Desired, name string, ss *model.SubvolumeState, h *model.History, now time.Time) []view.CopyCoverage {
	rt := d.Tiers[d.Subvolumes[name].Tier].RestoreTest
	n := rt.Slices()
	if n == 0 || ss == nil {
		return nil
	}
	return copyCoverage(ss.Coverage, n, h, rt.Coverage.Duration, now)
}

// ArchiveCoverageEvidence is the same for the archive copy a service's
// restore tests read: its newest archive, one slice of one file, counts
// when a test verified that very archive within the window.
func ArchiveCoverageEvidence(d *schema.Desired, name string, ss *model.ServiceState, h *model.History, now time.Time) []view.CopyCoverage {
	rt := d.Tiers[d.Services[name].Tier].RestoreTest
	if rt.Coverage == nil || ss == nil {
		return nil
	}
	return copyCoverage(ss.Coverage, 1, h, rt.Coverage.Duration, now)
}

// copyCoverage is the evidence of copies cut into n slices each.
func copyCoverage(copies []model.CopySlices, n int, h *model.History, window time.Duration, now time.Time) []view.CopyCoverage {
	var out []view.CopyCoverage
	for _, c := range copies {
		if c.Error != "" || len(c.Slices) != n {
			continue
		}
		var proofs []*model.SliceProof
		if h != nil {
			proofs = h.Coverage[c.Location]
		}
		cc := view.CopyCoverage{Location: c.Location, External: c.External, Snapshot: c.Snapshot}
		for k, sc := range c.Slices {
			cc.Files += int64(sc.Files)
			cc.Bytes += sc.Bytes
			p := model.LiveProof(proofs, k, n, window, now)
			switch {
			case p == nil:
			case p.Snapshot == c.Snapshot:
				cc.VerifiedFiles += int64(sc.Files)
				cc.VerifiedBytes += sc.Bytes
			default:
				cc.VerifiedFiles += int64(sc.UnchangedFiles)
				cc.VerifiedBytes += sc.UnchangedBytes
			}
		}
		out = append(out, cc)
	}
	return out
}

// planSlice sets the slice a planned test verifies and returns what the
// reason says of it: which slice of how many, and its size in the copy as
// observed ("slice 3 of 12: 41210 files, 88.0 GiB"), and when it would not
// fit the tier's sliceBudget, the cadence that would. A slice is compared
// in place, so scratch space never limits it; the time a test has does.
func planSlice(d *schema.Desired, s *schema.Subvolume, st *model.SubvolumeState, h *model.History, a *model.Action) string {
	n := d.Tiers[s.Tier].RestoreTest.Slices()
	if n == 0 || a.Kind != model.KindTest || a.Proof == nil {
		return ""
	}
	var proofs []*model.SliceProof
	if h != nil {
		proofs = h.Coverage[a.Location]
	}
	a.Proof.Slice, a.Proof.Slices = model.DueSlice(proofs, n), n
	if a.Proof.Reference != "" {
		a.Proof.ReferenceLocation = s.Snapshots.Location
	}
	note := fmt.Sprintf("slice %d of %d", a.Proof.Slice+1, n)
	for _, c := range st.Coverage {
		if c.Location == a.Location && len(c.Slices) == n {
			sc := c.Slices[a.Proof.Slice]
			note += fmt.Sprintf(": %s, %s", humane.Count(sc.Files, "file"), humane.Bytes(sc.Bytes))
			var whole int64
			for _, x := range c.Slices {
				whole += x.Bytes
			}
			note += sliceBudgetNote(d.Tiers[s.Tier].RestoreTest, sc.Bytes, whole, proofs)
		}
	}
	return note
}

// sliceFit is what fitSlice says of a slice against the time a test has.
type sliceFit struct {
	// Takes is how long verifying the slice is expected to take.
	Takes time.Duration
	// Every and Slices are the longest whole-day (or, under a day,
	// whole-hour) cadence whose slices of the copy fit, and how many
	// slices the window then holds; zero when the slice fits, or when no
	// cadence of an hour or more does.
	Every  time.Duration
	Slices int
}

// fitSlice estimates how long a slice of sliceBytes takes at rate bytes
// per second (as past slices of the copy were verified) and, when that is
// over budget, proposes a cadence whose slices, copyBytes cut into equal
// shares of the window, each fit. ok is false when the slice does not fit
// (a rate or budget of zero says nothing: it fits).
func fitSlice(sliceBytes, copyBytes int64, rate float64, budget, window time.Duration) (fit sliceFit, ok bool) {
	if rate <= 0 || budget <= 0 {
		return sliceFit{}, true
	}
	fit.Takes = time.Duration(float64(sliceBytes) / rate * float64(time.Second))
	if fit.Takes <= budget {
		return fit, true
	}
	perTest := rate * budget.Seconds()
	n := int64(math.Ceil(float64(copyBytes) / perTest))
	every := window / time.Duration(max(n, 1))
	unit := 24 * time.Hour
	if every < unit {
		unit = time.Hour
	}
	if every = every.Truncate(unit); every > 0 {
		fit.Every = every
		fit.Slices = int((window + every - 1) / every)
	}
	return fit, false
}

// sliceRate is the bytes per second the passing slices on record of a
// copy were verified at (0: none timed).
func sliceRate(proofs []*model.SliceProof) float64 {
	var bytes int64
	var seconds float64
	for _, p := range proofs {
		if p != nil && p.Passed && p.Seconds > 0 {
			bytes += p.Bytes
			seconds += p.Seconds
		}
	}
	if seconds == 0 {
		return 0
	}
	return float64(bytes) / seconds
}

// sliceBudgetNote is what the reason adds when the slice due does not fit
// the tier's sliceBudget at the copy's measured rate, with the cadence
// that would ("" when it fits or nothing is known).
func sliceBudgetNote(rt schema.RestoreTest, slice, whole int64, proofs []*model.SliceProof) string {
	if rt.Coverage == nil {
		return ""
	}
	rate := sliceRate(proofs)
	fit, ok := fitSlice(slice, whole, rate, rt.SliceBudget.Duration, rt.Coverage.Duration)
	if ok {
		return ""
	}
	note := fmt.Sprintf("; about %s at the %s/s past slices were verified at, over the tier's sliceBudget of %s: ",
		strings.TrimSuffix(fit.Takes.Round(time.Minute).String(), "0s"), humane.Bytes(int64(rate)), schema.FormatDuration(rt.SliceBudget.Duration))
	switch {
	case fit.Every == 0:
		return note + "no cadence of an hour or more fits; raise sliceBudget or the coverage window"
	case fit.Every >= rt.Every.Duration:
		// The copy's bytes would fit at this cadence if spread evenly:
		// this slice holds far more than its share (a few huge files).
		return note + "it holds far more than its share of the copy's bytes, so no shorter cadence helps; raise sliceBudget"
	}
	return note + fmt.Sprintf("restoreTest.every %s fits (%d slices of about %s)",
		schema.FormatDuration(fit.Every), fit.Slices, humane.Bytes(whole/int64(fit.Slices)))
}
