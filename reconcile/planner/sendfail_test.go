package planner

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drsync/drsync/reconcile/internal/fixture"
	"github.com/drsync/drsync/reconcile/journal"
	"github.com/drsync/drsync/reconcile/model"
)

// TestSendFailureFold: the journal's failed sends make a run that a
// successful send ends, keeping the first failure's date, btrfs's newest
// reason and every parent that failed.
func TestSendFailureFold(t *testing.T) {
	j, _ := journal.OpenJournal(t.TempDir())
	t0 := time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)
	send := func(snapshot, parent string) *model.Action {
		a := &model.Action{Kind: model.KindSend, Subvolume: "home", Location: "WD", Snapshot: snapshot,
			Path: "/mnt/wd/home/" + snapshot, Send: &model.SendCopy{From: "/snap/home/" + snapshot}}
		if parent != "" {
			a.Send.Parent = "/snap/home/" + parent
		}
		return a
	}
	add := func(e model.JournalEntry) {
		t.Helper()
		if err := j.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	summary := func() journal.JournalSummary {
		t.Helper()
		s, err := j.Summary()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	add(model.JournalEntry{Time: t0, Phase: model.PhaseDone, Action: send("home.1", "")})
	if s := summary(); s.SendFailing != nil {
		t.Fatalf("a successful send is no failure: %+v", s.SendFailing)
	}
	add(model.JournalEntry{Time: t0.Add(24 * time.Hour), Phase: model.PhaseFailed, Action: send("home.2", "home.1"),
		Error: "ERROR: lremovexattr foo failed: No data available"})
	add(model.JournalEntry{Time: t0.Add(48 * time.Hour), Phase: model.PhaseFailed, Action: send("home.3", "home.0"),
		Error: "ERROR: cannot find parent subvolume"})
	add(model.JournalEntry{Time: t0.Add(72 * time.Hour), Phase: model.PhaseFailed, Action: send("home.3", "home.0"),
		Error: "ERROR: cannot find parent subvolume"})
	want := &model.SendFailure{Since: t0.Add(24 * time.Hour), Last: t0.Add(72 * time.Hour), Snapshot: "home.3",
		Error: "ERROR: cannot find parent subvolume", Parents: []string{"home.1", "home.0"}}
	if diff := cmp.Diff(want, summary().SendFailing["home"]); diff != "" {
		t.Errorf("failing run (-want +got):\n%s", diff)
	}
	add(model.JournalEntry{Time: t0.Add(96 * time.Hour), Phase: model.PhaseDone, Action: send("home.4", "")})
	if s := summary(); s.SendFailing != nil {
		t.Errorf("a successful send ends the run: %+v", s.SendFailing["home"])
	}
}

// TestComputeAvoidsFailedParent: after an incremental send from a parent
// failed (a damaged local snapshot fails every receive from it), the next
// plan sends from an older common parent, then fully, and says why; the
// plan warns with btrfs's reason and the date it started failing.
func TestComputeAvoidsFailedParent(t *testing.T) {
	d := fixture.LoadHomelab(t)
	loc := fixture.Oslo(t)
	at := func(s string) time.Time {
		tm, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	sun := at("2026-11-22 03:30")
	const (
		newer = "htpc-home.20261114T0200"
		older = "htpc-home.20261108T0200"
	)
	since := at("2026-11-15 03:00")
	failing := func(parents ...string) *model.SendFailure {
		return &model.SendFailure{Since: since, Last: at("2026-11-21 03:00"), Snapshot: "htpc-home.20261121T0200",
			Error: "ERROR: lremovexattr .cache failed: No data available", Parents: parents}
	}
	tests := []struct {
		name       string
		failing    *model.SendFailure
		wantParent string
		wantReason string
	}{
		{"no failure: newest common parent", nil, newer, "incremental from " + newer},
		{"parent failed: older common parent", failing(newer), older,
			"incremental from " + older + ", not from " + newer},
		{"both parents failed: full send", failing(newer, older), "",
			"full send (a send from " + newer + ", " + older + " failed"},
		{"full send failed too: full send again", failing(newer, older, ""), "", "full send"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := fixture.Steady(d, at("2026-11-08 02:00"))
			home := o.Subvolumes["htpc-home"]
			home.Local = fixture.Daily("htpc-home", at("2026-11-21 02:00"), 14)
			home.External = []model.Snapshot{fixture.Rep(home.Local[0]), fixture.Rep(home.Local[6])}
			if tc.failing != nil {
				o.SendFailing = map[string]*model.SendFailure{"htpc-home": tc.failing}
			}
			p := Compute(d, o, sun)
			send := fixture.Find(p, "htpc-home", model.KindSend)
			if send == nil {
				t.Fatal("no send of htpc-home planned")
			}
			if got := filepath.Base(send.Send.Parent); send.Send.Parent == "" && tc.wantParent != "" || send.Send.Parent != "" && got != tc.wantParent {
				t.Errorf("parent %q, want %q", send.Send.Parent, tc.wantParent)
			}
			if !strings.Contains(send.Reason, tc.wantReason) {
				t.Errorf("reason %q lacks %q", send.Reason, tc.wantReason)
			}
			warned := slices.ContainsFunc(planFor(p, "htpc-home").Warnings, func(w string) bool {
				return strings.Contains(w, "send failing since 2026-11-15 03:00") && strings.Contains(w, "lremovexattr .cache failed: No data available")
			})
			if warned != (tc.failing != nil) {
				t.Errorf("warning about the failing send: %v, want %v (warnings %q)", warned, tc.failing != nil, planFor(p, "htpc-home").Warnings)
			}
		})
	}
}

func planFor(p *model.Plan, subvol string) model.SubvolumePlan {
	for _, sp := range p.Subvolumes {
		if sp.Name == subvol {
			return sp
		}
	}
	return model.SubvolumePlan{}
}
