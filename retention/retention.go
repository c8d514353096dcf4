// Package retention decides which snapshots a btrbk-style retention policy
// keeps. It is a faithful port of btrbk's "sub schedule" so that drsync prunes
// exactly what btrbk would prune for the same snapshot_preserve /
// snapshot_preserve_min settings, including btrbk's calendar quirks.
package retention

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	// Unset marks a rule that is not used.
	Unset = -1
	// All keeps every period ("*" in btrbk, e.g. "*m").
	All = math.MaxInt32
)

// Policy is btrbk's preserve matrix plus preserve_min, preserve_day_of_week
// and preserve_hour_of_day. btrbk's preserve_min takes a single value; here
// MinLatest may also be combined with MinAll or MinN/MinUnit.
type Policy struct {
	MinAll    bool // keep everything ("preserve_min all")
	MinLatest bool // keep the newest ("preserve_min latest")
	MinN      int  // keep all within MinN units ...
	MinUnit   byte // ... 'h','d','w','m','y'; 0 = no min-by-age

	// Each count is Unset, N (the current period plus N before it, i.e.
	// btrbk's delta <= N) or All. A count of 0 is treated like Unset because
	// btrbk's "0d" is false in Perl and disables the rule.
	Hourly, Daily, Weekly, Monthly, Yearly int

	WeekStart    time.Weekday // preserve_day_of_week (btrbk default Sunday)
	DayStartHour int          // preserve_hour_of_day, 0..23 (btrbk default 0)
}

// Item is one snapshot to evaluate. Time, HasTime and Seq mean the same as in
// snapname.Stamp.
type Item struct {
	Name    string
	Time    time.Time
	HasTime bool
	Seq     int
}

// Decision is the verdict for one Item.
type Decision struct {
	Item
	Keep bool
	// Rule is the rule whose reason is reported: "future", "min", "latest",
	// "hourly", "daily", "weekly", "monthly", "yearly", or "" when pruned.
	// When several rules keep an item, the last one in btrbk's order wins.
	Rule string
	// Reason explains the verdict in plain English; it is always set.
	Reason string
}

// Validate reports settings btrbk's config parser would reject; Evaluate
// panics on them because they make the calendar arithmetic meaningless.
func (p Policy) Validate() error {
	if p.WeekStart < time.Sunday || p.WeekStart > time.Saturday {
		return fmt.Errorf("retention: week start %d out of range", p.WeekStart)
	}
	if p.DayStartHour < 0 || p.DayStartHour > 23 {
		return fmt.Errorf("retention: day start hour %d out of range 0..23", p.DayStartHour)
	}
	if p.MinUnit != 0 {
		if level(p.MinUnit) < 0 {
			return fmt.Errorf("retention: min unit %q is not one of h, d, w, m, y", p.MinUnit)
		}
		if p.MinN < 0 {
			return fmt.Errorf("retention: min %d%c is negative", p.MinN, p.MinUnit)
		}
	}
	return nil
}

// Periods from finest to coarsest; a rule at level i keeps the first item of
// its period among the items that are first at level i-1.
const (
	lHour = iota
	lDay
	lWeek
	lMonth
	lYear
	nLevels
)

var (
	ruleNames = [nLevels]string{"hourly", "daily", "weekly", "monthly", "yearly"}
	unitNames = [nLevels]string{"hour", "day", "week", "month", "year"}
	unitChars = [nLevels]byte{'h', 'd', 'w', 'm', 'y'}
)

func level(unit byte) int {
	return strings.IndexByte(string(unitChars[:]), unit)
}

func (p Policy) counts() [nLevels]int {
	return [nLevels]int{p.Hourly, p.Daily, p.Weekly, p.Monthly, p.Yearly}
}

// used reports whether a count enables its rule (btrbk: Perl truthiness).
func used(n int) bool { return n > 0 }

func countString(n int) string {
	if n == All {
		return "all"
	}
	return strconv.Itoa(n)
}

