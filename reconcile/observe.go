package reconcile

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/drsync/drsync/render"
	"github.com/drsync/drsync/schema"
	"github.com/drsync/drsync/snapname"
)

// Observe reads the machine through env: drives, snapshots and replicas of
// every declared subvolume, archives of every service, the journal and the
// generated files. Names are read in loc. It starts no process per
// snapshot: one directory listing per snapshot directory.
func Observe(d *schema.Desired, env Env, loc *time.Location) (*Observed, error) {
	st, j := env.Storage, env.Journal
	o := &Observed{Drives: map[string]Drive{}, Subvolumes: map[string]*SubvolumeState{}}
	for name, l := range d.Locations {
		if l.External {
			o.Drives[name] = st.Probe(l)
		}
	}
	for _, name := range d.SubvolumeNames() {
		s := d.Subvolumes[name]
		ss := &SubvolumeState{}
		if err := st.CheckSource(s.Source); err != nil {
			ss.SourceError, ss.SourceMissing = err.Error(), errors.Is(err, fs.ErrNotExist)
		}
		var err error
		dir := d.SnapshotDir(s.Snapshots.Location, name)
		if confineObserved(d, st, s.Snapshots.Location, dir, ss) {
			if ss.Local, err = readSnapshots(d, st, dir, name, loc, false, ss); err != nil {
				return nil, err
			}
		}
		if s.External != nil && o.Drives[s.External.Location].Present {
			dir := d.SnapshotDir(s.External.Location, name)
			if confineObserved(d, st, s.External.Location, dir, ss) {
				if ss.External, err = readSnapshots(d, st, dir, name, loc, true, ss); err != nil {
					return nil, err
				}
			}
		}
		ss.Health = inspectSource(st, s.Source, dir, externalDir(d, s), ss)
		o.Subvolumes[name] = ss
	}
	if err := observeServices(d, env.Services, loc, o); err != nil {
		return nil, err
	}
	observeOffsite(d, env.Targets, o)
	if j != nil {
		f, err := j.load()
		if err != nil {
			return nil, err
		}
		o.journal = f
		o.takeSummary()
		o.JournalMalformed = f.s.Malformed
	}
	observeCoverage(d, st, o)
	var paths []string
	for _, p := range render.Paths(d) {
		if p != d.Generate.Metrics { // rewritten after every run, not planned
			paths = append(paths, p)
		}
	}
	var err error
	if o.Files, o.RefusedFiles, err = observeFiles(paths); err != nil {
		return nil, err
	}
	return o, nil
}

// readSnapshots keeps the entries named like snapshots of subvol that are
// subvolumes; everything else is foreign and recorded as such. Writable
// subvolumes count as snapshots only on a receive target (where writable
// means half-received); locally they are someone else's and left alone.
func readSnapshots(d *schema.Desired, st Storage, dir, subvol string, loc *time.Location, receiveTarget bool, ss *SubvolumeState) ([]Snapshot, error) {
	entries, err := st.List(dir)
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", dir, err)
	}
	var snaps []Snapshot
	for _, e := range entries {
		stamp, ok := snapname.Parse(subvol, e.Name, loc)
		if !ok && ofAnother(d, subvol, e.Name, loc) {
			continue // a flat directory shared with another declared subvolume
		}
		if !ok || !e.Subvolume || (!e.ReadOnly && !receiveTarget) {
			ss.Foreign = append(ss.Foreign, dir+"/"+e.Name)
			continue
		}
		snaps = append(snaps, Snapshot{Name: e.Name, Time: stamp.Time, HasTime: stamp.HasTime, Seq: stamp.Seq,
			UUID: e.UUID, ParentUUID: e.ParentUUID, ReceivedUUID: e.ReceivedUUID, ReadOnly: e.ReadOnly})
	}
	sortSnapshots(snaps)
	return snaps, nil
}

// ArchiveSuffix ends every service archive's name.
const ArchiveSuffix = ".tar.gz"

func observeServices(d *schema.Desired, store ServiceStore, loc *time.Location, o *Observed) error {
	if store == nil || len(d.Services) == 0 {
		return nil
	}
	o.Services = map[string]*ServiceState{}
	for _, name := range d.ServiceNames() {
		svc := d.Services[name]
		dir := d.ArchiveDir(svc)
		entries, err := store.ListArchives(dir)
		if err != nil {
			return fmt.Errorf("listing %s: %w", dir, err)
		}
		ss := &ServiceState{}
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
func readArchives(name, dir string, entries []ArchiveEntry, loc *time.Location, ss *ServiceState) []Snapshot {
	var out []Snapshot
	for _, e := range entries {
		stamp, ok := snapname.Parse(name, strings.TrimSuffix(e.Name, ArchiveSuffix), loc)
		switch {
		case !ok || !strings.HasSuffix(e.Name, ArchiveSuffix):
			ss.Foreign = append(ss.Foreign, dir+"/"+e.Name)
		case !e.HasChecksum:
			ss.Unchecked = append(ss.Unchecked, dir+"/"+e.Name)
		default:
			out = append(out, Snapshot{Name: e.Name, Time: stamp.Time, HasTime: stamp.HasTime, Seq: stamp.Seq, ReadOnly: true})
		}
	}
	sortSnapshots(out)
	return out
}
