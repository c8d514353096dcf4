// Package prove runs restore tests and drills: the evidence that a
// snapshot restores. It implements model.Prover on top of package
// verify and the storage provider that made the copies.
package prove

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/drsync/drsync/internal/safefs"
	"github.com/drsync/drsync/providers/services"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/schema"
	"github.com/drsync/drsync/verify"
	"github.com/drsync/drsync/verify/sample"
)

// Prover runs tests through Storage (drills receive a whole replica with
// it) and keeps the scratch of failed tests for KeepFailed.
type Prover struct {
	Storage    model.Storage
	KeepFailed time.Duration
	// Now is the clock; tests fix it.
	Now func() time.Time
}

// New returns a Prover for a desired state.
func New(st model.Storage, d *schema.Desired) *Prover {
	return &Prover{Storage: st, KeepFailed: d.Restore.KeepFailed.Duration, Now: time.Now}
}

var _ model.Prover = (*Prover)(nil)

// Prove runs req and returns its evidence. An error means the test could
// not be run at all; damage it finds is a report with Result fail.
func (p *Prover) Prove(ctx context.Context, req model.TestRequest, progress func(int64)) (model.TestReport, error) {
	switch {
	case req.Kind == model.KindDrill && req.Service != nil:
		return p.drillService(ctx, req)
	case req.Kind == model.KindDrill:
		return p.drill(ctx, req, progress)
	case req.Service != nil:
		return p.testArchive(ctx, req)
	}
	return p.test(ctx, req)
}

// testArchive restores a whole service archive into scratch and checks it
// as the service would read it back.
func (p *Prover) testArchive(ctx context.Context, req model.TestRequest) (model.TestReport, error) {
	r := p.report(req)
	r.Why = archiveWhy(req.External)
	start := time.Now()
	rootFd, scratch, err := p.archiveScratch(req, r.Started)
	if err != nil {
		return r, err
	}
	defer unix.Close(rootFd)
	defer scratch.Close()
	rep, err := services.Verify(ctx, req.Service, req.Copy, scratch.Proc+"/restore")
	r.Seconds = time.Since(start).Seconds()
	if errors.Is(err, services.ErrNothingToProve) {
		r.Result, r.Why, r.Files = model.ResultSkip, err.Error(), rep.Files
		return r, removeBelow(rootFd, scratch.Name)
	}
	if err != nil {
		removeBelow(rootFd, scratch.Name)
		return r, fmt.Errorf("restore test of %s: %w", req.Snapshot, err)
	}
	r.Files, r.Bytes = rep.Files, rep.Bytes
	r.Failures, r.Checked = archiveReport(req.Service, req.Copy, rep)
	if len(r.Failures) > 0 {
		r.Result, r.Scratch = model.ResultFail, scratch.Path
		recordArchiveCoverage(&r, req)
		return r, nil
	}
	if r.Files == 0 {
		r.Result, r.Why = model.ResultSkip, "the archive holds no files: nothing to prove"
	} else {
		r.Result = model.ResultPass
	}
	recordArchiveCoverage(&r, req)
	return r, removeBelow(rootFd, scratch.Name)
}

// recordArchiveCoverage adds to a whole-archive test's report, when its
// tier declares coverage (req.Slices), that it verified the one slice of
// the copy it read (issue 15): the archive, whole. A skipped test proves
// nothing either way.
func recordArchiveCoverage(r *model.TestReport, req model.TestRequest) {
	if req.Slices == 0 || r.Result == model.ResultSkip {
		return
	}
	r.Coverage = append(r.Coverage, model.SliceProof{Location: req.Location, Snapshot: req.Snapshot, Slices: 1,
		Verified: r.Started, Files: r.Files, Bytes: r.Bytes, Seconds: r.Seconds, Passed: r.Result == model.ResultPass})
}

// archiveWhy says why a whole-archive test or drill read the copy it did.
func archiveWhy(external bool) string {
	if external {
		return "the newest archive's copy on the external drive is the copy a disaster leaves"
	}
	return "no copy on the drive: the newest local archive"
}

