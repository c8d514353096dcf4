package reconcile

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/drsync/drsync/retention"
	"github.com/drsync/drsync/schema"
	"github.com/drsync/drsync/snapname"
	"github.com/drsync/drsync/target"
)

// Off-site targets (an ssh host, an S3 bucket) are observed through
// target.Target and planned by target.Plan; this file turns that into the
// pipeline's observation and typed actions.

// Targets opens a declared off-site target; the CLI wires the providers.
type Targets func(name string) (target.Target, error)

// OffsiteState is one target as observed.
type OffsiteState struct {
	// Unreachable says why the target could not be reached: its work is
	// deferred with a warning.
	Unreachable string `json:"unreachable,omitempty"`
	// Error says why it could not be observed otherwise (credentials, a
	// host key, a missing bucket): a warning that needs a person.
	Error string `json:"error,omitempty"`
	// Subvolumes holds the copies of each subvolume sent there, and
	// Services the archives of each service uploaded there.
	Subvolumes map[string]*OffsiteCopies `json:"subvolumes,omitempty"`
	Services   map[string]*OffsiteCopies `json:"services,omitempty"`
}

// OffsiteCopies is what a target holds of one subvolume.
type OffsiteCopies struct {
	Copies []target.Copy `json:"copies"`
	// Chains and Leftovers are object storage's: the chains of send
	// streams, and how many objects interrupted uploads left.
	Chains    []target.Chain `json:"chains,omitempty"`
	Leftovers int            `json:"leftovers,omitempty"`
}

// OffsiteSpec is the payload of the off-site kinds: which target, and for
// a send the parent and chain target.Plan chose.
type OffsiteSpec struct {
	Target string `json:"target"`
	// Archive says the copy is a service archive (one object and its
	// record) rather than a snapshot.
	Archive bool   `json:"archive,omitempty"`
	Parent  string `json:"parent,omitempty"`
	Chain   string `json:"chain,omitempty"`
	// ExpectedBytes is a send's likely size, for a progress bar.
	ExpectedBytes int64 `json:"expectedBytes,omitempty"`
}

// observeTimeout bounds the observation of one target: a host that
// hangs must not hang the plan.
const observeTimeout = 2 * time.Minute

