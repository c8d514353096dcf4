package planner

import (
	"fmt"
	"testing"
	"time"

	"github.com/drsync/drsync/reconcile/internal/fixture"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/reconcile/planner/rules"
	"github.com/drsync/drsync/schema"
)

// These tests pin the planner's safety rules that mutation testing (issue
// 14) found no test for: each rule was deleted or inverted and every other
// test still passed, mostly because retention's default "latest" kept the
// snapshot anyway. Here retention alone would prune what the rule keeps.

// onlyMinutes is a retention that keeps nothing older than an hour: every
// older snapshot survives only by a protection rule.
var onlyMinutes = schema.Retention{Min: "1h"}

// mutantRig is the homelab setup on Monday 2026-11-23 05:00 (Oslo), after
// Sunday's weekly send slot and Monday's daily snapshot: nothing is due for
// htpc-home unless a test says so.
func mutantRig(t *testing.T) (*schema.Desired, *model.Observed, time.Time) {
	t.Helper()
	d := fixture.LoadHomelab(t)
	loc := fixture.Oslo(t)
	now := time.Date(2026, 11, 23, 5, 0, 0, 0, loc)
	o := fixture.Steady(d, now.Add(-3*time.Hour))
	s := d.Subvolumes["htpc-home"]
	s.Snapshots.Retention, s.External.Retention = onlyMinutes, onlyMinutes
	return d, o, now
}

// TestMutantSendParentKeptOnBothSides: the newest snapshot common to source
// and drive is the parent of the next incremental send; it stays on both
// sides while no send replaces it, even where newer replicas exist that the
// source no longer has.
func TestMutantSendParentKeptOnBothSides(t *testing.T) {
	d, o, now := mutantRig(t)
	loc := now.Location()
	a := fixture.Snap("htpc-home", time.Date(2026, 11, 15, 2, 0, 0, 0, loc)) // sent, the common parent
	c := fixture.Snap("htpc-home", time.Date(2026, 11, 20, 2, 0, 0, 0, loc)) // sent, since pruned locally
	b := fixture.Snap("htpc-home", time.Date(2026, 11, 23, 2, 0, 0, 0, loc)) // today's, after Sunday's send slot
	o.Subvolumes["htpc-home"] = &model.SubvolumeState{Local: []model.Snapshot{a, b}, External: []model.Snapshot{fixture.Rep(a), fixture.Rep(c)}}
	p := Compute(d, o, now)
	if fixture.Find(p, "htpc-home", model.KindSend) != nil {
		t.Fatalf("the rig expects no send due: %+v", fixture.Find(p, "htpc-home", model.KindSend))
	}
	if fixture.Pruned(p, "htpc-home", "home", a.Name) {
		t.Errorf("pruned the send parent %s on the source", a.Name)
	}
	if fixture.Pruned(p, "htpc-home", "WD-18TB", a.Name) {
		t.Errorf("pruned the send parent %s on the drive", a.Name)
	}
	if fixture.Pruned(p, "htpc-home", "WD-18TB", c.Name) {
		t.Errorf("pruned the newest replica %s", c.Name)
	}
	if fixture.Pruned(p, "htpc-home", "home", b.Name) {
		t.Errorf("pruned the newest snapshot %s", b.Name)
	}
}

// TestMutantLastVerifiedKeptOnBothSides: while the restore test of a newer
// snapshot fails, the newest snapshot a test proved stays, locally and on
// the drive.
func TestMutantLastVerifiedKeptOnBothSides(t *testing.T) {
	d, o, now := mutantRig(t)
	loc := now.Location()
	v := fixture.Snap("htpc-home", time.Date(2026, 11, 8, 2, 0, 0, 0, loc))
	mid := fixture.Snap("htpc-home", time.Date(2026, 11, 15, 2, 0, 0, 0, loc))
	bad := fixture.Snap("htpc-home", time.Date(2026, 11, 22, 2, 0, 0, 0, loc)) // the send parent
	newest := fixture.Snap("htpc-home", time.Date(2026, 11, 23, 2, 0, 0, 0, loc))
	o.Subvolumes["htpc-home"] = &model.SubvolumeState{Local: []model.Snapshot{v, mid, bad, newest}, External: []model.Snapshot{fixture.Rep(v), fixture.Rep(mid), fixture.Rep(bad)}}
	passed := &model.TestReport{Kind: model.KindTest, Subvolume: "htpc-home", Snapshot: v.Name, SnapshotTime: v.Time, Result: model.ResultPass, Started: v.Time.Add(time.Hour)}
	failed := &model.TestReport{Kind: model.KindTest, Subvolume: "htpc-home", Snapshot: bad.Name, SnapshotTime: bad.Time, Result: model.ResultFail, Started: now.Add(-time.Hour)}
	o.History["htpc-home"] = &model.History{LastTest: failed, LastPassed: passed, Verified: passed, Tests: 2, Passed: 1,
		LastDrill: o.History["htpc-home"].LastDrill, LastPassedDrill: o.History["htpc-home"].LastPassedDrill}
	p := Compute(d, o, now)
	for _, l := range []string{"home", "WD-18TB"} {
		if fixture.Pruned(p, "htpc-home", l, v.Name) {
			t.Errorf("pruned the last verified snapshot %s on %s", v.Name, l)
		}
	}
	if !fixture.Pruned(p, "htpc-home", "home", mid.Name) || !fixture.Pruned(p, "htpc-home", "WD-18TB", mid.Name) {
		t.Errorf("the rig expects %s, unprotected, pruned on both sides", mid.Name)
	}
}

