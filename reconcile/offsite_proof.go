package reconcile

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/drsync/drsync/schema"
	"github.com/drsync/drsync/snapname"
	"github.com/drsync/drsync/target"
)

// Off-site copies are proven on their own cadence, as local copies are: a
// restore test fetches the copy a target holds into scratch and samples
// it; a drill fetches it whole and verifies every file, timed against the
// RTO: what DR-004 runs after a fire or a theft. Their evidence is
// journaled like any test, with the target as its location, and kept per
// target (History.Offsite).

// offsiteHistory is the history of the copies on target, made on first use.
func (h *History) offsiteHistory(target string) *History {
	if h.Offsite == nil {
		h.Offsite = map[string]*History{}
	}
	oh := h.Offsite[target]
	if oh == nil {
		oh = &History{}
		h.Offsite[target] = oh
	}
	return oh
}

// recordOffsite folds an off-site send, test or drill into its target's
// history.
func (h *History) recordOffsite(e JournalEntry) {
	if e.Action.Offsite == nil {
		return
	}
	oh := h.offsiteHistory(e.Action.Offsite.Target)
	if e.Action.Kind == KindOffsiteSend {
		oh.LastBackup, oh.LastSend = &e, &e
		return
	}
	oh.recordProof(e.Report)
}

// offsitePassesKey keys the passes of a target's history in a checkpoint
// (a NUL never occurs in a name).
func offsitePassesKey(owner, target string) string { return owner + "\x00" + target }

// NewestVerified is the newest snapshot a passing test or drill verified
// of any copy (local, on the drive or off-site): the real RPO counts from
// it. Retention's fallback (lastVerified) stays with the local copies.
func (h *History) NewestVerified() *TestReport {
	if h == nil {
		return nil
	}
	v := h.Verified
	for _, name := range slices.Sorted(maps.Keys(h.Offsite)) {
		if ov := h.Offsite[name].Verified; ov != nil && (v == nil || ov.SnapshotTime.After(v.SnapshotTime)) {
			v = ov
		}
	}
	return v
}

// targetHistory is the history of the copies on target; empty, never
// nil, when nothing is recorded.
func targetHistory(h *History, target string) *History {
	if h == nil || h.Offsite[target] == nil {
		return &History{}
	}
	return h.Offsite[target]
}

// offsiteProof is one kind of proof of the copies on a target with its
// resolved cadence (0: none asked for).
type offsiteProof struct {
	kind     Kind
	every    time.Duration
	declared bool
}

// due says whether the proof is due by the target's history.
func (p offsiteProof) due(h *History, now time.Time) (*ProofWhy, bool) {
	if p.kind == KindOffsiteDrill {
		return proofDue("drill", h.LastPassedDrill, h.LastDrill, nil, p.every, now)
	}
	return proofDue("restore test", h.LastPassed, h.LastTest, h.LastSkipped, p.every, now)
}

// planOffsiteProofs adds the due tests and drills of a subvolume's copies
// on each target: of the copy this plan sends there, else of the newest
// restorable copy it holds. A target that cannot be reached defers them
// with a warning; one not observed at all plans none.
func (sp *SubvolumePlan) planOffsiteProofs(d *schema.Desired, s *schema.Subvolume, st *SubvolumeState, o *Observed, now time.Time) {
	if o.Offsite == nil {
		return
	}
	tier := d.Tiers[s.Tier]
	for _, name := range d.TargetNames() {
		sends, ok := s.Offsite[name]
		if !ok {
			continue
		}
		th := targetHistory(o.History[s.Name], name)
		for _, p := range []offsiteProof{
			{KindOffsiteTest, d.OffsiteTestEvery(s.Tier, sends.RestoreTest), sends.RestoreTest != nil},
			{KindOffsiteDrill, d.OffsiteDrillEvery(s.Tier, sends.Drill), sends.Drill != nil},
		} {
			if p.every <= 0 {
				continue
			}
			why, due := p.due(th, now)
			if !due {
				continue
			}
			var copies []target.Copy
			if obs := o.Offsite[name]; obs == nil || obs.Error != "" {
				continue // not observed, or its one warning is in offsiteWarnings
			} else if obs.Unreachable != "" {
				sp.Warnings = append(sp.Warnings, fmt.Sprintf("off-site %s of %s on %s due but deferred: the target is unreachable", why.What, s.Name, name))
				continue
			} else if oc := obs.Subvolumes[s.Name]; oc != nil {
				copies = oc.Copies
			}
			snap, ok := sp.offsiteCopyToProve(name, false, copies)
			stamp, parsed := snapname.Parse(s.Name, snap, now.Location())
			if !ok || !parsed {
				sp.Warnings = append(sp.Warnings, fmt.Sprintf("off-site %s of %s on %s due but %s holds no restorable copy yet", why.What, s.Name, name, name))
				continue
			}
			a := Action{Kind: p.kind, Subvolume: s.Name, Location: name, Snapshot: snap,
				Path:    filepath.Join(d.DrillDir(s), "offsite-"+name),
				Offsite: &OffsiteSpec{Target: name}, Proof: &ProofSpec{SnapshotTime: stamp.Time}}
			if HasName(st.Local, snap) || sp.takes(snap) {
				a.Proof.Reference = filepath.Join(d.SnapshotDir(s.Snapshots.Location, s.Name), snap)
			}
			if p.kind == KindOffsiteDrill {
				a.Proof.Scratch, a.Proof.RTOTarget = d.DrillDir(s), d.RTO(s)
			} else {
				a.Proof.Scratch, a.Proof.SampleSize = d.Restore.Scratch, tier.RestoreTest.SampleSize
			}
			why.Target, why.Declared = name, p.declared
			a.because(Reason{Code: BecauseProofDue, Tier: s.Tier, Proof: why})
			sp.Actions = append(sp.Actions, a)
		}
		if last := th.LastTest; last != nil && !last.Passed() && !sp.plans(KindOffsiteTest, name) {
			sp.Warnings = append(sp.Warnings, fmt.Sprintf("off-site restore test of %s on %s FAILED %s ago; retest due %s",
				last.Snapshot, name, schema.Age(now.Sub(last.Started)),
				last.Started.Add(min(d.OffsiteTestEvery(s.Tier, sends.RestoreTest), 24*time.Hour)).In(now.Location()).Format("2006-01-02 15:04")))
		}
	}
}

