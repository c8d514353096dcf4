package reconcile

import (
	"github.com/drsync/drsync/rehearse/evidence"
	"github.com/drsync/drsync/render"
	"github.com/drsync/drsync/schema"
)

// observeRehearsals reads the runbooks' rehearsals journaled in the state
// directory (drsync rehearse); an unreadable line is a journal warning.
func observeRehearsals(d *schema.Desired, o *Observed) error {
	latest, warnings, err := evidence.Load(d.StateDir)
	if err != nil {
		return err
	}
	o.JournalMalformed = append(o.JournalMalformed, warnings...)
	if len(latest) > 0 {
		o.Rehearsals = latest
	}
	return nil
}

// rehearsalEvidence is what the runbooks and metrics say of each
// runbook's rehearsals.
func rehearsalEvidence(o *Observed) map[string]render.RehearsalEvidence {
	out := map[string]render.RehearsalEvidence{}
	for id, l := range o.Rehearsals {
		e := render.RehearsalEvidence{Time: l.Last.Started, Passed: l.Last.Passed, Duration: l.Last.Duration(), Bytes: l.Last.Bytes}
		if l.LastSuccess != nil {
			e.LastSuccess = l.LastSuccess.Started
		}
		out[id] = e
	}
	return out
}
