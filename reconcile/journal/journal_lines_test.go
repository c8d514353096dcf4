package journal

import (
	"bufio"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/drsync/drsync/reconcile/internal/fixture"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/reconcile/planner"
)

// TestJournalAnyLineLength is issue 14 item 2: a line over 16 MiB (a big
// passing test wrote one) broke every later command with "token too long".
func TestJournalAnyLineLength(t *testing.T) {
	j, _ := OpenJournal(t.TempDir())
	huge := strings.Repeat("x", 20<<20)
	for _, e := range []model.JournalEntry{
		{Run: "r1", Phase: model.PhaseRunStart, Command: "apply"},
		{Run: "r1", Phase: model.PhaseFailed, Error: huge, Action: &model.Action{Kind: model.KindSnapshot, Subvolume: "docs"}},
		{Run: "r1", Phase: model.PhaseRunEnd, Command: "apply", Result: "ok"},
	} {
		if err := j.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := j.Entries()
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 3 || len(entries[1].Error) != len(huge) || entries[2].Phase != model.PhaseRunEnd {
		t.Fatalf("read %d entries", len(entries))
	}
}

// TestJournalMalformedLineSkipped: a malformed line in the middle is
// reported by name and line and skipped; the history around it survives.
func TestJournalMalformedLineSkipped(t *testing.T) {
	j, _ := OpenJournal(t.TempDir())
	if err := j.Append(model.JournalEntry{Run: "r1", Phase: model.PhaseRunStart, Command: "apply"}); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(j.Path(), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("{\"run\":\"r1\",\"phase\":\ngarbage\n")
	f.Close()
	if err := j.Append(model.JournalEntry{Run: "r1", Phase: model.PhaseRunEnd, Command: "apply", Result: "ok"}); err != nil {
		t.Fatal(err)
	}
	// A torn last line is a crash mid-write, not damage: not reported.
	f, err = os.OpenFile(j.Path(), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"run":"r2","pha`)
	f.Close()
	sum, err := j.Summary()
	if err != nil {
		t.Fatalf("a malformed line was fatal: %v", err)
	}
	if sum.Runs["ok"] != 1 {
		t.Errorf("the run around the bad lines is lost: %+v", sum.Runs)
	}
	want := []string{j.Path() + ":2: malformed", j.Path() + ":3: malformed"}
	if len(sum.Malformed) != 2 || !strings.HasPrefix(sum.Malformed[0], want[0]) || !strings.HasPrefix(sum.Malformed[1], want[1]) {
		t.Errorf("malformed lines reported as %q, want prefixes %q", sum.Malformed, want)
	}
	// The plan carries them as warnings, so the person reading it knows.
	d := fixture.LoadHomelab(t)
	o := fixture.Steady(d, time.Now())
	o.JournalMalformed = sum.Malformed
	p := planner.Compute(d, o, time.Now())
	if !slices.Contains(p.Warnings, sum.Malformed[0]) {
		t.Errorf("plan warnings %q lack the malformed line", p.Warnings)
	}
}

// TestJournalEvidenceBounded: a test of a huge sample or a drill of a
// wrecked replica journals a summary, not every file.
func TestJournalEvidenceBounded(t *testing.T) {
	j, _ := OpenJournal(t.TempDir())
	r := &model.TestReport{Kind: model.KindDrill, Subvolume: "docs", Result: model.ResultFail, Files: 200_000, Seed: 7}
	for i := range 200_000 {
		p := fmt.Sprintf("dir/sub/file-%06d", i)
		r.Paths = append(r.Paths, p)
		r.Failures = append(r.Failures, model.Failure{Path: p, Check: "sha256", Want: strings.Repeat("a", 64), Got: strings.Repeat("b", 64)})
	}
	if err := j.Append(model.JournalEntry{Run: "r1", Phase: model.PhaseFailed, Action: &model.Action{Kind: model.KindDrill, Subvolume: "docs"}, Report: r}); err != nil {
		t.Fatal(err)
	}
	if len(r.Paths) != 200_000 || len(r.Failures) != 200_000 {
		t.Error("journaling changed the caller's report")
	}
	f, err := os.Open(j.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	if len(line) > 64<<10 {
		t.Errorf("journaled report is %d bytes", len(line))
	}
	entries, err := j.Entries()
	if err != nil {
		t.Fatal(err)
	}
	got := entries[0].Report
	if got.Files != 200_000 || got.Seed != 7 || len(got.Failures) != model.JournalMaxFailures ||
		got.FailuresOmitted != 200_000-model.JournalMaxFailures || got.Failures[0].Path != "dir/sub/file-000000" {
		t.Errorf("journaled summary: files %d seed %d failures %d omitted %d", got.Files, got.Seed, len(got.Failures), got.FailuresOmitted)
	}
}
