package retention_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drsync/drsync/retention"
	"github.com/drsync/drsync/snapname"
)

// btrbkCase is one retention question put to btrbk and to drsync: which of
// these names, read as snapshots of Subvol, does this policy keep at Now in
// zone TZ? Preserve and Min are btrbk.conf values ("7d 4w *m", "latest").
type btrbkCase struct {
	ID       int      `json:"id"`
	TZ       string   `json:"tz"`
	Now      int64    `json:"now"`
	Subvol   string   `json:"subvol"`
	Names    []string `json:"names"`
	Preserve string   `json:"preserve"`
	Min      string   `json:"min"`
	DOW      string   `json:"dow"`
	HOD      int      `json:"hod"`

	// covers names what the case exercises, for the coverage check.
	covers []string
}

// btrbkVerdict is what btrbk decided for a case, name by name.
type btrbkVerdict struct {
	ID      int      `json:"id"`
	Keep    []string `json:"keep"`
	Delete  []string `json:"delete"`
	Ignored []string `json:"ignored"`
}

// TestMatchesBtrbk is the differential test behind "btrbk's retention,
// exactly": thousands of random histories (DST changes in zones with whole-
// and half-hour shifts, _N suffixes, short, long and long-iso names, future-
// dated snapshots, foreign names), every rule with counts, 0 and "all", min
// all, latest and durations, every week start and day start, decided by the
// installed btrbk's own code (testdata/btrbk-schedule.pl) and by this package
// with snapname, compared name by name. DRSYNC_BTRBK_CASES sets how many (3000
// by default), DRSYNC_BTRBK_SEED repeats a run.
func TestMatchesBtrbk(t *testing.T) {
	t.Parallel()
	btrbk := btrbkPath(t)
	n := envInt(t, "DRSYNC_BTRBK_CASES", 3000)
	seed := int64(envInt(t, "DRSYNC_BTRBK_SEED", int(time.Now().UnixNano()%1e9)))
	t.Logf("%d cases, seed %d (DRSYNC_BTRBK_SEED=%d repeats this run)", n, seed, seed)

	rng := rand.New(rand.NewPCG(uint64(seed), 1))
	cases := make([]btrbkCase, n)
	for i := range cases {
		cases[i] = randomCase(t, rng, i)
	}
	verdicts := askBtrbk(t, btrbk, cases)

	failed, decided := 0, 0
	covered := map[string]int{}
	for i, c := range cases {
		decided += len(c.Names)
		diff, rules := compareWithBtrbk(t, c, verdicts[i])
		for _, f := range append(c.covers, rules...) {
			covered[f]++
		}
		if diff != "" {
			failed++
			if failed <= 5 {
				js, _ := json.Marshal(c)
				t.Errorf("case %d differs from btrbk:\n%s\ncase: %s", c.ID, diff, js)
			}
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d cases differ from btrbk", failed, n)
	}
	t.Logf("%d cases, %d names: %d differ", n, decided, failed)

	// Every feature the README promises is compared must have come up.
	var missing []string
	for _, f := range mustCover {
		if covered[f] == 0 {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		t.Errorf("%d cases never exercised: %s (more cases or another seed)", n, strings.Join(missing, ", "))
	}
	t.Logf("coverage: %v", covered)
}

// mustCover are the features a run must exercise: how names are written,
// zones and DST, the policy's settings and every verdict.
var mustCover = func() []string {
	fs := []string{"long", "short", "long-iso", "_N", "DST gap or overlap name", "foreign name", "now near DST change",
		"min no", "min all", "min latest", "min duration", "count all", "count 0", "day start hour",
		"kept future", "kept min", "kept latest", "kept hourly", "kept daily", "kept weekly", "kept monthly", "kept yearly", "pruned"}
	for d := time.Sunday; d <= time.Saturday; d++ {
		fs = append(fs, "weeks start "+d.String())
	}
	for _, z := range caseZones {
		fs = append(fs, "zone "+z)
	}
	return fs
}()

// btrbkPath returns the installed btrbk, skipping the test (with how to get
// it) when it or perl is missing.
func btrbkPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("btrbk")
	if err != nil {
		t.Skip("btrbk not installed (apt-get install btrbk; scripts/install-deps.sh does): cannot compare with it")
	}
	if _, err := exec.LookPath("perl"); err != nil {
		t.Skip("perl not installed: cannot run btrbk's scheduler")
	}
	return p
}

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("%s=%q: %v", name, s, err)
	}
	return n
}

