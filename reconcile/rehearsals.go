package reconcile

import (
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/rehearse/evidence"
	"github.com/drsync/drsync/schema"
)

// observeRehearsals reads the runbooks' rehearsals journaled in the state
// directory (drsync rehearse); an unreadable line is a journal warning.
func observeRehearsals(d *schema.Desired, o *model.Observed) error {
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
