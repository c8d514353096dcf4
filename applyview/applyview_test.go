package applyview

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/drsync/drsync/reconcile"
	"github.com/drsync/drsync/reconcile/model"
)

// Each ended action prints one line (a send with its size, a test with its
// verdict); starts and progress print nothing.
func TestWriteEvent(t *testing.T) {
	send := model.Action{Kind: model.KindSend, Snapshot: "home.20261122T0200"}
	test := model.Action{Kind: model.KindTest, Snapshot: "home.20261122T0200"}
	for _, c := range []struct {
		e    reconcile.Event
		want string
	}{
		{reconcile.Event{Action: send, Phase: model.PhaseStart, Bytes: 1 << 20}, ""},
		{reconcile.Event{Action: send, Phase: model.PhaseDone, Bytes: 3 << 20, Duration: 1500 * time.Millisecond},
			"  ✓ send     home.20261122T0200 (1.5s, 3.0 MiB)\n"},
		{reconcile.Event{Action: test, Phase: model.PhaseDone, Duration: time.Second,
			Report: &model.TestReport{Kind: model.KindTest, Files: 50, Result: model.ResultPass}},
			"  ✓ test     home.20261122T0200 (1.0s, 50 files verified: pass)\n"},
		{reconcile.Event{Action: send, Phase: model.PhaseFailed, Err: errors.New("drive gone")},
			"  ✗ send     home.20261122T0200: drive gone\n"},
		{reconcile.Event{Action: send, Phase: model.PhaseSkipped, Note: "parent missing"},
			"  - send     home.20261122T0200: parent missing\n"},
	} {
		var b bytes.Buffer
		WriteEvent(&b, c.e)
		if b.String() != c.want {
			t.Errorf("%s %s: got %q, want %q", c.e.Action.Kind, c.e.Phase, b.String(), c.want)
		}
	}
}

func TestWriteSummary(t *testing.T) {
	var b bytes.Buffer
	WriteSummary(&b, reconcile.Result{Done: 3, Failed: 1, Skipped: 2, Bytes: 2 << 20})
	if want := "\nApply complete: 3 done, 1 failed, 2 skipped; 2.0 MiB sent.\n"; b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
}
