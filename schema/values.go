package schema

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration written with the units of #Duration, which
// adds days ("7d") and weeks ("2w") to Go's.
type Duration struct{ time.Duration }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(FormatDuration(d.Duration)) }

// ParseDuration accepts Go durations plus "d" (24h) and "w" (7d) units.
func ParseDuration(s string) (time.Duration, error) {
	var total time.Duration
	rest := s
	if rest == "" {
		return 0, fmt.Errorf("empty duration")
	}
	for rest != "" {
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == 0 {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		n, err := strconv.ParseInt(rest[:i], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("invalid duration %q: %w", s, err)
		}
		rest = rest[i:]
		j := 0
		for j < len(rest) && (rest[j] < '0' || rest[j] > '9') {
			j++
		}
		unit, ok := durationUnits[rest[:j]]
		if !ok {
			return 0, fmt.Errorf("invalid duration %q: unknown unit %q", s, rest[:j])
		}
		if time.Duration(n) > (math.MaxInt64-total)/unit {
			return 0, fmt.Errorf("invalid duration %q: longer than %s", s, FormatDuration(math.MaxInt64/(24*time.Hour)*(24*time.Hour)))
		}
		total += time.Duration(n) * unit
		rest = rest[j:]
	}
	return total, nil
}

var durationUnits = map[string]time.Duration{
	"ms": time.Millisecond, "s": time.Second, "m": time.Minute, "h": time.Hour,
	"d": 24 * time.Hour, "w": 7 * 24 * time.Hour,
}

// FormatDuration prints d in the largest whole unit a person would use:
// "7d", "26h", "90m", "45s".
func FormatDuration(d time.Duration) string {
	switch {
	case d == 0:
		return "0s"
	case d%(7*24*time.Hour) == 0:
		return fmt.Sprintf("%dw", d/(7*24*time.Hour))
	case d%(24*time.Hour) == 0:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	default:
		return d.Round(time.Second).String()
	}
}

// Age prints how old something is, rounded for reading: "26h", "41d", "12m".
func Age(d time.Duration) string {
	switch {
	case d < 0:
		return "in the future"
	case d < time.Minute:
		return "<1m"
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 72*time.Hour:
		return fmt.Sprintf("%dh", int(d/time.Hour))
	default:
		return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
	}
}

// Count is a retention count: a number of periods, or all of them.
type Count struct {
	N   int
	All bool
}

func (c *Count) UnmarshalJSON(b []byte) error {
	if string(b) == `"all"` {
		c.All = true
		return nil
	}
	return json.Unmarshal(b, &c.N)
}

func (c Count) MarshalJSON() ([]byte, error) {
	if c.All {
		return []byte(`"all"`), nil
	}
	return json.Marshal(c.N)
}

func (c Count) String() string {
	if c.All {
		return "all"
	}
	return strconv.Itoa(c.N)
}

// Schedule says when a snapshot or a send is due: a fixed interval since the
// last one, or a calendar slot (local time) that has passed since it.
type Schedule struct {
	Text    string
	Every   time.Duration // interval schedules
	Kind    string        // "every", "hourly", "daily", "weekly", "monthly"
	Weekday time.Weekday
	Day     int // day of month; clamped to the month's last day
	Hour    int
	Minute  int
}

func (s *Schedule) UnmarshalJSON(b []byte) error {
	var text string
	if err := json.Unmarshal(b, &text); err != nil {
		return err
	}
	p, err := ParseSchedule(text)
	if err != nil {
		return err
	}
	*s = p
	return nil
}

func (s Schedule) MarshalJSON() ([]byte, error) { return json.Marshal(s.Text) }

func (s Schedule) String() string { return s.Text }

var weekdays = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// ParseSchedule parses the forms #Schedule allows.
func ParseSchedule(text string) (Schedule, error) {
	s := Schedule{Text: text}
	f := strings.Fields(text)
	bad := fmt.Errorf("invalid schedule %q", text)
	if len(f) == 0 {
		return s, bad
	}
	s.Kind = f[0]
	clock := func(v string) error {
		_, err := fmt.Sscanf(v, "%d:%d", &s.Hour, &s.Minute)
		if err != nil || s.Hour > 23 || s.Minute > 59 {
			return bad
		}
		return nil
	}
	var err error
	switch {
	case s.Kind == "every" && len(f) == 2:
		s.Every, err = ParseDuration(f[1])
		if err == nil && s.Every <= 0 {
			err = bad
		}
	case s.Kind == "hourly" && len(f) == 1:
	case s.Kind == "daily" && len(f) == 2:
		err = clock(f[1])
	case s.Kind == "weekly" && len(f) == 3:
		wd, ok := weekdays[f[1]]
		if !ok {
			return s, bad
		}
		s.Weekday = wd
		err = clock(f[2])
	case s.Kind == "monthly" && len(f) == 3:
		s.Day, err = strconv.Atoi(f[1])
		if err != nil || s.Day < 1 || s.Day > 31 {
			return s, bad
		}
		err = clock(f[2])
	default:
		return s, bad
	}
	return s, err
}

// Slot returns the most recent calendar slot at or before now, in now's
// location. Interval schedules have no slots and return the zero time.
func (s Schedule) Slot(now time.Time) time.Time {
	y, mo, d := now.Date()
	loc := now.Location()
	var slot time.Time
	switch s.Kind {
	case "hourly":
		slot = time.Date(y, mo, d, now.Hour(), 0, 0, 0, loc)
	case "daily":
		slot = time.Date(y, mo, d, s.Hour, s.Minute, 0, 0, loc)
		if slot.After(now) {
			slot = time.Date(y, mo, d-1, s.Hour, s.Minute, 0, 0, loc)
		}
	case "weekly":
		back := (int(now.Weekday()) - int(s.Weekday) + 7) % 7
		slot = time.Date(y, mo, d-back, s.Hour, s.Minute, 0, 0, loc)
		if slot.After(now) {
			slot = time.Date(y, mo, d-back-7, s.Hour, s.Minute, 0, 0, loc)
		}
	case "monthly":
		slot = monthSlot(y, mo, s, loc)
		if slot.After(now) {
			slot = monthSlot(y, mo-1, s, loc)
		}
	}
	return slot
}

func monthSlot(y int, mo time.Month, s Schedule, loc *time.Location) time.Time {
	last := time.Date(y, mo+1, 0, 0, 0, 0, 0, loc).Day()
	return time.Date(y, mo, min(s.Day, last), s.Hour, s.Minute, 0, 0, loc)
}

// Next returns the first slot after now (interval schedules: after the
// newest copy, passed as newest; zero newest means now).
func (s Schedule) Next(newest, now time.Time) time.Time {
	if s.Kind == "every" {
		if newest.IsZero() {
			return now
		}
		return newest.Add(s.Every)
	}
	slot := s.Slot(now)
	y, mo, d := slot.Date()
	loc := slot.Location()
	switch s.Kind {
	case "hourly":
		return time.Date(y, mo, d, slot.Hour()+1, 0, 0, 0, loc)
	case "daily":
		return time.Date(y, mo, d+1, s.Hour, s.Minute, 0, 0, loc)
	case "weekly":
		return time.Date(y, mo, d+7, s.Hour, s.Minute, 0, 0, loc)
	default:
		return monthSlot(y, mo+1, s, loc)
	}
}

// Period is the longest gap between two due slots: how old the newest copy
// may get before the schedule is late.
func (s Schedule) Period() time.Duration {
	switch s.Kind {
	case "every":
		return s.Every
	case "hourly":
		return time.Hour
	case "daily":
		return 24 * time.Hour
	case "weekly":
		return 7 * 24 * time.Hour
	default: // monthly: the longest month
		return 31 * 24 * time.Hour
	}
}
