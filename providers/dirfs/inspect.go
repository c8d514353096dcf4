package dirfs

import "github.com/drsync/drsync/reconcile/model/health"

var _ health.Inspector = Storage{}

// InspectSource counts the source's entries and bytes and reference's (up
// to health.Limit); plain directories have no identity to compare.
func (Storage) InspectSource(source, reference string) (health.Source, error) {
	var h health.Source
	err := health.Count(&h, source, reference)
	return h, err
}
