package progress

import (
	"bytes"
	"strings"
	"testing"

	"github.com/drsync/drsync/reconcile"
	"github.com/drsync/drsync/reconcile/model"
)

// The bar of an off-site send shows the bytes moved against the size the
// plan expects, grows the estimate when the stream outgrows it, and is
// drawn for nothing else.
func TestTransferBar(t *testing.T) {
	var out bytes.Buffer
	bar := &Transfers{w: &out}
	send := model.Action{Kind: model.KindOffsiteSend, Subvolume: "home", Snapshot: "home.20261122T0200", Location: "s3-secondary",
		Offsite: &model.OffsiteSpec{Target: "s3-secondary", ExpectedBytes: 300 << 20}} // 315 MB
	bar.Event(reconcile.Event{Action: send, Phase: model.PhaseStart})
	bar.Event(reconcile.Event{Action: send, Phase: model.PhaseStart, Bytes: 150 << 20})
	if bar.bar == nil || bar.bar.GetMax64() != 300<<20 {
		t.Fatalf("bar %+v: want one sized 300 MiB", bar.bar)
	}
	if text := out.String(); !strings.Contains(text, "home.20261122T0200 → s3-secondary") || !strings.Contains(text, "/315 MB") {
		t.Errorf("bar text %q: want the send and its expected size", text)
	}
	bar.Event(reconcile.Event{Action: send, Phase: model.PhaseStart, Bytes: 400 << 20})
	if got := bar.bar.GetMax64(); got <= 400<<20 {
		t.Errorf("after 400 MiB of an expected 300 the bar's size is %d", got)
	}
	bar.Event(reconcile.Event{Action: send, Phase: model.PhaseDone, Bytes: 400 << 20})
	if bar.bar != nil {
		t.Error("the bar outlived its send")
	}

	out.Reset()
	local := model.Action{Kind: model.KindSnapshot, Subvolume: "home", Snapshot: "home.20261122T0200", Location: "home"}
	bar.Event(reconcile.Event{Action: local, Phase: model.PhaseStart})
	if bar.bar != nil || out.Len() != 0 {
		t.Errorf("a bar for a snapshot: %q", out.String())
	}
	var none *Transfers // not a terminal, or --json
	none.Event(reconcile.Event{Action: send, Phase: model.PhaseStart})
}
