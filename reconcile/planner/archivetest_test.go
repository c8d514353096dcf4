package planner

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/drsync/drsync/reconcile/internal/fixture"
	"github.com/drsync/drsync/reconcile/model"
)

// TestServiceTestReadsDriveCopy: a service's restore test reads the copy of
// its newest archive on the drive when the drive holds one (or gets one in
// this plan), as a subvolume's test reads its replica; only without a
// copy on the drive is the local archive tested. A damaged drive copy is
// otherwise never noticed.
func TestServiceTestReadsDriveCopy(t *testing.T) {
	d := fixture.LoadHomelab(t)
	loc := fixture.Oslo(t)
	now := time.Date(2026, 11, 22, 3, 30, 0, 0, loc)
	const svc = "grafana-db"
	archive := fixture.Snap(svc, time.Date(2026, 11, 22, 1, 0, 0, 0, loc))
	archive.Name += model.ArchiveSuffix
	s := d.Services[svc]
	onDrive := filepath.Join(d.ArchiveCopyDir(s), archive.Name)
	local := filepath.Join(d.ArchiveDir(s), archive.Name)
	tests := []struct {
		name     string
		copied   bool
		present  bool
		wantPath string
		wantSend bool
	}{
		{"drive holds the copy", true, true, onDrive, false},
		{"copied in this plan", false, true, onDrive, true},
		{"drive absent", true, false, local, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := fixture.Steady(d, now.Add(-90*time.Minute))
			st := &model.ServiceState{Archives: []model.Snapshot{archive}}
			if tc.copied {
				st.External = []model.Snapshot{archive}
			}
			o.Services = map[string]*model.ServiceState{svc: st}
			if !tc.present {
				o.Drives["WD-18TB"] = model.Drive{Reason: "nothing mounted"}
			}
			p := Compute(d, o, now)
			test := fixture.Find(p, svc, model.KindTest)
			if test == nil {
				t.Fatal("no restore test of a never-tested service")
			}
			if test.Path != tc.wantPath || test.External != (tc.wantPath == onDrive) {
				t.Errorf("tested %s (external %v), want %s", test.Path, test.External, tc.wantPath)
			}
			if got := fixture.Find(p, svc, model.KindSend) != nil; got != tc.wantSend {
				t.Errorf("copy to the drive planned: %v, want %v", got, tc.wantSend)
			}
			// The copy runs before its test.
			sent := false
			for _, a := range p.Actions() {
				sent = sent || (a.Subvolume == svc && a.Kind == model.KindSend)
				if a.Subvolume == svc && a.Kind == model.KindTest && tc.wantSend && !sent {
					t.Error("the test of the drive copy runs before the copy")
				}
			}
			ha, ok := ProofAction(d, o, svc, model.KindTest)
			if !ok || ha.Path != tc.wantPath && !(tc.wantSend && ha.Path == local) {
				t.Errorf("drsync test would read %s, want %s", ha.Path, tc.wantPath)
			}
		})
	}
}
