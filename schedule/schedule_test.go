package schedule

import (
	"testing"
	"time"

	"github.com/drsync/drsync/schema"
)

func TestDue(t *testing.T) {
	oslo, err := time.LoadLocation("Europe/Oslo")
	if err != nil {
		t.Skip(err)
	}
	at := func(s string) time.Time {
		tm, err := time.ParseInLocation("2006-01-02 15:04", s, oslo)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	now := at("2026-11-22 03:30")
	for _, c := range []struct {
		rule, newest string
		due          bool
		why          Why
		since        string
	}{
		{"daily 02:00", "", true, NoneYet, ""},
		{"daily 02:00", "2026-11-21 02:00", true, Slot, "2026-11-22 02:00"},
		{"daily 02:00", "2026-11-22 02:00", false, Satisfied, "2026-11-22 02:00"},
		{"weekly sun 03:00", "2026-11-21 03:00", true, Slot, "2026-11-22 03:00"},
		{"every 6h", "2026-11-21 21:30", true, Interval, ""},
		{"every 6h", "2026-11-21 21:31", false, Satisfied, ""},
	} {
		s, err := schema.ParseSchedule(c.rule)
		if err != nil {
			t.Fatal(err)
		}
		var newest time.Time
		if c.newest != "" {
			newest = at(c.newest)
		}
		v := Due(s, newest, now)
		if v.Due != c.due || v.Why != c.why || v.Rule != c.rule {
			t.Errorf("%s, newest %q: %+v", c.rule, c.newest, v)
		}
		if c.since != "" && !v.Since.Equal(at(c.since)) {
			t.Errorf("%s, newest %q: since %s, want %s", c.rule, c.newest, v.Since, c.since)
		}
		if c.newest != "" && v.Age.Duration != now.Sub(newest) {
			t.Errorf("%s: age %s", c.rule, v.Age.Duration)
		}
	}
}
