package guard

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/schema"
)

// confiningStorage records what it is asked to confine and refuses the
// directories in refuse; Probe answers present. Other methods are unused.
type confiningStorage struct {
	model.Storage
	refuse  map[string]bool
	asked   [][2]string
	present bool
	probed  bool
}

func (s *confiningStorage) Confine(root, dir string) error {
	s.asked = append(s.asked, [2]string{root, dir})
	if s.refuse[dir] {
		return errors.New("reached through a symlink")
	}
	return nil
}

func (s *confiningStorage) Probe(schema.Location) model.Drive {
	s.probed = true
	return model.Drive{Present: s.present, Reason: "nothing mounted"}
}

var desired = &schema.Desired{Locations: map[string]schema.Location{
	"pool": {Path: "/pool/.snapshots"},
	"usb":  {Path: "/mnt/usb/snaps", External: true, Mount: "/mnt/usb"},
}}

// TestActionStaysInItsLocation: a write or delete is confined to its
// location's root (the drive's mount point for a drive), a drill to its
// scratch; a refused directory is an error naming it.
func TestActionStaysInItsLocation(t *testing.T) {
	for _, c := range []struct {
		name string
		a    model.Action
		want [2]string
	}{
		{"snapshot", model.Action{Kind: model.KindSnapshot, Location: "pool", Path: "/pool/.snapshots/docs/docs.1", Take: &model.TakeSnapshot{Source: "/pool/docs"}}, [2]string{"/pool/.snapshots", "/pool/.snapshots/docs"}},
		{"send", model.Action{Kind: model.KindSend, Location: "usb", Path: "/mnt/usb/snaps/docs/docs.1", Send: &model.SendCopy{From: "/pool/.snapshots/docs/docs.1"}}, [2]string{"/mnt/usb", "/mnt/usb/snaps/docs"}},
		{"drill", model.Action{Kind: model.KindDrill, Location: "usb", Proof: &model.ProofSpec{Scratch: "/scratch"}}, [2]string{"/scratch", "/scratch"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			st := &confiningStorage{}
			if err := Action(desired, st, c.a); err != nil || !slices.Equal(st.asked, [][2]string{c.want}) {
				t.Errorf("Action = %v, confined %v, want %v", err, st.asked, c.want)
			}
			st = &confiningStorage{refuse: map[string]bool{c.want[1]: true}}
			if err := Action(desired, st, c.a); err == nil || !strings.Contains(err.Error(), "refusing to "+string(c.a.Kind)+" in "+c.want[1]) {
				t.Errorf("refused directory: %v", err)
			}
		})
	}
	st := &confiningStorage{refuse: map[string]bool{"/pool/.snapshots/docs": true}}
	archive := model.Action{Kind: model.KindPrune, Location: "pool", Path: "/pool/.snapshots/docs/x.tar", Remove: &model.RemoveCopy{Archive: true}}
	if err := Action(desired, st, archive); err != nil || len(st.asked) != 0 {
		t.Errorf("an archive is the service store's: %v, confined %v", err, st.asked)
	}
	if err := Action(nil, st, model.Action{Kind: model.KindSnapshot, Take: &model.TakeSnapshot{}}); err != nil {
		t.Errorf("without a desired state: %v", err)
	}
}

func TestObservedDirRecordsTheRefusal(t *testing.T) {
	st := &confiningStorage{refuse: map[string]bool{"/mnt/usb/snaps/docs": true}}
	ss := &model.SubvolumeState{}
	if !ObservedDir(desired, st, "pool", "/pool/.snapshots/docs", ss) || len(ss.Refused) != 0 {
		t.Errorf("a sound directory refused: %v", ss.Refused)
	}
	if ObservedDir(desired, st, "usb", "/mnt/usb/snaps/docs", ss) || len(ss.Refused) != 1 || !strings.Contains(ss.Refused[0], "snapshot directory /mnt/usb/snaps/docs in location usb") {
		t.Errorf("refusal not recorded: %v", ss.Refused)
	}
}

func TestDrivePresent(t *testing.T) {
	onDrive := model.Action{Kind: model.KindSend, Location: "usb", External: true, Drive: &model.DriveRef{Mount: "/mnt/usb"}}
	st := &confiningStorage{}
	if err := DrivePresent(st, onDrive); err == nil || err.Error() != "drive usb is no longer present: nothing mounted" {
		t.Errorf("an absent drive: %v", err)
	}
	st = &confiningStorage{present: true}
	if err := DrivePresent(st, onDrive); err != nil {
		t.Errorf("a present drive: %v", err)
	}
	st = &confiningStorage{}
	if err := DrivePresent(st, model.Action{Kind: model.KindSnapshot, Location: "pool"}); err != nil || st.probed {
		t.Errorf("a local action probed a drive: %v", err)
	}
}
