package reconcile

import (
	"os"
	"path/filepath"

	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/schema"
	"github.com/drsync/drsync/verify/coverage"
)

// observeCoverage counts the slices of the newest local snapshot and
// replica of each subvolume whose tier declares coverage, with the
// generations its proofs on record were made at, and sizes the archive
// copies of covered services. A run counts again after
// applying, so the evidence it renders includes its own snapshots and
// tests.
func observeCoverage(d *schema.Desired, st model.Storage, o *model.Observed) {
	observeArchiveCoverage(d, o)
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

// observeArchiveCoverage sizes the newest archive of the copy of each
// service whose tier declares coverage that its restore tests read: the
// copy on the drive when one is declared (the copy a disaster leaves),
// else the local archives. A test verifies an archive whole, so the copy
// is one slice of one file; a copy's older archives were proven, if at
// all, when they were the newest. The size comes from lstat: archives
// are drsync's own files in its own directories.
func observeArchiveCoverage(d *schema.Desired, o *model.Observed) {
	for _, name := range d.ServiceNames() {
		svc, ss := d.Services[name], o.Services[name]
		if d.Tiers[svc.Tier].RestoreTest.Coverage == nil || ss == nil {
			continue
		}
		c := copyAt{svc.Location, false, ss.Archives}
		dir := d.ArchiveDir(svc)
		if svc.External != nil {
			c, dir = copyAt{svc.External.Location, true, ss.External}, d.ArchiveCopyDir(svc)
		}
		ss.Coverage = nil
		if len(c.snaps) == 0 {
			continue
		}
		newest := c.snaps[len(c.snaps)-1].Name
		cs := model.CopySlices{Location: c.loc, External: c.external, Snapshot: newest}
		if fi, err := os.Lstat(filepath.Join(dir, newest)); err != nil {
			cs.Error = err.Error()
		} else {
			cs.Slices = []coverage.SliceCount{{Files: 1, Bytes: fi.Size()}}
		}
		ss.Coverage = append(ss.Coverage, cs)
	}
}

// copyAt is one copy of a subvolume: its location and snapshots there.
type copyAt struct {
	loc      string
	external bool
	snaps    []model.Snapshot
}
