package planner

import "github.com/drsync/drsync/reconcile/model"

// keepOffsiteParent withdraws the local prune of the snapshot the next
// send to an off-site target is incremental from: pruning it would turn
// that send into a full one (for a weekly S3 chain, the whole subvolume
// again). The drive's parent is protected the same way (protections).
func keepOffsiteParent(sp *model.SubvolumePlan, loc, name, target string) {
	if name == "" {
		return
	}
	why := "parent of the next incremental send to " + target
	kept := sp.Actions[:0]
	for _, a := range sp.Actions {
		if a.Kind == model.KindPrune && a.Location == loc && a.Snapshot == name {
			continue
		}
		kept = append(kept, a)
	}
	sp.Actions = kept
	for i, n := range sp.Retention {
		if n.Location == loc && n.Snapshot == name && !n.Keep {
			sp.Retention[i].Keep = true
			sp.Retention[i].Reason = "kept as the " + why + " (retention alone would prune it: " + n.Reason + ")"
		}
	}
}
