package offsite

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/reconcile/planner/rules"
	"github.com/drsync/drsync/schema"
	"github.com/drsync/drsync/snapname"
	"github.com/drsync/drsync/target"
)

// Off-site copies are proven on their own cadence, as local copies are: a
// restore test of the copy a target holds, and a drill that fetches it
// whole, timed against the RTO (DR-004's recovery). The cadences are the
// off-site entry's, else the tier's; each target's history says what is
// due (History.Offsite).

// offsiteProof is one kind of proof of the copies on a target with its
// resolved cadence (0: none asked for).
type offsiteProof struct {
	kind     model.Kind
	every    time.Duration
	declared bool
}

// due says whether the proof is due by the target's history.
func (p offsiteProof) due(h *model.History, now time.Time) (*model.ProofWhy, bool) {
	if p.kind == model.KindOffsiteDrill {
		return rules.ProofDue("drill", h.LastPassedDrill, h.LastDrill, nil, p.every, now)
	}
	return rules.ProofDue("restore test", h.LastPassed, h.LastTest, h.LastSkipped, p.every, now)
}

// PlanProofs adds the due tests and drills of a subvolume's copies
// on each target: of the copy this plan sends there, else of the newest
// restorable copy it holds. A target that cannot be reached defers them
// with a warning; one not observed at all plans none.
func PlanProofs(sp *model.SubvolumePlan, d *schema.Desired, s *schema.Subvolume, st *model.SubvolumeState, o *model.Observed, now time.Time) {
	if o.Offsite == nil {
		return
	}
	tier := d.Tiers[s.Tier]
	for _, name := range d.TargetNames() {
		sends, ok := s.Offsite[name]
		if !ok {
			continue
		}
		th := o.History[s.Name].TargetHistory(name)
		for _, p := range []offsiteProof{
			{model.KindOffsiteTest, d.OffsiteTestEvery(s.Tier, sends.RestoreTest), sends.RestoreTest != nil},
			{model.KindOffsiteDrill, d.OffsiteDrillEvery(s.Tier, sends.Drill), sends.Drill != nil},
		} {
			if p.every <= 0 {
				continue
			}
			why, due := p.due(th, now)
			if !due {
				continue
			}
			var copies []target.Copy
			if obs := o.Offsite[name]; obs == nil || obs.Error != "" {
				continue // not observed, or its one warning is in Warnings
			} else if obs.Unreachable != "" {
				sp.Warnings = append(sp.Warnings, fmt.Sprintf("off-site %s of %s on %s due but deferred: the target is unreachable", why.What, s.Name, name))
				continue
			} else if oc := obs.Subvolumes[s.Name]; oc != nil {
				copies = oc.Copies
			}
			snap, ok := offsiteCopyToProve(sp, name, false, copies)
			stamp, parsed := snapname.Parse(s.Name, snap, now.Location())
			if !ok || !parsed {
				sp.Warnings = append(sp.Warnings, fmt.Sprintf("off-site %s of %s on %s due but %s holds no restorable copy yet", why.What, s.Name, name, name))
				continue
			}
			a := model.Action{Kind: p.kind, Subvolume: s.Name, Location: name, Snapshot: snap,
				Path:    filepath.Join(d.DrillDir(s), "offsite-"+name),
				Offsite: &model.OffsiteSpec{Target: name}, Proof: &model.ProofSpec{SnapshotTime: stamp.Time}}
			if model.HasName(st.Local, snap) || takes(sp, snap) {
				a.Proof.Reference = filepath.Join(d.SnapshotDir(s.Snapshots.Location, s.Name), snap)
			}
			if p.kind == model.KindOffsiteDrill {
				a.Proof.Scratch, a.Proof.RTOTarget = d.DrillDir(s), d.RTO(s)
			} else {
				a.Proof.Scratch, a.Proof.SampleSize = d.Restore.Scratch, tier.RestoreTest.SampleSize
			}
			why.Target, why.Declared = name, p.declared
			a.Because(model.Reason{Code: model.BecauseProofDue, Tier: s.Tier, Proof: why})
			sp.Actions = append(sp.Actions, a)
		}
		if last := th.LastTest; last != nil && !last.Passed() && !plans(sp, model.KindOffsiteTest, name) {
			sp.Warnings = append(sp.Warnings, fmt.Sprintf("off-site restore test of %s on %s FAILED %s ago; retest due %s",
				last.Snapshot, name, schema.Age(now.Sub(last.Started)),
				last.Started.Add(min(d.OffsiteTestEvery(s.Tier, sends.RestoreTest), 24*time.Hour)).In(now.Location()).Format("2006-01-02 15:04")))
		}
	}
}