// String renders the policy compactly for plan output, e.g.
// "latest, 7 daily, 4 weekly, 6 monthly". Like btrbk's own summary it shows
// only "all" when MinAll makes every other rule irrelevant.
func (p Policy) String() string {
	if p.MinAll {
		return "all"
	}
	var parts []string
	if p.MinLatest {
		parts = append(parts, "latest")
	}
	if p.MinUnit != 0 {
		parts = append(parts, fmt.Sprintf("min %d%c", p.MinN, p.MinUnit))
	}
	for l, n := range p.counts() {
		if used(n) {
			parts = append(parts, countString(n)+" "+ruleNames[l])
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	s := strings.Join(parts, ", ")
	var cal []string
	if p.WeekStart != time.Sunday {
		cal = append(cal, "weeks start "+p.WeekStart.String())
	}
	if p.DayStartHour != 0 {
		cal = append(cal, fmt.Sprintf("days start %02d:00", p.DayStartHour))
	}
	if len(cal) > 0 {
		s += " (" + strings.Join(cal, ", ") + ")"
	}
	return s
}

// entry carries btrbk's per-item calendar values ($href in sub schedule).
type entry struct {
	Decision
	wall       time.Time    // local wall clock, as UTC fields (btrbk's localtime)
	delta      [nLevels]int // btrbk's delta_hours .. delta_years
	hoursFromH int          // delta_hours_from_hod
	daysFromW  int          // delta_days_from_eow
	year       int          // year_corr, the year the item is counted in
	month      time.Month   // month_corr, the month the item is counted in
	reached    int          // coarsest level at which it is first of its period; -1 if none
}

// wallUTC returns t's wall clock in loc re-expressed in UTC, which is what
// btrbk's timegm_nocheck on localtime() fields computes: hour arithmetic on
// it ignores DST, so a DST change never shifts a day boundary.
func wallUTC(t time.Time, loc *time.Location) time.Time {
	l := t.In(loc)
	y, m, d := l.Date()
	return time.Date(y, m, d, l.Hour(), l.Minute(), l.Second(), 0, time.UTC)
}

// Evaluate returns one Decision per item, sorted oldest first (Time, then
// Seq), deciding like btrbk's scheduler with now as reference time. Calendar
// arithmetic uses the wall clock in loc, as btrbk uses the host's local time:
// days start at DayStartHour (00:00 for items without time), weeks on
// WeekStart, months on the first WeekStart day of the month and years on the
// first WeekStart day of the year. The reference month and year are not
// shifted that way, which is btrbk's behaviour too.
//
// Items dated in a later hour than now are always kept (Rule "future"), as
// btrbk does when deleting (preserve_date_in_future), so that clock skew never
// destroys snapshots.
//
// Evaluate panics if p.Validate fails.
func Evaluate(items []Item, p Policy, now time.Time, loc *time.Location) []Decision {
	if err := p.Validate(); err != nil {
		panic(err)
	}
	// One allocation for all entries: a plan evaluates thousands.
	slab := make([]entry, len(items))
	es := make([]*entry, len(items))
	for i, it := range items {
		slab[i] = entry{Decision: Decision{Item: it}, reached: -1}
		es[i] = &slab[i]
	}
	slices.SortStableFunc(es, func(a, b *entry) int {
		return cmp.Or(a.Time.Compare(b.Time), cmp.Compare(a.Seq, b.Seq))
	})

	nowWall := wallUTC(now, loc)
	nowH := nowWall.Truncate(time.Hour)
	for _, e := range es {
		e.calendar(p, nowWall, nowH, loc)
	}

	keep := func(e *entry, rule, reason string) {
		e.Keep, e.Rule, e.Reason = true, rule, reason
	}
	for _, e := range es {
		if e.delta[lHour] < 0 {
			keep(e, "future", fmt.Sprintf("future: dated %s", ago(e.delta[lHour], lHour)))
		}
	}
	for _, e := range es {
		switch {
		case p.MinAll:
			keep(e, "min", "min all: keep everything")
		case p.MinUnit != 0:
			if l := level(p.MinUnit); e.delta[l] <= p.MinN {
				keep(e, "min", fmt.Sprintf("min %d%c: %s", p.MinN, p.MinUnit, ago(e.delta[l], l)))
			}
		}
	}
	if p.MinLatest && len(es) > 0 {
		keep(es[len(es)-1], "latest", "latest: newest snapshot")
	}

	// Like btrbk, each level maps a period (its delta) to the first entry
	// that reaches it, visiting the finer level's periods oldest first. Wall
	// clocks can jump backwards (DST) and btrbk's month correction is not
	// monotonic, so this is not always the same as grouping in time order.
	firsts := make(map[int]*entry, len(es))
	for _, e := range es {
		if _, ok := firsts[e.delta[lHour]]; !ok {
			firsts[e.delta[lHour]] = e
		}
	}
	for l, n := range p.counts() {
		next := make(map[int]*entry, len(firsts))
		for _, d := range slices.Backward(slices.Sorted(maps.Keys(firsts))) {
			e := firsts[d]
			e.reached = l
			if used(n) && e.delta[l] <= n {
				keep(e, ruleNames[l], e.keptReason(l, n, p))
			}
			if l+1 < nLevels {
				if _, ok := next[e.delta[l+1]]; !ok {
					next[e.delta[l+1]] = e
				}
			}
		}
		firsts = next
	}

	out := make([]Decision, len(es))
	for i, e := range es {
		if !e.Keep {
			e.Reason = e.prunedReason(p)
		}
		out[i] = e.Decision
	}
	return out
}

// calendar computes btrbk's deltas and corrected month/year for e.
func (e *entry) calendar(p Policy, nowWall, nowH time.Time, loc *time.Location) {
	e.wall = wallUTC(e.Time, loc)
	hod := 0
	if e.HasTime {
		hod = p.DayStartHour
	}
	e.hoursFromH = e.wall.Hour() - hod
	e.daysFromW = int(e.wall.Weekday()) - int(p.WeekStart)
	if e.hoursFromH < 0 {
		e.hoursFromH += 24
		e.daysFromW--
	}
	if e.daysFromW < 0 {
		e.daysFromW += 7
	}
	// btrbk compares the unshifted day of month here, even when the hour
	// before DayStartHour moved the item to the previous day.
	e.year, e.month = e.wall.Year(), e.wall.Month()
	if e.wall.Day() <= e.daysFromW {
		e.month--
		if e.month < time.January {
			e.month = time.December
			e.year--
		}
	}
	// Go's integer division truncates toward zero like Perl's int(), which
	// matters for items in the future.
	e.delta[lHour] = int(nowH.Sub(e.wall.Truncate(time.Hour)) / time.Hour)
	e.delta[lDay] = (e.delta[lHour] + e.hoursFromH) / 24
	e.delta[lWeek] = (e.delta[lDay] + e.daysFromW) / 7
	e.delta[lYear] = nowWall.Year() - e.year
	e.delta[lMonth] = e.delta[lYear]*12 + int(nowWall.Month()-e.month)
}

// dayStart is the wall clock at which e's (logical) day begins.
func (e *entry) dayStart() time.Time {
	return e.wall.Truncate(time.Hour).Add(-time.Duration(e.hoursFromH) * time.Hour)
}

// The verdicts below are built by appending to one buffer, not with fmt
// or string concatenation: a plan words thousands of them.

// appendPeriod appends the name of e's period at level l, e.g. "week
// starting Sun 2026-11-15".
func (e *entry) appendPeriod(b []byte, l int, p Policy) []byte {
	switch l {
	case lHour:
		return e.wall.AppendFormat(append(b, "hour "...), "2006-01-02 15:00")
	case lDay:
		if e.HasTime && p.DayStartHour != 0 {
			return e.dayStart().AppendFormat(append(b, "day starting "...), "2006-01-02 15:04")
		}
		return e.dayStart().AppendFormat(append(b, "day "...), "2006-01-02")
	case lWeek:
		return e.dayStart().AddDate(0, 0, -e.daysFromW).AppendFormat(append(b, "week starting "...), "Mon 2006-01-02")
	case lMonth:
		b = appendZeroPadded(append(b, "month "...), e.year, 4)
		return appendZeroPadded(append(b, '-'), int(e.month), 2)
	default:
		return appendZeroPadded(append(b, "year "...), e.year, 4)
	}
}

// keptReason explains why rule level l with count n keeps e, e.g.
// "weekly 8: first daily of the week starting Sun 2026-11-15 (1 week ago)".
func (e *entry) keptReason(l, n int, p Policy) string {
	b := make([]byte, 0, 80)
	b = append(append(append(b, ruleNames[l]...), ' '), countString(n)...)
	b = append(b, ": first "...)
	if l > lDay {
		b = append(append(b, ruleNames[l-1]...), ' ')
	}
	b = e.appendPeriod(append(b, "of the "...), l, p)
	b = appendAgo(append(b, " ("...), e.delta[l], l)
	return string(append(b, ')'))
}

// appendZeroPadded is %0*d for years and months.
func appendZeroPadded(b []byte, n, width int) []byte {
	for d := 10; width > 1 && n >= 0; width-- {
		if n < d {
			b = append(b, '0')
		}
		d *= 10
	}
	return strconv.AppendInt(b, int64(n), 10)
}

// prunedReason names the rule that came closest to keeping e: the coarsest
// rule e is first for (it is too old for it), or else the finest rule (e is
// not first of its period).
func (e *entry) prunedReason(p Policy) string {
	counts := p.counts()
	coarsest, finest := -1, -1
	for l := nLevels - 1; l >= 0; l-- {
		if used(counts[l]) {
			finest = l
			if coarsest < 0 && l <= e.reached {
				coarsest = l
			}
		}
	}
	switch {
	case coarsest >= 0:
		n := counts[coarsest]
		b := make([]byte, 0, 96)
		b = strconv.AppendInt(append(append(b, ruleNames[coarsest]...), ' '), int64(n), 10)
		b = appendPlural(append(b, " reaches back "...), n, unitNames[coarsest])
		b = appendAgo(append(b, "; this is "...), e.delta[coarsest], coarsest)
		// A coarser rule would need e to be first of the next period up.
		for l := coarsest + 1; l < nLevels; l++ {
			if used(counts[l]) {
				b = append(append(b, " and not the first of its "...), unitNames[e.reached+1]...)
				break
			}
		}
		return string(b)
	case finest >= 0:
		b := e.appendPeriod(append(make([]byte, 0, 64), "not the first of its "...), finest, p)
		b = append(append(append(append(b, " ("...), ruleNames[finest]...), ' '), countString(counts[finest])...)
		return string(append(b, ')'))
	case p.MinUnit != 0:
		l := level(p.MinUnit)
		return fmt.Sprintf("min %d%c reaches back %s; this is %s", p.MinN, p.MinUnit, plural(p.MinN, unitNames[l]), ago(e.delta[l], l))
	case p.MinLatest:
		return "latest keeps only the newest snapshot"
	default:
		return "no retention rule keeps anything"
	}
}

func plural(n int, unit string) string { return string(appendPlural(nil, n, unit)) }

func appendPlural(b []byte, n int, unit string) []byte {
	b = append(strconv.AppendInt(b, int64(n), 10), ' ')
	b = append(b, unit...)
	if n != 1 {
		b = append(b, 's')
	}
	return b
}

// ago renders a delta of periods at level l relative to now.
func ago(delta, l int) string { return string(appendAgo(nil, delta, l)) }

func appendAgo(b []byte, delta, l int) []byte {
	switch {
	case delta == 0 && l == lDay:
		return append(b, "today"...)
	case delta == 0:
		return append(append(b, "this "...), unitNames[l]...)
	case delta < 0:
		return appendPlural(append(b, "in "...), -delta, unitNames[l])
	default:
		return append(appendPlural(b, delta, unitNames[l]), " ago"...)
	}
}
