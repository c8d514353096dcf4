package reconcile

import (
	"strings"
	"testing"
)

func TestGuard(t *testing.T) {
	obs := &Observed{Subvolumes: map[string]*SubvolumeState{
		"docs": {Local: make([]Snapshot, 10), External: make([]Snapshot, 3)},
	}}
	plan := func(local, ext int) *Plan {
		p := &Plan{Drives: []DriveNote{{Location: "usb"}}}
		sp := SubvolumePlan{Name: "docs"}
		for i := 0; i < local; i++ {
			sp.Actions = append(sp.Actions, Action{Kind: KindPrune, Subvolume: "docs", Location: "pool"})
		}
		for i := 0; i < ext; i++ {
			sp.Actions = append(sp.Actions, Action{Kind: KindPrune, Subvolume: "docs", Location: "usb"})
		}
		p.Subvolumes = []SubvolumePlan{sp}
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
		err := Guard(plan(tc.local, tc.ext), obs, 0.5)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%d/%d: refused: %v", tc.local, tc.ext, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%d/%d: want %q, got %v", tc.local, tc.ext, tc.want, err)
		}
	}
}
