package retention

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func oslo(tb testing.TB) *time.Location {
	tb.Helper()
	loc, err := time.LoadLocation("Europe/Oslo")
	if err != nil {
		tb.Fatal(err)
	}
	return loc
}

// at parses "2006-01-02 15:04" (wall clock in loc), "2006-01-02 15:04 -0700"
// (explicit offset, to pick one side of a DST overlap) or "2006-01-02" (a
// short btrbk name without time). A "_N" suffix sets Seq.
func at(tb testing.TB, loc *time.Location, spec string) Item {
	tb.Helper()
	it := Item{Name: spec, HasTime: true}
	s := spec
	if i := strings.IndexByte(s, '_'); i >= 0 {
		if _, err := fmt.Sscan(s[i+1:], &it.Seq); err != nil {
			tb.Fatal(err)
		}
		s = s[:i]
	}
	var err error
	switch len(s) {
	case len("2006-01-02"):
		it.HasTime = false
		it.Time, err = time.ParseInLocation("2006-01-02", s, loc)
	case len("2006-01-02 15:04"):
		it.Time, err = time.ParseInLocation("2006-01-02 15:04", s, loc)
	default:
		it.Time, err = time.Parse("2006-01-02 15:04 -0700", s)
	}
	if err != nil {
		tb.Fatal(err)
	}
	return it
}

// verdict is "name rule" for a kept item and "name -" for a pruned one.
func verdicts(ds []Decision) []string {
	var out []string
	for _, d := range ds {
		rule := d.Rule
		if !d.Keep {
			rule = "-"
		}
		out = append(out, d.Name+" "+rule)
	}
	return out
}

// none is a policy without rules; cases add the rules they exercise.
var none = Policy{Hourly: Unset, Daily: Unset, Weekly: Unset, Monthly: Unset, Yearly: Unset}

func with(p Policy, f func(*Policy)) Policy {
	f(&p)
	return p
}

