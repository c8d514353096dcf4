package planner

import (
	"fmt"

	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/schema"
)

// planShrink warns when a subvolume's newest snapshot holds much less
// than the one before it, or the source many fewer bytes than its newest
// snapshot (the tier's shrink.warnBelow; see health.Source.Shrunk), and below
// shrink.holdBelow holds every prune as a destroyed source does, until a
// person accepts the source (drsync recover --accept-source) or a newer
// snapshot no longer looks wrong. A source that already looks destroyed
// has said all of this.
func planShrink(sp *model.SubvolumePlan, st *model.SubvolumeState, h *model.History, sh schema.Shrink) {
	if st == nil || st.SourceMissing || st.Disaster() != "" {
		return
	}
	if h != nil && h.AcceptedAgainst != "" && st.Health != nil && h.AcceptedAgainst == st.Health.Reference {
		return
	}
	if sh.HoldBelow != nil {
		if why := st.Health.Shrunk(*sh.HoldBelow); why != "" {
			held := holdPrunes(sp)
			sp.Shrink = model.ShrinkHold
			sp.Warnings = append(sp.Warnings, fmt.Sprintf("snapshot looks wrong: %s. Every prune of %s (local and drive) waits (%d held back): check the source, then accept it with drsync recover %s --accept-source",
				why, sp.Name, held, sp.Name))
			return
		}
	}
	if why := st.Health.Shrunk(sh.WarnBelow); why != "" {
		sp.Shrink = model.ShrinkWarn
		sp.Warnings = append(sp.Warnings, "snapshot looks wrong: "+why+"; is the source mounted?")
	}
}
