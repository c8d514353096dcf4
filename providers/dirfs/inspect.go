package dirfs

import "github.com/drsync/drsync/reconcile/model"

var _ model.SourceInspector = Storage{}

// InspectSource counts the source's entries and bytes and reference's (up
// to model.HealthLimit); plain directories have no identity to compare.
func (Storage) InspectSource(source, reference string) (model.SourceHealth, error) {
	var h model.SourceHealth
	err := model.CountHealth(&h, source, reference)
	return h, err
}