// TestMutantPlannedSnapshotNeverPruned: the snapshot this plan takes is
// not pruned by the same plan, even when it is not the newest (a snapshot
// dated in the future is) and retention alone would prune it.
func TestMutantPlannedSnapshotNeverPruned(t *testing.T) {
	d, o, now := mutantRig(t)
	d.Subvolumes["htpc-home"].Snapshots.Retention = schema.Retention{Min: "latest"}
	loc := now.Location()
	old := fixture.Snap("htpc-home", time.Date(2026, 11, 21, 2, 0, 0, 0, loc))
	future := fixture.Snap("htpc-home", time.Date(2026, 11, 25, 2, 0, 0, 0, loc))
	o.Subvolumes["htpc-home"] = &model.SubvolumeState{Local: []model.Snapshot{old, future}, External: []model.Snapshot{fixture.Rep(old)}}
	p := Compute(d, o, now)
	taken := fixture.Find(p, "htpc-home", model.KindSnapshot)
	if taken == nil {
		t.Fatal("the rig expects a snapshot due: the newest one that is not in the future is from Saturday")
	}
	if fixture.Pruned(p, "htpc-home", "home", taken.Snapshot) {
		t.Errorf("the plan prunes the snapshot %s it takes", taken.Snapshot)
	}
}

// TestMutantHalfReceivedEachCondition: a replica without a received UUID,
// or one that is writable, is half-received when the journal shows its send
// was interrupted; every such replica is repaired, not only the first.
func TestMutantHalfReceivedEachCondition(t *testing.T) {
	d, o, now := mutantRig(t)
	loc := now.Location()
	a := fixture.Snap("htpc-home", time.Date(2026, 11, 22, 2, 0, 0, 0, loc))
	b := fixture.Snap("htpc-home", time.Date(2026, 11, 23, 2, 0, 0, 0, loc))
	noUUID, writable := fixture.Rep(a), fixture.Rep(b)
	noUUID.ReceivedUUID = ""
	writable.ReadOnly = false
	o.Subvolumes["htpc-home"] = &model.SubvolumeState{Local: []model.Snapshot{a, b}, External: []model.Snapshot{noUUID, writable}}
	for _, s := range []model.Snapshot{a, b} {
		o.Interrupted = append(o.Interrupted, model.JournalEntry{Time: now.Add(-time.Hour), Phase: "start",
			Action: &model.Action{Kind: model.KindSend, Subvolume: "htpc-home", Location: "WD-18TB", Snapshot: s.Name}})
	}
	p := Compute(d, o, now)
	repaired := map[string]bool{}
	for _, x := range p.Actions() {
		if x.Kind == model.KindRepair && x.Subvolume == "htpc-home" {
			repaired[x.Snapshot] = true
		}
	}
	if !repaired[a.Name] || !repaired[b.Name] || len(repaired) != 2 {
		t.Errorf("repaired %v, want %s (no received UUID) and %s (writable)", repaired, a.Name, b.Name)
	}
}

