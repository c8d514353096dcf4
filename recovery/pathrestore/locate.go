package pathrestore

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/drsync/drsync/internal/shellwords"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/schema"
)

// Found is every copy of a path in one subvolume's snapshots.
type Found struct {
	Subvolume string `json:"subvolume"`
	Path      string `json:"path"`
	Copies    []Copy `json:"copies"`
}

// FindAll is drsync find: per subvolume holding path (by name), every
// local snapshot and replica that holds it; subvolumes with none are left out.
func FindAll(d *schema.Desired, obs *model.Observed, path string) ([]Found, error) {
	targets, err := Resolve(sourcesOf(d), path)
	if err != nil {
		return nil, err
	}
	var all []Found
	for _, name := range slices.Sorted(maps.Keys(targets)) {
		copies, err := Find(snapshotsOf(d, obs, name), targets[name])
		if err != nil {
			return nil, err
		}
		if len(copies) > 0 {
			all = append(all, Found{name, targets[name], copies})
		}
	}
	return all, nil
}

// Choice is what drsync restore restores: Rel inside Snapshot, to Dest.
type Choice struct {
	Snapshot Snapshot
	Rel      string
	Dest     string
}

// Choose picks the snapshot named from (the local copy before the
// replica) that holds path, and the destination: beside the original as
// PATH.restored-TIME, or in the directory to when given.
func Choose(d *schema.Desired, obs *model.Observed, path, from, to string, now time.Time) (Choice, error) {
	targets, err := Resolve(sourcesOf(d), path)
	if err != nil {
		return Choice{}, err
	}
	subvol := from[:max(strings.LastIndex(from, "."), 0)]
	rel, ok := targets[subvol]
	if !ok || d.Subvolumes[subvol] == nil {
		return Choice{}, fmt.Errorf("--from %s: not a snapshot of a subvolume holding %s", from, path)
	}
	var snap *Snapshot
	for _, s := range snapshotsOf(d, obs, subvol) {
		if s.Name == from && (snap == nil || !d.Locations[s.Location].External) {
			snap = &s
		}
	}
	if snap == nil {
		return Choice{}, fmt.Errorf("--from %s: no such snapshot (see drsync find %s)", from, shellwords.Quote(path))
	}
	dest := filepath.Join(d.Subvolumes[subvol].Source, filepath.FromSlash(rel)) + ".restored-" + now.Format("20060102T150405")
	if to != "" {
		dest = filepath.Join(to, filepath.Base(rel))
	}
	return Choice{Snapshot: *snap, Rel: rel, Dest: dest}, nil
}

func sourcesOf(d *schema.Desired) map[string]string {
	sources := map[string]string{}
	for name, s := range d.Subvolumes {
		sources[name] = s.Source
	}
	return sources
}

// snapshotsOf are the local snapshots and the replicas of subvolume name.
func snapshotsOf(d *schema.Desired, obs *model.Observed, name string) []Snapshot {
	s, st := d.Subvolumes[name], obs.Subvolumes[name]
	var out []Snapshot
	for _, l := range st.Local {
		out = append(out, Snapshot{Name: l.Name, Location: s.Snapshots.Location, Time: l.Time,
			Path: filepath.Join(d.SnapshotDir(s.Snapshots.Location, name), l.Name)})
	}
	if s.External != nil {
		for _, r := range model.Replicas(st.External) {
			out = append(out, Snapshot{Name: r.Name, Location: s.External.Location, Time: r.Time,
				Path: filepath.Join(d.SnapshotDir(s.External.Location, name), r.Name)})
		}
	}
	return out
}
