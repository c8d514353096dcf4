// Package render turns the desired state and the recorded evidence of
// backups, restore tests and drills into the files drsync generates for
// monitoring and operations: the node_exporter textfile, Prometheus alert
// rules and their unit tests, a scrape config, a Grafana dashboard, systemd
// units and disaster-recovery runbooks.
//
// Every function is pure: it returns bytes and touches nothing, so plan can
// diff the output against what is on disk and apply can write it.
package render

import (
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/drsync/drsync/schema"
)

// Input is everything a render needs: the desired state and what is known
// about the machine at Now.
type Input struct {
	Desired    *schema.Desired
	Now        time.Time
	Subvolumes map[string]SubvolumeStatus // by subvolume name; missing = nothing known yet
	Reconcile  ReconcileStatus
	// ExternalSeen is, by external location name, the last time an apply
	// found the drive mounted. The newest replica on a drive also proves it
	// was there, so a drive missing here is still dated by its replicas.
	ExternalSeen map[string]time.Time
	// Rehearsals are the runbooks' newest rehearsals, by runbook (DR-001…);
	// a runbook missing here was never rehearsed.
	Rehearsals map[string]RehearsalEvidence
}

// SubvolumeStatus is the recorded evidence about one subvolume.
type SubvolumeStatus struct {
	LocalCount, ExternalCount   int
	NewestLocal, NewestExternal time.Time     // zero = none
	LastSuccess                 time.Time     // last apply that snapshotted/sent it without error
	LastDuration                time.Duration // of that backup (snapshot+send)
	SizeBytes                   int64         // bytes of the last send (stream size)
	SendFailingSince            time.Time     // first failed send since the last successful one (zero = not failing)
	Test                        *TestEvidence // newest restore test
	TestsRun, TestsPassed       int           // all recorded restore tests
	Verified                    time.Time     // time of the newest snapshot a passing test verified (zero = never)
	Drill                       *DrillEvidence
	Offsite                     map[string]OffsiteStatus // by target name (see offsite.go)
	// Coverage is each copy's share verified within the tier's coverage
	// window (empty when the tier declares none or nothing is known).
	Coverage []CopyCoverage
}

// TestEvidence is the outcome of a sampled restore test.
type TestEvidence struct {
	Time     time.Time
	Passed   bool
	Duration time.Duration
	Files    int
	Snapshot string
}

// DrillEvidence is the outcome of a full restore drill; its duration is the
// measured RTO.
type DrillEvidence struct {
	Time     time.Time
	Passed   bool
	Duration time.Duration
	// Restore (the receive: what a recovery costs, the RTO) and Verify (the
	// comparison of every file) are Duration's parts; zero in evidence
	// recorded before drills timed them apart.
	Restore, Verify time.Duration
	Bytes           int64
	Snapshot        string
}

// RTO is the drill's measured recovery time: the restore alone, or the
// whole drill when evidence has no parts.
func (d *DrillEvidence) RTO() time.Duration {
	if d.Restore > 0 {
		return d.Restore
	}
	return d.Duration
}

// ReconcileStatus summarises drsync's own apply runs.
type ReconcileStatus struct {
	Runs         map[string]int // by run status: applied, failed, stopped
	LastRun      time.Time
	LastDuration time.Duration
	LastResult   string
}

// Runbook file names, one per disaster scenario of the design documents.
const (
	runbookSystem   = "DR-001-system-ssd-failure.md"
	runbookPool     = "DR-002-btrfs-pool-corruption.md"
	runbookDeletion = "DR-003-accidental-deletion.md"
	runbookTotal    = "DR-004-total-catastrophe.md"
)

// Files returns every enabled generated file keyed by its absolute output
// path, so that plan and apply treat each one as a resource.
func Files(in Input) (map[string][]byte, error) {
	if err := check(in); err != nil {
		return nil, err
	}
	g := in.Desired.Generate
	out := map[string][]byte{}
	single := []struct {
		on     bool
		path   string
		render func(Input) ([]byte, error)
	}{
		{g.Enabled.Metrics, g.Metrics, Metrics},
		{g.Enabled.AlertRules, g.AlertRules, AlertRules},
		{g.Enabled.AlertRules, g.AlertTests, AlertRuleTests},
		{g.Enabled.ScrapeConfig, g.ScrapeConfig, ScrapeConfig},
		{g.Enabled.Dashboard, g.Dashboard, Dashboard},
		{g.Enabled.Alertmanager && in.Desired.Alerting != nil, g.Alertmanager, Alertmanager},
	}
	for _, s := range single {
		if !s.on {
			continue
		}
		b, err := s.render(in)
		if err != nil {
			return nil, err
		}
		out[s.path] = b
	}
	multi := []struct {
		on     bool
		dir    string
		render func(Input) (map[string][]byte, error)
	}{
		{g.Enabled.Systemd, g.Systemd, SystemdUnits},
		{g.Enabled.Runbooks, g.Runbooks, Runbooks},
	}
	for _, m := range multi {
		if !m.on {
			continue
		}
		files, err := m.render(in)
		if err != nil {
			return nil, err
		}
		for name, b := range files {
			out[filepath.Join(m.dir, name)] = b
		}
	}
	return out, nil
}

// check rejects an Input no render can use; the schema has already checked
// that tiers and locations referenced by subvolumes exist.
func check(in Input) error {
	if in.Desired == nil {
		return fmt.Errorf("render: no desired state")
	}
	return nil
}

