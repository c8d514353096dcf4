package offsite

import (
	"fmt"

	"github.com/drsync/drsync/reconcile/model"
)

// keepOffsiteParent withdraws the local prune of the snapshot the next
// send to an off-site target is incremental from: pruning it would turn
// that send into a full one (for a weekly S3 chain, the whole subvolume
// again). The drive's parent is protected the same way (the planner's
// protections). It reports whether retention alone would have pruned it.
func keepOffsiteParent(sp *model.SubvolumePlan, loc, name, why string) bool {
	if name == "" {
		return false
	}
	kept := sp.Actions[:0]
	for _, a := range sp.Actions {
		if a.Kind == model.KindPrune && a.Location == loc && a.Snapshot == name {
			continue
		}
		kept = append(kept, a)
	}
	sp.Actions = kept
	withdrawn := false
	for i, n := range sp.Retention {
		if n.Location == loc && n.Snapshot == name && !n.Keep {
			sp.Retention[i].Keep = true
			sp.Retention[i].Reason = "kept as the " + why + " (retention alone would prune it: " + n.Reason + ")"
			withdrawn = true
		}
	}
	return withdrawn
}

// keepUnlistedParent protects, while a target cannot be listed (it is
// unreachable, or refuses drsync: failed says so), the last snapshot the
// journal saw sent there: it is the parent of the next send once the
// target is back, and without it that send is a full one. The plan says so
// when retention would otherwise have pruned it.
func keepUnlistedParent(sp *model.SubvolumePlan, loc string, h *model.History, target string, failed bool) {
	last := h.LastSend
	if last == nil || last.Action == nil {
		return
	}
	state := "is unreachable"
	if failed {
		state = "cannot be listed"
	}
	why := "parent of the next send to " + target + ", which " + state
	if keepOffsiteParent(sp, loc, last.Action.Snapshot, why) {
		sp.Warnings = append(sp.Warnings, fmt.Sprintf("%s on %s is kept: %s (sent there %s)",
			last.Action.Snapshot, loc, why, last.Time.Format("2006-01-02 15:04")))
	}
}
