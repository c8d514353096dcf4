package planner

import (
	"fmt"

	"github.com/drsync/drsync/reconcile/model"
)

// planDisasters adds to a subvolume's plan what a person must know about a
// missing, wiped or replaced source: how to recover it, and that every
// prune (local and drive) waits until it is recovered or accepted.
// Nothing is ever recovered automatically.
func planDisasters(sp *model.SubvolumePlan, st *model.SubvolumeState, h *model.History) {
	if st.SourceMissing {
		verified := "no verified copy"
		if h != nil && h.Verified != nil {
			verified = fmt.Sprintf("newest verified: %s, verified %s", h.Verified.Snapshot, h.Verified.Started.Format("2006-01-02 15:04"))
		}
		sp.Warnings = append(sp.Warnings, fmt.Sprintf("source missing: recover with drsync recover %s (%s)", sp.Name, verified))
		return
	}
	why := st.Disaster()
	if why == "" || (h != nil && h.AcceptedAgainst != "" && st.Health != nil && h.AcceptedAgainst == st.Health.Reference) {
		return
	}
	held := holdPrunes(sp)
	msg := fmt.Sprintf("source looks destroyed: %s. Every prune of %s (local and drive) waits", why, sp.Name)
	if held > 0 {
		msg += fmt.Sprintf(" (%d held back)", held)
	}
	sp.Warnings = append(sp.Warnings, msg+fmt.Sprintf(": recover with drsync recover %s, or accept the source as it is with drsync recover %s --accept-source",
		sp.Name, sp.Name))
}

// holdPrunes drops every prune of a subvolume's plan and counts them: a
// source that looks destroyed and a snapshot that looks wrong hold them
// the same way.
func holdPrunes(sp *model.SubvolumePlan) int {
	kept := sp.Actions[:0]
	held := 0
	for _, a := range sp.Actions {
		if a.Kind == model.KindPrune {
			held++
			continue
		}
		kept = append(kept, a)
	}
	sp.Actions = kept
	return held
}

// CommonParent is the local snapshot the next incremental send of a
// subvolume would start from ("" when the next send is a full one).
func CommonParent(local, ext []model.Snapshot) string {
	parent, _ := commonParent(local, model.Replicas(ext), nil)
	return parent
}
