package btrfs

import (
	"github.com/drsync/drsync/internal/treecount"
	"github.com/drsync/drsync/reconcile"
)

var _ reconcile.SourceInspector = Storage{}

// InspectSource reads the source subvolume's identity and counts its
// entries and reference's (up to reconcile.HealthLimit).
func (Storage) InspectSource(source, reference string) (reconcile.SourceHealth, error) {
	var h reconcile.SourceHealth
	sv, err := Info(source)
	if err != nil {
		return h, err
	}
	h.UUID, h.ParentUUID = sv.UUID, sv.ParentUUID
	return h, countHealth(&h, source, reference)
}

func countHealth(h *reconcile.SourceHealth, source, reference string) error {
	var err error
	if h.Entries, err = treecount.Entries(source, reconcile.HealthLimit); err != nil || reference == "" {
		return err
	}
	h.ReferenceEntries, err = treecount.Entries(reference, reconcile.HealthLimit)
	return err
}
