package planner

import (
	"strings"
	"testing"
	"time"

	"github.com/drsync/drsync/reconcile/internal/fixture"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/schema"
	"github.com/drsync/drsync/target"
)

// Local retention (daily 7) would prune the snapshot the S3 chain ends
// at, 8 days old with a monthly off-site cadence; the next stream is
// incremental from it, so the plan keeps it and says why, as it keeps the
// drive's parent. (A planned send's parent needs no keeping: a failed
// send holds back its owner's prunes, and after it the sent snapshot is
// the parent.)
func TestComputeKeepsOffsiteParent(t *testing.T) {
	d := fixture.LoadHomelab(t)
	loc := fixture.Oslo(t)
	saturday := time.Date(2026, 11, 21, 2, 0, 0, 0, loc)
	now := time.Date(2026, 11, 21, 5, 30, 0, 0, loc) // no S3 slot today: nothing is sent
	sends := d.Subvolumes["htpc-home"].Offsite["s3-secondary"]
	every, err := schema.ParseSchedule("every 30d")
	if err != nil {
		t.Fatal(err)
	}
	sends.Schedule = every
	d.Subvolumes["htpc-home"].Offsite["s3-secondary"] = sends
	o := fixture.Steady(d, saturday)
	local := fixture.Daily("htpc-home", saturday, 9) // 13th to 21st: daily 7 keeps today and 7 days before
	o.Subvolumes["htpc-home"] = &model.SubvolumeState{Local: local, External: []model.Snapshot{fixture.Rep(local[8])}}
	parent := local[0].Name
	m := target.Manifest{Version: target.ManifestVersion, Subvolume: "htpc-home", Chain: parent, Encrypted: true,
		Streams: []target.Stream{{Seq: 0, Snapshot: parent, Key: "k", Size: 1}}}
	chains := []target.Chain{{Name: parent, Manifest: m, Restorable: 1}}
	o.Offsite = map[string]*model.OffsiteState{"s3-secondary": {Subvolumes: map[string]*model.OffsiteCopies{
		"htpc-home": {Chains: chains, Copies: target.Copies(chains)}}}}

	p := Compute(d, o, now)
	var prunes []string
	for _, a := range p.Actions() {
		if a.Subvolume == "htpc-home" && a.Kind == model.KindPrune && a.Location == "home" {
			prunes = append(prunes, a.Snapshot)
		}
	}
	if len(prunes) != 0 {
		t.Errorf("local prunes %v, want none (%s is the S3 chain's parent)", prunes, parent)
	}
	var note string
	for _, sp := range p.Subvolumes {
		for _, r := range sp.Retention {
			if sp.Name == "htpc-home" && r.Location == "home" && r.Snapshot == parent {
				note = r.Reason
				if !r.Keep {
					t.Errorf("retention note says prune %s", parent)
				}
			}
		}
	}
	if !strings.Contains(note, "parent of the next incremental send to s3-secondary") {
		t.Errorf("retention note for %s: %q", parent, note)
	}
}

// While a target cannot be listed, the last snapshot the journal saw sent
// there is kept locally: the next send after the outage is incremental
// from it. The plan says so where retention would otherwise prune it.
func TestComputeKeepsParentOfUnlistedTarget(t *testing.T) {
	d := fixture.LoadHomelab(t)
	loc := fixture.Oslo(t)
	saturday := time.Date(2026, 11, 21, 2, 0, 0, 0, loc)
	now := time.Date(2026, 11, 21, 5, 30, 0, 0, loc)
	local := fixture.Daily("htpc-home", saturday, 9) // 13th to 21st: daily 7 prunes the 13th
	oldest, kept := local[0].Name, local[5].Name
	sentAt := local[0].Time.Add(time.Hour)
	lastSend := func(snapshot string) map[string]*model.History {
		return map[string]*model.History{"htpc-home": {Offsite: map[string]*model.History{"s3-secondary": {LastSend: &model.JournalEntry{
			Time: sentAt, Phase: model.PhaseDone, Action: &model.Action{Kind: model.KindOffsiteSend, Subvolume: "htpc-home", Snapshot: snapshot,
				Location: "s3-secondary", Offsite: &model.OffsiteSpec{Target: "s3-secondary"}}}}}}}
	}
	unreachable := map[string]*model.OffsiteState{"s3-secondary": {Unreachable: "dial tcp: connection refused"}}
	refused := map[string]*model.OffsiteState{"s3-secondary": {Error: "the bucket does not exist"}}
	for _, tc := range []struct {
		name       string
		offsite    map[string]*model.OffsiteState
		history    map[string]*model.History
		wantPruned bool
		wantNote   string // the retention note of the oldest snapshot
		wantWarn   string
	}{
		{name: "unreachable: the last sent snapshot is kept", offsite: unreachable, history: lastSend(oldest),
			wantNote: "kept as the parent of the next send to s3-secondary, which is unreachable (retention alone would prune it",
			wantWarn: oldest + " on home is kept: parent of the next send to s3-secondary, which is unreachable (sent there 2026-11-13 03:00)"},
		{name: "refusing drsync: kept too", offsite: refused, history: lastSend(oldest),
			wantNote: "kept as the parent of the next send to s3-secondary, which cannot be listed",
			wantWarn: oldest + " on home is kept: parent of the next send to s3-secondary, which cannot be listed"},
		{name: "not observed: kept", offsite: map[string]*model.OffsiteState{}, history: lastSend(oldest),
			wantNote: "kept as the parent of the next send to s3-secondary, which is unreachable",
			wantWarn: oldest + " on home is kept: parent of the next send to s3-secondary, which is unreachable"},
		{name: "never sent there: retention prunes as it says", offsite: unreachable, wantPruned: true},
		{name: "the last sent one is kept by retention anyway: no warning, the oldest pruned", offsite: unreachable,
			history: lastSend(kept), wantPruned: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := fixture.Steady(d, saturday)
			o.Subvolumes["htpc-home"] = &model.SubvolumeState{Local: local, External: []model.Snapshot{fixture.Rep(local[8])}}
			o.Offsite, o.History = tc.offsite, tc.history
			p := Compute(d, o, now)
			pruned := false
			for _, a := range p.Actions() {
				if a.Subvolume == "htpc-home" && a.Kind == model.KindPrune && a.Location == "home" && a.Snapshot == oldest {
					pruned = true
				}
			}
			if pruned != tc.wantPruned {
				t.Errorf("%s pruned: %v, want %v", oldest, pruned, tc.wantPruned)
			}
			var note string
			var warnings []string
			for _, sp := range p.Subvolumes {
				if sp.Name != "htpc-home" {
					continue
				}
				warnings = sp.Warnings
				for _, r := range sp.Retention {
					if r.Location == "home" && r.Snapshot == oldest {
						note = r.Reason
					}
				}
			}
			if tc.wantNote != "" && !strings.Contains(note, tc.wantNote) {
				t.Errorf("retention note of %s: %q, want %q", oldest, note, tc.wantNote)
			}
			warned := strings.Join(warnings, "\n")
			if tc.wantWarn != "" && !strings.Contains(warned, tc.wantWarn) {
				t.Errorf("warnings %q lack %q", warned, tc.wantWarn)
			}
			if tc.wantWarn == "" && strings.Contains(warned, "is kept: parent of the next send") {
				t.Errorf("warnings %q: want none about a kept parent", warned)
			}
		})
	}
}
