package reconcile

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"time"

	"github.com/drsync/drsync/internal/parallel"
	"github.com/drsync/drsync/reconcile/evidence"
	"github.com/drsync/drsync/reconcile/guard"
	"github.com/drsync/drsync/reconcile/journal"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/render"
	"github.com/drsync/drsync/schema"
	"github.com/drsync/drsync/snapname"
)

// Observe reads the machine through env: drives, snapshots and replicas of
// every declared subvolume, archives of every service, the journal and the
// generated files. Names are read in loc. It starts no process per
// snapshot: one directory listing per snapshot directory.
func Observe(d *schema.Desired, env Env, loc *time.Location) (*model.Observed, error) {
	o, _, err := observe(d, env, loc)
	return o, err
}

// observe is Observe that also returns the fold of the journal it read
// (nil without a journal), into which a run folds its own entries.
func observe(d *schema.Desired, env Env, loc *time.Location) (*model.Observed, *journal.Fold, error) {
	st, j := env.Storage, env.Journal
	o := &model.Observed{Drives: map[string]model.Drive{}, Subvolumes: map[string]*model.SubvolumeState{}}
	for name, l := range d.Locations {
		if l.External {
			o.Drives[name] = st.Probe(l)
		}
	}
	// Subvolumes are read on all CPUs (their listings are mostly kernel
	// work) while the journal is loaded.
	var fold *journal.Fold
	var foldErr error
	var loaded sync.WaitGroup
	if j != nil {
		loaded.Go(func() { fold, foldErr = j.Load() })
	}
	names := d.SubvolumeNames()
	states := make([]*model.SubvolumeState, len(names))
	err := parallel.Each(len(names), func(i int) (err error) {
		states[i], err = observeSubvolume(d, st, names[i], o.Drives, loc)
		return err
	})
	loaded.Wait()
	if err != nil {
		return nil, nil, err
	}
	if foldErr != nil {
		return nil, nil, foldErr
	}
	for i, name := range names {
		o.Subvolumes[name] = states[i]
	}
	if err := observeServices(d, env.Services, loc, o); err != nil {
		return nil, nil, err
	}
	observeOffsite(d, env.Targets, o)
	if fold != nil {
		takeSummary(o, fold)
		o.JournalMalformed = fold.Summary().Malformed
	}
	observeCoverage(d, st, o)
	if err := observeRehearsals(d, o); err != nil {
		return nil, nil, err
	}
	var paths []string
	for _, p := range render.Paths(d) {
		if p != d.Generate.Metrics { // rewritten after every run, not planned
			paths = append(paths, p)
		}
	}
	if o.Files, o.RefusedFiles, err = evidence.ReadFiles(paths); err != nil {
		return nil, nil, err
	}
	return o, fold, nil
}

// observeSubvolume reads one declared subvolume: its source, its
// snapshots and, with its drive present, its replicas.
func observeSubvolume(d *schema.Desired, st model.Storage, name string, drives map[string]model.Drive, loc *time.Location) (*model.SubvolumeState, error) {
	s := d.Subvolumes[name]
	ss := &model.SubvolumeState{}
	if err := st.CheckSource(s.Source); err != nil {
		ss.SourceError, ss.SourceMissing = err.Error(), errors.Is(err, fs.ErrNotExist)
	}
	var err error
	dir := d.SnapshotDir(s.Snapshots.Location, name)
	if guard.ObservedDir(d, st, s.Snapshots.Location, dir, ss) {
		if ss.Local, err = readSnapshots(d, st, dir, name, loc, false, ss); err != nil {
			return nil, err
		}
	}
	if s.External != nil && drives[s.External.Location].Present {
		dir := d.SnapshotDir(s.External.Location, name)
		if guard.ObservedDir(d, st, s.External.Location, dir, ss) {
			if ss.External, err = readSnapshots(d, st, dir, name, loc, true, ss); err != nil {
				return nil, err
			}
		}
	}
	ss.Health = inspectSource(st, s.Source, dir, externalDir(d, s), ss)
	return ss, nil
}