// planServiceOffsiteProofs adds the due restore tests of a service's
// newest archive on each target (the one this plan uploads, else the
// newest there).
func (sp *SubvolumePlan) planServiceOffsiteProofs(d *schema.Desired, svc *schema.Service, o *Observed, now time.Time) {
	if o.Offsite == nil {
		return
	}
	for _, name := range d.TargetNames() {
		spec, ok := svc.Offsite[name]
		obs := o.Offsite[name]
		if !ok || obs == nil || obs.Error != "" {
			continue
		}
		p := offsiteProof{KindOffsiteTest, d.OffsiteTestEvery(svc.Tier, spec.RestoreTest), spec.RestoreTest != nil}
		why, due := p.due(targetHistory(o.History[svc.Name], name), now)
		if !due {
			continue
		}
		if obs.Unreachable != "" {
			sp.Warnings = append(sp.Warnings, fmt.Sprintf("off-site restore test of %s on %s due but deferred: the target is unreachable", svc.Name, name))
			continue
		}
		var copies []target.Copy
		if oc := obs.Services[svc.Name]; oc != nil {
			copies = oc.Copies
		}
		archive, ok := sp.offsiteCopyToProve(name, true, copies)
		stamp, parsed := snapname.Parse(svc.Name, strings.TrimSuffix(archive, ArchiveSuffix), now.Location())
		if !ok || !parsed {
			sp.Warnings = append(sp.Warnings, fmt.Sprintf("off-site restore test of %s on %s due but %s holds no archive yet", svc.Name, name, name))
			continue
		}
		a := Action{Kind: KindOffsiteTest, Subvolume: svc.Name, Location: name, Snapshot: archive,
			Path:    filepath.Join(d.Locations[svc.Location].Path, ".offsite-"+name, svc.Name),
			Offsite: &OffsiteSpec{Target: name, Archive: true},
			Proof:   &ProofSpec{SnapshotTime: stamp.Time, Scratch: d.Restore.Scratch, Service: svc}}
		why.Target, why.Declared = name, p.declared
		a.because(Reason{Code: BecauseProofDue, Tier: svc.Tier, Proof: why})
		sp.Actions = append(sp.Actions, a)
	}
}

// offsiteCopyToProve is the copy a proof on target reads: what this plan
// sends there, else the newest restorable copy the target holds.
func (sp *SubvolumePlan) offsiteCopyToProve(name string, archive bool, copies []target.Copy) (string, bool) {
	for _, a := range sp.Actions {
		if a.Kind == KindOffsiteSend && a.Offsite != nil && a.Offsite.Target == name && a.Offsite.Archive == archive {
			return a.Snapshot, true
		}
	}
	newest := ""
	for _, c := range copies {
		if c.Restorable() && c.Name > newest {
			newest = c.Name
		}
	}
	return newest, newest != ""
}

// takes reports whether the plan takes the snapshot name.
func (sp *SubvolumePlan) takes(name string) bool {
	return slices.ContainsFunc(sp.Actions, func(a Action) bool { return a.Kind == KindSnapshot && a.Snapshot == name })
}

