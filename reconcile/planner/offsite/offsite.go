// Package offsite plans a subvolume's and a service's work on the off-site
// targets (sends, uploads, prunes, cleanups, restore tests and drills of
// the copies there) into the plan planner.Compute builds, and derives the
// off-site evidence the generated files show.
package offsite

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/reconcile/planner/rules"
	"github.com/drsync/drsync/retention"
	"github.com/drsync/drsync/schema"
	"github.com/drsync/drsync/snapname"
	"github.com/drsync/drsync/target"
)

// Plan adds a subvolume's off-site actions, one target at a time.
// An observation made without targets (Env.Targets unset, or saved by an
// older drsync) plans nothing off-site.
func Plan(sp *model.SubvolumePlan, d *schema.Desired, s *schema.Subvolume, st *model.SubvolumeState, o *model.Observed, now time.Time) {
	if o.Offsite == nil {
		return
	}
	for _, name := range d.TargetNames() {
		sends, ok := s.Offsite[name]
		if !ok {
			continue
		}
		obs := o.Offsite[name]
		tgt := d.Targets[name]
		in := target.PlanInput{Target: name, Subvolume: s.Name, Sends: sends, SnapshotSchedule: s.Snapshots.Schedule,
			Policy: rules.Policy(d, sends.Retention), ObjectStorage: tgt.Kind == schema.TargetS3, FullEvery: tgt.FullEvery,
			Now: now, Loc: now.Location()}
		for _, l := range st.Local {
			in.Local = append(in.Local, target.Local{Name: l.Name, Time: l.Time})
		}
		// A snapshot this plan takes is sent in the same run (snapshots
		// run before sends; a failed snapshot skips its sends).
		for _, a := range sp.Actions {
			if a.Kind == model.KindSnapshot {
				if stamp, ok := snapname.Parse(s.Name, a.Snapshot, now.Location()); ok {
					in.Local = append(in.Local, target.Local{Name: a.Snapshot, Time: stamp.Time})
				}
			}
		}
		if obs == nil || obs.Error != "" || obs.Unreachable != "" {
			keepUnlistedParent(sp, s.Snapshots.Location, o.History[s.Name].TargetHistory(name), name, obs != nil && obs.Error != "")
		}
		switch {
		case obs == nil:
			in.Unreachable = "not observed"
		case obs.Error != "":
			continue // one warning for the target: Warnings
		case obs.Unreachable != "":
			in.Unreachable = obs.Unreachable
		case obs.Subvolumes[s.Name] != nil:
			oc := obs.Subvolumes[s.Name]
			in.Copies, in.Chains, in.Leftovers = oc.Copies, oc.Chains, oc.Leftovers
		}
		if st.SourceError != "" {
			// Without a source its snapshots may be the only copies left
			// here: keep every copy off-site too.
			in.Policy.MinAll = true
		}
		if last := o.History[s.Name].TargetHistory(name).LastSend; last != nil {
			in.LastSentBytes = last.Bytes
		}
		res := target.Plan(in)
		sp.Warnings = append(sp.Warnings, res.Warnings...)
		keepOffsiteParent(sp, s.Snapshots.Location, res.KeepLocal, "parent of the next incremental send to "+name)
		for _, a := range res.Actions {
			sp.Actions = append(sp.Actions, offsiteAction(d, s, a))
		}
	}
}

// Warnings says, once per target, why its work waits.
func Warnings(d *schema.Desired, o *model.Observed) []string {
	var out []string
	for _, name := range d.TargetNames() {
		switch st := o.Offsite[name]; {
		case st == nil:
		case st.Error != "":
			out = append(out, fmt.Sprintf("off-site %s: %s; its sends and prunes wait", name, st.Error))
		case st.Unreachable != "":
			out = append(out, fmt.Sprintf("off-site %s is unreachable, its sends and prunes are deferred: %s", name, st.Unreachable))
		}
	}
	return out
}

