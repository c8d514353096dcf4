package reconcile

import (
	"path/filepath"

	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/schema"
)

// observeCoverage counts the slices of the newest local snapshot and
// replica of each subvolume whose tier declares coverage, with the
// generations its proofs on record were made at. A run counts again after
// applying, so the evidence it renders includes its own snapshots and
// tests.
func observeCoverage(d *schema.Desired, st model.Storage, o *model.Observed) {
	counter, ok := st.(model.SliceCounter)
	if !ok {
		return
	}
	for _, name := range d.SubvolumeNames() {
		s, ss := d.Subvolumes[name], o.Subvolumes[name]
		n := d.Tiers[s.Tier].RestoreTest.Slices()
		if n == 0 || ss == nil {
			continue
		}
		ss.Coverage = nil
		var h model.History
		if hp := o.History[name]; hp != nil {
			h = *hp
		}
		copies := []copyAt{{s.Snapshots.Location, false, ss.Local}}
		if s.External != nil {
			copies = append(copies, copyAt{s.External.Location, true, model.Replicas(ss.External)})
		}
		for _, c := range copies {
			if len(c.snaps) == 0 {
				continue
			}
			newest := c.snaps[len(c.snaps)-1].Name
			cs := model.CopySlices{Location: c.loc, External: c.external, Snapshot: newest}
			path := filepath.Join(d.SnapshotDir(c.loc, name), newest)
			var err error
			if cs.Slices, err = counter.CountSlices(path, n, model.SinceGenerations(h.Coverage[c.loc], n)); err != nil {
				cs.Error = err.Error()
			}
			ss.Coverage = append(ss.Coverage, cs)
		}
	}
}

// copyAt is one copy of a subvolume: its location and snapshots there.
type copyAt struct {
	loc      string
	external bool
	snaps    []model.Snapshot
}
