package offsite

import (
	"strings"
	"time"

	"github.com/drsync/drsync/internal/humane"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/render/view"
	"github.com/drsync/drsync/schema"
	"github.com/drsync/drsync/snapname"
)

// Evidence is what the generated files say about an owner's
// (a subvolume's or a service's) copies on each declared target: what the
// observation counted there, and the journal's sends, tests and drills.
// A target not observed this run is still dated by its last send.
func Evidence(owner string, targets []string, h *model.History, o *model.Observed, now time.Time) map[string]view.OffsiteStatus {
	out := map[string]view.OffsiteStatus{}
	for _, name := range targets {
		var st view.OffsiteStatus
		if obs := o.Offsite[name]; obs != nil && obs.Error == "" && obs.Unreachable == "" {
			oc := obs.Subvolumes[owner]
			if oc == nil {
				oc = obs.Services[owner]
			}
			if oc != nil {
				st.Observed = true
				for _, c := range oc.Copies {
					if !c.Restorable() {
						continue
					}
					st.Copies++
					if t := copyTime(owner, c.Name, now.Location()); t.After(st.Newest) {
						st.Newest = t
					}
				}
			}
		}
		th := h.TargetHistory(name)
		if send := th.LastSend; send != nil {
			st.LastSuccess, st.SentBytes = send.Time, send.Bytes
			if st.Newest.IsZero() && !st.Observed {
				st.Newest = copyTime(owner, send.Action.Snapshot, now.Location())
			}
		}
		if t := th.LastTest; t != nil {
			st.Test = &view.TestEvidence{Time: t.Started, Passed: t.Passed(), Duration: humane.Seconds(t.Seconds), Files: t.Files, Snapshot: t.Snapshot}
		}
		if th.Verified != nil {
			st.Verified = th.Verified.SnapshotTime
		}
		if dr := th.LastDrill; dr != nil {
			st.Drill = &view.DrillEvidence{Time: dr.Started, Passed: dr.Passed(), Duration: humane.Seconds(dr.Seconds), Bytes: dr.Bytes, Snapshot: dr.Snapshot,
				Restore: humane.Seconds(dr.RestoreSeconds), Verify: humane.Seconds(dr.VerifySeconds)}
		}
		if st.Observed || !st.LastSuccess.IsZero() || st.Test != nil || st.Drill != nil {
			out[name] = st
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// copyTime is when the snapshot or archive a copy holds was taken (zero
// when its name is not one of owner's).
func copyTime(owner, name string, loc *time.Location) time.Time {
	stamp, ok := snapname.Parse(owner, strings.TrimSuffix(name, model.ArchiveSuffix), loc)
	if !ok {
		return time.Time{}
	}
	return stamp.Time
}

// SubvolumeTargets and ServiceTargets are the targets an owner declares,
// sorted.
func SubvolumeTargets(d *schema.Desired, name string) []string {
	var out []string
	for _, t := range d.TargetNames() {
		if _, ok := d.Subvolumes[name].Offsite[t]; ok {
			out = append(out, t)
		}
	}
	return out
}

func ServiceTargets(d *schema.Desired, name string) []string {
	var out []string
	for _, t := range d.TargetNames() {
		if _, ok := d.Services[name].Offsite[t]; ok {
			out = append(out, t)
		}
	}
	return out
}
