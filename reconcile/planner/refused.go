package planner

import (
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/schema"
)

// refusedPlan is the plan of a subvolume whose snapshot directory failed
// confinement: warnings only, so nothing there is created, sent, tested or
// deleted until a person looks.
func refusedPlan(s *schema.Subvolume, st *model.SubvolumeState) model.SubvolumePlan {
	sp := model.SubvolumePlan{Name: s.Name, Tier: s.Tier, Foreign: st.Foreign}
	for _, r := range st.Refused {
		sp.Warnings = append(sp.Warnings, r+": nothing of "+s.Name+" is touched until this is fixed")
	}
	return sp
}
