// Package prepare observes what a recovery reads and writes (the target
// paths on this machine, and the copies on off-site targets when the
// recovery needs them) and plans it with recovery.Compute, whose planner
// stays pure: it reads only the plain values gathered here.
package prepare

import (
	"context"
	"fmt"

	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/recovery"
	"github.com/drsync/drsync/schema"
)

// Setting is what a recovery is planned from besides the request: the
// desired state, one observation, the journal's entries and the ways to
// reach storage and off-site targets.
type Setting struct {
	Desired  *schema.Desired
	Observed *model.Observed
	Entries  []model.JournalEntry
	Storage  model.Storage
	// OpenTarget opens an off-site target; Identity decrypts S3 copies
	// instead of the target's identityFile ("": the target's).
	OpenTarget Opener
	Identity   string
	// Warn is told of an off-site target that cannot be read and is
	// skipped (one that --from-target names is an error instead).
	Warn func(string)
}

// Plan observes what a recovery reads and writes (its targets, and the
// off-site copies of the components that need them: see
// recovery.NeedsOffsite) and plans it. It returns the off-site targets it
// opened, for recovery.Env.Offsite.
func Plan(ctx context.Context, s Setting, req recovery.Request) (*recovery.Plan, map[string]recovery.OffsiteSource, error) {
	d := s.Desired
	in := recovery.Input{Desired: d, Observed: s.Observed, Verified: recovery.VerifiedFrom(s.Entries), Targets: map[string]recovery.Target{}}
	names := req.Names
	if len(names) == 0 {
		names = append(d.SubvolumeNames(), d.ServiceNames()...)
	}
	var err error
	for _, name := range names {
		if svc := d.Services[name]; svc != nil {
			for _, path := range svc.LivePaths() {
				if in.Targets[path], err = ObserveServiceTarget(path); err != nil {
					return nil, nil, err
				}
			}
			continue
		}
		if d.Subvolumes[name] == nil {
			continue // Compute names it
		}
		path := recovery.TargetPath(d, name, req.To)
		if in.Targets[path], err = ObserveTarget(s.Storage, path); err != nil {
			return nil, nil, err
		}
	}
	targets := newOffsiteTargets(d, s.OpenTarget, s.Identity)
	if in.Offsite, err = observeOffsite(ctx, s, targets, names, req); err != nil {
		return nil, nil, err
	}
	p, err := recovery.Compute(in, req)
	return p, targets.sources(), err
}

// observeOffsite lists the restorable off-site copies of the components
// whose recovery needs them. A target that cannot be read is a warning,
// unless --from-target named it.
func observeOffsite(ctx context.Context, s Setting, targets *offsiteTargets, names []string, req recovery.Request) (recovery.OffsiteCopies, error) {
	d := s.Desired
	if req.FromTarget != "" {
		if _, ok := d.Targets[req.FromTarget]; !ok {
			return nil, fmt.Errorf("--from-target %s: no such target is declared (declared: %v)", req.FromTarget, d.TargetNames())
		}
	}
	out := recovery.OffsiteCopies{}
	failed := map[string]bool{}
	for _, name := range names {
		if !recovery.NeedsOffsite(d, s.Observed, name, req) {
			continue
		}
		list := targets.snapshots
		declared := func(t string) bool { _, ok := d.Subvolumes[name].Offsite[t]; return ok }
		if svc := d.Services[name]; svc != nil {
			list = targets.archives
			declared = func(t string) bool { _, ok := svc.Offsite[t]; return ok }
		}
		for _, tname := range d.TargetNames() {
			if !declared(tname) || req.FromTarget != "" && tname != req.FromTarget || failed[tname] {
				continue
			}
			copies, err := list(ctx, tname, name)
			if err != nil && req.FromTarget != "" {
				return nil, fmt.Errorf("--from-target %s: %w", tname, err)
			}
			if err != nil {
				failed[tname] = true
				if s.Warn != nil {
					s.Warn(fmt.Sprintf("off-site copies on %s not used: %v", tname, err))
				}
				continue
			}
			out[name] = append(out[name], copies...)
		}
	}
	return out, nil
}