func offsiteAction(d *schema.Desired, s *schema.Subvolume, a target.Action) model.Action {
	out := model.Action{Subvolume: s.Name, Location: a.Target, Snapshot: a.Name, Reason: a.Reason,
		Offsite: &model.OffsiteSpec{Target: a.Target, Parent: a.Parent, Chain: a.Chain, ExpectedBytes: a.ExpectedBytes}}
	switch a.Kind {
	case target.ActSend:
		out.Kind = model.KindOffsiteSend
		out.Path = filepath.Join(d.SnapshotDir(s.Snapshots.Location, s.Name), a.Name)
	case target.ActPrune:
		out.Kind = model.KindOffsitePrune
	case target.ActCleanup:
		out.Kind = model.KindOffsiteCleanup
	}
	return out
}

// PlanService uploads a service's newest archive to each target
// that lacks it (the one this plan takes included), cleans up interrupted
// uploads, and prunes by the target's retention, never the newest copy.
func PlanService(sp *model.SubvolumePlan, d *schema.Desired, svc *schema.Service, st *model.ServiceState, o *model.Observed, now time.Time) {
	if o.Offsite == nil {
		return
	}
	archives := append([]model.Snapshot(nil), st.Archives...)
	for _, a := range sp.Actions {
		if a.Kind == model.KindBackup {
			if stamp, ok := snapname.Parse(svc.Name, strings.TrimSuffix(a.Snapshot, model.ArchiveSuffix), now.Location()); ok {
				archives = append(archives, model.Snapshot{Name: a.Snapshot, Time: stamp.Time, HasTime: stamp.HasTime})
			}
		}
	}
	model.SortSnapshots(archives)
	for _, name := range d.TargetNames() {
		copiesSpec, ok := svc.Offsite[name]
		obs := o.Offsite[name]
		if !ok || obs == nil || obs.Error != "" || obs.Unreachable != "" || obs.Services[svc.Name] == nil {
			continue // not declared, or its one warning is in Warnings
		}
		oc := obs.Services[svc.Name]
		spec := func(kind model.Kind, archive, reason string) model.Action {
			return model.Action{Kind: kind, Subvolume: svc.Name, Location: name, Snapshot: archive, Reason: reason,
				Offsite: &model.OffsiteSpec{Target: name, Archive: true}}
		}
		if oc.Leftovers > 0 {
			sp.Actions = append(sp.Actions, spec(model.KindOffsiteCleanup, "", fmt.Sprintf("%d objects or uploads of interrupted transfers", oc.Leftovers)))
		}
		var copies []model.Snapshot
		for _, c := range oc.Copies {
			stamp, ours := snapname.Parse(svc.Name, strings.TrimSuffix(c.Name, model.ArchiveSuffix), now.Location())
			switch {
			case !ours:
				sp.Warnings = append(sp.Warnings, fmt.Sprintf("%s on %s is not named like an archive of %s: left alone", c.Name, name, svc.Name))
			case !c.Restorable():
				sp.Warnings = append(sp.Warnings, fmt.Sprintf("%s on %s cannot be restored: %s", c.Name, name, c.Broken))
			default:
				copies = append(copies, model.Snapshot{Name: c.Name, Time: stamp.Time, HasTime: stamp.HasTime})
			}
		}
		model.SortSnapshots(copies)
		if n := len(archives); n > 0 {
			newest := archives[n-1]
			if (len(copies) == 0 || newest.Time.After(copies[len(copies)-1].Time)) && !model.HasName(copies, newest.Name) {
				a := spec(model.KindOffsiteSend, newest.Name, fmt.Sprintf("tier %s: %s lacks the newest archive", svc.Tier, name))
				a.Path = filepath.Join(d.ArchiveDir(svc), newest.Name)
				sp.Actions = append(sp.Actions, a)
				copies = append(copies, newest)
			}
		}
		if len(copies) == 0 {
			continue
		}
		items := make([]retention.Item, len(copies))
		for i, c := range copies {
			items[i] = retention.Item{Name: c.Name, Time: c.Time, HasTime: c.HasTime, Seq: c.Seq}
		}
		newest := copies[len(copies)-1].Name
		for _, v := range retention.Evaluate(items, rules.Policy(d, copiesSpec.Retention), now, now.Location()) {
			if !v.Keep && v.Name != newest {
				sp.Actions = append(sp.Actions, spec(model.KindOffsitePrune, v.Name, v.Reason))
			}
		}
	}
}