// archiveScratch opens the scratch root and a fresh run directory below it
// for one whole-archive test or drill; the caller closes both.
func (p *Prover) archiveScratch(req model.TestRequest, started time.Time) (int, scratchDir, error) {
	rootFd, err := p.prepareScratch(req.Scratch)
	if err != nil {
		return -1, scratchDir{}, err
	}
	dir, err := newScratch(rootFd, req.Scratch, req.Subvolume, started)
	if err != nil {
		unix.Close(rootFd)
		return -1, scratchDir{}, err
	}
	return rootFd, dir, nil
}

// prepareScratch opens (or creates) the trusted scratch root and removes
// the expired scratch of earlier failed tests.
func (p *Prover) prepareScratch(root string) (int, error) {
	fd, err := openScratchRoot(root)
	if err != nil {
		return -1, err
	}
	if err := cleanScratchAt(fd, root, p.KeepFailed, p.Now()); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

func (p *Prover) report(req model.TestRequest) model.TestReport {
	r := model.TestReport{Kind: req.Kind, Subvolume: req.Subvolume, Snapshot: req.Snapshot, SnapshotTime: req.SnapshotTime,
		Location: req.Location, Seed: req.Seed, SampleSize: req.SampleSize, Started: p.Now()}
	if req.Reference != "" && req.Reference != req.Copy {
		r.Reference = req.Reference
	}
	if req.Fetched > 0 {
		r.Why = "the copy on " + req.Location + " is what a fire or a theft leaves"
	} else if req.External {
		r.Why = "the replica on the external drive is the copy a disaster leaves"
	} else {
		r.Why = "no replica on the drive: the local snapshot"
	}
	return r
}

// test restores a sample of files into a fresh scratch directory and
// verifies each against the tested copy and, for a replica, against the
// local snapshot it was sent from.
func (p *Prover) test(ctx context.Context, req model.TestRequest) (model.TestReport, error) {
	r := p.report(req)
	start := time.Now()
	rootFd, err := p.prepareScratch(req.Scratch)
	if err != nil {
		return r, err
	}
	defer unix.Close(rootFd)
	// Sample the local snapshot when there is one: it is what was sent, so
	// a file the replica lost is still drawn, and found missing.
	truth := req.Copy
	if r.Reference != "" {
		truth = r.Reference
	}
	rels, err := sample.Paths(truth, req.SampleSize, req.Seed)
	if err != nil {
		return r, fmt.Errorf("sampling %s: %w", truth, err)
	}
	if len(rels) == 0 {
		r.Result = model.ResultSkip
		r.Why = "the snapshot holds no files: nothing to prove"
		r.Seconds = time.Since(start).Seconds()
		return r, nil
	}
	if why := sampleWontFit(rootFd, req.Scratch, req.Copy, rels); why != "" {
		r.Result, r.Why, r.Seconds = model.ResultSkip, why, time.Since(start).Seconds()
		return r, nil
	}
	scratch, err := newScratch(rootFd, req.Scratch, req.Subvolume, r.Started)
	if err != nil {
		return r, err
	}
	defer scratch.Close()
	results, err := verify.TestFiles(ctx, req.Copy, r.Reference, scratch.Proc, rels)
	r.Paths, r.Checked = rels, sampleChecked(results)
	for _, fr := range results {
		r.Files++
		r.Bytes += fr.Bytes
		for _, m := range fr.Mismatches {
			r.Failures = append(r.Failures, sampleFailure(m, testedSide(req)))
		}
	}
	if err == nil {
		err = p.verifySlice(ctx, req, &r)
	}
	r.Seconds = time.Since(start).Seconds()
	if err != nil {
		removeBelow(rootFd, scratch.Name)
		return r, fmt.Errorf("restore test of %s: %w", req.Snapshot, err)
	}
	if len(r.Failures) > 0 {
		r.Result, r.Scratch = model.ResultFail, scratch.Path
		if err := keepOnlyFailing(scratch.Fd, results); err != nil {
			r.Why += "; some passing files could not be removed from the kept scratch: " + err.Error()
		}
		return r, nil
	}
	r.Result = model.ResultPass
	return r, removeBelow(rootFd, scratch.Name)
}

// drill receives the whole replica again into the drill directory, as a
// recovery would, verifies every file against the local snapshot (or the
// replica when that is gone) and times it against the RTO target.
func (p *Prover) drill(ctx context.Context, req model.TestRequest, progress func(int64)) (model.TestReport, error) {
	r := p.report(req)
	r.RTOTargetSeconds = req.RTOTarget.Seconds()
	if req.Fetched > 0 {
		return p.drillFetched(ctx, req, r)
	}
	start := time.Now()
	received := filepath.Join(req.Scratch, filepath.Base(req.Copy))
	if received == req.Copy || received == req.Reference {
		return r, fmt.Errorf("drill target %s would receive onto the copy it tests", req.Scratch)
	}
	if err := p.removeLeftover(ctx, req.Scratch, filepath.Base(req.Copy)); err != nil {
		return r, err
	}
	dirFd, err := safefs.MkdirAll(req.Scratch, 0o700)
	if err != nil {
		return r, fmt.Errorf("drill target: %w", err)
	}
	why, err := drillWontFit(p.Storage, dirFd, req.Scratch, req.Copy)
	unix.Close(dirFd)
	if err != nil {
		return r, fmt.Errorf("drill: %w", err)
	}
	if why != "" {
		r.Result, r.Why = model.ResultSkip, why
		return r, nil
	}
	bytes, err := p.Storage.Send(ctx, req.Copy, "", req.Scratch, progress)
	if err != nil {
		return r, fmt.Errorf("drill restore of %s: %w", req.Copy, err)
	}
	restored := time.Now()
	defer p.Storage.Delete(context.WithoutCancel(ctx), received)
	want, wantSide := req.Copy, testedSide(req)
	if r.Reference != "" {
		want, wantSide = r.Reference, sideLocal
	}
	tree, err := verify.CompareTrees(ctx, want, received, nil)
	if err != nil {
		return r, fmt.Errorf("drill verification: %w", err)
	}
	// The RTO is what the recovery costs, the restore; the verification,
	// which a recovery by drsync recover also runs, is reported next to it.
	end := time.Now()
	r.Seconds, r.RestoreSeconds, r.VerifySeconds = end.Sub(start).Seconds(), restored.Sub(start).Seconds(), end.Sub(restored).Seconds()
	r.Files, r.Bytes = tree.Files, bytes
	for _, m := range tree.Mismatches {
		r.Failures = append(r.Failures, drillFailure(m, wantSide))
	}
	if req.RTOTarget > 0 && r.RestoreSeconds > req.RTOTarget.Seconds() {
		r.Failures = append(r.Failures, model.Failure{Path: ".", Check: "rto",
			Want: schema.FormatDuration(req.RTOTarget), WantFrom: "RTO target",
			Got: (time.Duration(r.RestoreSeconds * float64(time.Second))).Round(time.Second).String(), GotFrom: "full restore"})
	}
	r.Result = model.ResultPass
	if len(r.Failures) > 0 {
		r.Result = model.ResultFail
	}
	return r, nil
}

// removeLeftover deletes the copy a drill that died left in dir, so this
// one measures a full restore; anything there that is not a received copy
// is someone else's and stops the drill.
func (p *Prover) removeLeftover(ctx context.Context, dir, name string) error {
	entries, err := p.Storage.List(dir)
	if err != nil {
		return fmt.Errorf("drill target: %w", err)
	}
	for _, e := range entries {
		if e.Name != name {
			continue
		}
		if !e.Subvolume || e.ReceivedUUID == "" && e.ReadOnly {
			return fmt.Errorf("drill target %s already holds %s, which no drill made; remove it or choose another drillTarget", dir, name)
		}
		if err := p.Storage.Delete(ctx, filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("removing an earlier drill's copy: %w", err)
		}
	}
	return nil
}
