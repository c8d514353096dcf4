// Package progress draws progress bars on a terminal: one per off-site
// transfer of an apply, and a drill's restore.
package progress

import (
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/drsync/drsync/reconcile"
	"github.com/drsync/drsync/reconcile/model"
)

// Transfers draws one progress bar per off-site transfer: bytes moved
// against the size the plan expects (the last comparable stream's),
// growing the estimate when the transfer outgrows it. A nil *Transfers
// draws nothing.
type Transfers struct {
	w   io.Writer
	bar *progressbar.ProgressBar
	// action is the transfer the bar is drawn for.
	action string
	// throttle is the least time between two redraws.
	throttle time.Duration
}

// terminal is w as a terminal, or nil when it is not one.
func terminal(w io.Writer) *os.File {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return f
}

// NewTransfers returns nil (no bars) unless w is a terminal.
func NewTransfers(w io.Writer) *Transfers {
	f := terminal(w)
	if f == nil {
		return nil
	}
	return &Transfers{w: f, throttle: 100 * time.Millisecond}
}

// Restore is a byte counter for a drill's restore on w, or nil unless w is
// a terminal.
func Restore(w io.Writer) *progressbar.ProgressBar {
	if terminal(w) == nil {
		return nil
	}
	return progressbar.DefaultBytes(-1, "restoring")
}

// Event follows an apply's events: a start opens a bar for an off-site
// send, progress moves it, anything else ends it.
func (t *Transfers) Event(e reconcile.Event) {
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

func (t *Transfers) finish() {
	if t.bar != nil {
		_ = t.bar.Finish()
		t.bar, t.action = nil, ""
	}
}
