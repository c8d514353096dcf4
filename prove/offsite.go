package prove

import (
	"context"
	"fmt"
	"time"

	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/schema"
	"github.com/drsync/drsync/verify"
)

// sideOffsite names a copy fetched from an off-site target.
const sideOffsite = "off-site copy"

// drillFetched verifies a copy fetched from an off-site target where the
// fetch left it (the fetch was the restore: download, decrypt, receive),
// every file against the local snapshot of the same name or, with none
// left, read back whole against itself. The RTO counts the fetch and the
// verification, reported apart.
func (p *Prover) drillFetched(ctx context.Context, req model.TestRequest, r model.TestReport) (model.TestReport, error) {
	start := time.Now()
	want, wantSide := req.Copy, sideOffsite
	if r.Reference != "" {
		want, wantSide = r.Reference, sideLocal
	} else {
		r.Why += "; no local snapshot of the same name left to compare with: every file read back"
	}
	tree, err := verify.CompareTrees(ctx, want, req.Copy, nil)
	if err != nil {
		return r, fmt.Errorf("drill verification: %w", err)
	}
	r.RestoreSeconds, r.VerifySeconds = req.Fetched.Seconds(), time.Since(start).Seconds()
	r.Seconds = r.RestoreSeconds + r.VerifySeconds
	r.Files, r.Bytes = tree.Files, tree.Bytes/2
	for _, m := range tree.Mismatches {
		f := drillFailure(m, wantSide)
		if f.GotFrom == sideRestored {
			f.GotFrom = sideOffsite
		}
		r.Failures = append(r.Failures, f)
	}
	if req.RTOTarget > 0 && r.Seconds > req.RTOTarget.Seconds() {
		r.Failures = append(r.Failures, model.Failure{Path: ".", Check: "rto",
			Want: schema.FormatDuration(req.RTOTarget), WantFrom: "RTO target",
			Got: time.Duration(r.Seconds * float64(time.Second)).Round(time.Second).String(), GotFrom: "fetch and verification from off-site"})
	}
	r.Result = model.ResultPass
	if len(r.Failures) > 0 {
		r.Result = model.ResultFail
	}
	return r, nil
}
