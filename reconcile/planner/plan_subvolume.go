package planner

import (
	"cmp"
	"fmt"
	"path/filepath"
	"time"

	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/schedule"
	"github.com/drsync/drsync/schema"
	"github.com/drsync/drsync/snapname"
)

func planSubvolume(d *schema.Desired, s *schema.Subvolume, st *model.SubvolumeState, o *model.Observed, now time.Time) model.SubvolumePlan {
	if len(st.Refused) > 0 {
		return refusedPlan(s, st)
	}
	sp := model.SubvolumePlan{Name: s.Name, Tier: s.Tier, Foreign: st.Foreign}
	localLoc := s.Snapshots.Location
	localDir := d.SnapshotDir(localLoc, s.Name)

	// Snapshot when the schedule has a slot the newest snapshot predates.
	local := append([]model.Snapshot(nil), st.Local...)
	sp.Warnings = append(sp.Warnings, futureWarnings(local, now, "snapshot")...)
	var planned *model.Snapshot
	if st.SourceError != "" {
		sp.Warnings = append(sp.Warnings, "no snapshot: "+st.SourceError)
	} else if v := schedule.Due(s.Snapshots.Schedule, model.NewestTime(current(local, now)), now); v.Due {
		snap := newSnapshot(s.Name, append(local, model.ForeignNames(st.Foreign)...), now)
		planned = &snap
		local = append(local, snap)
		model.SortSnapshots(local)
		a := model.Action{Kind: model.KindSnapshot, Subvolume: s.Name, Location: localLoc, Snapshot: snap.Name,
			Path: filepath.Join(localDir, snap.Name), Take: &model.TakeSnapshot{Source: s.Source}}
		why := model.Reason{Code: model.BecauseSchedule, Tier: s.Tier, Subject: "local snapshot", Schedule: &v}
		if v.Why == schedule.NoneYet && len(st.Local) > 0 {
			why.Detail = "that is not dated in the future"
		}
		a.Because(why)
		sp.Actions = append(sp.Actions, a)
	}

	// keepLocal protects the parent of the next incremental send.
	var keepLocal string
	if s.External != nil {
		if f := o.SendFailing[s.Name]; f != nil {
			sp.Warnings = append(sp.Warnings, f.Warning())
		}
		extLoc := s.External.Location
		drive := o.Drives[extLoc]
		if !drive.Present {
			keepLocal = o.LastSent[s.Name]
			sp.Warnings = append(sp.Warnings, fmt.Sprintf("send and external prune deferred: drive %s is absent", extLoc))
		} else {
			var ext []model.Snapshot
			repaired := false
			extDir := d.SnapshotDir(extLoc, s.Name)
			var modified []model.Snapshot
			for _, r := range st.External {
				if (r.ReceivedUUID == "" || !r.ReadOnly) && !interruptedReceive(o, s.Name, extLoc, r, local) {
					modified = append(modified, r)
					sp.Warnings = append(sp.Warnings, modifiedWarning(extLoc, r))
					continue
				}
				if r.ReceivedUUID == "" || !r.ReadOnly {
					repaired = true
					a := model.Action{Kind: model.KindRepair, Subvolume: s.Name, Location: extLoc, Snapshot: r.Name,
						Path: filepath.Join(extDir, r.Name), Remove: &model.RemoveCopy{}}
					a.Because(model.Reason{Code: model.BecauseHalfReceived, Detail: halfReason(r)})
					sp.Actions = append(sp.Actions, a)
					continue
				}
				ext = append(ext, r)
			}
			failing := o.SendFailing[s.Name]
			parent, avoided := commonParent(local, ext, failing)
			keepLocal = parent
			sp.Warnings = append(sp.Warnings, futureWarnings(ext, now, "replica")...)
			if cur, curExt := current(local, now), current(ext, now); len(cur) > 0 {
				cand := cur[len(cur)-1]
				v := sendDue(s.External.Schedule, s.Snapshots.Schedule, cur, curExt, now)
				fresher := len(curExt) == 0 || cand.Time.After(curExt[len(curExt)-1].Time)
				if fresher && !model.HasName(ext, cand.Name) && !model.HasName(modified, cand.Name) && (v.Due || repaired) {
					why := model.Reason{Code: model.BecauseSchedule, Tier: s.Tier, Subject: "replica", Schedule: &v, Send: &model.SendWhy{Parent: parent, Avoided: avoided}}
					if !v.Due {
						why = model.Reason{Code: model.BecauseResend, Tier: s.Tier, Send: &model.SendWhy{Parent: parent, Avoided: avoided}}
					}
					parentPath := ""
					if parent != "" {
						parentPath = filepath.Join(localDir, parent)
					}
					a := model.Action{Kind: model.KindSend, Subvolume: s.Name, Location: extLoc, Snapshot: cand.Name,
						Path: filepath.Join(extDir, cand.Name), Send: &model.SendCopy{From: filepath.Join(localDir, cand.Name), Parent: parentPath}}
					a.Because(why)
					sp.Actions = append(sp.Actions, a)
					ext = append(ext, model.Snapshot{Name: cand.Name, Time: cand.Time, HasTime: cand.HasTime, Seq: cand.Seq,
						ReceivedUUID: cand.UUID, ReadOnly: true})
					keepLocal = cand.Name
				}
			}
			if st.SourceError == "" {
				protect := protections(ext, "newest replica", keepLocal, lastVerified(o.History[s.Name]))
				prune(&sp, d, extLoc, extDir, ext, nil, s.External.Retention, protect, now)
			}
		}
	}
	planProofs(&sp, d, s, st, o, local, now)

	// With the source gone the snapshots may be the only copies left:
	// prunes wait until the source is back.
	if st.SourceError != "" {
		sp.Warnings = append(sp.Warnings, "prunes held back while the source is unavailable")
		model.SortActions(sp.Actions)
		return sp
	}

	protect := protections(local, "newest snapshot", keepLocal, lastVerified(o.History[s.Name]))
	prune(&sp, d, localLoc, localDir, local, planned, s.Snapshots.Retention, protect, now)
	model.SortActions(sp.Actions)
	return sp
}

