package reconcile

import (
	"fmt"
	"strings"
	"testing"
	"time"

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
func mutantRig(t *testing.T) (*schema.Desired, *Observed, time.Time) {
	t.Helper()
	d := loadHomelab(t)
	loc := oslo(t)
	now := time.Date(2026, 11, 23, 5, 0, 0, 0, loc)
	o := steady(d, now.Add(-3*time.Hour))
	s := d.Subvolumes["htpc-home"]
	s.Snapshots.Retention, s.External.Retention = onlyMinutes, onlyMinutes
	return d, o, now
}

func pruned(p *Plan, subvol, location, snapshot string) bool {
	for _, a := range p.Actions() {
		if a.Kind == KindPrune && a.Subvolume == subvol && a.Location == location && a.Snapshot == snapshot {
			return true
		}
	}
	return false
}

// TestMutantSendParentKeptOnBothSides: the newest snapshot common to source
// and drive is the parent of the next incremental send; it stays on both
// sides while no send replaces it, even where newer replicas exist that the
// source no longer has.
func TestMutantSendParentKeptOnBothSides(t *testing.T) {
	d, o, now := mutantRig(t)
	loc := now.Location()
	a := snap("htpc-home", time.Date(2026, 11, 15, 2, 0, 0, 0, loc)) // sent, the common parent
	c := snap("htpc-home", time.Date(2026, 11, 20, 2, 0, 0, 0, loc)) // sent, since pruned locally
	b := snap("htpc-home", time.Date(2026, 11, 23, 2, 0, 0, 0, loc)) // today's, after Sunday's send slot
	o.Subvolumes["htpc-home"] = &SubvolumeState{Local: []Snapshot{a, b}, External: []Snapshot{rep(a), rep(c)}}
	p := Compute(d, o, now)
	if find(p, "htpc-home", KindSend) != nil {
		t.Fatalf("the rig expects no send due: %+v", find(p, "htpc-home", KindSend))
	}
	if pruned(p, "htpc-home", "home", a.Name) {
		t.Errorf("pruned the send parent %s on the source", a.Name)
	}
	if pruned(p, "htpc-home", "WD-18TB", a.Name) {
		t.Errorf("pruned the send parent %s on the drive", a.Name)
	}
	if pruned(p, "htpc-home", "WD-18TB", c.Name) {
		t.Errorf("pruned the newest replica %s", c.Name)
	}
	if pruned(p, "htpc-home", "home", b.Name) {
		t.Errorf("pruned the newest snapshot %s", b.Name)
	}
}

// TestMutantLastVerifiedKeptOnBothSides: while the restore test of a newer
// snapshot fails, the newest snapshot a test proved stays, locally and on
// the drive.
func TestMutantLastVerifiedKeptOnBothSides(t *testing.T) {
	d, o, now := mutantRig(t)
	loc := now.Location()
	v := snap("htpc-home", time.Date(2026, 11, 8, 2, 0, 0, 0, loc))
	mid := snap("htpc-home", time.Date(2026, 11, 15, 2, 0, 0, 0, loc))
	bad := snap("htpc-home", time.Date(2026, 11, 22, 2, 0, 0, 0, loc)) // the send parent
	newest := snap("htpc-home", time.Date(2026, 11, 23, 2, 0, 0, 0, loc))
	o.Subvolumes["htpc-home"] = &SubvolumeState{Local: []Snapshot{v, mid, bad, newest}, External: []Snapshot{rep(v), rep(mid), rep(bad)}}
	passed := &TestReport{Kind: KindTest, Subvolume: "htpc-home", Snapshot: v.Name, SnapshotTime: v.Time, Result: ResultPass, Started: v.Time.Add(time.Hour)}
	failed := &TestReport{Kind: KindTest, Subvolume: "htpc-home", Snapshot: bad.Name, SnapshotTime: bad.Time, Result: ResultFail, Started: now.Add(-time.Hour)}
	o.History["htpc-home"] = &History{LastTest: failed, LastPassed: passed, Verified: passed, Tests: 2, Passed: 1,
		LastDrill: o.History["htpc-home"].LastDrill, LastPassedDrill: o.History["htpc-home"].LastPassedDrill}
	p := Compute(d, o, now)
	for _, l := range []string{"home", "WD-18TB"} {
		if pruned(p, "htpc-home", l, v.Name) {
			t.Errorf("pruned the last verified snapshot %s on %s", v.Name, l)
		}
	}
	if !pruned(p, "htpc-home", "home", mid.Name) || !pruned(p, "htpc-home", "WD-18TB", mid.Name) {
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
	old := snap("htpc-home", time.Date(2026, 11, 21, 2, 0, 0, 0, loc))
	future := snap("htpc-home", time.Date(2026, 11, 25, 2, 0, 0, 0, loc))
	o.Subvolumes["htpc-home"] = &SubvolumeState{Local: []Snapshot{old, future}, External: []Snapshot{rep(old)}}
	p := Compute(d, o, now)
	taken := find(p, "htpc-home", KindSnapshot)
	if taken == nil {
		t.Fatal("the rig expects a snapshot due: the newest one that is not in the future is from Saturday")
	}
	if pruned(p, "htpc-home", "home", taken.Snapshot) {
		t.Errorf("the plan prunes the snapshot %s it takes", taken.Snapshot)
	}
}

// TestMutantHalfReceivedEachCondition: a replica without a received UUID,
// or one that is writable, is half-received when the journal shows its send
// was interrupted; every such replica is repaired, not only the first.
func TestMutantHalfReceivedEachCondition(t *testing.T) {
	d, o, now := mutantRig(t)
	loc := now.Location()
	a := snap("htpc-home", time.Date(2026, 11, 22, 2, 0, 0, 0, loc))
	b := snap("htpc-home", time.Date(2026, 11, 23, 2, 0, 0, 0, loc))
	noUUID, writable := rep(a), rep(b)
	noUUID.ReceivedUUID = ""
	writable.ReadOnly = false
	o.Subvolumes["htpc-home"] = &SubvolumeState{Local: []Snapshot{a, b}, External: []Snapshot{noUUID, writable}}
	for _, s := range []Snapshot{a, b} {
		o.Interrupted = append(o.Interrupted, JournalEntry{Time: now.Add(-time.Hour), Phase: "start",
			Action: &Action{Kind: KindSend, Subvolume: "htpc-home", Location: "WD-18TB", Snapshot: s.Name}})
	}
	p := Compute(d, o, now)
	repaired := map[string]bool{}
	for _, x := range p.Actions() {
		if x.Kind == KindRepair && x.Subvolume == "htpc-home" {
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
	arch := func(day, hour int) Snapshot {
		a := snap("grafana-db", time.Date(2026, 11, day, hour, 0, 0, 0, now.Location()))
		a.Name += ArchiveSuffix
		return a
	}
	old, verified, bad, newest := arch(10, 1), arch(16, 1), arch(22, 1), arch(23, 1)
	o.Services = map[string]*ServiceState{"grafana-db": {
		Archives: []Snapshot{old, verified, bad, newest},
		External: []Snapshot{old, newest},
	}}
	passed := &TestReport{Kind: KindTest, Subvolume: "grafana-db", Snapshot: verified.Name, Result: ResultPass, Started: verified.Time}
	failed := &TestReport{Kind: KindTest, Subvolume: "grafana-db", Snapshot: bad.Name, Result: ResultFail, Started: now.Add(-time.Hour)}
	o.History["grafana-db"] = &History{LastTest: failed, LastPassed: passed, Verified: passed}
	p := Compute(d, o, now)
	if find(p, "grafana-db", KindBackup) != nil || find(p, "grafana-db", KindSend) != nil {
		t.Fatalf("the rig expects no backup or copy due: %v", p.Actions())
	}
	for _, c := range []struct{ loc, name, what string }{
		{"backups", newest.Name, "newest archive"},
		{"backups", verified.Name, "last verified archive"},
		{"WD-18TB", newest.Name, "newest copy on the drive"},
	} {
		if pruned(p, "grafana-db", c.loc, c.name) {
			t.Errorf("pruned the %s %s on %s", c.what, c.name, c.loc)
		}
	}
	if !pruned(p, "grafana-db", "backups", bad.Name) || !pruned(p, "grafana-db", "WD-18TB", old.Name) {
		t.Errorf("the rig expects the unprotected archives pruned: %v", p.Actions())
	}
}

// TestMutantServiceRestoreTestPlanned: a service never tested gets a restore
// test of its newest archive.
func TestMutantServiceRestoreTestPlanned(t *testing.T) {
	d, o, now := mutantRig(t)
	a := snap("grafana-db", time.Date(2026, 11, 23, 1, 0, 0, 0, now.Location()))
	a.Name += ArchiveSuffix
	o.Services = map[string]*ServiceState{"grafana-db": {Archives: []Snapshot{a}, External: []Snapshot{a}}}
	p := Compute(d, o, now)
	test := find(p, "grafana-db", KindTest)
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
	test, _, ok := proofAction(d, s, st, o, st.Local, nil, KindTest)
	if !ok || test.Proof.Scratch != d.Restore.Scratch || test.Proof.SampleSize != d.Tiers[s.Tier].RestoreTest.SampleSize || test.Proof.SampleSize == 0 {
		t.Errorf("test: %+v", test.Proof)
	}
	drill, _, ok := proofAction(d, s, st, o, st.Local, nil, KindDrill)
	if !ok || drill.Proof.Scratch != d.DrillDir(s) || drill.Proof.SampleSize != 0 || drill.Proof.RTOTarget != d.RTO(s) {
		t.Errorf("drill: %+v", drill.Proof)
	}
	if drill.Location != "WD-18TB" || !drill.External {
		t.Errorf("drill reads %s, want the replica on the drive", drill.Location)
	}
	o.Drives["WD-18TB"] = Drive{Reason: "nothing mounted"}
	if a, _, ok := proofAction(d, s, st, o, st.Local, nil, KindDrill); ok {
		t.Errorf("drill without the drive planned on %s", a.Location)
	}
	if a, _, ok := proofAction(d, s, st, o, st.Local, nil, KindTest); !ok || a.Location != "home" {
		t.Errorf("test without the drive: %+v, %v; want the local snapshot", a, ok)
	}
}

// TestMutantProofDueBoundaries: a proof is due when its last pass is
// exactly the cadence old, a failed one is retried after exactly a day (or
// the cadence, if shorter), and a skipped one waits a whole cadence.
func TestMutantProofDueBoundaries(t *testing.T) {
	now := time.Date(2026, 11, 23, 5, 0, 0, 0, time.UTC)
	every := 7 * 24 * time.Hour
	report := func(ago time.Duration, result string) *TestReport {
		return &TestReport{Snapshot: "s", Started: now.Add(-ago), Result: result}
	}
	for _, c := range []struct {
		name                   string
		lastPassed, last, skip *TestReport
		every                  time.Duration
		want                   bool
	}{
		{"passed exactly a cadence ago", report(every, ResultPass), report(every, ResultPass), nil, every, true},
		{"passed just under a cadence ago", report(every-time.Second, ResultPass), report(every-time.Second, ResultPass), nil, every, false},
		{"failed exactly a day ago", report(every, ResultPass), report(24*time.Hour, ResultFail), nil, every, true},
		{"failed just under a day ago", report(every, ResultPass), report(24*time.Hour-time.Second, ResultFail), nil, every, false},
		{"failed with a cadence under a day", report(2*time.Hour, ResultPass), report(time.Hour, ResultFail), nil, time.Hour, true},
		{"skipped just under a cadence ago", nil, nil, report(every-time.Second, ResultSkip), every, false},
		{"skipped exactly a cadence ago", nil, nil, report(every, ResultSkip), every, true},
		{"skipped before a newer failure", report(every, ResultPass), report(24*time.Hour, ResultFail), report(48*time.Hour, ResultSkip), every, true},
		{"never tested", nil, nil, nil, every, true},
	} {
		if why, got := proofDue("restore test", c.lastPassed, c.last, c.skip, c.every, now); got != c.want {
			t.Errorf("%s: due %v (%+v), want %v", c.name, got, why, c.want)
		}
	}
}

// TestMutantWeekStartReachesRetention: calendar.weekStart becomes the
// retention policy's week start, for every day's name.
func TestMutantWeekStartReachesRetention(t *testing.T) {
	d := loadHomelab(t)
	for wd := time.Sunday; wd <= time.Saturday; wd++ {
		for _, name := range []string{wd.String(), wd.String()[:3]} {
			d.Calendar.WeekStart = lower(name)
			if got := Policy(d, schema.Retention{}).WeekStart; got != wd {
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
			d := loadHomelab(t)
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

// TestMutantRepairsCountTowardTheGuard: removing half-received replicas
// removes copies, so an unattended plan that would remove every replica on
// the drive by repairs is refused like one that prunes them.
func TestMutantRepairsCountTowardTheGuard(t *testing.T) {
	o := &Observed{Subvolumes: map[string]*SubvolumeState{"docs": {Local: make([]Snapshot, 10), External: make([]Snapshot, 2)}}}
	p := &Plan{Drives: []DriveNote{{Location: "usb"}}, Subvolumes: []SubvolumePlan{{Name: "docs", Actions: []Action{
		{Kind: KindRepair, Subvolume: "docs", Location: "usb"},
		{Kind: KindRepair, Subvolume: "docs", Location: "usb"},
	}}}}
	if err := Guard(p, o, 0.5); err == nil || !strings.Contains(err.Error(), "every replica (2) on usb") {
		t.Errorf("Guard: %v, want every replica refused", err)
	}
}

// TestMutantVerifiedIsTheNewestProvenSnapshot: the last verified snapshot
// is the newest snapshot a passing test or drill proved, not the newest
// report: a later pass of an older snapshot does not replace it, a failure
// never counts, and a pass of the same snapshot does.
func TestMutantVerifiedIsTheNewestProvenSnapshot(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2026, 11, d, 2, 0, 0, 0, time.UTC) }
	entry := func(kind Kind, snapDay, runDay int, result string) JournalEntry {
		r := &TestReport{Kind: kind, Subvolume: "docs", Snapshot: fmt.Sprint("docs.", snapDay), SnapshotTime: day(snapDay), Result: result, Started: day(runDay)}
		return JournalEntry{Phase: PhaseDone, Action: &Action{Kind: kind, Subvolume: "docs"}, Report: r}
	}
	h := &History{}
	h.Record(entry(KindTest, 20, 20, ResultPass))
	h.Record(entry(KindDrill, 10, 21, ResultPass)) // older snapshot, later run
	h.Record(entry(KindTest, 22, 22, ResultFail))
	if h.Verified == nil || !h.Verified.SnapshotTime.Equal(day(20)) {
		t.Fatalf("Verified = %+v, want the test of the 20th's snapshot", h.Verified)
	}
	h.Record(entry(KindDrill, 20, 23, ResultPass))
	if h.Verified.Kind != KindDrill || !h.Verified.Started.Equal(day(23)) {
		t.Errorf("a newer pass of the same snapshot did not become Verified: %+v", h.Verified)
	}
}
