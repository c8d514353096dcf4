package guard

import (
	"strings"
	"testing"

	"github.com/drsync/drsync/reconcile/model"
)

func TestPrunes(t *testing.T) {
	obs := &model.Observed{Subvolumes: map[string]*model.SubvolumeState{
		"docs": {Local: make([]model.Snapshot, 10), External: make([]model.Snapshot, 3)},
	}}
	plan := func(local, ext int) *model.Plan {
		p := &model.Plan{Drives: []model.DriveNote{{Location: "usb"}}}
		sp := model.SubvolumePlan{Name: "docs"}
		for i := 0; i < local; i++ {
			sp.Actions = append(sp.Actions, model.Action{Kind: model.KindPrune, Subvolume: "docs", Location: "pool"})
		}
		for i := 0; i < ext; i++ {
			sp.Actions = append(sp.Actions, model.Action{Kind: model.KindPrune, Subvolume: "docs", Location: "usb"})
		}
		p.Subvolumes = []model.SubvolumePlan{sp}
		return p
	}
	tests := []struct {
		local, ext int
		want       string
	}{
		{5, 0, ""},
		{6, 0, "would prune 6 of 10 snapshots on pool"},
		{0, 3, "would prune every replica (3) on usb"},
		{0, 1, ""},
	}
	for _, tc := range tests {
		err := Prunes(plan(tc.local, tc.ext), obs, 0.5)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%d/%d: refused: %v", tc.local, tc.ext, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%d/%d: want %q, got %v", tc.local, tc.ext, tc.want, err)
		}
	}
}

func TestPrunesCoversServices(t *testing.T) {
	o := &model.Observed{Services: map[string]*model.ServiceState{"app-db": {Archives: make([]model.Snapshot, 10)}}}
	sp := model.SubvolumePlan{Name: "app-db"}
	for i := 0; i < 9; i++ {
		sp.Actions = append(sp.Actions, model.Action{Kind: model.KindPrune, Subvolume: "app-db", Location: "backups"})
	}
	if err := Prunes(&model.Plan{Services: []model.SubvolumePlan{sp}}, o, 0.5); err == nil {
		t.Error("pruning 9 of 10 archives unattended was allowed")
	}
}

// TestMutantRepairsCountTowardTheGuard: removing half-received replicas
// removes copies, so an unattended plan that would remove every replica on
// the drive by repairs is refused like one that prunes them.
func TestMutantRepairsCountTowardTheGuard(t *testing.T) {
	o := &model.Observed{Subvolumes: map[string]*model.SubvolumeState{"docs": {Local: make([]model.Snapshot, 10), External: make([]model.Snapshot, 2)}}}
	p := &model.Plan{Drives: []model.DriveNote{{Location: "usb"}}, Subvolumes: []model.SubvolumePlan{{Name: "docs", Actions: []model.Action{
		{Kind: model.KindRepair, Subvolume: "docs", Location: "usb"},
		{Kind: model.KindRepair, Subvolume: "docs", Location: "usb"},
	}}}}
	if err := Prunes(p, o, 0.5); err == nil || !strings.Contains(err.Error(), "every replica (2) on usb") {
		t.Errorf("Prunes: %v, want every replica refused", err)
	}
}