// TestMutantServiceArchivesKept: the newest archive, the last verified one
// (while a newer one fails its test) and the newest copy on the drive stay
// whatever retention says.
func TestMutantServiceArchivesKept(t *testing.T) {
	d, o, now := mutantRig(t)
	svc := d.Services["grafana-db"]
	svc.Retention, svc.External.Retention = onlyMinutes, onlyMinutes
	arch := func(day, hour int) model.Snapshot {
		a := fixture.Snap("grafana-db", time.Date(2026, 11, day, hour, 0, 0, 0, now.Location()))
		a.Name += model.ArchiveSuffix
		return a
	}
	old, verified, bad, newest := arch(10, 1), arch(16, 1), arch(22, 1), arch(23, 1)
	o.Services = map[string]*model.ServiceState{"grafana-db": {
		Archives: []model.Snapshot{old, verified, bad, newest},
		External: []model.Snapshot{old, newest},
	}}
	passed := &model.TestReport{Kind: model.KindTest, Subvolume: "grafana-db", Snapshot: verified.Name, Result: model.ResultPass, Started: verified.Time}
	failed := &model.TestReport{Kind: model.KindTest, Subvolume: "grafana-db", Snapshot: bad.Name, Result: model.ResultFail, Started: now.Add(-time.Hour)}
	o.History["grafana-db"] = &model.History{LastTest: failed, LastPassed: passed, Verified: passed}
	p := Compute(d, o, now)
	if fixture.Find(p, "grafana-db", model.KindBackup) != nil || fixture.Find(p, "grafana-db", model.KindSend) != nil {
		t.Fatalf("the rig expects no backup or copy due: %v", p.Actions())
	}
	for _, c := range []struct{ loc, name, what string }{
		{"backups", newest.Name, "newest archive"},
		{"backups", verified.Name, "last verified archive"},
		{"WD-18TB", newest.Name, "newest copy on the drive"},
	} {
		if fixture.Pruned(p, "grafana-db", c.loc, c.name) {
			t.Errorf("pruned the %s %s on %s", c.what, c.name, c.loc)
		}
	}
	if !fixture.Pruned(p, "grafana-db", "backups", bad.Name) || !fixture.Pruned(p, "grafana-db", "WD-18TB", old.Name) {
		t.Errorf("the rig expects the unprotected archives pruned: %v", p.Actions())
	}
}

// TestMutantServiceRestoreTestPlanned: a service never tested gets a restore
// test of its newest archive.
func TestMutantServiceRestoreTestPlanned(t *testing.T) {
	d, o, now := mutantRig(t)
	a := fixture.Snap("grafana-db", time.Date(2026, 11, 23, 1, 0, 0, 0, now.Location()))
	a.Name += model.ArchiveSuffix
	o.Services = map[string]*model.ServiceState{"grafana-db": {Archives: []model.Snapshot{a}, External: []model.Snapshot{a}}}
	p := Compute(d, o, now)
	test := fixture.Find(p, "grafana-db", model.KindTest)
	if test == nil || test.Snapshot != a.Name || test.Proof == nil || test.Proof.Service == nil {
		t.Fatalf("want a restore test of %s, got %+v", a.Name, test)
	}
}

// TestMutantTestAndDrillDiffer: a restore test samples into the restore
// scratch with the tier's sample size; a drill restores everything into
// the drill target, and without a replica on the drive it does not fall
// back to a local snapshot as a test does.
func TestMutantTestAndDrillDiffer(t *testing.T) {
	d, o, _ := mutantRig(t)
	s := d.Subvolumes["htpc-home"]
	st := o.Subvolumes["htpc-home"]
	test, _, ok := proofAction(d, s, st, o, st.Local, nil, model.KindTest)
	if !ok || test.Proof.Scratch != d.Restore.Scratch || test.Proof.SampleSize != d.Tiers[s.Tier].RestoreTest.SampleSize || test.Proof.SampleSize == 0 {
		t.Errorf("test: %+v", test.Proof)
	}
	drill, _, ok := proofAction(d, s, st, o, st.Local, nil, model.KindDrill)
	if !ok || drill.Proof.Scratch != d.DrillDir(s) || drill.Proof.SampleSize != 0 || drill.Proof.RTOTarget != d.RTO(s) {
		t.Errorf("drill: %+v", drill.Proof)
	}
	if drill.Location != "WD-18TB" || !drill.External {
		t.Errorf("drill reads %s, want the replica on the drive", drill.Location)
	}
	o.Drives["WD-18TB"] = model.Drive{Reason: "nothing mounted"}
	if a, _, ok := proofAction(d, s, st, o, st.Local, nil, model.KindDrill); ok {
		t.Errorf("drill without the drive planned on %s", a.Location)
	}
	if a, _, ok := proofAction(d, s, st, o, st.Local, nil, model.KindTest); !ok || a.Location != "home" {
		t.Errorf("test without the drive: %+v, %v; want the local snapshot", a, ok)
	}
}

