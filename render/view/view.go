// Package view is what every renderer of package render and its
// subpackages works from: the Input (the desired state and the recorded
// evidence), the subvolumes and off-site copies with their targets
// resolved and their evidence attached, and the names of the systemd units,
// which the alerts and the runbooks cite.
package view

import (
	"fmt"
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
	Offsite                     map[string]OffsiteStatus // by target name
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

// RehearsalEvidence is the newest rehearsal of a runbook on a sandbox
// (drsync rehearse) and when one last passed.
type RehearsalEvidence struct {
	Time        time.Time
	Passed      bool
	Duration    time.Duration
	Bytes       int64     // data recovered and compared
	LastSuccess time.Time // zero: never passed
}

// Unit names: the units package render writes, which the alerts and the
// runbooks name.
const (
	ApplyService = "drsync-apply.service"
	ApplyTimer   = "drsync-apply.timer"
	WatchService = "drsync-watch.service"
)

// Check rejects an Input no render can use; the schema has already checked
// that tiers and locations referenced by subvolumes exist.
func Check(in Input) error {
	if in.Desired == nil {
		return fmt.Errorf("render: no desired state")
	}
	return nil
}

// Subvolume is one declared subvolume with its targets resolved and its
// evidence attached, the shape every renderer works from.
type Subvolume struct {
	*schema.Subvolume
	Status SubvolumeStatus
	Known  bool // Status was recorded
	// RPO and RTO are the targets: the tier's, or the subvolume's own RTO.
	RPO, RTO        time.Duration
	RestoreEvery    time.Duration
	DrillEvery      time.Duration // zero: the tier asks for no drills
	TierDescription string
}

// Subvolumes returns the declared subvolumes sorted by name.
func Subvolumes(in Input) []Subvolume {
	d := in.Desired
	var out []Subvolume
	for _, name := range d.SubvolumeNames() {
		s := d.Subvolumes[name]
		t := d.Tiers[s.Tier]
		st, known := in.Subvolumes[name]
		var drillEvery time.Duration
		if t.Drill != nil {
			drillEvery = t.Drill.Every.Duration
		}
		out = append(out, Subvolume{
			Subvolume:       s,
			Status:          st,
			Known:           known,
			RPO:             t.RPO.Duration,
			RTO:             d.RTO(s).Duration,
			RestoreEvery:    t.RestoreTest.Every.Duration,
			DrillEvery:      drillEvery,
			TierDescription: t.Description,
		})
	}
	return out
}

// Tracked is what metrics, alerts and the timer watch: the subvolumes, and
// the services as subvolumes whose only copies are local archives (their
// name in the subvolume label, so every backup alert covers them too).
func Tracked(in Input) []Subvolume {
	out := Subvolumes(in)
	d := in.Desired
	for _, name := range d.ServiceNames() {
		svc := d.Services[name]
		t := d.Tiers[svc.Tier]
		st, known := in.Subvolumes[name]
		// Only the local archives count here: the tier's RPO is about them,
		// and copies on a drive plugged in weekly would always look late.
		sub := &schema.Subvolume{Name: name, Tier: svc.Tier,
			Snapshots: schema.Replication{Location: svc.Location, Schedule: svc.Schedule, Retention: svc.Retention}}
		out = append(out, Subvolume{
			Subvolume: sub,
			Status:    st, Known: known,
			RPO: t.RPO.Duration, RTO: t.RTO.Duration, RestoreEvery: t.RestoreTest.Every.Duration, TierDescription: t.Description,
		})
		if t.Drill != nil { // a tier that drills its subvolumes drills its services too
			out[len(out)-1].DrillEvery = t.Drill.Every.Duration
		}
	}
	return out
}

// ExternalLocations returns the names of external locations that replicas
// are sent to, sorted, with the subvolumes sent to each.
func ExternalLocations(in Input) ([]string, map[string][]Subvolume) {
	by := map[string][]Subvolume{}
	var names []string
	for _, s := range Subvolumes(in) {
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

// DriveLastSeen is the latest evidence that an external drive was present:
// an apply that found it mounted, or the newest replica it holds.
func DriveLastSeen(in Input, location string, subs []Subvolume) time.Time {
	seen := in.ExternalSeen[location]
	for _, s := range subs {
		if s.Status.NewestExternal.After(seen) {
			seen = s.Status.NewestExternal
		}
	}
	return seen
}

// DriveInterval is how often a drive must be plugged in: the shortest
// external schedule among the subvolumes sent to it.
func DriveInterval(subs []Subvolume) time.Duration {
	var iv time.Duration
	for _, s := range subs {
		if p := s.External.Schedule.Period(); iv == 0 || p < iv {
			iv = p
		}
	}
	return iv
}
