package planner

import (
	"strings"
	"testing"
	"time"

	"github.com/drsync/drsync/reconcile/internal/fixture"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/reconcile/model/health"
)

// TestDisastersHoldBackPrunes: a missing source says how to recover it; a
// wiped, gutted or replaced source holds back every prune of its
// subvolume, local and drive, until it is recovered or accepted.
func TestDisastersHoldBackPrunes(t *testing.T) {
	d := fixture.LoadHomelab(t)
	loc := fixture.Oslo(t)
	now := time.Date(2026, 11, 22, 1, 0, 0, 0, loc) // before the day's slots: nothing but prunes due
	last := time.Date(2026, 11, 21, 2, 0, 0, 0, loc)
	const name = "htpc-home"
	local := fixture.Daily(name, last, 40)
	for i := range local {
		local[i].ParentUUID = "source-uuid"
	}
	var ext []model.Snapshot
	for _, s := range local {
		ext = append(ext, fixture.Rep(s))
	}
	newest := local[len(local)-1]
	ref := d.SnapshotDir("home", name) + "/" + newest.Name
	healthy := health.Source{UUID: "source-uuid", Entries: 900, Reference: ref, ReferenceEntries: 1000}
	tests := []struct {
		name     string
		state    model.SubvolumeState
		accepted string
		held     bool
		warning  string
	}{
		{name: "healthy", state: model.SubvolumeState{Local: local, External: ext, Health: &healthy}},
		{name: "missing", state: model.SubvolumeState{Local: local, External: ext, SourceMissing: true, SourceError: "source /home does not exist"},
			held: true, warning: "source missing: recover with drsync recover htpc-home (newest verified: " + newest.Name + ", verified 2026-11-21 02:00)"},
		{name: "wiped", state: model.SubvolumeState{Local: local, External: ext, Health: &health.Source{UUID: "source-uuid", Reference: ref, ReferenceEntries: 1000}},
			held: true, warning: "source looks destroyed: it is empty, while " + newest.Name + " holds 1000 entries. Every prune of htpc-home (local and drive) waits"},
		{name: "gutted", state: model.SubvolumeState{Local: local, External: ext, Health: &health.Source{UUID: "source-uuid", Entries: 499, Reference: ref, ReferenceEntries: 1000}},
			held: true, warning: "it lost most of its data: 499 entries, against 1000 in " + newest.Name},
		{name: "half is not most", state: model.SubvolumeState{Local: local, External: ext, Health: &health.Source{UUID: "source-uuid", Entries: 500, Reference: ref, ReferenceEntries: 1000}}},
		{name: "a new subvolume", state: model.SubvolumeState{Local: local, External: ext, Health: &health.Source{UUID: "new-uuid", Entries: 1000, Reference: ref, ReferenceEntries: 1000}},
			held: true, warning: "it is a new subvolume with no ancestry to its snapshots"},
		{name: "recovered: a writable snapshot of a snapshot", state: model.SubvolumeState{Local: local, External: ext,
			Health: &health.Source{UUID: "new-uuid", ParentUUID: newest.UUID, Entries: 1000, Reference: ref, ReferenceEntries: 1000}}},
		{name: "recovered: a sibling of a snapshot moved into place", state: model.SubvolumeState{Local: append(local[:len(local)-1:len(local)-1],
			model.Snapshot{Name: newest.Name, Time: newest.Time, HasTime: true, UUID: "moved", ParentUUID: "received", ReadOnly: true}), External: ext,
			Health: &health.Source{UUID: "new-uuid", ParentUUID: "received", Entries: 1000, Reference: ref, ReferenceEntries: 1000}}},
		{name: "no local snapshot while the drive holds replicas", state: model.SubvolumeState{External: ext, Health: &health.Source{UUID: "new-uuid"}},
			held: true, warning: "it has no local snapshot while the drive holds replicas"},
		{name: "accepted against the newest snapshot", accepted: ref,
			state: model.SubvolumeState{Local: local, External: ext, Health: &health.Source{UUID: "source-uuid", Reference: ref, ReferenceEntries: 1000}}},
		{name: "an acceptance does not outlive its snapshot", accepted: ref + "-older",
			state: model.SubvolumeState{Local: local, External: ext, Health: &health.Source{UUID: "source-uuid", Reference: ref, ReferenceEntries: 1000}},
			held:  true, warning: "it is empty"},
		{name: "unreadable source", state: model.SubvolumeState{Local: local, External: ext, Health: &health.Source{Error: "permission denied"}},
			held: true, warning: "its health could not be checked: permission denied"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := fixture.Steady(d, last)
			st := tc.state
			o.Subvolumes[name] = &st
			o.History[name].AcceptedAgainst = tc.accepted
			p := Compute(d, o, now)
			actions, warnings := fixture.Subvolume(p, name)
			prunes := fixture.PrunesByDrive(actions)
			if tc.held && len(prunes) > 0 {
				t.Errorf("prunes planned although held back: %v", prunes)
			}
			if !tc.held && (prunes[false] == 0 || prunes[true] == 0) {
				t.Errorf("prunes should go on, local and drive: %v", prunes)
			}
			if !strings.Contains(warnings, tc.warning) {
				t.Errorf("warnings %q, want %q", warnings, tc.warning)
			}
			if tc.warning == "" && strings.Contains(warnings, "looks destroyed") {
				t.Errorf("unexpected warning %q", warnings)
			}
		})
	}
}

// A saved plan survives files coming and going in a live source; it is
// refused when the source starts or stops looking destroyed.
func TestFingerprintIgnoresLiveCounts(t *testing.T) {
	o := func(entries int) *model.Observed {
		return &model.Observed{Subvolumes: map[string]*model.SubvolumeState{"docs": {
			Local:  []model.Snapshot{{Name: "docs.20261122T0200", ParentUUID: "src"}},
			Health: &health.Source{UUID: "src", Entries: entries, Reference: "/p/docs.20261122T0200", ReferenceEntries: 100}}}}
	}
	if o(100).Fingerprint() != o(120).Fingerprint() {
		t.Error("a changed entry count changed the fingerprint")
	}
	if o(100).Fingerprint() == o(0).Fingerprint() {
		t.Error("a wiped source left the fingerprint as it was")
	}
}
