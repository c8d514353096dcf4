package journal

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/drsync/drsync/reconcile/internal/fixture"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/reconcile/planner"
)

// genJournal makes a journal of n runs drawn from seed: applies with
// snapshots, sends, tests and drills that pass, fail or skip, written
// files, proof runs by hand, and runs cut short (no run-end).
func genJournal(seed int64, n int, subs ...string) []model.JournalEntry {
	rng := rand.New(rand.NewSource(seed))
	t0 := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	if len(subs) == 0 {
		subs = []string{"docs", "photos", "db"}
	}
	var out []model.JournalEntry
	for i := range n {
		now := t0.Add(time.Duration(i) * time.Hour)
		run := fmt.Sprintf("run-%d", i)
		cmd := []string{"apply", "apply", "apply", "test", "drill"}[rng.Intn(5)]
		out = append(out, model.JournalEntry{Time: now, Run: run, Phase: model.PhaseRunStart, Command: cmd, Drives: []string{"usb"}[:rng.Intn(2)]})
		for k := range rng.Intn(4) {
			sub := subs[rng.Intn(len(subs))]
			snap := fmt.Sprintf("%s.%s", sub, now.Format("20060102T1504"))
			a := &model.Action{Kind: []model.Kind{model.KindSnapshot, model.KindSend, model.KindTest, model.KindDrill, model.KindPrune, model.KindWrite}[rng.Intn(6)], Subvolume: sub, Location: "pool", Snapshot: snap, Path: fmt.Sprintf("/p/%s/%d", snap, k)}
			at := now.Add(time.Duration(k+1) * time.Minute)
			out = append(out, model.JournalEntry{Time: at, Run: run, Phase: model.PhaseStart, Action: a})
			if rng.Intn(10) == 0 {
				break // interrupted mid-action
			}
			e := model.JournalEntry{Time: at.Add(time.Second), Run: run, Phase: []model.Phase{model.PhaseDone, model.PhaseDone, model.PhaseFailed, model.PhaseSkipped}[rng.Intn(4)], Action: a, Bytes: rng.Int63n(1e9)}
			switch a.Kind {
			case model.KindTest, model.KindDrill:
				e.Report = &model.TestReport{Kind: a.Kind, Subvolume: sub, Snapshot: snap, SnapshotTime: now, Result: []model.Result{model.ResultPass, model.ResultFail, model.ResultSkip}[rng.Intn(3)], Files: rng.Intn(50), Started: at}
			case model.KindWrite:
				a.Write = &model.WriteSpec{Content: strings.Repeat("x", rng.Intn(2000))}
			}
			out = append(out, e)
		}
		if rng.Intn(8) != 0 {
			out = append(out, model.JournalEntry{Time: now.Add(time.Hour / 2), Run: run, Phase: model.PhaseRunEnd, Command: cmd, Result: []model.Status{model.StatusApplied, model.StatusFailed}[rng.Intn(2)]})
		}
	}
	return out
}

func appendAll(t *testing.T, j *Journal, entries []model.JournalEntry) {
	t.Helper()
	for _, e := range entries {
		if err := j.Append(e); err != nil {
			t.Fatal(err)
		}
	}
}

// fullReplay folds every entry from scratch, as a journal without a
// checkpoint is read.
func fullReplay(entries []model.JournalEntry) JournalSummary {
	f := NewFold()
	for _, e := range entries {
		f.Add(e.Journaled())
	}
	return f.Summary()
}

func summaryOf(t *testing.T, dir string) JournalSummary {
	t.Helper()
	j, _ := OpenJournal(dir)
	f, err := j.Load()
	if err != nil {
		t.Fatal(err)
	}
	return f.Summary()
}

func sameSummary(t *testing.T, what string, got, want JournalSummary) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: summary differs from a full replay\ngot  %+v\nwant %+v", what, got, want)
	}
}

// TestCheckpointEqualsFullReplay: for journals drawn from many seeds and a
// checkpoint taken after any entry, the checkpoint plus the journal after
// it folds to what a full replay does (the crash between an append and
// the checkpoint is every cut but the last).
func TestCheckpointEqualsFullReplay(t *testing.T) {
	for seed := int64(1); seed <= 40; seed++ {
		entries := genJournal(seed, 30)
		cut := rand.New(rand.NewSource(seed)).Intn(len(entries) + 1)
		dir := t.TempDir()
		j, _ := OpenJournal(dir)
		appendAll(t, j, entries[:cut])
		f := NewFold()
		for _, e := range entries[:cut] {
			f.Add(e.Journaled())
		}
		if err := j.saveCheckpoint(f); err != nil {
			t.Fatal(err)
		}
		appendAll(t, j, entries[cut:]) // the crash: no checkpoint after these
		sameSummary(t, fmt.Sprintf("seed %d, checkpoint after %d of %d entries", seed, cut, len(entries)), summaryOf(t, dir), fullReplay(entries))
	}
}

