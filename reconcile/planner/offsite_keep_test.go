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
