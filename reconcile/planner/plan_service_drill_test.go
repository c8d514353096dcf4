package planner

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/drsync/drsync/reconcile/internal/fixture"
	"github.com/drsync/drsync/reconcile/model"
)

// A service is drilled when its tier declares drills, at the tier's
// cadence, from its newest archive's drive copy (else the local archive),
// against the tier's RTO; a failed drill is retried after a day.
func TestPlanServiceDrill(t *testing.T) {
	now := time.Date(2026, 11, 22, 3, 30, 0, 0, fixture.Oslo(t))
	newest := fixture.Snap("grafana-db", now.Add(-90*time.Minute))
	newest.Name += model.ArchiveSuffix
	older := fixture.Snap("grafana-db", now.Add(-25*time.Hour-90*time.Minute))
	older.Name += model.ArchiveSuffix
	drill := func(result model.Result, ago time.Duration) *model.TestReport {
		return &model.TestReport{Kind: model.KindDrill, Subvolume: "grafana-db", Result: result, Started: now.Add(-ago)}
	}
	for _, tc := range []struct {
		name     string
		noDrills bool
		archives []model.Snapshot
		onDrive  bool
		unplug   bool
		last     *model.TestReport
		want     string // the drilled archive's path below the backups or drive directory; "" for none
		external bool
	}{
		{name: "tier without drills", noDrills: true, archives: []model.Snapshot{older, newest}},
		{name: "never drilled: the drive's copy", archives: []model.Snapshot{older, newest}, onDrive: true, want: newest.Name, external: true},
		{name: "drive lacks it: the copy this plan makes", archives: []model.Snapshot{older, newest}, want: newest.Name, external: true},
		{name: "drive absent: the local archive", archives: []model.Snapshot{older, newest}, unplug: true, want: newest.Name},
		{name: "passed 10 days ago", archives: []model.Snapshot{newest}, onDrive: true, last: drill(model.ResultPass, 10*24*time.Hour)},
		{name: "passed 91 days ago", archives: []model.Snapshot{newest}, onDrive: true, last: drill(model.ResultPass, 91*24*time.Hour), want: newest.Name, external: true},
		{name: "failed 2 hours ago: not hammered", archives: []model.Snapshot{newest}, onDrive: true, last: drill(model.ResultFail, 2*time.Hour)},
		{name: "failed 2 days ago: retried", archives: []model.Snapshot{newest}, onDrive: true, last: drill(model.ResultFail, 48*time.Hour), want: newest.Name, external: true},
		// The daily 01:00 backup is due: the drill is of the archive this plan takes.
		{name: "no archive yet: the one this plan takes", unplug: true, want: "grafana-db.20261122T0330.tar.gz"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := fixture.LoadHomelab(t)
			// The example's service tiers drill every 90 days.
			if tc.noDrills {
				tier := d.Tiers["svc-daily"]
				tier.Drill = nil
				d.Tiers["svc-daily"] = tier
			}
			o := fixture.Steady(d, now.Add(-time.Hour))
			st := &model.ServiceState{Archives: tc.archives}
			if tc.onDrive {
				st.External = []model.Snapshot{newest}
			}
			o.Services = map[string]*model.ServiceState{"grafana-db": st}
			if tc.unplug {
				o.Drives["WD-18TB"] = model.Drive{Reason: "nothing mounted"}
			}
			h := &model.History{LastDrill: tc.last}
			if tc.last.Passed() {
				h.LastPassedDrill = tc.last
			}
			o.History["grafana-db"] = h
			var got *model.Action
			for _, sp := range Compute(d, o, now).Services {
				for i, a := range sp.Actions {
					if a.Kind == model.KindDrill {
						if sp.Name != "grafana-db" {
							t.Errorf("drill of %s, whose archives were not observed", sp.Name)
						}
						got = &sp.Actions[i]
					}
				}
			}
			if tc.want == "" {
				if got != nil {
					t.Fatalf("drill planned: %+v", *got)
				}
				return
			}
			if got == nil {
				t.Fatal("no drill planned")
			}
			svc := d.Services["grafana-db"]
			dir := d.ArchiveDir(svc)
			if tc.external {
				dir = d.ArchiveCopyDir(svc)
			}
			if got.Path != filepath.Join(dir, tc.want) || got.External != tc.external {
				t.Errorf("drill of %s (external %v), want %s", got.Path, got.External, filepath.Join(dir, tc.want))
			}
			if got.Proof.Service != svc || got.Proof.RTOTarget.Duration != 15*time.Minute || got.Proof.Scratch != d.Restore.Scratch {
				t.Errorf("drill payload %+v: want the service, the tier's 15m RTO and the scratch root", got.Proof)
			}
			if got.Why.Code != model.BecauseProofDue || got.Why.Proof == nil || got.Why.Proof.What != "drill" {
				t.Errorf("drill reason %+v (%s)", got.Why, got.Reason)
			}
		})
	}
}
