package snapname

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func oslo(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Oslo")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestFormat(t *testing.T) {
	loc := oslo(t)
	tm := time.Date(2026, 3, 5, 7, 9, 59, 0, loc)
	tests := []struct {
		got, want string
	}{
		{Format("htpc-home", tm), "htpc-home.20260305T0709"},
		{Format("a.b", tm.In(time.UTC)), "a.b.20260305T0609"}, // t's own location
		{FormatSeq("home", tm, 0), "home.20260305T0709"},
		{FormatSeq("home", tm, 2), "home.20260305T0709_2"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

// stamp is Stamp with Time rendered including its offset, so that tests
// catch a wrong zone and not only a wrong instant.
type stamp struct {
	Time    string
	HasTime bool
	Seq     int
}

func TestParse(t *testing.T) {
	loc := oslo(t)
	tests := []struct {
		subvol, entry string
		want          *stamp // nil: not a snapshot of subvol
	}{
		// The three btrbk timestamp formats, with and without _N.
		{"htpc-home", "htpc-home.20250101", &stamp{"2025-01-01T00:00:00+01:00", false, 0}},
		{"htpc-home", "htpc-home.20250101_3", &stamp{"2025-01-01T00:00:00+01:00", false, 3}},
		{"htpc-home", "htpc-home.20250701T1405", &stamp{"2025-07-01T14:05:00+02:00", true, 0}},
		{"htpc-home", "htpc-home.20250701T1405_1", &stamp{"2025-07-01T14:05:00+02:00", true, 1}},
		{"htpc-home", "htpc-home.20250701T140559+0530", &stamp{"2025-07-01T14:05:59+05:30", true, 0}},
		{"htpc-home", "htpc-home.20250701T140559-0800_12", &stamp{"2025-07-01T14:05:59-08:00", true, 12}},
		{"htpc-home", "htpc-home.20250701T140559Z", &stamp{"2025-07-01T14:05:59Z", true, 0}},
		{"htpc-home", "htpc-home.20250701T1405_007", &stamp{"2025-07-01T14:05:00+02:00", true, 7}},
		{"a.b", "a.b.20240229T2359", &stamp{"2024-02-29T23:59:00+01:00", true, 0}},
		// DST in Oslo: the gap resolves an hour later, the overlap to the
		// earlier (summer time) instant, as Perl's timelocal does.
		{"h", "h.20260329T0230", &stamp{"2026-03-29T03:30:00+02:00", true, 0}},
		{"h", "h.20261025T0230", &stamp{"2026-10-25T02:30:00+02:00", true, 0}},
		{"h", "h.20261025T0330", &stamp{"2026-10-25T03:30:00+01:00", true, 0}},

		// Wrong prefix.
		{"htpc-home", "home.20250101", nil},
		{"htpc-home", "htpc-home-old.20250101", nil},
		{"home", "htpc-home.20250101", nil},
		{"a.b", "b.20250101", nil},
		{"a.b", "a.b20250101", nil},
		{"", ".20250101", nil},
		{"htpc-home", "htpc-home.", nil},
		{"htpc-home", "htpc-home", nil},
		// Malformed timestamps.
		{"h", "h.2025010", nil},
		{"h", "h.202501011", nil},
		{"h", "h.20250101T12", nil},
		{"h", "h.20250101T120", nil},
		{"h", "h.20250101t1200", nil},
		{"h", "h.20250101T120000", nil}, // seconds only with an offset
		{"h", "h.20250101T120000+01", nil},
		{"h", "h.20250101T120000+01:00", nil},
		{"h", "h.20250101T120000z", nil},
		{"h", "h.20250101T1200Z", nil},
		{"h", "h.20250101 1200", nil},
		{"h", "h.2025-01-01", nil},
		{"h", "h.+2025010", nil},
		{"h", "h.20250101T1200.bak", nil},
		{"h", "h.20250101T1200.btrfs", nil}, // raw target files are not snapshots
		{"h", "h.20250101_", nil},
		{"h", "h.20250101_x", nil},
		{"h", "h.20250101_-1", nil},
		{"h", "h.20250101_+1", nil},
		{"h", "h.20250101_1_2", nil},
		{"h", "h.20250101_99999999999999999999", nil},
		// Invalid calendar values.
		{"h", "h.20250230", nil},
		{"h", "h.20250229", nil},
		{"h", "h.20250001", nil},
		{"h", "h.20251301", nil},
		{"h", "h.20250100", nil},
		{"h", "h.20250431", nil},
		{"h", "h.20250101T2400", nil},
		{"h", "h.20250101T2500", nil},
		{"h", "h.20250101T1260", nil},
		{"h", "h.20250101T120060+0000", nil},
	}
	for _, tt := range tests {
		st, ok := Parse(tt.subvol, tt.entry, loc)
		var got *stamp
		if ok {
			got = &stamp{st.Time.Format(time.RFC3339), st.HasTime, st.Seq}
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Parse(%q, %q) mismatch (-want +got):\n%s", tt.subvol, tt.entry, diff)
		}
	}
}

func TestParseFormatRoundTrip(t *testing.T) {
	loc := oslo(t)
	for _, tm := range []time.Time{
		time.Date(2026, 1, 1, 0, 0, 0, 0, loc),
		time.Date(2026, 3, 29, 3, 0, 0, 0, loc),
		time.Date(2026, 10, 25, 1, 59, 0, 0, loc),
		time.Date(2026, 12, 31, 23, 59, 0, 0, loc),
	} {
		for _, seq := range []int{0, 1, 10} {
			name := FormatSeq("srv.data", tm, seq)
			st, ok := Parse("srv.data", name, loc)
			want := Stamp{Time: tm, HasTime: true, Seq: seq}
			if !ok || !st.Time.Equal(want.Time) || st.HasTime != want.HasTime || st.Seq != want.Seq {
				t.Errorf("Parse(Format(%v, %d)) = %q -> %+v, %v; want %+v", tm, seq, name, st, ok, want)
			}
		}
	}
}

func TestLess(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	// Same instant in another zone is equal, so only Seq decides.
	same := t0.In(time.FixedZone("", 3600))
	tests := []struct {
		a, b Stamp
		want bool
	}{
		{Stamp{Time: t0}, Stamp{Time: t0.Add(time.Minute)}, true},
		{Stamp{Time: t0.Add(time.Minute)}, Stamp{Time: t0}, false},
		{Stamp{Time: t0, Seq: 5}, Stamp{Time: t0.Add(time.Second)}, true},
		{Stamp{Time: t0}, Stamp{Time: same, Seq: 1}, true},
		{Stamp{Time: t0, Seq: 1}, Stamp{Time: same}, false},
		{Stamp{Time: t0, Seq: 1}, Stamp{Time: same, Seq: 1}, false},
	}
	for _, tt := range tests {
		if got := Less(tt.a, tt.b); got != tt.want {
			t.Errorf("Less(%+v, %+v) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}
