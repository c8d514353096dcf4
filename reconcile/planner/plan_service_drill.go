package planner

import (
	"time"

	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/reconcile/planner/rules"
	"github.com/drsync/drsync/schema"
)

// planServiceDrill adds the drill of a service whose tier declares drills,
// at the tier's cadence, like a subvolume's: the newest archive (its copy
// on the drive when the drive holds one) restored into staging and the
// service brought up on it, timed against the tier's RTO.
func planServiceDrill(sp *model.SubvolumePlan, d *schema.Desired, svc *schema.Service, h *model.History, archives, copies []model.Snapshot, now time.Time) {
	tier := d.Tiers[svc.Tier]
	if tier.Drill == nil || len(archives) == 0 {
		return
	}
	if why, due := rules.ProofDue("drill", h.LastPassedDrill, h.LastDrill, nil, tier.Drill.Every.Duration, now); due {
		drill := archiveDrill(d, svc, archives[len(archives)-1], copies)
		drill.Because(model.Reason{Code: model.BecauseProofDue, Tier: svc.Tier, Proof: why})
		sp.Actions = append(sp.Actions, drill)
	}
}

// archiveDrill is the drill of the archive archiveTest would test.
func archiveDrill(d *schema.Desired, svc *schema.Service, newest model.Snapshot, copies []model.Snapshot) model.Action {
	a := archiveTest(d, svc, newest, copies)
	a.Kind = model.KindDrill
	a.Proof.RTOTarget = d.Tiers[svc.Tier].RTO
	return a
}
