package reconcile

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

// A crash mid-append leaves a torn last line; the next append must not
// glue onto it and make the journal unreadable for good.
func TestJournalTornLine(t *testing.T) {
	dir := t.TempDir()
	j, _ := OpenJournal(dir)
	if err := j.Append(JournalEntry{Run: "r1", Phase: PhaseRunStart}); err != nil {
		t.Fatal(err)
	}
	f, _ := os.OpenFile(j.Path(), os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(`{"run":"r1","phase":"sta`)
	f.Close()
	if _, err := j.Entries(); err != nil {
		t.Fatalf("a torn last line must be tolerated: %v", err)
	}
	if err := j.Append(JournalEntry{Run: "r2", Phase: PhaseRunStart}); err != nil {
		t.Fatal(err)
	}
	entries, err := j.Entries()
	if err != nil || len(entries) != 2 || entries[1].Run != "r2" {
		t.Fatalf("after appending past a torn line: %+v %v", entries, err)
	}
}

// Tests and drills run by hand neither hide an interrupted apply nor count
// as applies.
func TestJournalProofRunsAreNotApplies(t *testing.T) {
	j, _ := OpenJournal(t.TempDir())
	snap := &Action{Kind: KindSnapshot, Subvolume: "docs", Location: "pool", Path: "/p/docs.1"}
	for _, e := range []JournalEntry{
		{Run: "a1", Phase: PhaseRunStart, Command: "apply"},
		{Run: "a1", Phase: PhaseStart, Action: snap},
		{Run: "t1", Phase: PhaseRunStart, Command: "test"},
		{Run: "t1", Phase: PhaseRunEnd, Command: "test", Result: "ok"},
	} {
		if err := j.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	sum, err := j.Summary()
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Interrupted) != 1 || sum.Interrupted[0].Action.Path != snap.Path {
		t.Errorf("the interrupted apply is lost: %+v", sum.Interrupted)
	}
	if len(sum.Runs) != 0 {
		t.Errorf("a test counted as an apply run: %v", sum.Runs)
	}
}

type failingProver struct{}

func (failingProver) Prove(context.Context, TestRequest, func(int64)) (TestReport, error) {
	return TestReport{}, errors.New("input/output error")
}

// A restore test that cannot run is evidence of a problem, not of nothing.
func TestProofThatCannotRunIsAFailure(t *testing.T) {
	j, _ := OpenJournal(t.TempDir())
	p := &Plan{Now: time.Now(), Subvolumes: []SubvolumePlan{{Name: "docs", Actions: []Action{
		{Kind: KindTest, Subvolume: "docs", Location: "pool", Snapshot: "docs.20261122T0200", Path: "/p/docs.20261122T0200", Proof: &ProofSpec{}},
		{Kind: KindPrune, Subvolume: "docs", Location: "pool", Snapshot: "docs.20261101T0200", Path: "/p/docs.20261101T0200"},
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
