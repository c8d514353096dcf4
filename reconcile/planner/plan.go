// Package planner computes the plan: a pure function of the desired state,
// the observation and a clock (Compute), table-tested, with a typed reason
// on every action and on every retention verdict.
package planner

import (
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/drsync/drsync/internal/parallel"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/reconcile/planner/offsite"
	"github.com/drsync/drsync/schema"
)

// Compute is the planner: pure, deterministic for (desired, observed, now).
// now carries the local time zone that schedules and retention use.
func Compute(d *schema.Desired, o *model.Observed, now time.Time) *model.Plan {
	p := &model.Plan{Version: model.PlanVersion, Desired: d.Source, Now: now}
	for _, name := range slices.Sorted(maps.Keys(d.Locations)) {
		if d.Locations[name].External {
			p.Drives = append(p.Drives, model.DriveNote{Location: name, Drive: o.Drives[name]})
		}
	}
	p.Warnings = append(p.Warnings, d.Warnings()...)
	p.Warnings = append(p.Warnings, o.JournalMalformed...)
	for _, e := range o.Interrupted {
		p.Warnings = append(p.Warnings, fmt.Sprintf("an apply at %s stopped during %s %s; this plan repairs what it left",
			e.Time.In(now.Location()).Format("2006-01-02 15:04"), e.Action.Kind, e.Action.Snapshot))
	}
	// The generated files and each subvolume's plan depend on nothing but
	// d, o and now: they are computed on all CPUs, in declared order.
	var files map[string][]byte
	var filesErr error
	var rendered sync.WaitGroup
	if o.Files != nil {
		rendered.Go(func() { files, filesErr = GeneratedFiles(d, o, now) })
	}
	names := d.SubvolumeNames()
	if len(names) > 0 {
		p.Subvolumes = make([]model.SubvolumePlan, len(names))
		parallel.Each(len(names), func(i int) error {
			p.Subvolumes[i] = planSubvolumeWhole(d, names[i], o, now)
			return nil
		})
	}
	p.Warnings = append(p.Warnings, offsite.Warnings(d, o)...)
	for _, name := range d.ServiceNames() {
		if st := o.Services[name]; st != nil {
			sp := planService(d, d.Services[name], st, o, now)
			offsite.PlanService(&sp, d, d.Services[name], st, o, now)
			offsite.PlanServiceProofs(&sp, d, d.Services[name], o, now)
			p.Services = append(p.Services, sp)
		}
	}
	if o.Files != nil {
		rendered.Wait()
		if filesErr != nil {
			p.FilesError = filesErr.Error()
		} else {
			planFiles(p, files, o.Files, o.RefusedFiles)
		}
	}
	return p
}

// planSubvolumeWhole is everything the plan does for one subvolume:
// snapshots, replicas, prunes, proofs, disasters and off-site copies.
func planSubvolumeWhole(d *schema.Desired, name string, o *model.Observed, now time.Time) model.SubvolumePlan {
	st := o.Subvolumes[name]
	if st == nil {
		st = &model.SubvolumeState{}
	}
	sp := planSubvolume(d, d.Subvolumes[name], st, o, now)
	planDisasters(&sp, st, o.History[name])
	planShrink(&sp, st, o.History[name], d.Tiers[d.Subvolumes[name].Tier].Shrink)
	markExternal(&sp, d, o)
	offsite.Plan(&sp, d, d.Subvolumes[name], st, o, now)
	offsite.PlanProofs(&sp, d, d.Subvolumes[name], st, o, now)
	return sp
}

// markExternal flags the actions that touch an external drive.
func markExternal(sp *model.SubvolumePlan, d *schema.Desired, o *model.Observed) {
	for i := range sp.Actions {
		markActionExternal(&sp.Actions[i], d, o)
	}
}

// markActionExternal flags an action on an external drive and captures the
// drive's identity: the UUID the plan observed, else the declared one.
func markActionExternal(a *model.Action, d *schema.Desired, o *model.Observed) {
	loc := d.Locations[a.Location]
	a.External = loc.External
	if !a.External {
		return
	}
	uuid := o.Drives[a.Location].UUID
	if uuid == "" {
		uuid = loc.UUID
	}
	a.Drive = &model.DriveRef{Mount: loc.Mount, UUID: uuid, LUKS: loc.LUKS}
}
