package recovery

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/schema"
)

// ServiceTarget is one path a service's data lives at, as observed, and
// what the recovery does with it.
type ServiceTarget struct {
	Path  string      `json:"path"`
	State TargetState `json:"state"`
	// KeepAside is where the current data is moved before the restored
	// copy takes its place ("" when nothing is there); drsync never
	// deletes it.
	KeepAside string `json:"keepAside,omitempty"`
}

// ServiceRecovery is one service's recovery: the typed payload of its
// steps, carrying every path and command they need.
type ServiceRecovery struct {
	Service     string    `json:"service"`
	Kind        string    `json:"kind"`
	Archive     string    `json:"archive"`
	ArchiveTime time.Time `json:"archiveTime"`
	Choice      Choice    `json:"choice"`
	// Location is where the archive is read, Copy its path; External says
	// it is the copy on the drive.
	Location string `json:"location"`
	External bool   `json:"external,omitempty"`
	// Offsite names the off-site target the archive is fetched from first,
	// to Copy ("" for a local archive or the drive's copy).
	Offsite string          `json:"offsite,omitempty"`
	Copy    string          `json:"copy"`
	Targets []ServiceTarget `json:"targets"`
	// Stop and Start are the commands run around the swap (argv; a unit
	// becomes systemctl stop/start UNIT); none for a files service that
	// declares neither.
	Stop  []string `json:"stop,omitempty"`
	Start []string `json:"start,omitempty"`
	// Owner (uid:gid) is given to a restored TSDB.
	Owner    string   `json:"owner,omitempty"`
	After    []string `json:"after,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
	// Service is the declaration, for the restore by kind.
	Declared *schema.Service `json:"-"`
}

// Aligned is one component of a point-in-time recovery: the copy chosen
// for it and how far it lies before the time asked for.
type Aligned struct {
	Name   string        `json:"name"`
	Kind   string        `json:"kind"` // "subvolume" or "service"
	Copy   string        `json:"copy"`
	Time   time.Time     `json:"time"`
	Behind time.Duration `json:"-"`
	RPO    time.Duration `json:"-"`
	// BehindSeconds and RPOSeconds are Behind and RPO for machines.
	BehindSeconds float64 `json:"behindSeconds"`
	RPOSeconds    float64 `json:"rpoSeconds,omitempty"`
	// Warning says the copy is further from the time than the tier's RPO.
	Warning string `json:"warning,omitempty"`
}

// preRecoverName is where a service's current data at path is kept aside.
func preRecoverName(path, stamp string) string { return path + PreRecoverInfix + stamp }

func planService1(in Input, req Request, svc *schema.Service) (ServiceRecovery, error) {
	if req.To != "" {
		return ServiceRecovery{}, fmt.Errorf("--to recovers subvolumes; a service's data goes back to its declared paths")
	}
	all, err := archiveCandidates(in, req, svc)
	if err != nil {
		return ServiceRecovery{}, err
	}
	c, choice, err := pick(all, in.Verified[svc.Name], req, "archive")
	if err != nil {
		return ServiceRecovery{}, err
	}
	r := ServiceRecovery{Service: svc.Name, Kind: svc.Kind, Archive: c.Name, ArchiveTime: c.Time, Choice: choice,
		Location: c.Location, External: c.External, Offsite: c.Target, Copy: c.Path, Owner: svc.Owner, After: svc.After, Declared: svc}
	switch {
	case svc.Unit != "":
		r.Stop, r.Start = []string{"systemctl", "stop", svc.Unit}, []string{"systemctl", "start", svc.Unit}
	case len(svc.Stop) > 0:
		r.Stop, r.Start = svc.Stop, svc.Start
	case svc.Kind == schema.ServiceFiles:
		r.Warnings = append(r.Warnings, "no unit or stop/start declared: the files are replaced while whatever reads them runs")
	default:
		return ServiceRecovery{}, fmt.Errorf("declare how to stop and start it (unit, or stop and start commands): its data is never replaced under a running %s", svc.Kind)
	}
	stamp := req.Now.Format(stampLayout)
	for _, p := range svc.LivePaths() {
		t, ok := in.Targets[p]
		if !ok {
			return ServiceRecovery{}, fmt.Errorf("%s was not observed", p)
		}
		st := ServiceTarget{Path: p, State: t.State}
		switch t.State {
		case TargetSymlink:
			return ServiceRecovery{}, fmt.Errorf("%s is a symlink; drsync never follows or replaces one", p)
		case TargetMissing:
		default:
			st.KeepAside = preRecoverName(p, stamp)
		}
		r.Targets = append(r.Targets, st)
	}
	if choice.Rule == RuleNewestComplete {
		r.Warnings = append(r.Warnings, c.Name+" on "+c.Target+" is not known verified (no test of it is in the journal): "+
			"the stored object's SHA-256, age's authentication and the archive's own checksums are checked as it is fetched and restored")
	} else if choice.Verified.IsZero() {
		r.Warnings = append(r.Warnings, c.Name+" was never verified by a restore test (or its newest one failed)")
	}
	if c.Time.After(req.Now) {
		r.Warnings = append(r.Warnings, c.Name+" is dated in the future")
	}
	return r, nil
}

// archiveCopies lists a service's archives by name, oldest first, each at
// the place it is read from: the local archive when there is one, else its
// copy on the drive (the local one is gone with the system disk).
func archiveCopies(d *schema.Desired, o *model.Observed, svc *schema.Service) []copyRef {
	st := o.Services[svc.Name]
	if st == nil {
		return nil
	}
	var out []copyRef
	for _, a := range st.Archives {
		out = append(out, copyRef{Name: a.Name, Time: a.Time, Location: svc.Location, Path: filepath.Join(d.ArchiveDir(svc), a.Name)})
	}
	if svc.External != nil {
		for _, a := range st.External {
			if !model.HasName(st.Archives, a.Name) {
				out = append(out, copyRef{Name: a.Name, Time: a.Time, Location: svc.External.Location, External: true,
					Path: filepath.Join(d.ArchiveCopyDir(svc), a.Name)})
			}
		}
	}
	slices.SortStableFunc(out, func(a, b copyRef) int { return a.Time.Compare(b.Time) })
	return out
}

// align lists the chosen copy of every component in recovery order, with
// its distance from the time asked for and a warning beyond its tier's RPO.
func align(d *schema.Desired, p *Plan, at time.Time) []Aligned {
	byName := map[string]Aligned{}
	for _, r := range p.Recoveries {
		byName[r.Subvolume] = Aligned{Name: r.Subvolume, Kind: "subvolume", Copy: r.Snapshot, Time: r.SnapshotTime,
			RPO: d.Tiers[d.Subvolumes[r.Subvolume].Tier].RPO.Duration}
	}
	for _, r := range p.Services {
		byName[r.Service] = Aligned{Name: r.Service, Kind: "service", Copy: r.Archive, Time: r.ArchiveTime,
			RPO: d.Tiers[d.Services[r.Service].Tier].RPO.Duration}
	}
	var out []Aligned
	for _, n := range p.Order {
		a := byName[n]
		a.Behind = at.Sub(a.Time)
		a.BehindSeconds, a.RPOSeconds = a.Behind.Seconds(), a.RPO.Seconds()
		if a.RPO > 0 && a.Behind > a.RPO {
			a.Warning = fmt.Sprintf("%s is %s before %s, more than its tier's RPO of %s",
				a.Copy, Span(a.Behind), at.Format("2006-01-02 15:04"), Span(a.RPO))
		}
		out = append(out, a)
	}
	return out
}

// Span writes a distance in time as days, hours and minutes: "2d 30m".
func Span(d time.Duration) string {
	d = d.Truncate(time.Minute)
	if d <= 0 {
		return "0m"
	}
	var parts []string
	for _, u := range []struct {
		unit time.Duration
		name string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}} {
		if n := d / u.unit; n > 0 {
			parts = append(parts, fmt.Sprintf("%d%s", n, u.name))
			d -= n * u.unit
		}
	}
	return strings.Join(parts, " ")
}
