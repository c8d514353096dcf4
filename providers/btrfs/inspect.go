package btrfs

import (
	"github.com/drsync/drsync/internal/treecount"
	"github.com/drsync/drsync/reconcile/model"
)

var _ model.SourceInspector = Storage{}

// InspectSource reads the source subvolume's identity and counts its
// entries and reference's (up to model.HealthLimit).
func (Storage) InspectSource(source, reference string) (model.SourceHealth, error) {
	var h model.SourceHealth
	sv, err := Info(source)
	if err != nil {
		return h, err
	}
	h.UUID, h.ParentUUID = sv.UUID, sv.ParentUUID
	return h, countHealth(&h, source, reference)
}

func countHealth(h *model.SourceHealth, source, reference string) error {
	var err error
	if h.Entries, err = treecount.Entries(source, model.HealthLimit); err != nil || reference == "" {
		return err
	}
	h.ReferenceEntries, err = treecount.Entries(reference, model.HealthLimit)
	return err
}
