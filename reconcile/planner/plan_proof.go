package planner

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/reconcile/planner/rules"
	"github.com/drsync/drsync/schema"
)

const verifiedWhy = "newest verified-restorable snapshot, since the last restore test of a newer one failed"

// lastVerified names the snapshot to keep while restore tests fail: the
// newest one a test proved, until a newer one passes.
func lastVerified(h *model.History) string {
	if h == nil || h.Verified == nil || h.LastTest.Passed() {
		return ""
	}
	return h.Verified.Snapshot
}

// planProofs adds the restore test and the drill the tier asks for when
// they are due.
func planProofs(sp *model.SubvolumePlan, d *schema.Desired, s *schema.Subvolume, st *model.SubvolumeState, o *model.Observed, local []model.Snapshot, now time.Time) {
	tier := d.Tiers[s.Tier]
	h := o.History[s.Name]
	if h == nil {
		h = &model.History{}
	}
	sent := map[string]bool{}
	for _, a := range sp.Actions {
		if a.Kind == model.KindSend {
			sent[a.Snapshot] = true
		}
	}
	if why, due := rules.ProofDue("restore test", h.LastPassed, h.LastTest, h.LastSkipped, tier.RestoreTest.Every.Duration, now); due {
		if a, fallback, ok := proofAction(d, s, st, o, local, sent, model.KindTest); ok {
			why.LocalFallback = fallback
			why.Slice = planSlice(d, s, st, h, &a)
			a.Because(model.Reason{Code: model.BecauseProofDue, Tier: s.Tier, Proof: why})
			sp.Actions = append(sp.Actions, a)
		} else {
			sp.Warnings = append(sp.Warnings, "restore test due but nothing to test yet")
		}
	} else if last := h.LastTest; last != nil && !last.Passed() {
		sp.Warnings = append(sp.Warnings, failedTestWarning(last, lastVerified(h), tier.RestoreTest.Every.Duration, now))
	}
	if tier.Drill == nil {
		return
	}
	if why, due := rules.ProofDue("drill", h.LastPassedDrill, h.LastDrill, nil, tier.Drill.Every.Duration, now); due {
		if a, _, ok := proofAction(d, s, st, o, local, sent, model.KindDrill); ok {
			a.Because(model.Reason{Code: model.BecauseProofDue, Tier: s.Tier, Proof: why})
			sp.Actions = append(sp.Actions, a)
		} else {
			sp.Warnings = append(sp.Warnings, "drill due but deferred: it restores the replica on the external drive, which is absent or holds none")
		}
	}
}

// ProofAction is the test or drill of a subvolume's newest copy now, for
// `drsync test` and `drsync drill` run by hand.
func ProofAction(d *schema.Desired, o *model.Observed, name string, kind model.Kind) (model.Action, bool) {
	if svc := d.Services[name]; svc != nil {
		st := o.Services[name]
		if st == nil || len(st.Archives) == 0 {
			return model.Action{}, false
		}
		var copies []model.Snapshot
		if svc.External != nil && o.Drives[svc.External.Location].Present {
			copies = st.External
		}
		a := archiveTest(d, svc, st.Archives[len(st.Archives)-1], copies)
		if kind == model.KindDrill {
			a = archiveDrill(d, svc, st.Archives[len(st.Archives)-1], copies)
		}
		markActionExternal(&a, d, o)
		a.Because(model.Reason{Code: model.BecauseRequested})
		return a, true
	}
	s, st := d.Subvolumes[name], o.Subvolumes[name]
	if s == nil || st == nil {
		return model.Action{}, false
	}
	a, _, ok := proofAction(d, s, st, o, st.Local, nil, kind)
	if ok {
		planSlice(d, s, st, o.History[name], &a)
		markActionExternal(&a, d, o)
		a.Because(model.Reason{Code: model.BecauseRequested})
	}
	return a, ok
}

// proofAction picks what a test or drill reads: the newest replica on the
// drive (after this plan's sends) when the drive is present, the copy a
// disaster would leave; a test falls back to the newest local snapshot,
// a drill has nothing to do without a replica.
func proofAction(d *schema.Desired, s *schema.Subvolume, st *model.SubvolumeState, o *model.Observed, local []model.Snapshot, sent map[string]bool, kind model.Kind) (a model.Action, localFallback, ok bool) {
	tier := d.Tiers[s.Tier]
	localDir := d.SnapshotDir(s.Snapshots.Location, s.Name)
	a = model.Action{Kind: kind, Subvolume: s.Name, Proof: &model.ProofSpec{}}
	if kind == model.KindDrill {
		a.Proof.Scratch, a.Proof.RTOTarget = d.DrillDir(s), d.RTO(s)
	} else {
		a.Proof.Scratch, a.Proof.SampleSize = d.Restore.Scratch, tier.RestoreTest.SampleSize
	}
	if s.External != nil && o.Drives[s.External.Location].Present {
		var replica *model.Snapshot
		if replicas := model.Replicas(st.External); len(replicas) > 0 {
			replica = &replicas[len(replicas)-1]
		}
		for i := len(local) - 1; i >= 0; i-- {
			if sent[local[i].Name] && (replica == nil || local[i].Time.After(replica.Time)) {
				replica = &local[i]
				break
			}
		}
		if replica != nil {
			a.Location, a.Snapshot, a.Proof.SnapshotTime, a.External = s.External.Location, replica.Name, replica.Time, true
			a.Path = filepath.Join(d.SnapshotDir(s.External.Location, s.Name), replica.Name)
			if model.HasName(local, replica.Name) {
				a.Proof.Reference = filepath.Join(localDir, replica.Name)
			}
			return a, false, true
		}
	}
	if kind == model.KindDrill || len(local) == 0 {
		return model.Action{}, false, false
	}
	newest := local[len(local)-1]
	a.Location, a.Snapshot, a.Proof.SnapshotTime = s.Snapshots.Location, newest.Name, newest.Time
	a.Path = filepath.Join(localDir, newest.Name)
	if s.External != nil {
		localFallback = true // the drive holds no replica: the plan says so
	}
	return a, localFallback, true
}

// failedTestWarning keeps a failed restore test in view until its retest
// runs: what failed, what retention keeps meanwhile, and when it is tried
// again (at most daily, see rules.ProofDue).
func failedTestWarning(last *model.TestReport, verified string, every time.Duration, now time.Time) string {
	retest := last.Started.Add(min(every, 24*time.Hour))
	held := "nothing verified to fall back on: every snapshot is unproven"
	if verified != "" {
		held = "retention keeps " + verified + ", the newest verified snapshot"
	}
	return fmt.Sprintf("restore test of %s FAILED %s ago; %s; retest due %s",
		last.Snapshot, schema.Age(now.Sub(last.Started)), held, retest.In(now.Location()).Format("2006-01-02 15:04"))
}