// plans reports whether the plan holds an action of kind on target.
func (sp *SubvolumePlan) plans(kind Kind, target string) bool {
	return slices.ContainsFunc(sp.Actions, func(a Action) bool { return a.Kind == kind && a.Location == target })
}

// runOffsiteProof fetches the copy from its target (for S3: download the
// chain, check each stream's SHA-256, decrypt, btrfs receive; for ssh:
// send it over the connection) and proves it. The fetch is a drill's
// restore: the prover verifies the fetched tree where it is and counts the
// fetch in the RTO. A copy that cannot be fetched (a tampered or missing
// object, a wrong identity) is a failed proof, journaled as such; a
// target gone unreachable since the plan is an error without evidence.
func runOffsiteProof(ctx context.Context, env Env, a Action, progress func(int64)) (int64, *TestReport, error) {
	if a.Proof == nil || a.Offsite == nil {
		return 0, nil, errPayload(a)
	}
	if env.Prover == nil {
		return 0, nil, fmt.Errorf("no prover configured for %s", a.Kind)
	}
	tgt, err := offsiteTarget(env, a)
	if err != nil {
		return 0, nil, err
	}
	kind := KindTest
	if a.Kind == KindOffsiteDrill {
		kind = KindDrill
	}
	ps := a.Proof
	req := TestRequest{Kind: kind, Subvolume: a.Subvolume, Snapshot: a.Snapshot, SnapshotTime: ps.SnapshotTime,
		SampleSize: ps.SampleSize, Seed: ps.Seed, Scratch: ps.Scratch, RTOTarget: ps.RTOTarget.Duration,
		Location: a.Offsite.Target, Reference: ps.Reference, Service: ps.Service}
	if req.Seed == 0 {
		req.Seed = time.Now().UnixNano() % 1e9
	}
	start := time.Now()
	fetched, cleanup, err := fetchOffsite(ctx, tgt, a)
	if err != nil {
		err = fmt.Errorf("fetch %s from %s: %w", a.Snapshot, a.Offsite.Target, err)
		if errors.Is(err, target.ErrUnreachable) || ctx.Err() != nil {
			return 0, nil, err
		}
		rep := TestReport{Kind: kind, Subvolume: a.Subvolume, Snapshot: a.Snapshot, SnapshotTime: ps.SnapshotTime,
			Location: a.Offsite.Target, Seed: req.Seed, Result: ResultFail, Started: time.Now(),
			RestoreSeconds: time.Since(start).Seconds(),
			Failures:       []Failure{{Path: a.Snapshot, Check: "fetch", Got: err.Error(), GotFrom: a.Offsite.Target}}}
		return 0, &rep, err
	}
	req.Copy, req.Fetched = fetched, time.Since(start)
	rep, err := env.Prover.Prove(ctx, req, progress)
	if cerr := cleanup(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("removing the copy fetched from %s: %w", a.Offsite.Target, cerr))
	}
	if err != nil {
		// As for local proofs: one that cannot even run proves nothing and
		// is recorded as a failure.
		rep = TestReport{Kind: kind, Subvolume: a.Subvolume, Snapshot: a.Snapshot, SnapshotTime: ps.SnapshotTime,
			Location: a.Offsite.Target, Seed: req.Seed, Result: ResultFail, Started: time.Now(), RestoreSeconds: req.Fetched.Seconds(),
			Failures: []Failure{{Path: a.Path, Check: "run", Got: err.Error()}}}
		return 0, &rep, err
	}
	if kind == KindTest {
		rep.RestoreSeconds, rep.VerifySeconds = req.Fetched.Seconds(), rep.Seconds
		rep.Seconds += rep.RestoreSeconds
	}
	if rep.Result == ResultFail {
		return rep.Bytes, &rep, ProofFailure(rep)
	}
	return rep.Bytes, &rep, nil
}

// fetchOffsite makes the copy readable here: a snapshot received under
// the action's directory, or an archive downloaded with its checksum.
func fetchOffsite(ctx context.Context, tgt target.Target, a Action) (string, func() error, error) {
	if err := os.MkdirAll(a.Path, 0o700); err != nil {
		return "", nil, err
	}
	if !a.Offsite.Archive {
		return tgt.Open(ctx, a.Subvolume, a.Snapshot, a.Path)
	}
	store, ok := tgt.(target.ArchiveStore)
	if !ok {
		return "", nil, fmt.Errorf("target %s does not hold archives", a.Offsite.Target)
	}
	path, err := store.OpenArchive(ctx, a.Subvolume, a.Snapshot, a.Path)
	if err != nil {
		return "", nil, err
	}
	return path, func() error { return errors.Join(os.Remove(path), os.Remove(path+".sha256")) }, nil
}