// newSnapshot names the snapshot taken now, with btrbk's _N suffix when a
// snapshot of the same minute exists.
func newSnapshot(subvol string, existing []model.Snapshot, now time.Time) model.Snapshot {
	t := now.Truncate(time.Minute)
	seq := 0
	for model.HasName(existing, snapname.FormatSeq(subvol, t, seq)) {
		seq++
	}
	return model.Snapshot{Name: snapname.FormatSeq(subvol, t, seq), Time: t, HasTime: true, Seq: seq, ReadOnly: true}
}

// commonParent is the newest local snapshot that has a replica on the
// drive (the replica's received UUID is the local snapshot's UUID or, for
// a local snapshot itself received back from the drive by a recovery, the
// UUID it was received from: btrfs send names a parent that way too) and
// that no send failed from since the last success: a damaged parent fails
// every incremental send from it, so the next plan goes back to an older
// common parent, or to a full send. avoided lists the common parents passed
// over, newest first.
func commonParent(local, ext []model.Snapshot, failing *model.SendFailure) (parent string, avoided []string) {
	received := map[string]bool{}
	for _, r := range ext {
		received[r.ReceivedUUID] = true
	}
	for i := len(local) - 1; i >= 0; i-- {
		if id := cmp.Or(local[i].ReceivedUUID, local[i].UUID); id == "" || !received[id] {
			continue
		}
		if failing.FailedParent(local[i].Name) {
			avoided = append(avoided, local[i].Name)
			continue
		}
		return local[i].Name, avoided
	}
	return "", avoided
}

func halfReason(r model.Snapshot) string {
	if r.ReceivedUUID == "" {
		return "no received UUID"
	}
	return "not read-only"
}

// sendDue decides whether the drive lacks what the external schedule asks
// for: the newest local snapshot that belongs to a snapshot slot at or
// before the latest send slot. A snapshot belongs to the snapshot slot it
// was taken for, so one taken at 03:30 for the 02:00 slot is sent by a 03:00
// send slot that same run, and a 02:00 snapshot sent at 03:00 satisfies the
// send slot until the next one.
func sendDue(send, snap schema.Schedule, local, ext []model.Snapshot, now time.Time) schedule.Verdict {
	if len(ext) == 0 {
		return schedule.Due(send, time.Time{}, now)
	}
	newest := ext[len(ext)-1].Time
	if send.Kind == "every" {
		return schedule.Due(send, newest, now)
	}
	v := schedule.Verdict{Why: schedule.Satisfied, Rule: send.Text, Age: schema.Duration{Duration: now.Sub(newest)}, Since: send.Slot(now)}
	for i := len(local) - 1; i >= 0; i-- {
		taken := local[i].Time
		if snap.Kind != "every" {
			taken = snap.Slot(taken)
		}
		if !taken.After(v.Since) {
			if local[i].Time.After(newest) {
				v.Due, v.Why, v.Want = true, schedule.Slot, local[i].Name
			}
			break
		}
	}
	return v
}
