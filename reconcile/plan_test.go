package reconcile

import (
	"bytes"
	"math/rand"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	goldenfile "github.com/drsync/drsync/internal/golden"
	"github.com/drsync/drsync/render"
	"github.com/drsync/drsync/schema"
	"github.com/drsync/drsync/snapname"
	"github.com/google/go-cmp/cmp"
)

const homelab = "../examples/desired/homelab.cue"

func loadHomelab(t *testing.T) *schema.Desired {
	t.Helper()
	d, err := schema.Load(homelab, nil)
	if err != nil {
		t.Fatal(err)
	}
	d.Source = "examples/desired/homelab.cue"
	return d
}

func oslo(t testing.TB) *time.Location {
	loc, err := time.LoadLocation("Europe/Oslo")
	if err != nil {
		t.Skipf("no tzdata for Europe/Oslo: %v", err)
	}
	return loc
}

// snap builds a local snapshot whose UUID derives from its name; rep builds
// the replica of it on the drive.
func snap(subvol string, t time.Time) Snapshot {
	name := snapname.Format(subvol, t)
	return Snapshot{Name: name, Time: t, HasTime: true, UUID: "uuid-" + name, ReadOnly: true}
}

func rep(s Snapshot) Snapshot {
	return Snapshot{Name: s.Name, Time: s.Time, HasTime: true, UUID: "r-" + s.UUID, ReceivedUUID: s.UUID, ReadOnly: true}
}

// daily returns n daily snapshots at 02:00 ending the day of last.
func daily(subvol string, last time.Time, n int) []Snapshot {
	var out []Snapshot
	for i := n - 1; i >= 0; i-- {
		out = append(out, snap(subvol, last.AddDate(0, 0, -i)))
	}
	return out
}

// steady is a machine where every subvolume got its snapshot and replica
// at at: nothing is due until the next slot.
func steady(d *schema.Desired, at time.Time) *Observed {
	o := &Observed{Drives: map[string]Drive{"WD-18TB": {Present: true, UUID: "4f1c", Reason: "uuid 4f1c"}},
		Subvolumes: map[string]*SubvolumeState{}}
	o.History = map[string]*History{}
	for name := range d.Subvolumes {
		s := snap(name, at)
		o.Subvolumes[name] = &SubvolumeState{Local: []Snapshot{s}, External: []Snapshot{rep(s)}}
		test := &TestReport{Kind: KindTest, Subvolume: name, Snapshot: s.Name, SnapshotTime: at, Result: ResultPass, Started: at}
		drill := &TestReport{Kind: KindDrill, Subvolume: name, Snapshot: s.Name, SnapshotTime: at, Result: ResultPass, Started: at}
		o.History[name] = &History{LastTest: test, LastPassed: test, Tests: 1, Passed: 1, Verified: test,
			LastDrill: drill, LastPassedDrill: drill}
	}
	return o
}

