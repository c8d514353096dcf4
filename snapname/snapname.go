// Package snapname formats and parses btrbk-compatible snapshot names, so
// that drsync and btrbk can manage (and prune) the same snapshot directories.
//
// btrbk names a snapshot "<subvol>.<timestamp>[_N]", where the timestamp is
// one of its three timestamp_format settings:
//
//	short     <subvol>.YYYYMMDD
//	long      <subvol>.YYYYMMDDThhmm               (btrbk's default, used by Format)
//	long-iso  <subvol>.YYYYMMDDThhmmss±zzzz         (btrbk also accepts "Z" for the offset)
//
// and "_N" is appended when a name of the same minute already exists.
package snapname

import (
	"cmp"
	"strconv"
	"strings"
	"time"
)

// Stamp is the point in time a snapshot name encodes.
type Stamp struct {
	// Time is the wall clock in the location given to Parse, unless the name
	// carried a ±zzzz (or Z) offset: then it is in a fixed zone with that offset.
	Time time.Time
	// HasTime is false for the short form name.YYYYMMDD; btrbk then treats the
	// snapshot as taken at 00:00 and ignores preserve_hour_of_day for it.
	HasTime bool
	// Seq is the _N collision suffix, 0 when absent.
	Seq int
}

// Format returns "<subvol>.YYYYMMDDThhmm", btrbk's default "long" name, with t
// formatted in t's own location (btrbk uses the host's local time).
func Format(subvol string, t time.Time) string {
	return subvol + "." + t.Format("20060102T1504")
}

// FormatSeq is Format with btrbk's "_N" suffix appended when seq > 0, used to
// tell apart snapshots taken within the same minute.
func FormatSeq(subvol string, t time.Time, seq int) string {
	s := Format(subvol, t)
	if seq > 0 {
		s += "_" + strconv.Itoa(seq)
	}
	return s
}

// Less orders stamps by instant, then by Seq, which is btrbk's cmp_date order.
func Less(a, b Stamp) bool {
	return cmp.Or(a.Time.Compare(b.Time), cmp.Compare(a.Seq, b.Seq)) < 0
}

// Parse reports whether entry is a btrbk snapshot name of subvol and returns
// the time it encodes. It accepts exactly what btrbk accepts: subvol + "."
// followed by YYYYMMDD, YYYYMMDDThhmm or YYYYMMDDThhmmss±zzzz / YYYYMMDDThhmmssZ,
// each optionally followed by _N. Invalid calendar values (20250230, hour 24,
// minute or second 60, month 00) are rejected like btrbk's Time::Local does.
// The offset digits are not range-checked, again like btrbk.
//
// Times without an offset are wall clock in loc. A wall clock that does not
// exist because of a DST gap (02:30 on a spring-forward night) resolves to
// the same instant Perl's timelocal gives, which is the one an hour later
// (03:30 summer time). An ambiguous wall clock (02:30 on a fall-back night)
// resolves to the earlier instant (summer time), also like timelocal, so that
// ordering agrees with btrbk.
func Parse(subvol, entry string, loc *time.Location) (Stamp, bool) {
	if subvol == "" || !strings.HasPrefix(entry, subvol+".") {
		return Stamp{}, false
	}
	s, seq, hasSeq := strings.Cut(entry[len(subvol)+1:], "_")

	var st Stamp
	if hasSeq {
		n, ok := digits(seq)
		if !ok {
			return Stamp{}, false
		}
		st.Seq = n
	}

	// YYYYMMDD, then optionally Thhmm, then optionally ss and the offset.
	if len(s) < 8 {
		return Stamp{}, false
	}
	year, ok1 := digits(s[0:4])
	month, ok2 := digits(s[4:6])
	day, ok3 := digits(s[6:8])
	if !ok1 || !ok2 || !ok3 {
		return Stamp{}, false
	}
	s = s[8:]
	var hour, min, sec int
	var zone *time.Location
	switch {
	case s == "":
	case len(s) == 5 || len(s) == 8 || len(s) == 12:
		if s[0] != 'T' {
			return Stamp{}, false
		}
		var okh, okm bool
		hour, okh = digits(s[1:3])
		min, okm = digits(s[3:5])
		if !okh || !okm {
			return Stamp{}, false
		}
		st.HasTime = true
		if len(s) > 5 {
			var oks bool
			sec, oks = digits(s[5:7])
			if !oks {
				return Stamp{}, false
			}
			var okz bool
			zone, okz = parseZone(s[7:])
			if !okz {
				return Stamp{}, false
			}
		}
	default:
		return Stamp{}, false
	}

	if month < 1 || month > 12 || day < 1 || day > daysIn(year, time.Month(month)) ||
		hour > 23 || min > 59 || sec > 59 {
		return Stamp{}, false
	}
	if zone != nil {
		st.Time = time.Date(year, time.Month(month), day, hour, min, sec, 0, zone)
	} else {
		st.Time = localDate(year, time.Month(month), day, hour, min, sec, loc)
	}
	return st, true
}

// digits parses a non-empty run of ASCII digits; it rejects signs and spaces
// that strconv.Atoi would accept, and values that overflow int.
func digits(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

// parseZone parses btrbk's "Z" or "±hhmm" offset.
func parseZone(s string) (*time.Location, bool) {
	if s == "Z" {
		return time.UTC, true
	}
	if len(s) != 5 || (s[0] != '+' && s[0] != '-') {
		return nil, false
	}
	h, okh := digits(s[1:3])
	m, okm := digits(s[3:5])
	if !okh || !okm {
		return nil, false
	}
	off := h*3600 + m*60
	if s[0] == '-' {
		off = -off
	}
	return time.FixedZone(s, off), true
}

func daysIn(year int, m time.Month) int {
	return time.Date(year, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// localDate is Perl's Time::Local::timelocal (1.30, which btrbk calls),
// step by step, so that every wall clock, including one in a DST gap or
// overlap, names the same instant for drsync as for btrbk. Its one-hour
// probe is Time::Local's: in zones whose DST shift is not an hour (Lord Howe)
// it resolves an ambiguous wall clock to an instant whose wall clock differs
// from the name's, and btrbk, hence drsync, then dates the snapshot there.
func localDate(year int, month time.Month, day, hour, min, sec int, loc *time.Location) time.Time {
	ref := time.Date(year, month, day, hour, min, sec, 0, time.UTC).Unix()
	// asUTC is Time::Local's _timegm(localtime(t)): t's wall clock in loc
	// read as if it were UTC.
	asUTC := func(t int64) int64 {
		l := time.Unix(t, 0).In(loc)
		return time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute(), l.Second(), 0, time.UTC).Unix()
	}
	in := func(t int64) time.Time { return time.Unix(t, 0).In(loc) }

	zoneOff := asUTC(ref) - ref
	if zoneOff == 0 {
		return in(ref)
	}
	t := ref - zoneOff
	dstOff := ref - asUTC(t)
	// t is in the second pass of a wall clock that runs backwards: take the
	// first.
	if dstOff == 0 && (ref-hourSecs)-asUTC(t-hourSecs) < 0 {
		return in(t - hourSecs)
	}
	t += dstOff
	if dstOff > 0 {
		return in(t)
	}
	// A wall clock in a forward gap: undo the DST adjustment.
	if l := in(t); l.Second() != sec || l.Minute() != min || l.Hour() != hour {
		t -= dstOff
	}
	return in(t)
}

const hourSecs = 60 * 60
