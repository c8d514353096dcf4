package reconcile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/drsync/drsync/internal/safefs"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/target"
)

// runOffsiteProof fetches the copy from its target (for S3: download the
// chain, check each stream's SHA-256, decrypt, btrfs receive; for ssh:
// send it over the connection) and proves it. The fetch is a drill's
// restore: the prover verifies the fetched tree where it is and counts the
// fetch in the RTO. A copy that cannot be fetched (a tampered or missing
// object, a wrong identity) is a failed proof, journaled as such; a
// target gone unreachable since the plan is an error without evidence.
func runOffsiteProof(ctx context.Context, env Env, a model.Action, progress func(int64)) (int64, *model.TestReport, error) {
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
	kind := model.KindTest
	if a.Kind == model.KindOffsiteDrill {
		kind = model.KindDrill
	}
	ps := a.Proof
	req := model.TestRequest{Kind: kind, Subvolume: a.Subvolume, Snapshot: a.Snapshot, SnapshotTime: ps.SnapshotTime,
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
		rep := model.TestReport{Kind: kind, Subvolume: a.Subvolume, Snapshot: a.Snapshot, SnapshotTime: ps.SnapshotTime,
			Location: a.Offsite.Target, Seed: req.Seed, Result: model.ResultFail, Started: time.Now(),
			RestoreSeconds: time.Since(start).Seconds(),
			Failures:       []model.Failure{{Path: a.Snapshot, Check: "fetch", Got: err.Error(), GotFrom: a.Offsite.Target}}}
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
		rep = model.TestReport{Kind: kind, Subvolume: a.Subvolume, Snapshot: a.Snapshot, SnapshotTime: ps.SnapshotTime,
			Location: a.Offsite.Target, Seed: req.Seed, Result: model.ResultFail, Started: time.Now(), RestoreSeconds: req.Fetched.Seconds(),
			Failures: []model.Failure{{Path: a.Path, Check: "run", Got: err.Error()}}}
		return 0, &rep, err
	}
	if kind == model.KindTest {
		rep.RestoreSeconds, rep.VerifySeconds = req.Fetched.Seconds(), rep.Seconds
		rep.Seconds += rep.RestoreSeconds
	}
	if rep.Result == model.ResultFail {
		return rep.Bytes, &rep, ProofFailure(rep)
	}
	return rep.Bytes, &rep, nil
}

// fetchOffsite makes the copy readable here: a snapshot received under
// the action's directory, or an archive downloaded with its checksum.
func fetchOffsite(ctx context.Context, tgt target.Target, a model.Action) (string, func() error, error) {
	// The drill directory may lie below a user's home: no symlink on the
	// way is followed.
	fd, err := safefs.MkdirAll(a.Path, 0o700)
	if err != nil {
		return "", nil, err
	}
	unix.Close(fd)
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
