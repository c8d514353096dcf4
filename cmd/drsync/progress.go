package main

import (
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/drsync/drsync/reconcile"
	"github.com/drsync/drsync/reconcile/model"
)

// transferBar draws one progress bar per off-site transfer on a terminal:
// bytes moved against the size the plan expects (the last comparable
// stream's), growing the estimate when the transfer outgrows it. Nothing
// is drawn for --json or when stderr is not a terminal.
type transferBar struct {
	w   io.Writer
	bar *progressbar.ProgressBar
	// action is the transfer the bar is drawn for.
	action string
	// throttle is the least time between two redraws.
	throttle time.Duration
}

// newTransferBar returns nil (no bars) unless stderr is a terminal.
func newTransferBar(g *globalOptions) *transferBar {
	f, ok := g.stderr.(*os.File)
	if g.json || !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return &transferBar{w: f, throttle: 100 * time.Millisecond}
}

// event follows an apply's events: a start opens a bar for an off-site
// send, progress moves it, anything else ends it.
func (t *transferBar) event(e reconcile.Event) {
	if t == nil {
		return
	}
	a := e.Action
	id := string(a.Kind) + " " + a.Subvolume + " " + a.Snapshot + " " + a.Location
	if e.Phase != model.PhaseStart {
		t.finish()
		return
	}
	if a.Kind != model.KindOffsiteSend || a.Offsite == nil {
		return
	}
	if t.bar == nil || t.action != id {
		t.finish()
		expected := a.Offsite.ExpectedBytes
		if expected <= 0 {
			expected = -1 // unknown: a spinner with the bytes so far
		}
		t.action = id
		t.bar = progressbar.NewOptions64(expected,
			progressbar.OptionSetWriter(t.w),
			progressbar.OptionSetDescription(a.Snapshot+" → "+a.Location),
			progressbar.OptionShowBytes(true),
			progressbar.OptionShowTotalBytes(true),
			progressbar.OptionShowCount(),
			progressbar.OptionSetWidth(20),
			progressbar.OptionThrottle(t.throttle),
			progressbar.OptionClearOnFinish(),
			progressbar.OptionSetRenderBlankState(true),
		)
	}
	if e.Bytes > 0 {
		if max := t.bar.GetMax64(); max > 0 && e.Bytes > max {
			t.bar.ChangeMax64(e.Bytes + e.Bytes/4)
		}
		_ = t.bar.Set64(e.Bytes)
	}
}

func (t *transferBar) finish() {
	if t.bar != nil {
		_ = t.bar.Finish()
		t.bar, t.action = nil, ""
	}
}
