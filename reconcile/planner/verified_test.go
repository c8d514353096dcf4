package planner

import (
	"strings"
	"testing"
	"time"

	"github.com/drsync/drsync/reconcile/internal/fixture"
	"github.com/drsync/drsync/reconcile/model"
)

// TestFailedSnapshotNeverVerified: a snapshot whose copy failed its test is
// not the verified point, even though another copy of it passed before; the
// verified point falls back to the newest snapshot still standing, and a
// later pass restores it.
func TestFailedSnapshotNeverVerified(t *testing.T) {
	t0 := time.Date(2026, 11, 1, 2, 0, 0, 0, time.UTC)
	proof := func(snap string, day int, result string) model.JournalEntry {
		phase := model.PhaseDone
		if result == model.ResultFail {
			phase = model.PhaseFailed
		}
		return model.JournalEntry{Phase: phase, Action: &model.Action{Kind: model.KindTest, Snapshot: snap},
			Report: &model.TestReport{Kind: model.KindTest, Snapshot: snap, SnapshotTime: t0.AddDate(0, 0, day), Result: result}}
	}
	h := &model.History{}
	verified := func() string {
		if h.Verified == nil {
			return ""
		}
		return h.Verified.Snapshot
	}
	for _, step := range []struct {
		e    model.JournalEntry
		want string
	}{
		{proof("s1", 1, model.ResultPass), "s1"},
		{proof("s2", 2, model.ResultPass), "s2"}, // the local snapshot passed
		{proof("s2", 2, model.ResultFail), "s1"}, // its replica failed: s2 is not verified
		{proof("s3", 3, model.ResultFail), "s1"}, // a newer failure changes nothing
		{proof("s1", 1, model.ResultPass), "s1"}, // an older pass again: still the newest standing
		{proof("s2", 2, model.ResultPass), "s2"}, // s2 passes again (the replica was re-sent)
		{proof("s0", 0, model.ResultPass), "s2"}, // an older snapshot's pass never replaces a newer
		{proof("s2", 2, model.ResultFail), "s1"},
		{proof("s1", 1, model.ResultFail), "s0"},
	} {
		h.Record(step.e)
		if got := verified(); got != step.want {
			t.Fatalf("after %s of %s: verified %q, want %q", step.e.Report.Result, step.e.Report.Snapshot, got, step.want)
		}
	}
}

// TestFailedTestStaysInThePlan: right after a failed restore test the retest
// is not due yet (at most daily), but the plan is not silent: it names the
// failure, what retention keeps meanwhile and when the retest runs.
func TestFailedTestStaysInThePlan(t *testing.T) {
	d := fixture.LoadHomelab(t)
	at := time.Date(2026, 11, 22, 3, 0, 0, 0, fixture.Oslo(t))
	o := fixture.Steady(d, at)
	now := at.Add(10 * time.Minute)
	if p := Compute(d, o, now); !p.Empty() {
		t.Fatalf("setup: steady machine plans %d actions", len(p.Actions()))
	}
	h := o.History["subvol1-docs"]
	older := &model.TestReport{Kind: model.KindTest, Subvolume: "subvol1-docs", Snapshot: "subvol1-docs.20261121T0300",
		SnapshotTime: at.AddDate(0, 0, -1), Result: model.ResultPass, Started: at.AddDate(0, 0, -1)}
	h.Verdict(older)
	h.Verdict(h.LastTest) // the local snapshot of 03:00 passed...
	failed := &model.TestReport{Kind: model.KindTest, Subvolume: "subvol1-docs", Snapshot: "subvol1-docs.20261122T0300",
		SnapshotTime: at.Add(time.Minute), Result: model.ResultFail, Started: at.Add(5 * time.Minute)}
	h.LastTest = failed // ...and then its replica failed
	h.Verdict(failed)

	p := Compute(d, o, now)
	var warned string
	for _, sp := range p.Subvolumes {
		for _, w := range sp.Warnings {
			if sp.Name == "subvol1-docs" && strings.Contains(w, "FAILED") {
				warned = w
			}
		}
	}
	want := "restore test of subvol1-docs.20261122T0300 FAILED 5m ago; retention keeps " + older.Snapshot + ", the newest verified snapshot; retest due 2026-11-23 03:05"
	if warned != want {
		t.Errorf("plan warning after a failed test:\n got %q\nwant %q", warned, want)
	}
}
