package planner

import (
	"strings"
	"testing"
	"time"

	"github.com/drsync/drsync/reconcile/internal/fixture"
	"github.com/drsync/drsync/reconcile/model"
)

// TestShrunkSnapshotWarnsAndHolds is issue 15 item 3: a snapshot of an
// empty mount point (the pool was not mounted) leaves the source and its
// newest snapshot equally empty, which the destroyed-source guard cannot
// see; the newest snapshot against the one before it can. It is a warning
// with the counts, and with the tier's holdBelow it holds every prune,
// through the same mechanism as a destroyed source.
func TestShrunkSnapshotWarnsAndHolds(t *testing.T) {
	d := fixture.LoadHomelab(t)
	loc := fixture.Oslo(t)
	now := time.Date(2026, 11, 22, 1, 0, 0, 0, loc)
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
	dir := d.SnapshotDir("home", name) + "/"
	newest, previous := local[len(local)-1], local[len(local)-2]
	health := func(source, newestEntries, previousEntries int) *model.SourceHealth {
		return &model.SourceHealth{UUID: "source-uuid", Entries: source, Reference: dir + newest.Name, ReferenceEntries: newestEntries,
			Previous: dir + previous.Name, PreviousEntries: previousEntries}
	}
	half := 0.5
	tests := []struct {
		name      string
		health    *model.SourceHealth
		holdBelow *float64
		accepted  string
		held      bool
		warning   string
	}{
		{name: "steady", health: health(1000, 1000, 1000)},
		{name: "a smaller snapshot, within the tolerance", health: health(600, 600, 1000)},
		{name: "empty mount point: warned", health: health(0, 0, 1000),
			warning: "snapshot looks wrong: newest snapshot " + newest.Name + " holds 0 entries, 0% of the 1000 in " + previous.Name + "; is the source mounted?"},
		{name: "empty mount point with a threshold: held", health: health(0, 0, 1000), holdBelow: &half, held: true,
			warning: "snapshot looks wrong: newest snapshot " + newest.Name + " holds 0 entries, 0% of the 1000 in " + previous.Name + ". Every prune of htpc-home (local and drive) waits"},
		{name: "a person accepted it", health: health(0, 0, 1000), holdBelow: &half, accepted: dir + newest.Name},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tier := d.Tiers["1"]
			tier.Shrink.HoldBelow = tc.holdBelow
			d.Tiers["1"] = tier
			o := fixture.Steady(d, last)
			o.Subvolumes[name] = &model.SubvolumeState{Local: local, External: ext, Health: tc.health}
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
			if tc.warning == "" && strings.Contains(warnings, "looks wrong") {
				t.Errorf("unexpected warning %q", warnings)
			}
			if !strings.Contains(warnings, tc.warning) {
				t.Errorf("warnings %q, want %q", warnings, tc.warning)
			}
		})
	}
}
