package schema

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"cuelang.org/go/cue"

	"github.com/drsync/drsync/schema/diag"
)

// clean normalises paths so "\(root)/" and "/x//y" compare as paths.
func (d *Desired) clean() {
	d.StateDir = filepath.Clean(d.StateDir)
	d.Restore.Scratch = filepath.Clean(d.Restore.Scratch)
	for name, l := range d.Locations {
		l.Path = filepath.Clean(l.Path)
		if l.Mount != "" {
			l.Mount = filepath.Clean(l.Mount)
		}
		d.Locations[name] = l
	}
	for _, s := range d.Subvolumes {
		s.Source = filepath.Clean(s.Source)
	}
	for _, s := range d.Services {
		if s.DataDir != "" {
			s.DataDir = filepath.Clean(s.DataDir)
		}
		if s.Database != "" {
			s.Database = filepath.Clean(s.Database)
		}
		for i, p := range s.Paths {
			s.Paths[i] = filepath.Clean(p)
		}
	}
}

// references checks what CUE's types cannot: that every tier and location
// a subvolume or service names is declared, and of the right kind. It reads
// the CUE value itself, so it also runs when CUE found other errors, and a
// person sees every problem in one pass.
func references(v, user cue.Value) []Problem {
	var probs []Problem
	at := func(path ...string) cue.Path {
		sel := make([]cue.Selector, len(path))
		for i, p := range path {
			sel[i] = cue.Str(p)
		}
		return cue.MakePath(sel...)
	}
	add := func(p cue.Path, format string, args ...any) {
		probs = append(probs, Problem{Pos: diag.PosIn(user, v, p), Path: p.String(), Message: fmt.Sprintf(format, args...)})
	}
	names := func(field string) map[string]cue.Value {
		out := map[string]cue.Value{}
		if it, err := v.LookupPath(at(field)).Fields(); err == nil {
			for it.Next() {
				out[it.Selector().Unquoted()] = it.Value()
			}
		}
		return out
	}
	tiers, locations := names("tiers"), names("locations")
	external := func(loc string) bool {
		b, _ := locations[loc].LookupPath(at("external")).Bool()
		return b
	}
	ref := func(p cue.Path) (string, bool) {
		s, err := v.LookupPath(p).String()
		return s, err == nil
	}
	tierNames := slices.Sorted(maps.Keys(tiers))
	locNames := slices.Sorted(maps.Keys(locations))
	checkTier := func(p cue.Path) {
		if t, ok := ref(p); ok {
			if _, known := tiers[t]; !known {
				add(p, "unknown tier %q (declared: %s)", t, diag.ListOr(tierNames))
			}
		}
	}
	checkLocation := func(p cue.Path, wantExternal bool, what string) {
		l, ok := ref(p)
		switch {
		case !ok:
		case locations[l] == (cue.Value{}):
			add(p, "unknown location %q (declared: %s)", l, diag.ListOr(locNames))
		case external(l) && !wantExternal:
			add(p, "location %q is external; %s", l, what)
		case !external(l) && wantExternal:
			add(p, "location %q is not external (set external: true on it)", l)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(names("subvolumes"))) {
		checkTier(at("subvolumes", name, "tier"))
		checkLocation(at("subvolumes", name, "snapshots", "location"), false, "local snapshots need a location on the source's filesystem")
		checkLocation(at("subvolumes", name, "external", "location"), true, "")
	}
	for _, name := range slices.Sorted(maps.Keys(names("services"))) {
		checkTier(at("services", name, "tier"))
		checkLocation(at("services", name, "location"), false, "archives go to a local location")
		checkLocation(at("services", name, "external", "location"), true, "")
	}
	return probs
}

// check finds what CUE's types cannot: paths that must not overlap.
func (d *Desired) check(v, user cue.Value) []Problem {
	var probs []Problem
	add := func(path []string, format string, args ...any) {
		sel := make([]cue.Selector, len(path))
		for i, p := range path {
			sel[i] = cue.Str(p)
		}
		p := cue.MakePath(sel...)
		probs = append(probs, Problem{Pos: diag.PosIn(user, v, p), Path: p.String(), Message: fmt.Sprintf(format, args...)})
	}
	sources := map[string]string{}
	for _, name := range d.SubvolumeNames() {
		s := d.Subvolumes[name]
		if other, dup := sources[s.Source]; dup {
			add([]string{"subvolumes", name, "source"}, "source %s is also the source of %q", s.Source, other)
		}
		sources[s.Source] = name
	}
	for _, name := range d.SubvolumeNames() {
		if src := d.Subvolumes[name].Source; within(d.Restore.Scratch, src) && src != "/" && d.Root+"/" != src+"/" {
			add([]string{"restore", "scratch"}, "scratch %s lies inside the source of %q: restores must never write into a source", d.Restore.Scratch, name)
		}
	}
	for _, name := range d.SubvolumeNames() {
		s := d.Subvolumes[name]
		if s.DrillTarget == "" {
			continue
		}
		for _, other := range d.SubvolumeNames() {
			src := d.Subvolumes[other].Source
			if within(s.DrillTarget, src) && src != "/" && d.Root+"/" != src+"/" {
				add([]string{"subvolumes", name, "drillTarget"}, "drill target %s lies inside the source of %q: a drill must never write into a source", s.DrillTarget, other)
			}
			for loc := range d.Locations {
				if dir := d.SnapshotDir(loc, other); within(s.DrillTarget, dir) {
					add([]string{"subvolumes", name, "drillTarget"}, "drill target %s lies inside the snapshot directory %s", s.DrillTarget, dir)
				}
			}
		}
		if within(s.DrillTarget, d.Restore.Scratch) {
			add([]string{"subvolumes", name, "drillTarget"}, "drill target %s lies inside the restore scratch", s.DrillTarget)
		}
	}
	for _, name := range d.ServiceNames() {
		if _, dup := d.Subvolumes[name]; dup {
			add([]string{"services", name}, "%q is also a subvolume: names are shared by metrics and the journal", name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(d.Locations)) {
		for _, other := range slices.Sorted(maps.Keys(d.Locations)) {
			if other < name && d.Locations[other].Path == d.Locations[name].Path {
				add([]string{"locations", name, "path"}, "path %s is also the path of location %q: each location needs a directory of its own", d.Locations[name].Path, other)
			}
		}
	}
	for _, w := range d.touchedPaths() {
		if d.Root != "" && !within(w.path, filepath.Clean(d.Root)) {
			add(w.at, "%s lies outside root %s: with a root (-t root=DIR) nothing may reach outside it", w.path, d.Root)
		}
	}
	for name, l := range d.Locations {
		if within(d.Restore.Scratch, l.Path) {
			add([]string{"restore", "scratch"}, "scratch %s lies inside the snapshot location %q", d.Restore.Scratch, name)
		}
		if l.External && !within(l.Path, l.Mount) {
			add([]string{"locations", name, "path"}, "path %s is not on the drive mounted at %s", l.Path, l.Mount)
		}
	}
	return probs
}

// touched is a path drsync reads, writes or snapshots, and the field that
// declares it.
type touched struct {
	path string
	at   []string
}

// touchedPaths lists every path drsync acts on: sources and service data, the
// locations and drives, the state, scratch and drill directories, and the
// enabled generated files. (The binary and desiredFile are only named in
// generated files.)
func (d *Desired) touchedPaths() []touched {
	out := []touched{
		{d.StateDir, []string{"stateDir"}},
		{d.Restore.Scratch, []string{"restore", "scratch"}},
	}
	g := d.Generate
	for _, f := range []struct {
		on         bool
		path, name string
	}{
		{g.Enabled.Metrics, g.Metrics, "metrics"},
		{g.Enabled.AlertRules, g.AlertRules, "alertRules"},
		{g.Enabled.AlertRules, g.AlertTests, "alertTests"},
		{g.Enabled.ScrapeConfig, g.ScrapeConfig, "scrapeConfig"},
		{g.Enabled.Dashboard, g.Dashboard, "dashboard"},
		{g.Enabled.Systemd, g.Systemd, "systemd"},
		{g.Enabled.Runbooks, g.Runbooks, "runbooks"},
	} {
		if f.on {
			out = append(out, touched{filepath.Clean(f.path), []string{"generate", f.name}})
		}
	}
	for _, name := range slices.Sorted(maps.Keys(d.Locations)) {
		l := d.Locations[name]
		out = append(out, touched{l.Path, []string{"locations", name, "path"}})
		if l.Mount != "" {
			out = append(out, touched{l.Mount, []string{"locations", name, "mount"}})
		}
	}
	for _, name := range d.SubvolumeNames() {
		s := d.Subvolumes[name]
		out = append(out, touched{s.Source, []string{"subvolumes", name, "source"}})
		if s.DrillTarget != "" {
			out = append(out, touched{filepath.Clean(s.DrillTarget), []string{"subvolumes", name, "drillTarget"}})
		}
	}
	for _, name := range d.ServiceNames() {
		s := d.Services[name]
		for field, p := range map[string]string{"dataDir": s.DataDir, "database": s.Database} {
			if p != "" {
				out = append(out, touched{p, []string{"services", name, field}})
			}
		}
		for _, p := range s.Paths {
			out = append(out, touched{p, []string{"services", name, "paths"}})
		}
	}
	return out
}

// within reports whether path is dir or lies below it.
func within(path, dir string) bool {
	return path == dir || strings.HasPrefix(path, strings.TrimSuffix(dir, "/")+"/")
}

// SubvolumeNames returns the declared subvolume names, sorted.
func (d *Desired) SubvolumeNames() []string {
	return slices.Sorted(maps.Keys(d.Subvolumes))
}

// Warnings are legal but risky choices, for validate and plan to show.
func (d *Desired) Warnings() []string {
	var out []string
	for _, name := range slices.Sorted(maps.Keys(d.Locations)) {
		if l := d.Locations[name]; l.External && l.UUID == "" {
			out = append(out, fmt.Sprintf("drive %s is not pinned by a filesystem uuid: any btrfs mounted at %s counts as it", name, l.Mount))
		}
	}
	// A schedule slower than the tier's RPO cannot meet it: the newest
	// copy that survives the machine (on the drive, if one is declared)
	// grows older than the target between two runs. A day of slack lets
	// "monthly" meet a 30-day RPO, as people mean it.
	for _, name := range d.SubvolumeNames() {
		s := d.Subvolumes[name]
		sched, where := s.Snapshots.Schedule, "snapshots"
		if s.External != nil {
			sched, where = s.External.Schedule, "replicas on "+s.External.Location
		}
		if rpo := d.Tiers[s.Tier].RPO.Duration; rpo > 0 && sched.Period() > rpo+24*time.Hour {
			out = append(out, fmt.Sprintf("subvolume %s: tier %s wants an RPO of %s, but its %s come %q",
				name, s.Tier, FormatDuration(rpo), where, sched.Text))
		}
	}
	for _, name := range d.ServiceNames() {
		s := d.Services[name]
		if rpo := d.Tiers[s.Tier].RPO.Duration; rpo > 0 && s.Schedule.Period() > rpo+24*time.Hour {
			out = append(out, fmt.Sprintf("service %s: tier %s wants an RPO of %s, but its archives come %q",
				name, s.Tier, FormatDuration(rpo), s.Schedule.Text))
		}
	}
	return out
}

// ServiceNames returns the declared service names, sorted.
func (d *Desired) ServiceNames() []string {
	return slices.Sorted(maps.Keys(d.Services))
}

// ArchiveDir is where a service's archives live.
func (d *Desired) ArchiveDir(s *Service) string {
	return filepath.Join(d.Locations[s.Location].Path, s.Name)
}

// LayoutFlat keeps all snapshots of a location in one directory (btrbk's).
const LayoutFlat = "flat"

// ArchiveCopyDir is where a service's archives are copied on its drive.
func (d *Desired) ArchiveCopyDir(s *Service) string {
	return filepath.Join(d.Locations[s.External.Location].Path, s.Name)
}

// SnapshotDir is where a subvolume's snapshots live in a location.
func (d *Desired) SnapshotDir(location, subvolume string) string {
	l := d.Locations[location]
	if l.Layout == LayoutFlat {
		return l.Path
	}
	return filepath.Join(l.Path, subvolume)
}

// DrillDir is where a drill of s receives into: its drillTarget, else a
// .drill directory beside its local snapshots (same btrfs filesystem).
func (d *Desired) DrillDir(s *Subvolume) string {
	if s.DrillTarget != "" {
		return s.DrillTarget
	}
	return filepath.Join(d.Locations[s.Snapshots.Location].Path, ".drill")
}

// RTO is the subvolume's RTO target: its own, else its tier's.
func (d *Desired) RTO(s *Subvolume) Duration {
	if s.RTO != nil {
		return *s.RTO
	}
	return d.Tiers[s.Tier].RTO
}
