package planner

import (
	"testing"
	"time"

	"github.com/drsync/drsync/reconcile/internal/fixture"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/target"
)

// Journaled off-site sends, tests and drills fold into the target's own
// history, leave the local cadence alone, and reach the generated files:
// the real RPO counts a newer verified off-site copy.
func TestOffsiteEvidenceReachesRenderInput(t *testing.T) {
	d := fixture.LoadHomelab(t)
	loc := fixture.Oslo(t)
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, loc)
	o := fixture.Steady(d, time.Date(2026, 11, 1, 2, 0, 0, 0, loc)) // local proofs of the 1st
	h := o.History["htpc-home"]
	localTests := h.Tests
	newer := fixture.Snap("htpc-home", time.Date(2026, 11, 15, 2, 0, 0, 0, loc))
	off := &model.OffsiteSpec{Target: "s3-secondary"}
	entries := []model.JournalEntry{
		{Time: now.Add(-6 * time.Hour), Phase: model.PhaseDone, Bytes: 4096,
			Action: &model.Action{Kind: model.KindOffsiteSend, Subvolume: "htpc-home", Snapshot: newer.Name, Location: "s3-secondary", Offsite: off}},
		{Time: now.Add(-5 * time.Hour), Phase: model.PhaseDone,
			Action: &model.Action{Kind: model.KindOffsiteTest, Subvolume: "htpc-home", Snapshot: newer.Name, Location: "s3-secondary", Offsite: off},
			Report: &model.TestReport{Kind: model.KindTest, Subvolume: "htpc-home", Snapshot: newer.Name, SnapshotTime: newer.Time, Location: "s3-secondary",
				Result: model.ResultPass, Files: 50, Started: now.Add(-5 * time.Hour), Seconds: 90, RestoreSeconds: 60, VerifySeconds: 30}},
		{Time: now.Add(-4 * time.Hour), Phase: model.PhaseFailed,
			Action: &model.Action{Kind: model.KindOffsiteDrill, Subvolume: "htpc-home", Snapshot: newer.Name, Location: "s3-secondary", Offsite: off},
			Report: &model.TestReport{Kind: model.KindDrill, Subvolume: "htpc-home", Snapshot: newer.Name, SnapshotTime: newer.Time, Location: "s3-secondary",
				Result: model.ResultFail, Started: now.Add(-4 * time.Hour), Seconds: 2000, RestoreSeconds: 1500, VerifySeconds: 500}},
	}
	for _, e := range entries {
		h.Record(e)
	}
	if h.Tests != localTests || h.LastTest.Location == "s3-secondary" {
		t.Errorf("an off-site test counted as a local one: %d tests, last %+v", h.Tests, h.LastTest)
	}
	th := h.TargetHistory("s3-secondary")
	if th.LastSend == nil || th.LastPassed == nil || th.LastDrill == nil || th.LastDrill.Passed() {
		t.Fatalf("target history %+v", th)
	}
	// A failed drill of the same snapshot voids its verification there.
	if th.Verified != nil {
		t.Errorf("verified %+v after a failed drill of the same snapshot", th.Verified)
	}
	h.Record(model.JournalEntry{Time: now.Add(-3 * time.Hour), Phase: model.PhaseDone,
		Action: &model.Action{Kind: model.KindOffsiteTest, Subvolume: "htpc-home", Snapshot: newer.Name, Location: "s3-secondary", Offsite: off},
		Report: &model.TestReport{Kind: model.KindTest, Snapshot: newer.Name, SnapshotTime: newer.Time, Result: model.ResultPass, Started: now.Add(-3 * time.Hour)}})
	if v := h.NewestVerified(); v == nil || v.Snapshot != newer.Name {
		t.Errorf("newest verified %+v, want the off-site copy of %s", v, newer.Name)
	}
	if h.Verified.Snapshot == newer.Name {
		t.Error("the off-site pass moved the local verified point retention keeps")
	}

	o.Offsite = map[string]*model.OffsiteState{"s3-secondary": {Subvolumes: map[string]*model.OffsiteCopies{
		"htpc-home": {Copies: []target.Copy{{Name: newer.Name, Complete: true}, {Name: "htpc-home.20261116T0200", Complete: true, Broken: "stream 1 is missing"}}}}}}
	in := RenderInput(d, o, now)
	s := in.Subvolumes["htpc-home"]
	if !s.Verified.Equal(newer.Time) {
		t.Errorf("render's verified %v, want the off-site copy's %v", s.Verified, newer.Time)
	}
	st, ok := s.Offsite["s3-secondary"]
	switch {
	case !ok:
		t.Fatalf("no off-site evidence: %+v", s.Offsite)
	case !st.Observed || st.Copies != 1 || !st.Newest.Equal(newer.Time):
		t.Errorf("observed %v, %d copies, newest %v: want the one restorable copy", st.Observed, st.Copies, st.Newest)
	case st.SentBytes != 4096 || st.Test == nil || !st.Test.Passed || st.Drill == nil || st.Drill.Passed:
		t.Errorf("evidence %+v", st)
	case st.Drill.Restore != 1500*time.Second || st.Drill.Verify != 500*time.Second:
		t.Errorf("drill split %v + %v", st.Drill.Restore, st.Drill.Verify)
	}
	// Unreachable this run: still dated by the last send, no count.
	o.Offsite["s3-secondary"] = &model.OffsiteState{Unreachable: "refused"}
	st = RenderInput(d, o, now).Subvolumes["htpc-home"].Offsite["s3-secondary"]
	if st.Observed || !st.Newest.Equal(newer.Time) {
		t.Errorf("unreachable: %+v, want the last send's snapshot as the newest copy", st)
	}
}
