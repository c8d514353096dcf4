// Package schedule decides whether a schedule wants a new copy (a snapshot,
// an archive, a replica), as a verdict: data the planner keeps and words
// once, never prose it has to cut apart again.
package schedule

import (
	"time"

	"github.com/drsync/drsync/schema"
)

// Why names what a verdict rests on.
type Why string

const (
	NoneYet   Why = "none-yet"  // there is no copy at all
	Interval  Why = "interval"  // "every D": the newest copy is D old or older
	Slot      Why = "slot"      // a calendar slot passed since the newest copy
	Satisfied Why = "satisfied" // the newest copy is recent enough
)

// Verdict is a schedule's decision about the newest copy.
type Verdict struct {
	Due bool `json:"due"`
	Why Why  `json:"why"`
	// Rule is the schedule as written ("daily 02:00", "every 6h").
	Rule string `json:"rule"`
	// Age is the newest copy's age (zero when there is none).
	Age schema.Duration `json:"age,omitzero"`
	// Every is an interval schedule's interval.
	Every schema.Duration `json:"every,omitzero"`
	// Since is the calendar slot that wants a copy.
	Since time.Time `json:"since,omitzero"`
	// Want names the copy that must be there (sends: the newest snapshot
	// taken for a slot at or before the send slot).
	Want string `json:"want,omitempty"`
}

// Due decides whether s wants a copy newer than newest at now.
func Due(s schema.Schedule, newest, now time.Time) Verdict {
	v := Verdict{Rule: s.Text}
	if newest.IsZero() {
		v.Due, v.Why = true, NoneYet
		return v
	}
	v.Age = schema.Duration{Duration: now.Sub(newest)}
	if s.Kind == "every" {
		v.Every = schema.Duration{Duration: s.Every}
		v.Due, v.Why = now.Sub(newest) >= s.Every, Interval
		if !v.Due {
			v.Why = Satisfied
		}
		return v
	}
	v.Since = s.Slot(now)
	v.Due, v.Why = newest.Before(v.Since), Slot
	if !v.Due {
		v.Why = Satisfied
	}
	return v
}