// subvolume is one declared subvolume with its targets resolved and its
// evidence attached, the shape every renderer works from.
type subvolume struct {
	*schema.Subvolume
	status       SubvolumeStatus
	known        bool // status was recorded
	rpo, rto     time.Duration
	restoreEvery time.Duration
	drillEvery   time.Duration // zero: the tier asks for no drills
	tierDesc     string
}

// subvolumes returns the declared subvolumes sorted by name.
func subvolumes(in Input) []subvolume {
	d := in.Desired
	var out []subvolume
	for _, name := range d.SubvolumeNames() {
		s := d.Subvolumes[name]
		t := d.Tiers[s.Tier]
		st, known := in.Subvolumes[name]
		var drillEvery time.Duration
		if t.Drill != nil {
			drillEvery = t.Drill.Every.Duration
		}
		out = append(out, subvolume{
			Subvolume:    s,
			status:       st,
			known:        known,
			rpo:          t.RPO.Duration,
			rto:          d.RTO(s).Duration,
			restoreEvery: t.RestoreTest.Every.Duration,
			drillEvery:   drillEvery,
			tierDesc:     t.Description,
		})
	}
	return out
}

// tracked is what metrics, alerts and the timer watch: the subvolumes, and
// the services as subvolumes whose only copies are local archives (their
// name in the subvolume label, so every backup alert covers them too).
func tracked(in Input) []subvolume {
	out := subvolumes(in)
	d := in.Desired
	for _, name := range d.ServiceNames() {
		svc := d.Services[name]
		t := d.Tiers[svc.Tier]
		st, known := in.Subvolumes[name]
		// Only the local archives count here: the tier's RPO is about them,
		// and copies on a drive plugged in weekly would always look late.
		sub := &schema.Subvolume{Name: name, Tier: svc.Tier,
			Snapshots: schema.Replication{Location: svc.Location, Schedule: svc.Schedule, Retention: svc.Retention}}
		out = append(out, subvolume{
			Subvolume: sub,
			status:    st, known: known,
			rpo: t.RPO.Duration, rto: t.RTO.Duration, restoreEvery: t.RestoreTest.Every.Duration, tierDesc: t.Description,
		})
		if t.Drill != nil { // a tier that drills its subvolumes drills its services too
			out[len(out)-1].drillEvery = t.Drill.Every.Duration
		}
	}
	return out
}

// externalLocations returns the names of external locations that replicas
// are sent to, sorted, with the subvolumes sent to each.
func externalLocations(in Input) ([]string, map[string][]subvolume) {
	by := map[string][]subvolume{}
	var names []string
	for _, s := range subvolumes(in) {
		if s.External == nil {
			continue
		}
		l := s.External.Location
		if _, ok := by[l]; !ok {
			names = append(names, l)
		}
		by[l] = append(by[l], s)
	}
	slices.Sort(names)
	return names, by
}

// driveLastSeen is the latest evidence that an external drive was present:
// an apply that found it mounted, or the newest replica it holds.
func driveLastSeen(in Input, location string, subs []subvolume) time.Time {
	seen := in.ExternalSeen[location]
	for _, s := range subs {
		if s.status.NewestExternal.After(seen) {
			seen = s.status.NewestExternal
		}
	}
	return seen
}

// driveInterval is how often a drive must be plugged in: the shortest
// external schedule among the subvolumes sent to it.
func driveInterval(subs []subvolume) time.Duration {
	var iv time.Duration
	for _, s := range subs {
		if p := s.External.Schedule.Period(); iv == 0 || p < iv {
			iv = p
		}
	}
	return iv
}

// systemLocation is the local location holding the snapshots of the
// subvolume mounted at "/": losing the system disk loses it and every
// subvolume snapshotted there (DR-001). Empty when "/" is not backed up.
func systemLocation(d *schema.Desired) string {
	root := filepath.Join("/", d.Root)
	for _, name := range d.SubvolumeNames() {
		if s := d.Subvolumes[name]; s.Source == root {
			return s.Snapshots.Location
		}
	}
	return ""
}

// runbookFor is the scenario runbook that restores a subvolume: DR-001
// when it lives on the system disk, DR-002 for a pool.
func runbookFor(d *schema.Desired, s *schema.Subvolume) string {
	if s.Snapshots.Location == systemLocation(d) {
		return runbookSystem
	}
	return runbookPool
}

// Paths lists the enabled generated files' paths without rendering them,
// for observing what is on disk.
func Paths(d *schema.Desired) []string {
	g := d.Generate
	var out []string
	add := func(on bool, paths ...string) {
		if on {
			out = append(out, paths...)
		}
	}
	add(g.Enabled.Metrics, g.Metrics)
	add(g.Enabled.AlertRules, g.AlertRules, g.AlertTests)
	add(g.Enabled.ScrapeConfig, g.ScrapeConfig)
	add(g.Enabled.Dashboard, g.Dashboard)
	add(g.Enabled.Alertmanager && d.Alerting != nil, g.Alertmanager)
	for _, u := range []string{applyService, applyTimer, watchService} {
		add(g.Enabled.Systemd, filepath.Join(g.Systemd, u))
	}
	for _, r := range []string{runbookSystem, runbookPool, runbookDeletion, runbookTotal} {
		add(g.Enabled.Runbooks, filepath.Join(g.Runbooks, r))
	}
	slices.Sort(out)
	return out
}