// TestEvaluate checks which items each rule keeps. Items are listed oldest
// first, and so is the expected result ("-" = pruned). Every case was worked
// through by hand against btrbk's sub schedule; the comments show the deltas.
func TestEvaluate(t *testing.T) {
	loc := oslo(t)
	tests := []struct {
		name  string
		p     Policy
		now   string
		items []string
		want  []string // "item rule", oldest first
	}{
		{
			name: "hourly 2 keeps the first of 3 hours",
			p:    with(none, func(p *Policy) { p.Hourly = 2 }),
			now:  "2026-11-20 12:30",
			// delta_hours: 3, 2, 2, 1, 0, 0
			items: []string{"2026-11-20 09:59", "2026-11-20 10:00", "2026-11-20 10:30", "2026-11-20 11:15", "2026-11-20 12:00", "2026-11-20 12:10"},
			want:  []string{"2026-11-20 09:59 -", "2026-11-20 10:00 hourly", "2026-11-20 10:30 -", "2026-11-20 11:15 hourly", "2026-11-20 12:00 hourly", "2026-11-20 12:10 -"},
		},
		{
			name: "daily 1 with days starting 02:00: 01:59 belongs to the previous day",
			p:    with(none, func(p *Policy) { p.Daily = 1; p.DayStartHour = 2 }),
			now:  "2026-11-20 12:00",
			// 11-19 01:59: delta_hours 35, 23h after 02:00 -> (35+23)/24 = 2 days
			// 11-19 02:00: 34 h -> 1 day; 11-20 01:59: (11+23)/24 = 1 day, not first
			items: []string{"2026-11-19 01:59", "2026-11-19 02:00", "2026-11-19 03:00", "2026-11-20 01:59", "2026-11-20 02:00"},
			want:  []string{"2026-11-19 01:59 -", "2026-11-19 02:00 daily", "2026-11-19 03:00 -", "2026-11-20 01:59 -", "2026-11-20 02:00 daily"},
		},
		{
			name: "days of short names start at 00:00 regardless of DayStartHour",
			p:    with(none, func(p *Policy) { p.Daily = 1; p.DayStartHour = 2 }),
			now:  "2026-11-20 12:00",
			// 11-18: 60 h -> 2 days; 11-19: 36 h -> 1 day, first of that day,
			// so 11-19 02:00 (also 1 day) is not.
			items: []string{"2026-11-18", "2026-11-19", "2026-11-19 02:00", "2026-11-20 02:00"},
			want:  []string{"2026-11-18 -", "2026-11-19 daily", "2026-11-19 02:00 -", "2026-11-20 02:00 daily"},
		},
		{
			name:  "daily 1 at midnight: 00:00 starts the day, 23:59 ends it",
			p:     with(none, func(p *Policy) { p.Daily = 1 }),
			now:   "2026-11-20 00:00",
			items: []string{"2026-11-18 23:59", "2026-11-19 00:00", "2026-11-19 23:59", "2026-11-20 00:00"},
			want:  []string{"2026-11-18 23:59 -", "2026-11-19 00:00 daily", "2026-11-19 23:59 -", "2026-11-20 00:00 daily"},
		},
		{
			name: "weeks starting Sunday",
			p:    with(none, func(p *Policy) { p.Weekly = 1 }),
			now:  "2026-11-20 12:00", // Friday; this week started Sun 11-15
			// Sat 11-07: (13 days + 6)/7 = 2 weeks; Sun 11-08: 12/7 = 1 week
			items: []string{"2026-11-07 12:00", "2026-11-08 12:00", "2026-11-09 12:00", "2026-11-15 12:00", "2026-11-16 12:00"},
			want:  []string{"2026-11-07 12:00 -", "2026-11-08 12:00 weekly", "2026-11-09 12:00 -", "2026-11-15 12:00 weekly", "2026-11-16 12:00 -"},
		},
		{
			name: "weeks starting Monday",
			p:    with(none, func(p *Policy) { p.Weekly = 1; p.WeekStart = time.Monday }),
			now:  "2026-11-20 12:00", // this week started Mon 11-16
			// Sun 11-08: (12 + 6)/7 = 2 weeks; Mon 11-09: (11 + 0)/7 = 1 week
			items: []string{"2026-11-07 12:00", "2026-11-08 12:00", "2026-11-09 12:00", "2026-11-15 12:00", "2026-11-16 12:00"},
			want:  []string{"2026-11-07 12:00 -", "2026-11-08 12:00 -", "2026-11-09 12:00 weekly", "2026-11-15 12:00 -", "2026-11-16 12:00 weekly"},
		},
		{
			name: "weekly 2 with DayStartHour 2: Sunday 01:59 is still last week",
			p:    with(none, func(p *Policy) { p.Weekly = 2; p.DayStartHour = 2 }),
			now:  "2026-11-20 12:00",
			// Sun 11-01 01:59 counts as Sat 10-31: (19 + 23 h)/24 = 20 days, (20 + 6)/7 = 3 weeks
			items: []string{"2026-11-01 01:59", "2026-11-01 02:00"},
			want:  []string{"2026-11-01 01:59 -", "2026-11-01 02:00 weekly"},
		},
		{
			name: "months start on the first Sunday of the month",
			p:    with(none, func(p *Policy) { p.Monthly = 1 }),
			now:  "2026-04-15 12:00",
			// Sun 03-01 is March's first Sunday. Wed 04-01 and Sat 04-04 are
			// before April's first Sunday (04-05), so they count as March.
			items: []string{"2026-02-28 12:00", "2026-03-01 12:00", "2026-04-01 12:00", "2026-04-04 12:00", "2026-04-05 12:00"},
			want:  []string{"2026-02-28 12:00 -", "2026-03-01 12:00 monthly", "2026-04-01 12:00 -", "2026-04-04 12:00 -", "2026-04-05 12:00 monthly"},
		},
		{
			name: "months start on the first Monday of the month",
			p:    with(none, func(p *Policy) { p.Monthly = 2; p.WeekStart = time.Monday }),
			now:  "2026-04-15 12:00",
			// Sun 03-01 is before March's first Monday (03-02): February.
			// 04-01..04-05 are before April's first Monday (04-06): March,
			// so April has no monthly and 04-01 is March's first weekly.
			items: []string{"2026-02-28 12:00", "2026-03-01 12:00", "2026-04-01 12:00", "2026-04-04 12:00", "2026-04-05 12:00"},
			want:  []string{"2026-02-28 12:00 monthly", "2026-03-01 12:00 -", "2026-04-01 12:00 monthly", "2026-04-04 12:00 -", "2026-04-05 12:00 -"},
		},
		{
			name: "months across the new year",
			p:    with(none, func(p *Policy) { p.Monthly = 12 }),
			now:  "2026-01-15 12:00",
			// Thu 2026-01-01 is before 2026's first Sunday (01-04): it is in
			// December 2025 (delta 1), whose first weekly is 12-07.
			// Sun 2025-11-30 is in November (delta 2), Sun 2025-02-02 in
			// February (11), Sat 2025-01-04 in December 2024 (13).
			items: []string{"2025-01-04 12:00", "2025-02-02 12:00", "2025-11-30 12:00", "2025-12-07 12:00", "2026-01-01 12:00", "2026-01-04 12:00"},
			want:  []string{"2025-01-04 12:00 -", "2025-02-02 12:00 monthly", "2025-11-30 12:00 monthly", "2025-12-07 12:00 monthly", "2026-01-01 12:00 -", "2026-01-04 12:00 monthly"},
		},
		{
			name: "years start on the first Sunday of the year",
			p:    with(none, func(p *Policy) { p.Yearly = 1 }),
			now:  "2026-06-15 12:00",
			// Thu 2026-01-01 is before 2026's first Sunday (01-04): it is in
			// December 2025 and so in 2025, whose first monthly is 2025-01-05.
			items: []string{"2024-12-31 12:00", "2025-01-05 12:00", "2026-01-01 12:00", "2026-01-04 12:00"},
			want:  []string{"2024-12-31 12:00 -", "2025-01-05 12:00 yearly", "2026-01-01 12:00 -", "2026-01-04 12:00 yearly"},
		},
		{
			name: "DST spring forward in Oslo does not shift days",
			p:    with(none, func(p *Policy) { p.Daily = 2 }),
			now:  "2026-03-30 12:00",
			// 03-27 23:59: 61 h + 23 -> 3 days; 03-28 00:00: 60 h -> 2 days.
			// 03-30 00:10 CEST is 03-29 23:10 CET, but by wall clock it is today.
			items: []string{"2026-03-27 23:59", "2026-03-28 00:00", "2026-03-29 01:30", "2026-03-29 03:30", "2026-03-29 23:30", "2026-03-30 00:10"},
			want:  []string{"2026-03-27 23:59 -", "2026-03-28 00:00 daily", "2026-03-29 01:30 daily", "2026-03-29 03:30 -", "2026-03-29 23:30 -", "2026-03-30 00:10 daily"},
		},
		{
			name: "DST fall back in Oslo: the repeated hour is one hour, days do not shift",
			p:    with(none, func(p *Policy) { p.Hourly = 36; p.Daily = 1 }),
			now:  "2026-10-26 12:00",
			// 02:30 CEST and the later 02:10 CET share wall hour 02 (34 h ago).
			// 10-25 23:30 CET is 10-26 00:30 CEST but stays on the 25th.
			items: []string{"2026-10-25 00:00", "2026-10-25 02:30 +0200", "2026-10-25 02:10 +0100", "2026-10-25 23:30", "2026-10-26 00:00"},
			want:  []string{"2026-10-25 00:00 daily", "2026-10-25 02:30 +0200 hourly", "2026-10-25 02:10 +0100 -", "2026-10-25 23:30 hourly", "2026-10-26 00:00 daily"},
		},
		{
			name:  "equal timestamps: Seq orders them, only the first is first of day",
			p:     with(none, func(p *Policy) { p.Daily = 7 }),
			now:   "2026-11-20 12:00",
			items: []string{"2026-11-19 08:00_2", "2026-11-19 08:00", "2026-11-19 08:00_1", "2026-11-19 07:00 +0000"},
			// 07:00 UTC is 08:00 in Oslo: the same instant as Seq 0..2, and Seq 0 sorts first
			want: []string{"2026-11-19 08:00 daily", "2026-11-19 07:00 +0000 -", "2026-11-19 08:00_1 -", "2026-11-19 08:00_2 -"},
		},
		{
			name: "gaps: periods are calendar periods, missing days are not filled from older ones",
			p:    with(none, func(p *Policy) { p.Daily = 3; p.Weekly = 2 }),
			now:  "2026-11-20 12:00",
			// Mon 11-16: 4 days (> 3), first of this week. Fri 10-30: (21+5)/7 = 3 weeks.
			items: []string{"2026-10-30 08:00", "2026-11-16 08:00", "2026-11-20 08:00"},
			want:  []string{"2026-10-30 08:00 -", "2026-11-16 08:00 weekly", "2026-11-20 08:00 daily"},
		},
		{
			name:  "single snapshot is kept by latest",
			p:     with(none, func(p *Policy) { p.MinLatest = true; p.Daily = 7 }),
			now:   "2026-11-20 12:00",
			items: []string{"2025-01-01 12:00"},
			want:  []string{"2025-01-01 12:00 latest"},
		},
		{
			name:  "single snapshot too old and no latest",
			p:     with(none, func(p *Policy) { p.Daily = 7 }),
			now:   "2026-11-20 12:00",
			items: []string{"2025-01-01 12:00"},
			want:  []string{"2025-01-01 12:00 -"},
		},
		{
			name:  "count 0 disables a rule like btrbk's 0d",
			p:     Policy{},
			now:   "2026-11-20 12:00",
			items: []string{"2026-11-20 08:00"},
			want:  []string{"2026-11-20 08:00 -"},
		},
		{
			name:  "all daily keeps the first of every day",
			p:     with(none, func(p *Policy) { p.Daily = All }),
			now:   "2026-11-20 12:00",
			items: []string{"2000-01-01 08:00", "2000-01-01 09:00", "2026-11-20 08:00"},
			want:  []string{"2000-01-01 08:00 daily", "2000-01-01 09:00 -", "2026-11-20 08:00 daily"},
		},
		{
			name:  "min 1d keeps everything since yesterday's start",
			p:     with(none, func(p *Policy) { p.MinN = 1; p.MinUnit = 'd' }),
			now:   "2026-11-20 12:00",
			items: []string{"2026-11-18 23:59", "2026-11-19 00:00", "2026-11-19 00:01", "2026-11-20 11:59"},
			want:  []string{"2026-11-18 23:59 -", "2026-11-19 00:00 min", "2026-11-19 00:01 min", "2026-11-20 11:59 min"},
		},
		{
			name:  "min 0h keeps this hour",
			p:     with(none, func(p *Policy) { p.MinUnit = 'h' }),
			now:   "2026-11-20 12:30",
			items: []string{"2026-11-20 11:59", "2026-11-20 12:00", "2026-11-20 12:29"},
			want:  []string{"2026-11-20 11:59 -", "2026-11-20 12:00 min", "2026-11-20 12:29 min"},
		},
		{
			name:  "min all keeps everything",
			p:     with(none, func(p *Policy) { p.MinAll = true }),
			now:   "2026-11-20 12:00",
			items: []string{"1999-01-01", "2026-11-20 11:59"},
			want:  []string{"1999-01-01 min", "2026-11-20 11:59 min"},
		},
		{
			name: "btrbk order: min < latest < hourly < daily < weekly < monthly < yearly",
			p:    Policy{MinLatest: true, MinN: 30, MinUnit: 'd', Hourly: 48, Daily: 7, Weekly: 4, Monthly: 12, Yearly: 1},
			now:  "2026-11-20 13:30",
			// Each item is kept by the rule shown and by every rule left of it
			// that applies: 01-04 also monthly; Sun 11-01 also weekly and min;
			// 11-16 (first of the week of 11-15) also daily and min; 11-19 22:00
			// also hourly and min; 11-20 13:00 also latest and min.
			items: []string{"2026-01-04 00:00", "2026-11-01 00:00", "2026-11-01 01:00", "2026-11-16 00:00", "2026-11-19 22:00", "2026-11-19 23:00", "2026-11-19 23:30", "2026-11-20 08:00", "2026-11-20 13:00"},
			want:  []string{"2026-01-04 00:00 yearly", "2026-11-01 00:00 monthly", "2026-11-01 01:00 min", "2026-11-16 00:00 weekly", "2026-11-19 22:00 daily", "2026-11-19 23:00 hourly", "2026-11-19 23:30 min", "2026-11-20 08:00 daily", "2026-11-20 13:00 hourly"},
		},
		{
			name:  "btrbk order: latest overrides min",
			p:     with(none, func(p *Policy) { p.MinLatest = true; p.MinN = 1; p.MinUnit = 'd' }),
			now:   "2026-11-20 12:00",
			items: []string{"2026-11-20 08:00", "2026-11-20 09:00"},
			want:  []string{"2026-11-20 08:00 min", "2026-11-20 09:00 latest"},
		},
		{
			name: "future snapshots are always kept",
			p:    with(none, func(p *Policy) { p.Daily = 1 }),
			now:  "2026-11-20 12:30",
			// Hours count from the start of now's hour: 13:00 is -1 h. 11-21
			// 00:00 is -12 h, which Perl's int() truncates to day 0, so it
			// shares today's period and is not its first. 11-22 00:00 is
			// -36 h -> day -1, first of it, and -1 <= 1, so daily keeps it.
			items: []string{"2026-11-20 08:00", "2026-11-20 12:10", "2026-11-20 13:00", "2026-11-21 00:00", "2026-11-22 00:00"},
			want:  []string{"2026-11-20 08:00 daily", "2026-11-20 12:10 -", "2026-11-20 13:00 future", "2026-11-21 00:00 future", "2026-11-22 00:00 daily"},
		},
		{
			name: "btrbk quirk: the reference month is not moved to the first Sunday",
			p:    with(none, func(p *Policy) { p.Monthly = 1 }),
			now:  "2026-04-02 12:00",
			// 04-01 counts as March, the reference is April: delta 1, kept;
			// 02-28 is February: delta 2.
			items: []string{"2026-02-28 12:00", "2026-04-01 12:00"},
			want:  []string{"2026-02-28 12:00 -", "2026-04-01 12:00 monthly"},
		},
		{
			name: "btrbk quirk: month check uses the calendar day even before DayStartHour",
			p:    with(none, func(p *Policy) { p.Monthly = 1; p.DayStartHour = 2 }),
			now:  "2026-07-15 12:00",
			// Mon 06-01 01:00 is logically Sun 05-31, yet btrbk compares mday 1
			// with 0 days after Sunday and counts it in June (delta 1); 06-01
			// 05:00 is 1 day after Sunday, 1 <= 1, so May (delta 2), but it is
			// not first of the week anyway.
			items: []string{"2026-06-01 01:00", "2026-06-01 05:00"},
			want:  []string{"2026-06-01 01:00 monthly", "2026-06-01 05:00 -"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var items []Item
			for _, s := range tt.items {
				items = append(items, at(t, loc, s))
			}
			now := at(t, loc, tt.now).Time
			got := Evaluate(items, tt.p, now, loc)
			if diff := cmp.Diff(tt.want, verdicts(got)); diff != "" {
				t.Errorf("Evaluate mismatch (-want +got):\n%s", diff)
				for _, d := range got {
					t.Logf("%s: %s", d.Name, d.Reason)
				}
			}
			for _, d := range got {
				if d.Reason == "" {
					t.Errorf("%s: empty reason", d.Name)
				}
			}
		})
	}
}

