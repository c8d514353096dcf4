package reconcile

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/drsync/drsync/reconcile/journal"
	"github.com/drsync/drsync/reconcile/model"
)

type failingProver struct{}

func (failingProver) Prove(context.Context, model.TestRequest, func(int64)) (model.TestReport, error) {
	return model.TestReport{}, errors.New("input/output error")
}

// A restore test that cannot run is evidence of a problem, not of nothing.
func TestProofThatCannotRunIsAFailure(t *testing.T) {
	j, _ := journal.OpenJournal(t.TempDir())
	p := &model.Plan{Now: time.Now(), Subvolumes: []model.SubvolumePlan{{Name: "docs", Actions: []model.Action{
		{Kind: model.KindTest, Subvolume: "docs", Location: "pool", Snapshot: "docs.20261122T0200", Path: "/p/docs.20261122T0200", Proof: &model.ProofSpec{}},
		{Kind: model.KindPrune, Subvolume: "docs", Location: "pool", Snapshot: "docs.20261101T0200", Path: "/p/docs.20261101T0200"},
	}}}}
	res, err := Apply(context.Background(), p, Env{Prover: failingProver{}, Journal: j}, nil)
	if err == nil || res.Failed != 1 || res.Skipped != 1 {
		t.Fatalf("apply: %+v %v", res, err)
	}
	sum, _ := j.Summary()
	h := sum.History["docs"]
	if h == nil || h.LastTest == nil || h.LastTest.Passed() || !strings.Contains(h.LastTest.Failures[0].Got, "input/output") {
		t.Fatalf("history after a test that could not run: %+v", h)
	}
}
