package reconcile

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/schema"
	"github.com/drsync/drsync/target"
)

// Off-site targets (an ssh host, an S3 bucket) are observed through
// target.Target and planned by target.Plan; this file turns that into the
// pipeline's observation and typed actions.

// Targets opens a declared off-site target; the CLI wires the providers.
type Targets func(name string) (target.Target, error)

// observeTimeout bounds the observation of one target: a host that
// hangs must not hang the plan.
const observeTimeout = 2 * time.Minute

// observeOffsite reads every declared target that a subvolume sends to.
// A target that fails is recorded, never an error of the observation:
// local work goes on.
func observeOffsite(d *schema.Desired, open Targets, o *model.Observed) {
	if open == nil || len(d.Targets) == 0 {
		return
	}
	o.Offsite = map[string]*model.OffsiteState{}
	for _, name := range d.TargetNames() {
		var subvols, services []string
		for _, sv := range d.SubvolumeNames() {
			if _, ok := d.Subvolumes[sv].Offsite[name]; ok {
				subvols = append(subvols, sv)
			}
		}
		for _, svc := range d.ServiceNames() {
			if _, ok := d.Services[svc].Offsite[name]; ok {
				services = append(services, svc)
			}
		}
		if len(subvols)+len(services) == 0 {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), observeTimeout)
		o.Offsite[name] = observeTarget(ctx, open, name, subvols, services)
		cancel()
	}
}

func observeTarget(ctx context.Context, open Targets, name string, subvols, services []string) *model.OffsiteState {
	st := &model.OffsiteState{Subvolumes: map[string]*model.OffsiteCopies{}}
	fail := func(err error) *model.OffsiteState {
		if errors.Is(err, target.ErrUnreachable) {
			return &model.OffsiteState{Unreachable: err.Error()}
		}
		return &model.OffsiteState{Error: err.Error()}
	}
	tgt, err := open(name)
	if err != nil {
		return fail(err)
	}
	if err := tgt.Probe(ctx); err != nil {
		return fail(err)
	}
	for _, sv := range subvols {
		oc := &model.OffsiteCopies{}
		if cl, ok := tgt.(target.ChainStore); ok {
			chains, leftovers, err := cl.Chains(ctx, sv)
			if err != nil {
				return fail(err)
			}
			oc.Chains, oc.Leftovers, oc.Copies = chains, len(leftovers), target.Copies(chains)
		} else if oc.Copies, err = tgt.List(ctx, sv); err != nil {
			return fail(err)
		}
		st.Subvolumes[sv] = oc
	}
	if err := observeArchives(ctx, tgt, services, st); err != nil {
		return fail(err)
	}
	return st
}

func offsiteTarget(env Env, a model.Action) (target.Target, error) {
	if a.Offsite == nil {
		return nil, errPayload(a)
	}
	if env.Targets == nil {
		return nil, fmt.Errorf("no off-site targets configured for %s", a.Offsite.Target)
	}
	return env.Targets(a.Offsite.Target)
}

func runOffsiteSend(ctx context.Context, env Env, a model.Action, progress func(int64)) (int64, *model.TestReport, error) {
	tgt, err := offsiteTarget(env, a)
	if err != nil {
		return 0, nil, err
	}
	if a.Offsite.Archive {
		store, ok := tgt.(target.ArchiveStore)
		if !ok {
			return 0, nil, fmt.Errorf("target %s does not hold archives", a.Offsite.Target)
		}
		n, err := store.UploadArchive(ctx, a.Subvolume, a.Path, progress)
		return n, nil, err
	}
	snap := target.Snapshot{Subvolume: a.Subvolume, Name: a.Snapshot, Path: a.Path}
	n, err := tgt.Receive(ctx, snap, a.Offsite.Parent, progress)
	return n, nil, err
}

func runOffsitePrune(ctx context.Context, env Env, a model.Action, _ func(int64)) (int64, *model.TestReport, error) {
	tgt, err := offsiteTarget(env, a)
	if err != nil {
		return 0, nil, err
	}
	if a.Offsite.Archive {
		store, ok := tgt.(target.ArchiveStore)
		if !ok {
			return 0, nil, fmt.Errorf("target %s does not hold archives", a.Offsite.Target)
		}
		return 0, nil, store.DeleteArchive(ctx, a.Subvolume, a.Snapshot)
	}
	return 0, nil, tgt.Delete(ctx, a.Subvolume, a.Snapshot)
}

func runOffsiteCleanup(ctx context.Context, env Env, a model.Action, _ func(int64)) (int64, *model.TestReport, error) {
	tgt, err := offsiteTarget(env, a)
	if err != nil {
		return 0, nil, err
	}
	if store, ok := tgt.(target.ArchiveStore); ok && a.Offsite.Archive {
		_, err := store.CleanupArchives(ctx, a.Subvolume)
		return 0, nil, err
	}
	if a.Snapshot != "" {
		return 0, nil, tgt.Delete(ctx, a.Subvolume, a.Snapshot)
	}
	c, ok := tgt.(target.ChainStore)
	if !ok {
		return 0, nil, fmt.Errorf("target %s has nothing to clean up by prefix", a.Offsite.Target)
	}
	_, err = c.Cleanup(ctx, a.Subvolume)
	return 0, nil, err
}

// observeArchives reads the archives of the services that upload to an
// object-storage target.
func observeArchives(ctx context.Context, tgt target.Target, services []string, st *model.OffsiteState) error {
	store, ok := tgt.(target.ArchiveStore)
	if !ok || len(services) == 0 {
		return nil
	}
	st.Services = map[string]*model.OffsiteCopies{}
	for _, svc := range services {
		copies, leftovers, err := store.Archives(ctx, svc)
		if err != nil {
			return err
		}
		st.Services[svc] = &model.OffsiteCopies{Copies: copies, Leftovers: len(leftovers)}
	}
	return nil
}