// askBtrbk runs all cases through one btrbk-schedule.pl process.
func askBtrbk(t *testing.T, btrbk string, cases []btrbkCase) []btrbkVerdict {
	t.Helper()
	var in bytes.Buffer
	enc := json.NewEncoder(&in)
	for _, c := range cases {
		if err := enc.Encode(c); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.CommandContext(t.Context(), "perl", "testdata/btrbk-schedule.pl", btrbk)
	cmd.Stdin = &in
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("btrbk-schedule.pl: %v\n%s", err, stderr.Bytes())
	}
	var verdicts []btrbkVerdict
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var v btrbkVerdict
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatalf("btrbk-schedule.pl output %q: %v", sc.Bytes(), err)
		}
		if v.ID != len(verdicts) {
			t.Fatalf("btrbk-schedule.pl answered case %d, want %d", v.ID, len(verdicts))
		}
		verdicts = append(verdicts, v)
	}
	if len(verdicts) != len(cases) {
		t.Fatalf("btrbk-schedule.pl answered %d of %d cases\n%s", len(verdicts), len(cases), stderr.Bytes())
	}
	return verdicts
}

// compareWithBtrbk decides c as drsync does and returns the differences from
// btrbk's verdict, one line a name, with drsync's reason ("" when none), and
// the verdicts drsync gave ("kept RULE", "pruned").
func compareWithBtrbk(t *testing.T, c btrbkCase, want btrbkVerdict) (string, []string) {
	t.Helper()
	loc := zone(t, c.TZ)
	var items []retention.Item
	got := map[string]string{}
	for _, name := range c.Names {
		st, ok := snapname.Parse(c.Subvol, name, loc)
		if !ok {
			got[name] = "ignored"
			continue
		}
		items = append(items, retention.Item{Name: name, Time: st.Time, HasTime: st.HasTime, Seq: st.Seq})
	}
	reasons := map[string]string{}
	var verdicts []string
	for _, d := range retention.Evaluate(items, policyOf(t, c), time.Unix(c.Now, 0), loc) {
		got[d.Name], reasons[d.Name] = "delete", d.Reason
		if d.Keep {
			got[d.Name] = "keep"
			verdicts = append(verdicts, "kept "+d.Rule)
		} else {
			verdicts = append(verdicts, "pruned")
		}
	}
	wantOf := map[string]string{}
	for verdict, names := range map[string][]string{"keep": want.Keep, "delete": want.Delete, "ignored": want.Ignored} {
		for _, name := range names {
			wantOf[name] = verdict
		}
	}
	var diffs []string
	for _, name := range c.Names {
		if got[name] != wantOf[name] {
			diffs = append(diffs, fmt.Sprintf("  %s: btrbk %s, drsync %s (%s)", name, wantOf[name], got[name], reasons[name]))
		}
	}
	return strings.Join(diffs, "\n"), verdicts
}

// policyOf reads c's btrbk.conf values into a Policy, as the schema's
// retention block would set it.
func policyOf(t *testing.T, c btrbkCase) retention.Policy {
	t.Helper()
	p := retention.Policy{Hourly: retention.Unset, Daily: retention.Unset, Weekly: retention.Unset,
		Monthly: retention.Unset, Yearly: retention.Unset, DayStartHour: c.HOD}
	counts := map[byte]*int{'h': &p.Hourly, 'd': &p.Daily, 'w': &p.Weekly, 'm': &p.Monthly, 'y': &p.Yearly}
	if c.Preserve != "no" {
		for _, f := range strings.Fields(c.Preserve) {
			n := retention.All
			if f[0] != '*' {
				var err error
				if n, err = strconv.Atoi(f[:len(f)-1]); err != nil {
					t.Fatalf("preserve %q: %v", c.Preserve, err)
				}
			}
			*counts[f[len(f)-1]] = n
		}
	}
	switch c.Min {
	case "no":
	case "all":
		p.MinAll = true
	case "latest":
		p.MinLatest = true
	default:
		n, err := strconv.Atoi(c.Min[:len(c.Min)-1])
		if err != nil {
			t.Fatalf("min %q: %v", c.Min, err)
		}
		p.MinN, p.MinUnit = n, c.Min[len(c.Min)-1]
	}
	for d := time.Sunday; d <= time.Saturday; d++ {
		if strings.EqualFold(d.String(), c.DOW) {
			p.WeekStart = d
		}
	}
	return p
}

var zones = struct {
	sync.Mutex
	m map[string]*time.Location
}{m: map[string]*time.Location{}}

func zone(t *testing.T, name string) *time.Location {
	t.Helper()
	zones.Lock()
	defer zones.Unlock()
	if loc, ok := zones.m[name]; ok {
		return loc
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Skipf("zone %s: %v (tzdata missing?)", name, err)
	}
	zones.m[name] = loc
	return loc
}

// Zones with DST at 01:00 UTC, at local 02:00, at midnight (São Paulo until
// 2019, so days start in the gap), by half an hour (Lord Howe), and odd
// offsets without DST.
var caseZones = []string{"UTC", "Europe/Oslo", "America/New_York", "America/Sao_Paulo", "Australia/Lord_Howe", "Asia/Kathmandu", "Europe/London"}