// PlanServiceProofs adds the due restore tests of a service's
// newest archive on each target (the one this plan uploads, else the
// newest there).
func PlanServiceProofs(sp *model.SubvolumePlan, d *schema.Desired, svc *schema.Service, o *model.Observed, now time.Time) {
	if o.Offsite == nil {
		return
	}
	for _, name := range d.TargetNames() {
		spec, ok := svc.Offsite[name]
		obs := o.Offsite[name]
		if !ok || obs == nil || obs.Error != "" {
			continue
		}
		p := offsiteProof{model.KindOffsiteTest, d.OffsiteTestEvery(svc.Tier, spec.RestoreTest), spec.RestoreTest != nil}
		why, due := p.due(o.History[svc.Name].TargetHistory(name), now)
		if !due {
			continue
		}
		if obs.Unreachable != "" {
			sp.Warnings = append(sp.Warnings, fmt.Sprintf("off-site restore test of %s on %s due but deferred: the target is unreachable", svc.Name, name))
			continue
		}
		var copies []target.Copy
		if oc := obs.Services[svc.Name]; oc != nil {
			copies = oc.Copies
		}
		archive, ok := offsiteCopyToProve(sp, name, true, copies)
		stamp, parsed := snapname.Parse(svc.Name, strings.TrimSuffix(archive, model.ArchiveSuffix), now.Location())
		if !ok || !parsed {
			sp.Warnings = append(sp.Warnings, fmt.Sprintf("off-site restore test of %s on %s due but %s holds no archive yet", svc.Name, name, name))
			continue
		}
		a := model.Action{Kind: model.KindOffsiteTest, Subvolume: svc.Name, Location: name, Snapshot: archive,
			Path:    filepath.Join(d.Locations[svc.Location].Path, ".offsite-"+name, svc.Name),
			Offsite: &model.OffsiteSpec{Target: name, Archive: true},
			Proof:   &model.ProofSpec{SnapshotTime: stamp.Time, Scratch: d.Restore.Scratch, Service: svc}}
		why.Target, why.Declared = name, p.declared
		a.Because(model.Reason{Code: model.BecauseProofDue, Tier: svc.Tier, Proof: why})
		sp.Actions = append(sp.Actions, a)
	}
}

// offsiteCopyToProve is the copy a proof on target reads: what this plan
// sends there, else the newest restorable copy the target holds.
func offsiteCopyToProve(sp *model.SubvolumePlan, name string, archive bool, copies []target.Copy) (string, bool) {
	for _, a := range sp.Actions {
		if a.Kind == model.KindOffsiteSend && a.Offsite != nil && a.Offsite.Target == name && a.Offsite.Archive == archive {
			return a.Snapshot, true
		}
	}
	newest := ""
	for _, c := range copies {
		if c.Restorable() && c.Name > newest {
			newest = c.Name
		}
	}
	return newest, newest != ""
}

// takes reports whether the plan takes the snapshot name.
func takes(sp *model.SubvolumePlan, name string) bool {
	return slices.ContainsFunc(sp.Actions, func(a model.Action) bool { return a.Kind == model.KindSnapshot && a.Snapshot == name })
}

// plans reports whether the plan holds an action of kind on target.
func plans(sp *model.SubvolumePlan, kind model.Kind, target string) bool {
	return slices.ContainsFunc(sp.Actions, func(a model.Action) bool { return a.Kind == kind && a.Location == target })
}
