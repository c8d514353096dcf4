package dirfs

import (
	"github.com/drsync/drsync/internal/treecount"
	"github.com/drsync/drsync/reconcile/model"
)

var _ model.SourceInspector = Storage{}

// InspectSource counts the source's entries and reference's (up to
// model.HealthLimit); plain directories have no identity to compare.
func (Storage) InspectSource(source, reference string) (model.SourceHealth, error) {
	var h model.SourceHealth
	var err error
	if h.Entries, err = treecount.Entries(source, model.HealthLimit); err != nil || reference == "" {
		return h, err
	}
	h.ReferenceEntries, err = treecount.Entries(reference, model.HealthLimit)
	return h, err
}