// TestMutantProofDueBoundaries: a proof is due when its last pass is
// exactly the cadence old, a failed one is retried after exactly a day (or
// the cadence, if shorter), and a skipped one waits a whole cadence.
func TestMutantProofDueBoundaries(t *testing.T) {
	now := time.Date(2026, 11, 23, 5, 0, 0, 0, time.UTC)
	every := 7 * 24 * time.Hour
	report := func(ago time.Duration, result model.Result) *model.TestReport {
		return &model.TestReport{Snapshot: "s", Started: now.Add(-ago), Result: result}
	}
	for _, c := range []struct {
		name                   string
		lastPassed, last, skip *model.TestReport
		every                  time.Duration
		want                   bool
	}{
		{"passed exactly a cadence ago", report(every, model.ResultPass), report(every, model.ResultPass), nil, every, true},
		{"passed just under a cadence ago", report(every-time.Second, model.ResultPass), report(every-time.Second, model.ResultPass), nil, every, false},
		{"failed exactly a day ago", report(every, model.ResultPass), report(24*time.Hour, model.ResultFail), nil, every, true},
		{"failed just under a day ago", report(every, model.ResultPass), report(24*time.Hour-time.Second, model.ResultFail), nil, every, false},
		{"failed with a cadence under a day", report(2*time.Hour, model.ResultPass), report(time.Hour, model.ResultFail), nil, time.Hour, true},
		{"skipped just under a cadence ago", nil, nil, report(every-time.Second, model.ResultSkip), every, false},
		{"skipped exactly a cadence ago", nil, nil, report(every, model.ResultSkip), every, true},
		{"skipped before a newer failure", report(every, model.ResultPass), report(24*time.Hour, model.ResultFail), report(48*time.Hour, model.ResultSkip), every, true},
		{"never tested", nil, nil, nil, every, true},
	} {
		if why, got := rules.ProofDue("restore test", c.lastPassed, c.last, c.skip, c.every, now); got != c.want {
			t.Errorf("%s: due %v (%+v), want %v", c.name, got, why, c.want)
		}
	}
}

// TestMutantWeekStartReachesRetention: calendar.weekStart becomes the
// retention policy's week start, for every day's name.
func TestMutantWeekStartReachesRetention(t *testing.T) {
	d := fixture.LoadHomelab(t)
	for wd := time.Sunday; wd <= time.Saturday; wd++ {
		for _, name := range []string{wd.String(), wd.String()[:3]} {
			d.Calendar.WeekStart = lower(name)
			if got := rules.Policy(d, schema.Retention{}).WeekStart; got != wd {
				t.Errorf("weekStart %q: policy week starts %v", d.Calendar.WeekStart, got)
			}
		}
	}
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// TestMutantComputeSafetyWithoutLatest runs the randomized safety test
// with retention minimums other than "latest", which otherwise keeps the
// newest snapshot by itself and hides a planner that would prune it.
func TestMutantComputeSafetyWithoutLatest(t *testing.T) {
	for _, min := range []string{"12h", "2d", "all"} {
		t.Run("min "+min, func(t *testing.T) {
			d := fixture.LoadHomelab(t)
			for _, s := range d.Subvolumes {
				s.Snapshots.Retention.Min = min
				if s.External != nil {
					s.External.Retention.Min = min
				}
			}
			checkComputeSafety(t, d)
		})
	}
}

// TestMutantVerifiedIsTheNewestProvenSnapshot: the last verified snapshot
// is the newest snapshot a passing test or drill proved, not the newest
// report: a later pass of an older snapshot does not replace it, a failure
// never counts, and a pass of the same snapshot does.
func TestMutantVerifiedIsTheNewestProvenSnapshot(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2026, 11, d, 2, 0, 0, 0, time.UTC) }
	entry := func(kind model.Kind, snapDay, runDay int, result model.Result) model.JournalEntry {
		r := &model.TestReport{Kind: kind, Subvolume: "docs", Snapshot: fmt.Sprint("docs.", snapDay), SnapshotTime: day(snapDay), Result: result, Started: day(runDay)}
		return model.JournalEntry{Phase: model.PhaseDone, Action: &model.Action{Kind: kind, Subvolume: "docs"}, Report: r}
	}
	h := &model.History{}
	h.Record(entry(model.KindTest, 20, 20, model.ResultPass))
	h.Record(entry(model.KindDrill, 10, 21, model.ResultPass)) // older snapshot, later run
	h.Record(entry(model.KindTest, 22, 22, model.ResultFail))
	if h.Verified == nil || !h.Verified.SnapshotTime.Equal(day(20)) {
		t.Fatalf("Verified = %+v, want the test of the 20th's snapshot", h.Verified)
	}
	h.Record(entry(model.KindDrill, 20, 23, model.ResultPass))
	if h.Verified.Kind != model.KindDrill || !h.Verified.Started.Equal(day(23)) {
		t.Errorf("a newer pass of the same snapshot did not become Verified: %+v", h.Verified)
	}
}