func TestCompute(t *testing.T) {
	d := loadHomelab(t)
	loc := oslo(t)
	at := func(s string) time.Time {
		tm, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	// Sunday 2026-11-22 03:00 is a weekly external slot.
	sun := at("2026-11-22 03:30")
	tests := []struct {
		name  string
		now   time.Time
		obs   func() *Observed
		check func(t *testing.T, p *Plan)
	}{{
		name: "fresh-machine",
		now:  sun,
		obs: func() *Observed {
			o := steady(d, sun)
			for _, s := range o.Subvolumes {
				s.Local, s.External = nil, nil
			}
			o.History = nil
			return o
		},
		check: func(t *testing.T, p *Plan) {
			// Never tested: every subvolume gets a restore test of the
			// replica this plan sends, tier 1 a drill as well.
			want := map[Kind]int{KindSnapshot: 6, KindSend: 6, KindTest: 6, KindDrill: 3}
			if diff := cmp.Diff(want, p.Count()); diff != "" {
				t.Errorf("counts (-want +got):\n%s", diff)
			}
			for _, a := range p.Actions() {
				if a.Kind == KindSend && a.Send.Parent != "" {
					t.Errorf("first send of %s is incremental from %s", a.Snapshot, a.Send.Parent)
				}
			}
		},
	}, {
		name: "steady-state",
		now:  sun.Add(30 * time.Minute),
		obs:  func() *Observed { return steady(d, sun) },
		check: func(t *testing.T, p *Plan) {
			if !p.Empty() {
				t.Errorf("want no actions, got %v", p.Actions())
			}
		},
	}, {
		name: "daily-due-26h",
		now:  at("2026-11-23 04:00"),
		// Sunday's 02:00 snapshot was sent at the 03:00 slot.
		obs: func() *Observed { return steady(d, at("2026-11-22 02:00")) },
		check: func(t *testing.T, p *Plan) {
			a := find(p, "htpc-home", KindSnapshot)
			if a == nil || !strings.Contains(a.Reason, "26h old") {
				t.Fatalf("want a snapshot of htpc-home saying 26h old, got %+v", a)
			}
			if find(p, "htpc-home", KindSend) != nil {
				t.Errorf("weekly send is not due on Monday")
			}
			if find(p, "htpc-root", KindSnapshot) != nil {
				t.Errorf("monthly htpc-root is not due")
			}
		},
	}, {
		name: "weekly-send-incremental-and-prune",
		now:  sun,
		obs: func() *Observed {
			o := steady(d, at("2026-11-08 02:00"))
			home := o.Subvolumes["htpc-home"]
			home.Local = daily("htpc-home", at("2026-11-21 02:00"), 14)
			home.External = []Snapshot{rep(home.Local[6])} // sent 2026-11-14
			return o
		},
		check: func(t *testing.T, p *Plan) {
			send := find(p, "htpc-home", KindSend)
			if send == nil || !strings.HasSuffix(send.Send.Parent, "htpc-home.20261114T0200") {
				t.Fatalf("want an incremental send from 20261114, got %+v", send)
			}
			// The old parent may go once the new send made a new one: apply
			// runs prunes after sends and skips them if the send fails.
			sent := false
			for _, a := range p.Actions() {
				sent = sent || (a.Kind == KindSend && a.Subvolume == "htpc-home")
				if a.Kind == KindPrune && a.Subvolume == "htpc-home" && !sent {
					t.Errorf("prune ordered before the send: %+v", a)
				}
			}
			if n := countKind(p, "htpc-home", KindPrune); n != 7 {
				t.Errorf("want 7 prunes of 15 dailies (daily 7 keeps 8 days), got %d", n)
			}
		},
	}, {
		name: "drive-absent",
		now:  sun,
		obs: func() *Observed {
			o := steady(d, at("2026-11-08 02:00"))
			o.Drives["WD-18TB"] = Drive{Reason: "nothing mounted at /run/media/patriark/WD-18TB"}
			for _, s := range o.Subvolumes {
				s.External = nil
			}
			home := o.Subvolumes["htpc-home"]
			home.Local = daily("htpc-home", at("2026-11-21 02:00"), 14)
			o.LastSent = map[string]string{"htpc-home": home.Local[0].Name}
			return o
		},
		check: func(t *testing.T, p *Plan) {
			if n := p.Count()[KindSend]; n != 0 {
				t.Errorf("sends to an absent drive: %d", n)
			}
			for _, a := range p.Actions() {
				if a.Location == "WD-18TB" {
					t.Errorf("action on the absent drive: %+v", a)
				}
				if a.Snapshot == "htpc-home.20261108T0200" {
					t.Errorf("pruned the last sent snapshot while the drive is away: %+v", a)
				}
			}
			if find(p, "htpc-home", KindSnapshot) == nil {
				t.Errorf("local snapshots must go on without the drive")
			}
		},
	}, {
		name: "half-received-replica",
		now:  sun.Add(time.Hour),
		obs: func() *Observed {
			o := steady(d, sun)
			docs := o.Subvolumes["subvol1-docs"]
			docs.External[0].ReceivedUUID = ""
			docs.External[0].ReadOnly = false
			o.Interrupted = []JournalEntry{{Time: sun.Add(-time.Hour), Phase: PhaseStart, Action: &Action{Kind: KindSend, Subvolume: "subvol1-docs",
				Location: "WD-18TB", Snapshot: docs.External[0].Name}}}
			return o
		},
		check: func(t *testing.T, p *Plan) {
			r, s := find(p, "subvol1-docs", KindRepair), find(p, "subvol1-docs", KindSend)
			if r == nil || s == nil || r.Snapshot != s.Snapshot {
				t.Fatalf("want repair and re-send of the same snapshot, got %+v %+v", r, s)
			}
			if s.Send.Parent != "" {
				t.Errorf("re-send after repair has no common parent, got %s", s.Send.Parent)
			}
		},
	}, {
		// Issue 11 item 2: writable without a journaled interrupted send
		// (an administrator copying files out) is modified, not repaired.
		name: "modified-replica-not-journaled",
		now:  sun.Add(time.Hour),
		obs: func() *Observed {
			o := steady(d, sun)
			docs := o.Subvolumes["subvol1-docs"]
			docs.External[0].ReceivedUUID = ""
			docs.External[0].ReadOnly = false
			return o
		},
		check: func(t *testing.T, p *Plan) {
			for _, a := range p.Actions() {
				if a.Subvolume == "subvol1-docs" && a.Location == "WD-18TB" && a.Kind != KindSend {
					t.Errorf("a modified replica must be left alone, got %s %s", a.Kind, a.Snapshot)
				}
			}
			if !planWarns(p, "subvol1-docs", "is modified (no received UUID)") {
				t.Errorf("the plan does not report the modified replica")
			}
		},
	}, {
		// Interrupted, but its local snapshot is gone: nothing can be sent
		// again, so deleting it would lose the only copy.
		name: "interrupted-without-local-snapshot",
		now:  sun.Add(time.Hour),
		obs: func() *Observed {
			o := steady(d, sun)
			docs := o.Subvolumes["subvol1-docs"]
			gone := docs.External[0].Name
			docs.External[0].ReceivedUUID = ""
			docs.Local = slices.DeleteFunc(docs.Local, func(s Snapshot) bool { return s.Name == gone })
			o.Interrupted = []JournalEntry{{Time: sun.Add(-time.Hour), Phase: PhaseStart, Action: &Action{Kind: KindSend, Subvolume: "subvol1-docs",
				Location: "WD-18TB", Snapshot: gone}}}
			return o
		},
		check: func(t *testing.T, p *Plan) {
			if r := find(p, "subvol1-docs", KindRepair); r != nil {
				t.Errorf("repaired a replica whose local snapshot is gone: %+v", r)
			}
			if !planWarns(p, "subvol1-docs", "is modified (no received UUID)") {
				t.Errorf("the plan does not report the modified replica")
			}
		},
	}, {
		name: "foreign-and-source-missing",
		now:  at("2026-11-23 04:00"),
		obs: func() *Observed {
			o := steady(d, at("2026-11-22 02:00"))
			home := o.Subvolumes["htpc-home"]
			home.Foreign = []string{"/home/patriark/.snapshots/htpc-home/before-upgrade", "/home/patriark/.snapshots/htpc-home/htpc-home.manual"}
			pics := o.Subvolumes["subvol2-pics"]
			pics.SourceError = "source /mnt/btrfs-pool/subvol2-pics does not exist"
			pics.Local = daily("subvol2-pics", at("2026-11-22 02:00"), 60)
			return o
		},
		check: func(t *testing.T, p *Plan) {
			if find(p, "subvol2-pics", KindPrune) != nil || find(p, "subvol2-pics", KindSnapshot) != nil {
				t.Errorf("acted on a subvolume whose source is gone")
			}
			for _, a := range p.Actions() {
				if strings.Contains(a.Path, "before-upgrade") || strings.Contains(a.Path, "manual") {
					t.Errorf("touched a foreign entry: %+v", a)
				}
			}
		},
	}, {
		name: "same-minute-suffix",
		now:  at("2026-11-23 02:00"),
		obs: func() *Observed {
			o := steady(d, at("2026-11-22 02:00"))
			s := snap("htpc-home", at("2026-11-23 02:00"))
			s.Time = at("2026-11-21 02:00") // an old snapshot that happens to carry today's name
			o.Subvolumes["htpc-home"].Local = append([]Snapshot{s}, o.Subvolumes["htpc-home"].Local...)
			o.Subvolumes["subvol1-docs"].Foreign = []string{"/mnt/btrfs-pool/.snapshots/subvol1-docs/subvol1-docs.20261123T0200"}
			return o
		},
		check: func(t *testing.T, p *Plan) {
			a := find(p, "htpc-home", KindSnapshot)
			if a == nil || a.Snapshot != "htpc-home.20261123T0200_1" {
				t.Fatalf("want htpc-home.20261123T0200_1, got %+v", a)
			}
			// A foreign entry with the next name is avoided as well.
			if b := find(p, "subvol1-docs", KindSnapshot); b == nil || b.Snapshot != "subvol1-docs.20261123T0200_1" {
				t.Fatalf("want subvol1-docs.20261123T0200_1 beside a foreign entry, got %+v", b)
			}
		},
	}, {
		name: "restore-test-due",
		now:  at("2026-12-24 03:30"),
		obs: func() *Observed {
			o := steady(d, at("2026-11-22 02:00"))
			for _, s := range o.Subvolumes {
				s.Local = append(s.Local, snap("x", at("2026-12-24 02:00")))
				s.Local[1].Name = strings.Replace(s.Local[0].Name, "20261122T0200", "20261224T0200", 1)
				s.External = append(s.External, rep(s.Local[1]))
			}
			failed := &TestReport{Kind: KindTest, Subvolume: "subvol1-docs", Snapshot: "subvol1-docs.20261224T0200",
				Result: ResultFail, Started: at("2026-12-24 01:00")}
			o.History["subvol1-docs"].LastTest = failed
			delete(o.History, "subvol2-pics")
			return o
		},
		check: func(t *testing.T, p *Plan) {
			a := find(p, "htpc-home", KindTest)
			if a == nil || !strings.Contains(a.Reason, "last passed 32d ago; tier 1 wants one every 30d") {
				t.Fatalf("test of htpc-home: %+v", a)
			}
			if !a.External || a.Snapshot != "htpc-home.20261224T0200" || a.Proof.Reference == "" {
				t.Errorf("the test reads the newest replica and compares with its local snapshot: %+v", a)
			}
			if find(p, "subvol1-docs", KindTest) != nil {
				t.Errorf("a test that failed 2h ago is retried at most daily")
			}
			if a := find(p, "subvol1-docs", KindPrune); a != nil {
				t.Errorf("pruned the newest verified snapshot while its successor fails: %+v", a)
			}
			if b := find(p, "subvol2-pics", KindTest); b == nil || !strings.HasPrefix(b.Reason, "never tested") {
				t.Errorf("never tested: %+v", b)
			}
			if find(p, "htpc-home", KindDrill) != nil {
				t.Errorf("drill every 90d is not due after 32 days")
			}
		},
	}, {
		name: "external-monthly-13th",
		now:  at("2026-11-01 05:00"),
		obs: func() *Observed {
			o := steady(d, at("2026-11-01 04:00"))
			pics := o.Subvolumes["subvol2-pics"]
			pics.External = nil
			for m := 13; m >= 0; m-- {
				pics.External = append(pics.External, rep(snap("subvol2-pics", at("2026-11-01 04:00").AddDate(0, -m, 0))))
			}
			pics.Local = []Snapshot{snap("subvol2-pics", at("2026-11-01 04:00"))}
			pics.External[len(pics.External)-1] = rep(pics.Local[0])
			return o
		},
		check: func(t *testing.T, p *Plan) {
			// btrbk's months start on their first week-start day (Sunday):
			// a snapshot on Thursday the 1st counts for the month before, so
			// "monthly 12" (13 months) reaches back to 2025-11 here and
			// keeps 11 of the 14 firsts-of-month (2026-04-01, a Wednesday, shares
			// March with Sunday 2026-03-01).
			if n := countKind(p, "subvol2-pics", KindPrune); n != 3 {
				t.Fatalf("want 3 prunes, got %d", n)
			}
			a := find(p, "subvol2-pics", KindPrune)
			if a.Snapshot != "subvol2-pics.20251001T0400" || a.Location != "WD-18TB" {
				t.Errorf("pruned %s on %s", a.Snapshot, a.Location)
			}
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := Compute(d, tc.obs(), tc.now)
			tc.check(t, p)
			var buf bytes.Buffer
			p.WriteText(&buf, true)
			golden(t, filepath.Join("..", "testdata", "golden", "plan", tc.name+".txt"), buf.String())
		})
	}
}

// TestComputeSafety plans random histories and checks the rules that must
// hold whatever retention says.
func TestComputeSafety(t *testing.T) {
	checkComputeSafety(t, loadHomelab(t))
}

// checkComputeSafety plans d over 300 random histories and checks that no
// plan prunes the newest snapshot or replica, the common parent, or what it
// sends.
func checkComputeSafety(t *testing.T, d *schema.Desired) {
	loc := oslo(t)
	rng := rand.New(rand.NewSource(1))
	start := time.Date(2025, 1, 1, 2, 0, 0, 0, loc)
	for i := 0; i < 300; i++ {
		now := start.Add(time.Duration(rng.Int63n(int64(700 * 24 * time.Hour))))
		o := steady(d, start)
		o.Drives["WD-18TB"] = Drive{Present: rng.Intn(4) > 0}
		for _, name := range d.SubvolumeNames() {
			st := &SubvolumeState{}
			tm := now.Add(-time.Duration(rng.Int63n(int64(400 * 24 * time.Hour))))
			for tm.Before(now) {
				s := snap(name, tm)
				st.Local = append(st.Local, s)
				if o.Drives["WD-18TB"].Present && rng.Intn(3) == 0 {
					st.External = append(st.External, rep(s))
				}
				tm = tm.Add(time.Duration(1+rng.Int63n(int64(72*time.Hour))) + time.Minute)
			}
			o.Subvolumes[name] = st
		}
		p := Compute(d, o, now)
		for _, sp := range p.Subvolumes {
			st := o.Subvolumes[sp.Name]
			pruned := map[string]bool{}
			for _, a := range sp.Actions {
				if a.Kind == KindPrune {
					pruned[a.Location+"/"+a.Snapshot] = true
				}
			}
			s := d.Subvolumes[sp.Name]
			if n := len(st.Local); n > 0 && pruned[s.Snapshots.Location+"/"+st.Local[n-1].Name] && find(p, sp.Name, KindSnapshot) == nil {
				t.Fatalf("%s at %s: pruned the newest local snapshot", sp.Name, now)
			}
			if n := len(st.External); n > 0 && pruned["WD-18TB/"+st.External[n-1].Name] && find(p, sp.Name, KindSend) == nil {
				t.Fatalf("%s at %s: pruned the newest replica", sp.Name, now)
			}
			if parent, _ := commonParent(st.Local, st.External, nil); parent != "" && find(p, sp.Name, KindSend) == nil {
				if pruned[s.Snapshots.Location+"/"+parent] || pruned["WD-18TB/"+parent] {
					t.Fatalf("%s at %s: pruned the common parent %s", sp.Name, now, parent)
				}
			}
			if send := find(p, sp.Name, KindSend); send != nil && pruned[s.Snapshots.Location+"/"+send.Snapshot] {
				t.Fatalf("%s at %s: prunes the snapshot it sends", sp.Name, now)
			}
		}
	}
}

func find(p *Plan, subvol string, k Kind) *Action {
	for _, a := range p.Actions() {
		if a.Subvolume == subvol && a.Kind == k {
			return &a
		}
	}
	return nil
}

func countKind(p *Plan, subvol string, k Kind) int {
	n := 0
	for _, a := range p.Actions() {
		if a.Subvolume == subvol && a.Kind == k {
			n++
		}
	}
	return n
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	goldenfile.Check(t, path, []byte(got))
}

// BenchmarkCompute plans 6 subvolumes × 1,000 snapshots, the history the
// bench/plan-vs-btrbk.sh comparison uses.
func BenchmarkCompute(b *testing.B) {
	d, err := schema.Load(homelab, nil)
	if err != nil {
		b.Fatal(err)
	}
	loc := oslo(b)
	now := time.Date(2026, 11, 22, 3, 30, 0, 0, loc)
	o := steady(d, now.Add(-25*time.Hour))
	o.Files = map[string]string{}
	for name, st := range o.Subvolumes {
		st.Local = nil
		for i := 999; i >= 0; i-- {
			st.Local = append(st.Local, snap(name, now.Add(-25*time.Hour-time.Duration(i)*8*time.Hour)))
		}
	}
	b.ResetTimer()
	for b.Loop() {
		Compute(d, o, now)
	}
}

func TestComputeServices(t *testing.T) {
	d := loadHomelab(t)
	loc := oslo(t)
	now := time.Date(2026, 11, 22, 3, 30, 0, 0, loc)
	o := steady(d, now.Add(-30*time.Minute))
	o.Services = map[string]*ServiceState{}
	for _, name := range d.ServiceNames() {
		var archives []Snapshot
		for h := 40 * 24; h >= 1; h-- { // 40 days of hourly archives
			a := snap(name, now.Add(-time.Duration(h)*time.Hour).Truncate(time.Hour))
			a.Name += ArchiveSuffix
			archives = append(archives, a)
		}
		o.Services[name] = &ServiceState{Archives: archives}
		o.History[name] = o.History["htpc-home"]
	}
	o.Services["app-db"].Unchecked = []string{"/var/backups/mcp-monitoring/app-db/app-db.20261122T0300.tar.gz"}
	p := Compute(d, o, now)
	byService := map[string]map[Kind]int{}
	for _, sp := range p.Services {
		byService[sp.Name] = map[Kind]int{}
		for _, a := range sp.Actions {
			byService[sp.Name][a.Kind]++
			if a.Kind == KindPrune && !strings.HasSuffix(a.Path, ArchiveSuffix) {
				t.Errorf("prune of a non-archive: %+v", a)
			}
		}
	}
	// Hourly, keeping 24 hourly and 30 daily (btrbk: the current period
	// plus N before it): of 960 hourly archives and the one taken now, the
	// first of each of the last 25 hours and of each of the last 31 days
	// stay, today's midnight counted once: 961 - (25 + 31 - 1) go.
	if got := byService["prometheus-tsdb"]; got[KindBackup] != 1 || got[KindPrune] != 961-(25+31-1) {
		t.Errorf("prometheus-tsdb: %v", got)
	}
	// Daily at 01:00: the newest archive (02:00 today) satisfies it; the
	// drive lacks it, so it is copied there.
	if got := byService["grafana-db"]; got[KindBackup] != 0 || got[KindSend] != 1 {
		t.Errorf("grafana-db: %v", got)
	}
	copyTo := find(p, "grafana-db", KindSend)
	if !copyTo.External || copyTo.Location != "WD-18TB" || !strings.HasSuffix(copyTo.Send.From, "grafana-db.20261122T0200.tar.gz") {
		t.Errorf("archive copy: %+v", copyTo)
	}
	o.Drives["WD-18TB"] = Drive{Reason: "nothing mounted"}
	for _, sp := range Compute(d, o, now).Services {
		for _, a := range sp.Actions {
			if a.Location == "WD-18TB" {
				t.Errorf("%s: action on the absent drive: %+v", sp.Name, a)
			}
		}
	}
	var warned bool
	for _, sp := range p.Services {
		for _, w := range sp.Warnings {
			warned = warned || (sp.Name == "app-db" && strings.Contains(w, "has no checksum"))
		}
	}
	if !warned {
		t.Error("an archive without checksum is not reported")
	}
	for _, a := range p.Actions() {
		if strings.HasSuffix(a.Path, "app-db.20261122T0300.tar.gz") {
			t.Errorf("touched an unverifiable archive: %+v", a)
		}
	}
}

// TestServiceBackupNeverReusesAName: on the night clocks fall back, 02:30
// comes twice; the second backup must not take the first one's name.
func TestServiceBackupNeverReusesAName(t *testing.T) {
	d := loadHomelab(t)
	loc := oslo(t)
	first := time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC).In(loc) // 02:30 CEST
	second := first.Add(time.Hour)                                  // 02:30 CET
	o := steady(d, first)
	o.Services = map[string]*ServiceState{}
	for _, name := range d.ServiceNames() {
		a := snap(name, first)
		a.Name += ArchiveSuffix
		o.Services[name] = &ServiceState{Archives: []Snapshot{a}}
	}
	p := Compute(d, o, second)
	for _, sp := range p.Services {
		for _, a := range sp.Actions {
			if a.Kind == KindBackup && a.Snapshot == o.Services[sp.Name].Archives[0].Name {
				t.Errorf("%s: backup reuses %s", sp.Name, a.Snapshot)
			}
		}
	}
	if a := find(p, "prometheus-tsdb", KindBackup); a == nil || a.Snapshot != "prometheus-tsdb.20261025T0230_1.tar.gz" {
		t.Errorf("hourly backup after the fall-back: %+v", a)
	}
}