func TestEvaluateEmpty(t *testing.T) {
	p := Policy{MinLatest: true, Daily: 7}
	if got := Evaluate(nil, p, time.Now(), time.UTC); len(got) != 0 {
		t.Errorf("Evaluate(nil) = %v, want empty", got)
	}
}

// TestReasons pins the human-readable reasons, which plan output shows.
func TestReasons(t *testing.T) {
	loc := oslo(t)
	type result struct {
		Name   string
		Keep   bool
		Rule   string
		Reason string
	}
	tests := []struct {
		name  string
		p     Policy
		items []string
		want  []result
	}{
		{
			name: "latest, 24 hourly, 7 daily, 8 weekly, 12 monthly",
			p:    Policy{MinLatest: true, Hourly: 24, Daily: 7, Weekly: 8, Monthly: 12},
			items: []string{"2025-10-05 00:00", "2025-11-02 00:00", "2026-03-01 00:00", "2026-03-02 00:00", "2026-09-20 00:00", "2026-09-27 00:00",
				"2026-11-10 00:00", "2026-11-10 00:30", "2026-11-11 00:00", "2026-11-15 00:00", "2026-11-19 00:00", "2026-11-19 10:00",
				"2026-11-19 12:30", "2026-11-20 08:00", "2026-11-20 11:59", "2026-11-20 11:59_1"},
			want: []result{
				// Sun 2025-10-05 is the first Sunday of October 2025.
				{"2025-10-05 00:00", false, "", "monthly 12 reaches back 12 months; this is 13 months ago"},
				{"2025-11-02 00:00", true, "monthly", "monthly 12: first weekly of the month 2025-11 (12 months ago)"},
				{"2026-03-01 00:00", true, "monthly", "monthly 12: first weekly of the month 2026-03 (8 months ago)"},
				{"2026-03-02 00:00", false, "", "daily 7 reaches back 7 days; this is 263 days ago and not the first of its week"},
				{"2026-09-20 00:00", true, "monthly", "monthly 12: first weekly of the month 2026-09 (2 months ago)"},
				// 54 days before Fri 11-20, 0 days after Sunday: 7 weeks.
				{"2026-09-27 00:00", true, "weekly", "weekly 8: first daily of the week starting Sun 2026-09-27 (7 weeks ago)"},
				{"2026-11-10 00:00", true, "monthly", "monthly 12: first weekly of the month 2026-11 (this month)"},
				{"2026-11-10 00:30", false, "", "not the first of its hour 2026-11-10 00:00 (hourly 24)"},
				{"2026-11-11 00:00", false, "", "daily 7 reaches back 7 days; this is 9 days ago and not the first of its week"},
				{"2026-11-15 00:00", true, "weekly", "weekly 8: first daily of the week starting Sun 2026-11-15 (this week)"},
				{"2026-11-19 00:00", true, "daily", "daily 7: first of the day 2026-11-19 (1 day ago)"},
				{"2026-11-19 10:00", false, "", "hourly 24 reaches back 24 hours; this is 26 hours ago and not the first of its day"},
				{"2026-11-19 12:30", true, "hourly", "hourly 24: first of the hour 2026-11-19 12:00 (24 hours ago)"},
				{"2026-11-20 08:00", true, "daily", "daily 7: first of the day 2026-11-20 (today)"},
				{"2026-11-20 11:59", true, "hourly", "hourly 24: first of the hour 2026-11-20 11:00 (1 hour ago)"},
				{"2026-11-20 11:59_1", true, "latest", "latest: newest snapshot"},
			},
		},
		{
			name:  "min 2d, 3 daily, days starting 06:00",
			p:     Policy{MinN: 2, MinUnit: 'd', Daily: 3, DayStartHour: 6},
			items: []string{"2026-11-10 00:00", "2026-11-10 00:30", "2026-11-19 00:00", "2026-11-19 10:00", "2026-11-19 12:30", "2026-11-20 11:59"},
			want: []result{
				{"2026-11-10 00:00", false, "", "daily 3 reaches back 3 days; this is 11 days ago"},
				{"2026-11-10 00:30", false, "", "not the first of its day starting 2026-11-09 06:00 (daily 3)"},
				{"2026-11-19 00:00", true, "daily", "daily 3: first of the day starting 2026-11-18 06:00 (2 days ago)"},
				{"2026-11-19 10:00", true, "daily", "daily 3: first of the day starting 2026-11-19 06:00 (1 day ago)"},
				{"2026-11-19 12:30", true, "min", "min 2d: 1 day ago"},
				// daily (first of today) overrides min.
				{"2026-11-20 11:59", true, "daily", "daily 3: first of the day starting 2026-11-20 06:00 (today)"},
			},
		},
		{
			name:  "min, latest and all",
			p:     Policy{MinN: 1, MinUnit: 'w', Yearly: All, WeekStart: time.Monday},
			items: []string{"2023-01-01", "2025-06-01 12:00", "2026-01-05 12:00", "2026-11-15 12:00", "2026-11-20 13:00"},
			want: []result{
				// Sun 2023-01-01 is before 2023's first Monday (01-02): 2022.
				{"2023-01-01", true, "yearly", "yearly all: first monthly of the year 2022 (4 years ago)"},
				{"2025-06-01 12:00", true, "yearly", "yearly all: first monthly of the year 2025 (1 year ago)"},
				{"2026-01-05 12:00", true, "yearly", "yearly all: first monthly of the year 2026 (this year)"},
				// Sun 11-15 is in the week starting Mon 11-09.
				{"2026-11-15 12:00", true, "min", "min 1w: 1 week ago"},
				// min overrides the future rule.
				{"2026-11-20 13:00", true, "min", "min 1w: this week"},
			},
		},
		{
			name:  "only latest",
			p:     Policy{MinLatest: true},
			items: []string{"2026-11-19 12:00", "2026-11-20 11:00"},
			want: []result{
				{"2026-11-19 12:00", false, "", "latest keeps only the newest snapshot"},
				{"2026-11-20 11:00", true, "latest", "latest: newest snapshot"},
			},
		},
		{
			name:  "only min",
			p:     Policy{MinN: 1, MinUnit: 'm'},
			items: []string{"2026-08-20 12:00"},
			want:  []result{{"2026-08-20 12:00", false, "", "min 1m reaches back 1 month; this is 3 months ago"}},
		},
		{
			name:  "nothing",
			p:     Policy{},
			items: []string{"2026-08-20 12:00", "2026-11-20 13:00"},
			want: []result{
				{"2026-08-20 12:00", false, "", "no retention rule keeps anything"},
				{"2026-11-20 13:00", true, "future", "future: dated in 1 hour"},
			},
		},
	}
	now := at(t, loc, "2026-11-20 12:00").Time
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var items []Item
			for _, s := range tt.items {
				items = append(items, at(t, loc, s))
			}
			var got []result
			for _, d := range Evaluate(items, tt.p, now, loc) {
				got = append(got, result{d.Name, d.Keep, d.Rule, d.Reason})
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Evaluate mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// history returns hourly snapshots from two years before now up to now.
func history(loc *time.Location, now time.Time) []Item {
	var items []Item
	for t := now.AddDate(-2, 0, 0).Add(time.Hour); !t.After(now); t = t.Add(time.Hour) {
		items = append(items, Item{Name: t.Format(time.RFC3339), Time: t, HasTime: true})
	}
	return items
}

// TestEvaluateHistory runs a typical policy over two years of hourly
// snapshots in Oslo (with four DST changes) and checks the exact kept set
// sizes, worked out by hand for now = Fri 2026-11-20 12:00:
//
//	hourly  24: 11-19 12:00 .. 11-20 12:00 = 25, minus 11-20 00:00 (daily)       = 24
//	daily    7: 00:00 of 11-13 .. 11-20 = 8, minus Sun 11-15 (weekly)             = 7
//	weekly   4: Sundays 10-18, 10-25, 11-01, 11-08, 11-15, minus 11-01 (monthly)  = 4
//	monthly 12: first Sundays of 2025-11 .. 2026-11, minus 2026-01-04 (yearly)    = 12
//	yearly   3: 2026-01-04, 2025-01-05, and 2024's only month: first snapshot     = 3
//
// and that the result is a fixed point: evaluating the kept snapshots again
// keeps all of them for the same reasons.
func TestEvaluateHistory(t *testing.T) {
	loc := oslo(t)
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, loc)
	p := Policy{MinLatest: true, Hourly: 24, Daily: 7, Weekly: 4, Monthly: 12, Yearly: 3}
	items := history(loc, now)

	got := Evaluate(items, p, now, loc)
	if len(got) != len(items) {
		t.Fatalf("got %d decisions for %d items", len(got), len(items))
	}
	var kept []Item
	rules := map[string]int{}
	for _, d := range got {
		if d.Keep {
			kept = append(kept, d.Item)
			rules[d.Rule]++
		}
	}
	want := map[string]int{"hourly": 24, "daily": 7, "weekly": 4, "monthly": 12, "yearly": 3}
	if diff := cmp.Diff(want, rules); diff != "" {
		t.Errorf("kept per rule mismatch (-want +got):\n%s", diff)
	}
	if len(kept) != 50 {
		t.Errorf("kept %d, want 50", len(kept))
	}

	var first, again []Decision
	for _, d := range got {
		if d.Keep {
			first = append(first, d)
		}
	}
	again = Evaluate(kept, p, now, loc)
	if diff := cmp.Diff(first, again); diff != "" {
		t.Errorf("not a fixed point (-first +again):\n%s", diff)
	}
}

func TestPolicyString(t *testing.T) {
	tests := []struct {
		p    Policy
		want string
	}{
		{Policy{MinLatest: true, Daily: 7, Weekly: 4, Monthly: 6}, "latest, 7 daily, 4 weekly, 6 monthly"},
		{Policy{MinLatest: true, MinN: 2, MinUnit: 'd', Hourly: 24, Daily: Unset, Yearly: All}, "latest, min 2d, 24 hourly, all yearly"},
		{Policy{Daily: 7, WeekStart: time.Monday, DayStartHour: 2}, "7 daily (weeks start Monday, days start 02:00)"},
		{Policy{MinAll: true, Daily: 7}, "all"},
		{Policy{Hourly: Unset, Daily: 0}, "none"},
	}
	for _, tt := range tests {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("%#v.String() = %q, want %q", tt.p, got, tt.want)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		p  Policy
		ok bool
	}{
		{Policy{}, true},
		{Policy{MinUnit: 'y', MinN: 0, WeekStart: time.Saturday, DayStartHour: 23}, true},
		{Policy{WeekStart: 7}, false},
		{Policy{WeekStart: -1}, false},
		{Policy{DayStartHour: 24}, false},
		{Policy{DayStartHour: -1}, false},
		{Policy{MinUnit: 'x'}, false},
		{Policy{MinUnit: 'd', MinN: -1}, false},
	}
	for _, tt := range tests {
		if err := tt.p.Validate(); (err == nil) != tt.ok {
			t.Errorf("%#v.Validate() = %v, want ok=%v", tt.p, err, tt.ok)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("Evaluate with an invalid policy did not panic")
		}
	}()
	Evaluate(nil, Policy{DayStartHour: 24}, time.Now(), time.UTC)
}

func BenchmarkEvaluate(b *testing.B) {
	loc := oslo(b)
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, loc)
	items := history(loc, now)
	items = items[len(items)-1000:]
	p := Policy{MinLatest: true, Hourly: 24, Daily: 7, Weekly: 4, Monthly: 12, Yearly: 3}
	b.ReportAllocs()
	for b.Loop() {
		Evaluate(items, p, now, loc)
	}
}
