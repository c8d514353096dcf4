package btrfs

import "github.com/drsync/drsync/reconcile/model"

var _ model.SourceInspector = Storage{}

// InspectSource reads the source subvolume's identity and counts its
// entries and bytes and reference's (up to model.HealthLimit).
func (Storage) InspectSource(source, reference string) (model.SourceHealth, error) {
	var h model.SourceHealth
	sv, err := Info(source)
	if err != nil {
		return h, err
	}
	h.UUID, h.ParentUUID = sv.UUID, sv.ParentUUID
	err = model.CountHealth(&h, source, reference)
	return h, err
}