// observeOffsite reads every declared target that a subvolume sends to.
// A target that fails is recorded, never an error of the observation:
// local work goes on.
func observeOffsite(d *schema.Desired, open Targets, o *Observed) {
	if open == nil || len(d.Targets) == 0 {
		return
	}
	o.Offsite = map[string]*OffsiteState{}
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

func observeTarget(ctx context.Context, open Targets, name string, subvols, services []string) *OffsiteState {
	st := &OffsiteState{Subvolumes: map[string]*OffsiteCopies{}}
	fail := func(err error) *OffsiteState {
		if errors.Is(err, target.ErrUnreachable) {
			return &OffsiteState{Unreachable: err.Error()}
		}
		return &OffsiteState{Error: err.Error()}
	}
	tgt, err := open(name)
	if err != nil {
		return fail(err)
	}
	if err := tgt.Probe(ctx); err != nil {
		return fail(err)
	}
	for _, sv := range subvols {
		oc := &OffsiteCopies{}
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

// planOffsite adds a subvolume's off-site actions, one target at a time.
// An observation made without targets (Env.Targets unset, or saved by an
// older drsync) plans nothing off-site.
func (sp *SubvolumePlan) planOffsite(d *schema.Desired, s *schema.Subvolume, st *SubvolumeState, o *Observed, now time.Time) {
	if o.Offsite == nil {
		return
	}
	for _, name := range d.TargetNames() {
		sends, ok := s.Offsite[name]
		if !ok {
			continue
		}
		obs := o.Offsite[name]
		tgt := d.Targets[name]
		in := target.PlanInput{Target: name, Subvolume: s.Name, Sends: sends, SnapshotSchedule: s.Snapshots.Schedule,
			Policy: Policy(d, sends.Retention), ObjectStorage: tgt.Kind == schema.TargetS3, FullEvery: tgt.FullEvery,
			Now: now, Loc: now.Location()}
		for _, l := range st.Local {
			in.Local = append(in.Local, target.Local{Name: l.Name, Time: l.Time})
		}
		// A snapshot this plan takes is sent in the same run (snapshots
		// run before sends; a failed snapshot skips its sends).
		for _, a := range sp.Actions {
			if a.Kind == KindSnapshot {
				if stamp, ok := snapname.Parse(s.Name, a.Snapshot, now.Location()); ok {
					in.Local = append(in.Local, target.Local{Name: a.Snapshot, Time: stamp.Time})
				}
			}
		}
		switch {
		case obs == nil:
			in.Unreachable = "not observed"
		case obs.Error != "":
			continue // one warning for the target: offsiteWarnings
		case obs.Unreachable != "":
			in.Unreachable = obs.Unreachable
		case obs.Subvolumes[s.Name] != nil:
			oc := obs.Subvolumes[s.Name]
			in.Copies, in.Chains, in.Leftovers = oc.Copies, oc.Chains, oc.Leftovers
		}
		if st.SourceError != "" {
			// Without a source its snapshots may be the only copies left
			// here: keep every copy off-site too.
			in.Policy.MinAll = true
		}
		res := target.Plan(in)
		sp.Warnings = append(sp.Warnings, res.Warnings...)
		sp.keepOffsiteParent(s.Snapshots.Location, res.KeepLocal, name)
		for _, a := range res.Actions {
			sp.Actions = append(sp.Actions, offsiteAction(d, s, a))
		}
	}
}

// offsiteWarnings says, once per target, why its work waits.
func offsiteWarnings(d *schema.Desired, o *Observed) []string {
	var out []string
	for _, name := range d.TargetNames() {
		switch st := o.Offsite[name]; {
		case st == nil:
		case st.Error != "":
			out = append(out, fmt.Sprintf("off-site %s: %s; its sends and prunes wait", name, st.Error))
		case st.Unreachable != "":
			out = append(out, fmt.Sprintf("off-site %s is unreachable, its sends and prunes are deferred: %s", name, st.Unreachable))
		}
	}
	return out
}

func offsiteAction(d *schema.Desired, s *schema.Subvolume, a target.Action) Action {
	out := Action{Subvolume: s.Name, Location: a.Target, Snapshot: a.Name, Reason: a.Reason,
		Offsite: &OffsiteSpec{Target: a.Target, Parent: a.Parent, Chain: a.Chain, ExpectedBytes: a.ExpectedBytes}}
	switch a.Kind {
	case target.ActSend:
		out.Kind = KindOffsiteSend
		out.Path = filepath.Join(d.SnapshotDir(s.Snapshots.Location, s.Name), a.Name)
	case target.ActPrune:
		out.Kind = KindOffsitePrune
	case target.ActCleanup:
		out.Kind = KindOffsiteCleanup
	}
	return out
}

func offsiteTarget(env Env, a Action) (target.Target, error) {
	if a.Offsite == nil {
		return nil, errPayload(a)
	}
	if env.Targets == nil {
		return nil, fmt.Errorf("no off-site targets configured for %s", a.Offsite.Target)
	}
	return env.Targets(a.Offsite.Target)
}

func runOffsiteSend(ctx context.Context, env Env, a Action, progress func(int64)) (int64, *TestReport, error) {
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

func runOffsitePrune(ctx context.Context, env Env, a Action, _ func(int64)) (int64, *TestReport, error) {
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

func runOffsiteCleanup(ctx context.Context, env Env, a Action, _ func(int64)) (int64, *TestReport, error) {
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

func offsiteOn(a Action) string {
	switch {
	case a.Kind == KindOffsiteSend:
		return a.Snapshot + " → " + a.Location
	case a.Snapshot == "":
		return "interrupted uploads on " + a.Location
	case a.Offsite != nil && a.Offsite.Chain != "":
		return "chain " + a.Snapshot + " on " + a.Location
	}
	return a.Snapshot + " on " + a.Location
}

// observeArchives reads the archives of the services that upload to an
// object-storage target.
func observeArchives(ctx context.Context, tgt target.Target, services []string, st *OffsiteState) error {
	store, ok := tgt.(target.ArchiveStore)
	if !ok || len(services) == 0 {
		return nil
	}
	st.Services = map[string]*OffsiteCopies{}
	for _, svc := range services {
		copies, leftovers, err := store.Archives(ctx, svc)
		if err != nil {
			return err
		}
		st.Services[svc] = &OffsiteCopies{Copies: copies, Leftovers: len(leftovers)}
	}
	return nil
}

// planServiceOffsite uploads a service's newest archive to each target
// that lacks it (the one this plan takes included), cleans up interrupted
// uploads, and prunes by the target's retention, never the newest copy.
func (sp *SubvolumePlan) planServiceOffsite(d *schema.Desired, svc *schema.Service, st *ServiceState, o *Observed, now time.Time) {
	if o.Offsite == nil {
		return
	}
	archives := append([]Snapshot(nil), st.Archives...)
	for _, a := range sp.Actions {
		if a.Kind == KindBackup {
			if stamp, ok := snapname.Parse(svc.Name, strings.TrimSuffix(a.Snapshot, ArchiveSuffix), now.Location()); ok {
				archives = append(archives, Snapshot{Name: a.Snapshot, Time: stamp.Time, HasTime: stamp.HasTime})
			}
		}
	}
	sortSnapshots(archives)
	for _, name := range d.TargetNames() {
		copiesSpec, ok := svc.Offsite[name]
		obs := o.Offsite[name]
		if !ok || obs == nil || obs.Error != "" || obs.Unreachable != "" || obs.Services[svc.Name] == nil {
			continue // not declared, or its one warning is in offsiteWarnings
		}
		oc := obs.Services[svc.Name]
		spec := func(kind Kind, archive, reason string) Action {
			return Action{Kind: kind, Subvolume: svc.Name, Location: name, Snapshot: archive, Reason: reason,
				Offsite: &OffsiteSpec{Target: name, Archive: true}}
		}
		if oc.Leftovers > 0 {
			sp.Actions = append(sp.Actions, spec(KindOffsiteCleanup, "", fmt.Sprintf("%d objects or uploads of interrupted transfers", oc.Leftovers)))
		}
		var copies []Snapshot
		for _, c := range oc.Copies {
			stamp, ours := snapname.Parse(svc.Name, strings.TrimSuffix(c.Name, ArchiveSuffix), now.Location())
			switch {
			case !ours:
				sp.Warnings = append(sp.Warnings, fmt.Sprintf("%s on %s is not named like an archive of %s: left alone", c.Name, name, svc.Name))
			case !c.Restorable():
				sp.Warnings = append(sp.Warnings, fmt.Sprintf("%s on %s cannot be restored: %s", c.Name, name, c.Broken))
			default:
				copies = append(copies, Snapshot{Name: c.Name, Time: stamp.Time, HasTime: stamp.HasTime})
			}
		}
		sortSnapshots(copies)
		if n := len(archives); n > 0 {
			newest := archives[n-1]
			if (len(copies) == 0 || newest.Time.After(copies[len(copies)-1].Time)) && !HasName(copies, newest.Name) {
				a := spec(KindOffsiteSend, newest.Name, fmt.Sprintf("tier %s: %s lacks the newest archive", svc.Tier, name))
				a.Path = filepath.Join(d.ArchiveDir(svc), newest.Name)
				sp.Actions = append(sp.Actions, a)
				copies = append(copies, newest)
			}
		}
		if len(copies) == 0 {
			continue
		}
		items := make([]retention.Item, len(copies))
		for i, c := range copies {
			items[i] = retention.Item{Name: c.Name, Time: c.Time, HasTime: c.HasTime, Seq: c.Seq}
		}
		newest := copies[len(copies)-1].Name
		for _, v := range retention.Evaluate(items, Policy(d, copiesSpec.Retention), now, now.Location()) {
			if !v.Keep && v.Name != newest {
				sp.Actions = append(sp.Actions, spec(KindOffsitePrune, v.Name, v.Reason))
			}
		}
	}
}
