package prove

import (
	"context"
	"fmt"
	"time"

	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/verify"
	"github.com/drsync/drsync/verify/coverage"
)

// verifySlice verifies the coverage slice req asks for, besides the
// sample: every file of the slice (chosen from directory entries, nothing
// read) is compared in place between the local snapshot and the copy
// tested, content byte for byte and metadata, each read once per side,
// so a slice needs no scratch space. Without a reference the copy is
// compared with itself, which still reads every byte of it through the
// filesystem's checksums. Failures join the report's; each copy read
// gets a SliceProof with its filesystem generation.
func (p *Prover) verifySlice(ctx context.Context, req model.TestRequest, r *model.TestReport) error {
	if req.Slices == 0 {
		return nil
	}
	truth, wantSide := req.Copy, testedSide(req)
	if r.Reference != "" {
		truth, wantSide = r.Reference, sideLocal
	}
	rels, err := coverage.Slice(truth, req.Slice, req.Slices)
	if err != nil {
		return fmt.Errorf("slice %d of %d of %s: %w", req.Slice+1, req.Slices, truth, err)
	}
	start := time.Now()
	tree, err := verify.CompareFiles(ctx, truth, req.Copy, rels, nil)
	if err != nil {
		return fmt.Errorf("verifying slice %d of %d: %w", req.Slice+1, req.Slices, err)
	}
	failed := map[string][]string{}
	for _, m := range tree.Mismatches {
		f := drillFailure(m, wantSide)
		f.GotFrom = testedSide(req)
		r.Failures = append(r.Failures, f)
		failed[m.Rel] = append(failed[m.Rel], "slice:"+m.Check)
	}
	// Each file of the slice is listed with the check "slice": compared
	// with the reference, content and metadata.
	for _, rel := range rels {
		fc := model.FileCheck{Path: rel, Failed: failed[rel]}
		if len(fc.Failed) == 0 {
			fc.Passed = []string{"slice"}
		}
		r.Checked = append(r.Checked, fc)
	}
	// tree.Bytes counts both sides read: the slice's own size is half.
	proof := model.SliceProof{Snapshot: req.Snapshot, Slice: req.Slice, Slices: req.Slices, Verified: r.Started,
		Files: len(rels), Bytes: tree.Bytes / 2, Seconds: time.Since(start).Seconds(), Passed: len(tree.Mismatches) == 0}
	copies := []struct{ location, path string }{{req.Location, req.Copy}}
	if r.Reference != "" && req.ReferenceLocation != "" {
		copies = append(copies, struct{ location, path string }{req.ReferenceLocation, r.Reference})
	}
	for _, c := range copies {
		pr := proof
		pr.Location = c.location
		if g, ok := p.Storage.(model.SliceCounter); ok {
			if pr.Generation, err = g.Generation(c.path); err != nil {
				return fmt.Errorf("generation of %s: %w", c.path, err)
			}
		}
		r.Coverage = append(r.Coverage, pr)
	}
	return nil
}
