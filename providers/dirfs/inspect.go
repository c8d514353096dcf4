package dirfs

import (
	"github.com/drsync/drsync/internal/treecount"
	"github.com/drsync/drsync/reconcile"
)

var _ reconcile.SourceInspector = Storage{}

// InspectSource counts the source's entries and reference's (up to
// reconcile.HealthLimit); plain directories have no identity to compare.
func (Storage) InspectSource(source, reference string) (reconcile.SourceHealth, error) {
	var h reconcile.SourceHealth
	var err error
	if h.Entries, err = treecount.Entries(source, reconcile.HealthLimit); err != nil || reference == "" {
		return h, err
	}
	h.ReferenceEntries, err = treecount.Entries(reference, reconcile.HealthLimit)
	return h, err
}