// TestCheckpointCorruptFallsBack: an unreadable checkpoint, or one of
// another journal, is not used: everything is replayed.
func TestCheckpointCorruptFallsBack(t *testing.T) {
	entries := genJournal(7, 40)
	want := fullReplay(entries)
	for name, mangle := range map[string]func(path string) error{
		"truncated":   func(p string) error { b, _ := os.ReadFile(p); return os.WriteFile(p, b[:len(b)/2], 0o600) },
		"not json":    func(p string) error { return os.WriteFile(p, []byte("garbage\n"), 0o600) },
		"old version": func(p string) error { return os.WriteFile(p, []byte(`{"version":0,"offset":1}`), 0o600) },
		"old version, fold of another shape": func(p string) error {
			return os.WriteFile(p, []byte(`{"version":0,"offset":1,"fold":{"summary":[1]}}`), 0o600)
		},
		"a stale fold of another journal": func(p string) error {
			b, _ := os.ReadFile(p)
			return os.WriteFile(p, []byte(strings.Replace(string(b), `"head":"`, `"head":"0`, 1)), 0o600)
		},
	} {
		dir := t.TempDir()
		j, _ := OpenJournal(dir)
		appendAll(t, j, entries)
		// A checkpoint of a different, empty history: used, it would lose it all.
		if err := j.saveCheckpoint(NewFold()); err != nil {
			t.Fatal(err)
		}
		if err := mangle(filepath.Join(dir, CheckpointFile)); err != nil {
			t.Fatal(err)
		}
		sameSummary(t, name, summaryOf(t, dir), want)
	}
}

// TestRotationKeepsSummary: rotating into gzip segments (several times,
// with runs between) changes nothing the planner reads, with the
// checkpoint and, when it is lost, replaying the segments; expired
// segments are deleted and the checkpoint still holds their history.
func TestRotationKeepsSummary(t *testing.T) {
	entries := genJournal(3, 120)
	dir := t.TempDir()
	j, _ := OpenJournal(dir)
	var f *Fold
	for part := range 4 {
		chunk := entries[part*len(entries)/4 : (part+1)*len(entries)/4]
		var err error
		if f, err = j.Load(); err != nil {
			t.Fatal(err)
		}
		appendAll(t, j, chunk)
		for _, e := range chunk {
			f.Add(e.Journaled())
		}
		if err := j.KeepHistory(f, time.Time{}, 0, 1); err != nil { // rotate every time
			t.Fatal(err)
		}
	}
	want := fullReplay(entries)
	sameSummary(t, "after 4 rotations", summaryOf(t, dir), want)
	segs, _ := j.segments()
	if len(segs) != 4 {
		t.Fatalf("segments %v, want 4", segs)
	}
	if st, err := os.Stat(j.Path()); err == nil && st.Size() > 0 {
		t.Fatalf("active journal not restarted: %d bytes", st.Size())
	}
	os.Remove(filepath.Join(dir, CheckpointFile))
	sameSummary(t, "checkpoint lost, segments replayed", summaryOf(t, dir), want)

	if err := j.KeepHistory(f, entries[len(entries)-1].Time.Add(time.Hour), time.Minute, 1); err != nil {
		t.Fatal(err)
	}
	if segs, _ := j.segments(); len(segs) != 0 {
		t.Fatalf("segments older than keep not deleted: %v", segs)
	}
	sameSummary(t, "segments expired", summaryOf(t, dir), want)
}

// TestJournalWriteKeepsDigest: a generated file's content and diff are
// not journaled, only their digest and size.
func TestJournalWriteKeepsDigest(t *testing.T) {
	j, _ := OpenJournal(t.TempDir())
	a := &model.Action{Kind: model.KindWrite, Path: "/etc/x", Write: &model.WriteSpec{Content: "hello world\n", Diff: "--- a\n+++ b\n"}}
	appendAll(t, j, []model.JournalEntry{{Run: "r", Phase: model.PhaseDone, Action: a}})
	b, _ := os.ReadFile(j.Path())
	if strings.Contains(string(b), "hello world") || strings.Contains(string(b), "+++ b") {
		t.Fatalf("journal holds the content: %s", b)
	}
	entries, _ := j.Entries()
	w := entries[0].Action.Write
	if w.Size != 12 || w.Digest != "a948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447" {
		t.Fatalf("journaled write %+v, want size 12 and the SHA-256", w)
	}
	if a.Write.Content == "" {
		t.Fatal("journaling changed the caller's action")
	}
}

// TestRotationKeepsPlans: the homelab's plan made from a rotated,
// checkpointed journal is the plan made from the whole journal replayed.
func TestRotationKeepsPlans(t *testing.T) {
	d := fixture.LoadHomelab(t)
	entries := genJournal(11, 200, d.SubvolumeNames()...)
	at := entries[len(entries)-1].Time.Add(time.Hour)
	planWith := func(sum JournalSummary) string {
		o := fixture.Steady(d, at.Add(-30*24*time.Hour))
		o.LastSent, o.Interrupted, o.History = sum.LastSent, sum.Interrupted, sum.History
		o.Runs, o.LastRun, o.DriveSeen = sum.Runs, sum.Last, sum.DriveSeen
		b, err := json.Marshal(planner.Compute(d, o, at))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	want := planWith(fullReplay(entries))
	if planWith(fullReplay(entries[:len(entries)/2])) == want {
		t.Fatal("the plan does not depend on the journal's second half: this test would prove nothing")
	}

	dir := t.TempDir()
	j, _ := OpenJournal(dir)
	f := NewFold()
	for i, e := range entries {
		appendAll(t, j, []model.JournalEntry{e})
		f.Add(e.Journaled())
		if i%50 == 49 {
			if err := j.KeepHistory(f, time.Time{}, 0, 1); err != nil {
				t.Fatal(err)
			}
		}
	}
	if segs, _ := j.segments(); len(segs) == 0 {
		t.Fatal("no rotation happened")
	}
	if got := planWith(summaryOf(t, dir)); got != want {
		t.Fatalf("plan after rotation differs from the plan of the full journal:\n%s\nwant\n%s", got, want)
	}
}
