package journal

import (
	"os"
	"testing"

	"github.com/drsync/drsync/reconcile/model"
)

// A crash mid-append leaves a torn last line; the next append must not
// glue onto it and make the journal unreadable for good.
func TestJournalTornLine(t *testing.T) {
	dir := t.TempDir()
	j, _ := OpenJournal(dir)
	if err := j.Append(model.JournalEntry{Run: "r1", Phase: model.PhaseRunStart}); err != nil {
		t.Fatal(err)
	}
	f, _ := os.OpenFile(j.Path(), os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(`{"run":"r1","phase":"sta`)
	f.Close()
	if _, err := j.Entries(); err != nil {
		t.Fatalf("a torn last line must be tolerated: %v", err)
	}
	if err := j.Append(model.JournalEntry{Run: "r2", Phase: model.PhaseRunStart}); err != nil {
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
	snap := &model.Action{Kind: model.KindSnapshot, Subvolume: "docs", Location: "pool", Path: "/p/docs.1"}
	for _, e := range []model.JournalEntry{
		{Run: "a1", Phase: model.PhaseRunStart, Command: "apply"},
		{Run: "a1", Phase: model.PhaseStart, Action: snap},
		{Run: "t1", Phase: model.PhaseRunStart, Command: "test"},
		{Run: "t1", Phase: model.PhaseRunEnd, Command: "test", Result: "ok"},
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