func TestGuardCoversServices(t *testing.T) {
	o := &Observed{Services: map[string]*ServiceState{"app-db": {Archives: make([]Snapshot, 10)}}}
	sp := SubvolumePlan{Name: "app-db"}
	for i := 0; i < 9; i++ {
		sp.Actions = append(sp.Actions, Action{Kind: KindPrune, Subvolume: "app-db", Location: "backups"})
	}
	if err := Guard(&Plan{Services: []SubvolumePlan{sp}}, o, 0.5); err == nil {
		t.Error("pruning 9 of 10 archives unattended was allowed")
	}
}

// Services reach the metrics with their evidence, so their alerts speak
// of real archives and tests, not of nothing known.
func TestRenderInputCoversServices(t *testing.T) {
	d := loadHomelab(t)
	now := time.Date(2026, 11, 22, 3, 30, 0, 0, oslo(t))
	o := steady(d, now.Add(-time.Hour))
	a := snap("app-db", now.Add(-time.Hour))
	a.Name += ArchiveSuffix
	o.Services = map[string]*ServiceState{"app-db": {Archives: []Snapshot{a}}}
	o.History["app-db"] = &History{
		LastBackup: &JournalEntry{Time: now.Add(-time.Hour), Seconds: 2},
		LastTest:   &TestReport{Kind: KindTest, Result: ResultFail, Started: now.Add(-30 * time.Minute)},
		Tests:      1,
	}
	metrics, err := render.Metrics(RenderInput(d, o, now))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`backup_last_success_timestamp{subvolume="app-db",tier="svc-hourly"}`,
		`backup_restore_test_success{subvolume="app-db",tier="svc-hourly"} 0`,
		`backup_snapshots{location="local",location_name="backups",subvolume="app-db",tier="svc-hourly"} 1`,
	} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func planWarns(p *Plan, subvol, text string) bool {
	for _, s := range p.Subvolumes {
		if s.Name == subvol && slices.ContainsFunc(s.Warnings, func(w string) bool { return strings.Contains(w, text) }) {
			return true
		}
	}
	return false
}
