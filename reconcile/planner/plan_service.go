package planner

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/reconcile/planner/rules"
	"github.com/drsync/drsync/schedule"
	"github.com/drsync/drsync/schema"
)

// planService keeps a service's archives like a subvolume's snapshots: a
// backup when the schedule has a slot the newest archive predates, the
// tier's restore test of the newest archive, and retention's prunes (never
// the newest archive, nor one that cannot be verified).
func planService(d *schema.Desired, svc *schema.Service, st *model.ServiceState, o *model.Observed, now time.Time) model.SubvolumePlan {
	sp := model.SubvolumePlan{Name: svc.Name, Tier: svc.Tier, Kind: "service: " + svc.Kind, Foreign: st.Foreign}
	dir := d.ArchiveDir(svc)
	archives := append([]model.Snapshot(nil), st.Archives...)
	for _, u := range st.Unchecked {
		sp.Warnings = append(sp.Warnings, "left alone: "+u+" has no checksum, so it cannot be verified")
	}
	sp.Warnings = append(sp.Warnings, futureWarnings(archives, now, "archive")...)
	var planned *model.Snapshot
	if v := schedule.Due(svc.Schedule, model.NewestTime(current(archives, now)), now); v.Due {
		// Names are compared without the archive suffix, unverifiable
		// archives included: a backup never takes an existing archive's name.
		taken := model.ForeignNames(append(append([]string(nil), st.Foreign...), st.Unchecked...))
		for _, x := range archives {
			taken = append(taken, model.Snapshot{Name: x.Name})
		}
		for i := range taken {
			taken[i].Name = strings.TrimSuffix(taken[i].Name, model.ArchiveSuffix)
		}
		a := newSnapshot(svc.Name, taken, now)
		a.Name += model.ArchiveSuffix
		planned = &a
		archives = append(archives, a)
		model.SortSnapshots(archives)
		backup := model.Action{Kind: model.KindBackup, Subvolume: svc.Name, Location: svc.Location, Snapshot: a.Name,
			Path: filepath.Join(dir, a.Name), Backup: &model.BackupService{Service: svc}}
		backup.Because(model.Reason{Code: model.BecauseSchedule, Tier: svc.Tier, Subject: "archive", Schedule: &v})
		sp.Actions = append(sp.Actions, backup)
	}
	h := o.History[svc.Name]
	if h == nil {
		h = &model.History{}
	}
	protect := protections(archives, "newest archive", "", lastVerified(h))
	prune(&sp, d, svc.Location, dir, archives, planned, svc.Retention, protect, now)
	var copies []model.Snapshot
	if svc.External != nil {
		copies = planArchiveCopies(&sp, d, svc, st, o, archives, dir, now)
	}
	tier := d.Tiers[svc.Tier]
	if why, due := rules.ProofDue("restore test", h.LastPassed, h.LastTest, h.LastSkipped, tier.RestoreTest.Every.Duration, now); due && len(archives) > 0 {
		test := archiveTest(d, svc, archives[len(archives)-1], copies)
		test.Because(model.Reason{Code: model.BecauseProofDue, Tier: svc.Tier, Proof: why})
		sp.Actions = append(sp.Actions, test)
	}
	planServiceDrill(&sp, d, svc, h, archives, copies, now)
	for i := range sp.Actions {
		if r := sp.Actions[i].Remove; r != nil {
			r.Archive = true
		}
	}
	markExternal(&sp, d, o)
	model.SortActions(sp.Actions)
	return sp
}

// archiveProof is the payload of a restore test of a service's archive;
// with coverage declared, the whole archive is its copy's one slice.
func archiveProof(d *schema.Desired, svc *schema.Service, archive model.Snapshot) *model.ProofSpec {
	ps := &model.ProofSpec{SnapshotTime: archive.Time, Scratch: d.Restore.Scratch, Service: svc}
	if d.Tiers[svc.Tier].RestoreTest.Coverage != nil {
		ps.Slices = 1
	}
	return ps
}

// archiveTest is the restore test of a service's newest archive: of its
// copy on the drive when the drive holds one (after this plan's copy), the
// copy a disaster would leave, as a subvolume's replica is tested; else of
// the local archive.
func archiveTest(d *schema.Desired, svc *schema.Service, newest model.Snapshot, copies []model.Snapshot) model.Action {
	if svc.External != nil && model.HasName(copies, newest.Name) {
		return model.Action{Kind: model.KindTest, Subvolume: svc.Name, Location: svc.External.Location, Snapshot: newest.Name,
			Path: filepath.Join(d.ArchiveCopyDir(svc), newest.Name), Proof: archiveProof(d, svc, newest)}
	}
	return model.Action{Kind: model.KindTest, Subvolume: svc.Name, Location: svc.Location, Snapshot: newest.Name,
		Path: filepath.Join(d.ArchiveDir(svc), newest.Name), Proof: archiveProof(d, svc, newest)}
}

// planArchiveCopies copies the newest archive to the drive when it lacks it,
// and prunes the copies there by their own retention. It returns the copies
// on the drive once the plan ran (nil: the drive is absent).
func planArchiveCopies(sp *model.SubvolumePlan, d *schema.Desired, svc *schema.Service, st *model.ServiceState, o *model.Observed,
	archives []model.Snapshot, dir string, now time.Time) []model.Snapshot {
	ext := svc.External.Location
	if !o.Drives[ext].Present {
		sp.Warnings = append(sp.Warnings, fmt.Sprintf("archive copy and external prune deferred: drive %s is absent", ext))
		return nil
	}
	extDir := d.ArchiveCopyDir(svc)
	copies := append([]model.Snapshot(nil), st.External...)
	if n := len(archives); n > 0 {
		newest := archives[n-1]
		fresher := len(copies) == 0 || newest.Time.After(copies[len(copies)-1].Time)
		if fresher && !model.HasName(copies, newest.Name) {
			send := model.Action{Kind: model.KindSend, Subvolume: svc.Name, Location: ext, Snapshot: newest.Name,
				Path: filepath.Join(extDir, newest.Name), Send: &model.SendCopy{From: filepath.Join(dir, newest.Name), Archive: true}}
			send.Because(model.Reason{Code: model.BecauseDriveLacks, Tier: svc.Tier})
			sp.Actions = append(sp.Actions, send)
			copies = append(copies, newest)
		}
	}
	protect := protections(copies, "newest copy", "", "")
	prune(sp, d, ext, extDir, copies, nil, svc.External.Retention, protect, now)
	return copies
}
