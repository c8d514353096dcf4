package planner

import (
	"fmt"

	"github.com/drsync/drsync/reconcile/model"
)

// interruptedReceive reports whether a writable or UUID-less replica is
// provably what a died apply left: the journal shows a send of exactly that
// snapshot to that location started and never finished, and the local
// snapshot to send again still exists. Only then is deleting it a repair;
// anything else is someone's modified copy (an administrator who made an
// old replica writable to copy files out) and is reported, never deleted.
func interruptedReceive(o *model.Observed, subvol, location string, replica model.Snapshot, local []model.Snapshot) bool {
	if !model.HasName(local, replica.Name) {
		return false
	}
	for _, e := range o.Interrupted {
		a := e.Action
		if a != nil && a.Kind == model.KindSend && (a.Send == nil || !a.Send.Archive) && a.Subvolume == subvol &&
			a.Location == location && a.Snapshot == replica.Name {
			return true
		}
	}
	return false
}

// modifiedWarning says why a replica that is not a trustworthy copy is
// left alone.
func modifiedWarning(location string, r model.Snapshot) string {
	return fmt.Sprintf("replica %s on %s is modified (%s) and no interrupted send of it is journaled: left alone, not counted as a copy; delete it by hand once you have what you need from it",
		r.Name, location, halfReason(r))
}
