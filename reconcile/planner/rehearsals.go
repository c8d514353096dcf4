package planner

import (
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/render/view"
)

// rehearsalEvidence is what the runbooks and metrics say of each
// runbook's rehearsals (drsync rehearse).
func rehearsalEvidence(o *model.Observed) map[string]view.RehearsalEvidence {
	out := map[string]view.RehearsalEvidence{}
	for id, l := range o.Rehearsals {
		e := view.RehearsalEvidence{Time: l.Last.Started, Passed: l.Last.Passed, Duration: l.Last.Duration(), Bytes: l.Last.Bytes}
		if l.LastSuccess != nil {
			e.LastSuccess = l.LastSuccess.Started
		}
		out[id] = e
	}
	return out
}
