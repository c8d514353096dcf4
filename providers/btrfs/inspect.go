package btrfs

import "github.com/drsync/drsync/reconcile/model/health"

var _ health.Inspector = Storage{}

// InspectSource reads the source subvolume's identity and counts its
// entries and bytes and reference's (up to health.Limit).
func (Storage) InspectSource(source, reference string) (health.Source, error) {
	var h health.Source
	sv, err := Info(source)
	if err != nil {
		return h, err
	}
	h.UUID, h.ParentUUID = sv.UUID, sv.ParentUUID
	err = health.Count(&h, source, reference)
	return h, err
}