// foreignNames are entries a snapshot directory may hold that are not, or
// not quite, snapshot names; both tools must ignore the same ones.
var foreignNames = []string{
	"%s.20250230", "%s.2025010", "%s.XXXX0101", "%s.2025XX01", "%s.20250101T120000+", "%s.20250101T2400",
	"%s.20250101T1260", "other.20250101T1200", "%s.x.20250101", "%s.20250101T1200_", "%s.20250101T1200_x",
	"%s.20250101T120000+05", "%s.20250101T1200Z", "%s.20250101T12", "%s.20250101t1200", "%s.20250101T1200_-1",
	"%s.20250101T1200 ", "%s", "%s.", "%s.20250101T120060Z", "%s.20250101T120000+0160", "%s.20250101T120000-2399",
}

// randomCase builds case id: a zone, a reference time (half of them within
// days of a DST change), a history of snapshots named in btrbk's formats and
// a random policy.
func randomCase(t *testing.T, rng *rand.Rand, id int) btrbkCase {
	t.Helper()
	c := btrbkCase{ID: id, TZ: caseZones[rng.IntN(len(caseZones))], Subvol: "home"}
	if rng.IntN(10) == 0 {
		c.Subvol = "data.2"
	}
	loc := zone(t, c.TZ)
	c.covers = append(c.covers, "zone "+c.TZ)

	year := 2016 + rng.IntN(12)
	now := time.Date(year, time.January, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(rng.Int64N(int64(365 * 24 * time.Hour))))
	changes := dstChanges(loc, year)
	if len(changes) > 0 && rng.IntN(2) == 0 {
		now = changes[rng.IntN(len(changes))].Add(time.Duration(rng.Int64N(int64(8*24*time.Hour))) - 4*24*time.Hour)
		c.covers = append(c.covers, "now near DST change")
	}
	switch rng.IntN(4) {
	case 0: // on the hour, where hour and day boundaries bite
		now = now.Truncate(time.Hour)
	case 1:
		now = now.Truncate(time.Minute)
	}
	c.Now = now.Unix()

	format := rng.IntN(10) // 0-5 long, 6-7 short, 8 long-iso, 9 mixed
	used := map[string]bool{}
	add := func(name string) {
		if used[name] {
			return
		}
		used[name] = true
		c.Names = append(c.Names, name)
	}
	for _, at := range history(rng, now, changes) {
		f := format
		if f == 9 {
			f = rng.IntN(9)
		}
		c.covers = append(c.covers, [...]string{"long", "long", "long", "long", "long", "long", "short", "short", "long-iso"}[f])
		base := c.Subvol + "." + stamp(rng, at, loc, f)
		name := base
		for n := 1; used[name]; n++ { // btrbk's _N for a name already taken
			name = base + "_" + strconv.Itoa(n)
		}
		if name == base && rng.IntN(20) == 0 {
			name += "_" + []string{"0", "1", "7", "01", "12"}[rng.IntN(5)]
		}
		if name != base {
			c.covers = append(c.covers, "_N")
		}
		add(name)
	}
	// Wall clocks that do not exist (in a spring-forward gap) or exist twice
	// (in a fall-back overlap), and their neighbours just outside.
	for _, ch := range changes {
		if rng.IntN(4) == 0 {
			c.covers = append(c.covers, "DST gap or overlap name")
			before, after := ch.Add(-time.Second).In(loc), ch.In(loc)
			_, offBefore := before.Zone()
			_, offAfter := after.Zone()
			shift := time.Duration(offAfter-offBefore) * time.Second
			wall := time.Date(before.Year(), before.Month(), before.Day(), before.Hour(), before.Minute(), before.Second(), 0, time.UTC)
			for _, d := range []time.Duration{shift / 2, -shift / 2, shift + time.Minute, -shift - time.Minute} {
				add(c.Subvol + "." + wall.Add(d).Format("20060102T1504"))
			}
		}
	}
	for range rng.IntN(4) {
		if rng.IntN(3) == 0 {
			add(fmt.Sprintf(foreignNames[rng.IntN(len(foreignNames))], c.Subvol))
			c.covers = append(c.covers, "foreign name")
		}
	}
	rng.Shuffle(len(c.Names), func(i, j int) { c.Names[i], c.Names[j] = c.Names[j], c.Names[i] })

	var rules []string
	for _, q := range []string{"h", "d", "w", "m", "y"} {
		switch r := rng.IntN(10); {
		case r < 4: // unset
		case r == 4:
			rules = append(rules, "*"+q)
			c.covers = append(c.covers, "count all")
		case r == 5:
			rules = append(rules, "0"+q)
			c.covers = append(c.covers, "count 0")
		default:
			rules = append(rules, strconv.Itoa(1+rng.IntN(30))+q)
		}
	}
	rng.Shuffle(len(rules), func(i, j int) { rules[i], rules[j] = rules[j], rules[i] })
	c.Preserve = strings.Join(rules, " ")
	if c.Preserve == "" {
		c.Preserve = "no"
	}
	switch r := rng.IntN(10); {
	case r < 2:
		c.Min = "no"
	case r < 3:
		c.Min = "all"
	case r < 6:
		c.Min = "latest"
	default:
		c.Min = strconv.Itoa(rng.IntN(12)) + []string{"h", "d", "w", "m", "y"}[rng.IntN(5)]
		c.covers = append(c.covers, "min duration")
	}
	if c.Min == "no" || c.Min == "all" || c.Min == "latest" {
		c.covers = append(c.covers, "min "+c.Min)
	}
	dow := time.Weekday(rng.IntN(7))
	c.DOW = strings.ToLower(dow.String())
	c.covers = append(c.covers, "weeks start "+dow.String())
	if rng.IntN(2) == 0 {
		c.HOD = rng.IntN(24)
		c.covers = append(c.covers, "day start hour")
	}
	return c
}

