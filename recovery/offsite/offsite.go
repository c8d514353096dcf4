// Package offsite reads what a recovery needs from off-site targets
// (runbook DR-004: the machine and the drive are gone, only the off-site
// copies are left): it opens each target once, lists the restorable copies
// of subvolumes and the recorded archives of services, and hands the
// opened targets to the executor, which fetches the chosen copy.
package offsite

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/drsync/drsync/providers/s3"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/schema"
	"github.com/drsync/drsync/snapname"
	"github.com/drsync/drsync/target"
)

// Copy is one restorable copy on an off-site target: a snapshot of a
// subvolume, or an archive of a service.
type Copy struct {
	Target string
	Name   string
	Time   time.Time
}

// Copies maps a subvolume or service to its restorable off-site copies.
type Copies map[string][]Copy

// Source is what a recovery needs of an off-site target: fetch one
// snapshot into a directory on btrfs (target.Target's Open: for S3 the
// chain is downloaded, each stream's SHA-256 checked, decrypted and
// received; over ssh the replica is sent back).
type Source interface {
	Open(ctx context.Context, subvolume, name, scratch string) (path string, cleanup func() error, err error)
}

// ArchiveSource is a Source that also holds service archives (S3): one is
// downloaded into a directory with its .sha256, both checked.
type ArchiveSource interface {
	OpenArchive(ctx context.Context, service, archive, dir string) (string, error)
}

// Opener opens a declared target (cmd's, shared with the other commands
// that reach targets).
type Opener func(d *schema.Desired, name string) (target.Target, error)

// Targets are the off-site targets one recovery reads, each opened and
// probed once.
type Targets struct {
	desired *schema.Desired
	open    Opener
	// identity overrides the S3 targets' identityFile ("": theirs).
	identity string
	opened   map[string]target.Target
}

// NewTargets prepares to open the desired state's targets with open,
// decrypting with identity where given.
func NewTargets(d *schema.Desired, open Opener, identity string) *Targets {
	return &Targets{desired: d, open: open, identity: identity, opened: map[string]target.Target{}}
}

// Sources are the targets opened so far, by name, for the executor.
func (t *Targets) Sources() map[string]Source {
	out := map[string]Source{}
	for name, tg := range t.opened {
		out[name] = tg
	}
	return out
}

// get opens and probes a target the first time it is asked for.
func (t *Targets) get(ctx context.Context, name string) (target.Target, error) {
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

// Snapshots lists the restorable copies of a subvolume on a target.
func (t *Targets) Snapshots(ctx context.Context, tname, subvolume string) ([]Copy, error) {
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

// Archives lists the restorable archives of a service on a target; only
// object storage holds archives.
func (t *Targets) Archives(ctx context.Context, tname, service string) ([]Copy, error) {
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
func restorable(tname, component string, list []target.Copy, stem func(string) string) []Copy {
	var out []Copy
	for _, c := range list {
		st, ours := snapname.Parse(component, stem(c.Name), time.Local)
		if c.Restorable() && ours {
			out = append(out, Copy{Target: tname, Name: c.Name, Time: st.Time})
		}
	}
	return out
}