// readSnapshots keeps the entries named like snapshots of subvol that are
// subvolumes; everything else is foreign and recorded as such. Writable
// subvolumes count as snapshots only on a receive target (where writable
// means half-received); locally they are someone else's and left alone.
func readSnapshots(d *schema.Desired, st model.Storage, dir, subvol string, loc *time.Location, receiveTarget bool, ss *model.SubvolumeState) ([]model.Snapshot, error) {
	entries, err := st.List(dir)
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", dir, err)
	}
	snaps := make([]model.Snapshot, 0, len(entries))
	for _, e := range entries {
		stamp, ok := snapname.Parse(subvol, e.Name, loc)
		if !ok && ofAnother(d, subvol, e.Name, loc) {
			continue // a flat directory shared with another declared subvolume
		}
		if !ok || !e.Subvolume || (!e.ReadOnly && !receiveTarget) {
			ss.Foreign = append(ss.Foreign, dir+"/"+e.Name)
			continue
		}
		snaps = append(snaps, model.Snapshot{Name: e.Name, Time: stamp.Time, HasTime: stamp.HasTime, Seq: stamp.Seq,
			UUID: e.UUID, ParentUUID: e.ParentUUID, ReceivedUUID: e.ReceivedUUID, ReadOnly: e.ReadOnly})
	}
	model.SortSnapshots(snaps)
	return snaps, nil
}

func observeServices(d *schema.Desired, store model.ServiceStore, loc *time.Location, o *model.Observed) error {
	if store == nil || len(d.Services) == 0 {
		return nil
	}
	o.Services = map[string]*model.ServiceState{}
	for _, name := range d.ServiceNames() {
		svc := d.Services[name]
		dir := d.ArchiveDir(svc)
		entries, err := store.ListArchives(dir)
		if err != nil {
			return fmt.Errorf("listing %s: %w", dir, err)
		}
		ss := &model.ServiceState{}
		ss.Archives = readArchives(name, dir, entries, loc, ss)
		if svc.External != nil && o.Drives[svc.External.Location].Present {
			extDir := d.ArchiveCopyDir(svc)
			entries, err := store.ListArchives(extDir)
			if err != nil {
				return fmt.Errorf("listing %s: %w", extDir, err)
			}
			ss.External = readArchives(name, extDir, entries, loc, ss)
		}
		o.Services[name] = ss
	}
	return nil
}

// ofAnother reports whether entry is named like a snapshot of another
// declared subvolume.
func ofAnother(d *schema.Desired, subvol, entry string, loc *time.Location) bool {
	for name := range d.Subvolumes {
		if name != subvol {
			if _, ok := snapname.Parse(name, entry, loc); ok {
				return true
			}
		}
	}
	return false
}

// readArchives keeps the checksummed archives named like the service's;
// the rest is recorded as foreign or unchecked and left alone.
func readArchives(name, dir string, entries []model.ArchiveEntry, loc *time.Location, ss *model.ServiceState) []model.Snapshot {
	var out []model.Snapshot
	for _, e := range entries {
		stamp, ok := snapname.Parse(name, strings.TrimSuffix(e.Name, model.ArchiveSuffix), loc)
		switch {
		case !ok || !strings.HasSuffix(e.Name, model.ArchiveSuffix):
			ss.Foreign = append(ss.Foreign, dir+"/"+e.Name)
		case !e.HasChecksum:
			ss.Unchecked = append(ss.Unchecked, dir+"/"+e.Name)
		default:
			out = append(out, model.Snapshot{Name: e.Name, Time: stamp.Time, HasTime: stamp.HasTime, Seq: stamp.Seq, ReadOnly: true})
		}
	}
	model.SortSnapshots(out)
	return out
}