// history returns the instants of a random snapshot history before now:
// regular schedules with jitter, random gaps from minutes to months, bursts
// around DST changes, and sometimes a few dated after now.
func history(rng *rand.Rand, now time.Time, changes []time.Time) []time.Time {
	var out []time.Time
	for range 1 + rng.IntN(2) {
		at := now.Add(-time.Duration(rng.Int64N(int64(3 * time.Hour))))
		n := rng.IntN(60)
		switch rng.IntN(3) {
		case 0:
			every := []time.Duration{15 * time.Minute, time.Hour, 2 * time.Hour, 6 * time.Hour, 24 * time.Hour, 7 * 24 * time.Hour, 30 * 24 * time.Hour}[rng.IntN(7)]
			for range n {
				out = append(out, at)
				at = at.Add(-every - time.Duration(rng.Int64N(int64(every/4+1))) + every/8)
			}
		case 1:
			for range n {
				out = append(out, at)
				// Log-uniform gaps between a minute and about 50 days.
				at = at.Add(-time.Duration(float64(time.Minute) * math.Pow(72000, rng.Float64())))
			}
		default:
			if len(changes) == 0 {
				continue
			}
			ch := changes[rng.IntN(len(changes))]
			for range n {
				out = append(out, ch.Add(time.Duration(rng.Int64N(int64(48*time.Hour)))-24*time.Hour))
			}
		}
	}
	for range rng.IntN(4) {
		if rng.IntN(3) == 0 {
			// Minutes to weeks ahead: within the current hour is not the future for btrbk.
			out = append(out, now.Add(time.Duration(float64(time.Minute)*math.Pow(20000, rng.Float64()))))
		}
	}
	return out
}

// stamp formats at as btrbk would for timestamp_format f: 0-5 long, 6-7
// short, 8 long-iso (with the zone's offset, Z, or another offset).
func stamp(rng *rand.Rand, at time.Time, loc *time.Location, f int) string {
	l := at.In(loc)
	switch {
	case f <= 5:
		return l.Format("20060102T1504")
	case f <= 7:
		return l.Format("20060102")
	}
	switch rng.IntN(4) {
	case 0:
		return at.UTC().Format("20060102T150405Z")
	case 1:
		return at.In(time.FixedZone("", (rng.IntN(52)-24)*1800)).Format("20060102T150405-0700")
	default:
		return l.Format("20060102T150405-0700")
	}
}

// dstChanges returns the instants in year (and the next) at which loc's
// offset changes, to the second.
func dstChanges(loc *time.Location, year int) []time.Time {
	key := fmt.Sprintf("%s/%d", loc, year)
	changesCache.Lock()
	defer changesCache.Unlock()
	if ch, ok := changesCache.m[key]; ok {
		return ch
	}
	var out []time.Time
	start := time.Date(year, time.January, 1, 0, 0, 0, 0, time.UTC)
	_, prev := start.In(loc).Zone()
	for at := start; at.Year() <= year+1; at = at.Add(6 * time.Hour) {
		next := at.Add(6 * time.Hour)
		if _, off := next.In(loc).Zone(); off != prev {
			lo, hi := at, next
			for hi.Sub(lo) > time.Second {
				mid := lo.Add(hi.Sub(lo) / 2)
				if _, o := mid.In(loc).Zone(); o == prev {
					lo = mid
				} else {
					hi = mid
				}
			}
			out = append(out, hi)
			prev = off
		}
	}
	slices.SortFunc(out, time.Time.Compare)
	changesCache.m[key] = out
	return out
}

var changesCache = struct {
	sync.Mutex
	m map[string][]time.Time
}{m: map[string][]time.Time{}}
