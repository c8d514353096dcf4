package snapname

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// btrbkName is btrbk's own pattern for a snapshot name (0.32.5,
// $btrbk_timestamp_match behind "^(?<name>.+)\."), written for Go's regexp,
// whose leftmost-first submatches are the ones Perl's backtracking picks.
var btrbkName = regexp.MustCompile(`^(.+)\.([0-9]{4})([0-9]{2})([0-9]{2})(T([0-9]{2})([0-9]{2})(([0-9]{2})(Z|[+-][0-9]{4}))?)?(_([0-9]+))?$`)

// btrbkAccepts is whether btrbk reads entry as a snapshot of subvol: its
// pattern, then Time::Local's range checks. compared is false where drsync
// deliberately differs: years 1900-1999, which Time::Local's "rolling
// century" moves to 2000-2076 (a 1970 name from a clock reset would become
// a snapshot 50 years in the future and never be pruned), _N beyond int,
// and names with a newline (Perl's $ matches before one; btrfs
// subvolume list, being line-based, never yields one).
func btrbkAccepts(subvol, entry string) (ok, compared bool) {
	if strings.ContainsRune(entry, '\n') {
		return false, false
	}
	m := btrbkName.FindStringSubmatch(entry)
	if m == nil {
		return false, true
	}
	if m[1] != subvol {
		return false, true
	}
	num := func(s string) int { n, _ := strconv.Atoi(s); return n }
	year, month, day := num(m[2]), num(m[3]), num(m[4])
	if year >= 1900 && year <= 1999 || len(m[12]) > 18 {
		return false, false
	}
	if month < 1 || month > 12 || day < 1 || day > daysIn(year, time.Month(month)) {
		return false, true
	}
	if m[5] != "" && (num(m[6]) > 23 || num(m[7]) > 59 || m[8] != "" && num(m[9]) > 59) {
		return false, true
	}
	return true, true
}

// FuzzParse checks Parse never panics and accepts exactly the names btrbk
// accepts, with btrbk's _N and exactness of time.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"home.20250101", "home.20250101T1200", "home.20250101T120000+0100", "home.20250101T120000Z",
		"home.20250101T1200_3", "home.20250101_12", "home.XXXX0101", "home.00000101", "home.20250101T120000+",
		"home.20250230", "home.20240229", "home.20250101T2400", "home.20250101T120060Z", "home.x.20250101",
		"a.b.20250101T1200", "home.20250101.20250101", "home.20250101T1200_", "home.2025010", ".20250101",
	} {
		f.Add("home", s)
	}
	f.Add("a.b", "a.b.20250101T1200")
	f.Add("", ".20250101")
	loc, err := time.LoadLocation("Europe/Oslo")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, subvol, entry string) {
		st, ok := Parse(subvol, entry, loc)
		want, compared := btrbkAccepts(subvol, entry)
		if compared && ok != want {
			t.Fatalf("Parse(%q, %q) ok=%v, btrbk's pattern and ranges say %v", subvol, entry, ok, want)
		}
		if !ok {
			return
		}
		m := btrbkName.FindStringSubmatch(entry)
		if m == nil {
			t.Fatalf("Parse(%q, %q) accepted a name btrbk's pattern does not match", subvol, entry)
		}
		if n, _ := strconv.Atoi(m[12]); st.Seq != n {
			t.Errorf("Parse(%q, %q).Seq = %d, want %d", subvol, entry, st.Seq, n)
		}
		if st.HasTime != (m[5] != "") {
			t.Errorf("Parse(%q, %q).HasTime = %v", subvol, entry, st.HasTime)
		}
		// A wall clock moves by a DST shift at most; an explicit offset not at all.
		named := time.Date(atoi(m[2]), time.Month(atoi(m[3])), atoi(m[4]), atoi(m[6]), atoi(m[7]), atoi(m[9]), 0, time.UTC)
		got := st.Time
		wall := time.Date(got.Year(), got.Month(), got.Day(), got.Hour(), got.Minute(), got.Second(), 0, time.UTC)
		if d := wall.Sub(named); d < -2*time.Hour || d > 2*time.Hour || m[10] != "" && d != 0 {
			t.Errorf("Parse(%q, %q) = %v, %v from the name's wall clock", subvol, entry, got, d)
		}
	})
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }
