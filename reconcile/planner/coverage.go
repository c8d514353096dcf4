package planner

import (
	"fmt"
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
	s := d.Subvolumes[name]
	rt := d.Tiers[s.Tier].RestoreTest
	n := rt.Slices()
	if n == 0 || ss == nil {
		return nil
	}
	var out []view.CopyCoverage
	for _, c := range ss.Coverage {
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
			p := model.LiveProof(proofs, k, n, rt.Coverage.Duration, now)
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
// observed ("slice 3 of 12: 41210 files, 88.0 GiB").
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
		}
	}
	return note
}
