package planner

import (
	"strings"
	"testing"
	"time"

	"github.com/drsync/drsync/reconcile/internal/fixture"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/reconcile/model/health"
)

// TestShrunkSnapshotWarnsAndHolds is issue 15 item 3: a snapshot of an
// empty mount point (the pool was not mounted) leaves the source and its
// newest snapshot equally empty, which the destroyed-source guard cannot
// see; the newest snapshot against the one before it can. It is a warning
// with the counts, and with the tier's holdBelow it holds every prune,
// through the same mechanism as a destroyed source. Bytes count too: files
// that are all there with their content gone, in the newest snapshot or in
// the source since it was taken.
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
	// tally is one tree's entries and bytes.
	type tally struct {
		entries int
		bytes   int64
	}
	counts := func(source, newestSnap, previousSnap tally) *health.Source {
		return &health.Source{UUID: "source-uuid", Entries: source.entries, Bytes: source.bytes,
			Reference: dir + newest.Name, ReferenceEntries: newestSnap.entries, ReferenceBytes: newestSnap.bytes,
			Previous: dir + previous.Name, PreviousEntries: previousSnap.entries, PreviousBytes: previousSnap.bytes}
	}
	const mib = 1 << 20
	full := tally{1000, 40 * mib}
	half := 0.5
	tests := []struct {
		name      string
		health    *health.Source
		holdBelow *float64
		accepted  string
		verdict   model.ShrinkVerdict
		warning   string
	}{
		{name: "steady", health: counts(full, full, full)},
		{name: "a smaller snapshot, within the tolerance", health: counts(tally{600, 21 * mib}, tally{600, 21 * mib}, full)},
		{name: "empty mount point: warned", health: counts(tally{}, tally{}, tally{1000, 0}), verdict: model.ShrinkWarn,
			warning: "snapshot looks wrong: newest snapshot " + newest.Name + " holds 0 entries, 0% of the 1000 in " + previous.Name + "; is the source mounted?"},
		{name: "empty mount point with a threshold: held", health: counts(tally{}, tally{}, tally{1000, 0}), holdBelow: &half, verdict: model.ShrinkHold,
			warning: "snapshot looks wrong: newest snapshot " + newest.Name + " holds 0 entries, 0% of the 1000 in " + previous.Name + ". Every prune of htpc-home (local and drive) waits"},
		{name: "empty mount point: entries and bytes", health: counts(tally{}, tally{}, full), verdict: model.ShrinkWarn,
			warning: "snapshot looks wrong: newest snapshot " + newest.Name + " holds 0 entries, 0% of the 1000 and 0 B, 0% of the 40.0 MiB in " + previous.Name + "; is the source mounted?"},
		{name: "the files are there, their bytes gone: warned", health: counts(tally{1000, mib}, tally{1000, mib}, full), verdict: model.ShrinkWarn,
			warning: "snapshot looks wrong: newest snapshot " + newest.Name + " holds 1.0 MiB, 2% of the 40.0 MiB in " + previous.Name + "; is the source mounted?"},
		{name: "the source lost its bytes since the newest snapshot, with a threshold: held", health: counts(tally{1000, 0}, full, full), holdBelow: &half, verdict: model.ShrinkHold,
			warning: "snapshot looks wrong: the source holds 0 B, 0% of the 40.0 MiB in " + newest.Name + ". Every prune of htpc-home (local and drive) waits"},
		{name: "both at once, one warning", health: counts(tally{1000, 0}, tally{1000, mib}, full), verdict: model.ShrinkWarn,
			warning: "snapshot looks wrong: newest snapshot " + newest.Name + " holds 1.0 MiB, 2% of the 40.0 MiB in " + previous.Name + "; the source holds 0 B, 0% of the 1.0 MiB in " + newest.Name + "; is the source mounted?"},
		{name: "bytes of a tree under ShrinkMinBytes are not compared", health: counts(tally{1000, 1 << 10}, tally{1000, 1 << 10}, tally{1000, health.ShrinkMinBytes - 1})},
		{name: "a person accepted it", health: counts(tally{}, tally{}, full), holdBelow: &half, accepted: dir + newest.Name},
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
			held := tc.verdict == model.ShrinkHold
			if held && len(prunes) > 0 {
				t.Errorf("prunes planned although held back: %v", prunes)
			}
			if !held && (prunes[false] == 0 || prunes[true] == 0) {
				t.Errorf("prunes should go on, local and drive: %v", prunes)
			}
			if tc.warning == "" && strings.Contains(warnings, "looks wrong") {
				t.Errorf("unexpected warning %q", warnings)
			}
			if !strings.Contains(warnings, tc.warning) {
				t.Errorf("warnings %q, want %q", warnings, tc.warning)
			}
			if got := shrinkVerdict(p, name); got != tc.verdict {
				t.Errorf("verdict %q, want %q", got, tc.verdict)
			}
		})
	}
}

func shrinkVerdict(p *model.Plan, name string) model.ShrinkVerdict {
	for _, sp := range p.Subvolumes {
		if sp.Name == name {
			return sp.Shrink
		}
	}
	return ""
}
