package prepare

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/drsync/drsync/providers/s3"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/recovery"
	"github.com/drsync/drsync/schema"
	"github.com/drsync/drsync/snapname"
	"github.com/drsync/drsync/target"
)

// Opener opens a declared target (cmd's, shared with the other commands
// that reach targets).
type Opener func(d *schema.Desired, name string) (target.Target, error)

// offsiteTargets are the off-site targets one recovery reads, each opened and
// probed once.
type offsiteTargets struct {
	desired *schema.Desired
	open    Opener
	// identity overrides the S3 targets' identityFile ("": theirs).
	identity string
	opened   map[string]target.Target
}

// newOffsiteTargets prepares to open the desired state's targets with open,
// decrypting with identity where given.
func newOffsiteTargets(d *schema.Desired, open Opener, identity string) *offsiteTargets {
	return &offsiteTargets{desired: d, open: open, identity: identity, opened: map[string]target.Target{}}
}

// sources are the targets opened so far, by name, for the executor.
func (t *offsiteTargets) sources() map[string]recovery.OffsiteSource {
	out := map[string]recovery.OffsiteSource{}
	for name, tg := range t.opened {
		out[name] = tg
	}
	return out
}

// get opens and probes a target the first time it is asked for.
func (t *offsiteTargets) get(ctx context.Context, name string) (target.Target, error) {
	if tg, ok := t.opened[name]; ok {
		return tg, nil
	}
	if _, ok := t.desired.Targets[name]; !ok {
		return nil, fmt.Errorf("no target %s is declared (declared: %v)", name, t.desired.TargetNames())
	}
	tg, err := t.open(t.desired, name)
	if err != nil {
		return nil, err
	}
	if s3t, ok := tg.(*s3.Target); ok && t.identity != "" {
		s3t.UseIdentity(t.identity)
	}
	if err := tg.Probe(ctx); err != nil {
		return nil, err
	}
	t.opened[name] = tg
	return tg, nil
}

// snapshots lists the restorable copies of a subvolume on a target.
func (t *offsiteTargets) snapshots(ctx context.Context, tname, subvolume string) ([]recovery.OffsiteCopy, error) {
	tg, err := t.get(ctx, tname)
	if err != nil {
		return nil, err
	}
	list, err := tg.List(ctx, subvolume)
	if err != nil {
		return nil, err
	}
	return restorable(tname, subvolume, list, func(name string) string { return name }), nil
}

// archives lists the restorable archives of a service on a target; only
// object storage holds archives.
func (t *offsiteTargets) archives(ctx context.Context, tname, service string) ([]recovery.OffsiteCopy, error) {
	tg, err := t.get(ctx, tname)
	if err != nil {
		return nil, err
	}
	store, ok := tg.(target.ArchiveStore)
	if !ok {
		return nil, fmt.Errorf("target %s holds no service archives (only s3 targets do)", tname)
	}
	list, _, err := store.Archives(ctx, service)
	if err != nil {
		return nil, err
	}
	return restorable(tname, service, list, func(name string) string { return strings.TrimSuffix(name, model.ArchiveSuffix) }), nil
}

// restorable keeps the copies that count and whose names drsync gave them,
// dated by their names (stem strips what follows the time).
func restorable(tname, component string, list []target.Copy, stem func(string) string) []recovery.OffsiteCopy {
	var out []recovery.OffsiteCopy
	for _, c := range list {
		st, ours := snapname.Parse(component, stem(c.Name), time.Local)
		if c.Restorable() && ours {
			out = append(out, recovery.OffsiteCopy{Target: tname, Name: c.Name, Time: st.Time})
		}
	}
	return out
}
