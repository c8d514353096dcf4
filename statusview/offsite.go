package statusview

import (
	"fmt"
	"io"
	"time"

	"github.com/drsync/drsync/internal/humane"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/render/view"
	"github.com/drsync/drsync/schema"
)

// OffsiteRow is what `drsync status` says of one owner's copies on one
// off-site target, from the journal (status does not contact targets).
type OffsiteRow struct {
	Target string `json:"target"`
	Kind   string `json:"kind"`
	// NewestCopy and Verified are ages in seconds of the newest copy sent
	// there and of the newest snapshot a test or drill verified there.
	NewestCopy       *float64          `json:"newestCopyAgeSeconds,omitempty"`
	LastSendBytes    int64             `json:"lastSendBytes,omitempty"`
	Verified         *float64          `json:"verifiedAgeSeconds,omitempty"`
	VerifiedSnapshot string            `json:"verifiedSnapshot,omitempty"`
	LastTest         *model.TestReport `json:"lastTest,omitempty"`
	LastDrill        *model.TestReport `json:"lastDrill,omitempty"`
}

// offsiteRows lists an owner's declared targets with their evidence.
func offsiteRows(d *schema.Desired, name string, st view.SubvolumeStatus, h *model.History, age func(time.Time) *float64) []OffsiteRow {
	var out []OffsiteRow
	for _, t := range d.TargetNames() {
		_, sub := d.Subvolumes[name]
		declared := sub && hasTarget(d.Subvolumes[name].Offsite, t)
		if svc, ok := d.Services[name]; ok {
			_, declared = svc.Offsite[t]
		}
		if !declared {
			continue
		}
		ev := st.Offsite[t]
		th := h.TargetHistory(t)
		r := OffsiteRow{Target: t, Kind: d.Targets[t].Kind, NewestCopy: age(ev.Newest), LastSendBytes: ev.SentBytes,
			Verified: age(ev.Verified), LastTest: th.LastTest, LastDrill: th.LastDrill}
		if th.Verified != nil {
			r.VerifiedSnapshot = th.Verified.Snapshot
		}
		out = append(out, r)
	}
	return out
}

func hasTarget(m map[string]schema.OffsiteSends, t string) bool {
	_, ok := m[t]
	return ok
}

// writeOffsite writes the off-site lines of one status row.
func writeOffsite(w io.Writer, rows []OffsiteRow, now time.Time) {
	for _, o := range rows {
		sent := ""
		if o.LastSendBytes > 0 {
			sent = ", last send " + humane.Bytes(o.LastSendBytes)
		}
		fmt.Fprintf(w, "  off-site %s (%s)\n", o.Target, o.Kind)
		fmt.Fprintf(w, "    newest copy     %s%s\n", ageOr(o.NewestCopy, "none sent yet"), sent)
		verified := ageOr(o.Verified, "NEVER VERIFIED")
		if o.VerifiedSnapshot != "" {
			verified += " (" + o.VerifiedSnapshot + ")"
		}
		fmt.Fprintf(w, "    newest verified %s\n", verified)
		if t := o.LastTest; t != nil {
			fmt.Fprintf(w, "    last test       %s %s ago, %d files, fetched in %s\n", upper(string(t.Result)), schema.Age(now.Sub(t.Started)),
				t.Files, humane.Rounded(humane.Seconds(t.RestoreSeconds)))
		} else {
			fmt.Fprintln(w, "    last test       never")
		}
		if dr := o.LastDrill; dr != nil {
			fmt.Fprintf(w, "    last drill      %s %s ago, RTO %s (restore %s, verify %s)\n", upper(string(dr.Result)), schema.Age(now.Sub(dr.Started)),
				humane.Rounded(humane.Seconds(dr.Seconds)), humane.Rounded(humane.Seconds(dr.RestoreSeconds)), humane.Rounded(humane.Seconds(dr.VerifySeconds)))
		}
	}
}
