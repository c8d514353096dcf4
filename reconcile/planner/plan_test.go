package planner

import (
	"bytes"
	"math/rand"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	goldenfile "github.com/drsync/drsync/internal/golden"
	"github.com/drsync/drsync/reconcile/internal/fixture"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/render"
	"github.com/drsync/drsync/schema"
)

func TestCompute(t *testing.T) {
	d := fixture.LoadHomelab(t)
	loc := fixture.Oslo(t)
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
		obs   func() *model.Observed
		check func(t *testing.T, p *model.Plan)
	}{{
		name: "fresh-machine",
		now:  sun,
		obs: func() *model.Observed {
			o := fixture.Steady(d, sun)
			for _, s := range o.Subvolumes {
				s.Local, s.External = nil, nil
			}
			o.History = nil
			return o
		},
		check: func(t *testing.T, p *model.Plan) {
			// Never tested: every subvolume gets a restore test of the
			// replica this plan sends, tier 1 a drill as well.
			want := map[model.Kind]int{model.KindSnapshot: 6, model.KindSend: 6, model.KindTest: 6, model.KindDrill: 3}
			if diff := cmp.Diff(want, p.Count()); diff != "" {
				t.Errorf("counts (-want +got):\n%s", diff)
			}
			for _, a := range p.Actions() {
				if a.Kind == model.KindSend && a.Send.Parent != "" {
					t.Errorf("first send of %s is incremental from %s", a.Snapshot, a.Send.Parent)
				}
			}
		},
	}, {
		name: "steady-state",
		now:  sun.Add(30 * time.Minute),
		obs:  func() *model.Observed { return fixture.Steady(d, sun) },
		check: func(t *testing.T, p *model.Plan) {
			if !p.Empty() {
				t.Errorf("want no actions, got %v", p.Actions())
			}
		},
	}, {
		name: "daily-due-26h",
		now:  at("2026-11-23 04:00"),
		// Sunday's 02:00 snapshot was sent at the 03:00 slot.
		obs: func() *model.Observed { return fixture.Steady(d, at("2026-11-22 02:00")) },
		check: func(t *testing.T, p *model.Plan) {
			a := fixture.Find(p, "htpc-home", model.KindSnapshot)
			if a == nil || !strings.Contains(a.Reason, "26h old") {
				t.Fatalf("want a snapshot of htpc-home saying 26h old, got %+v", a)
			}
			if fixture.Find(p, "htpc-home", model.KindSend) != nil {
				t.Errorf("weekly send is not due on Monday")
			}
			if fixture.Find(p, "htpc-root", model.KindSnapshot) != nil {
				t.Errorf("monthly htpc-root is not due")
			}
		},
	}, {
		name: "weekly-send-incremental-and-prune",
		now:  sun,
		obs: func() *model.Observed {
			o := fixture.Steady(d, at("2026-11-08 02:00"))
			home := o.Subvolumes["htpc-home"]
			home.Local = fixture.Daily("htpc-home", at("2026-11-21 02:00"), 14)
			home.External = []model.Snapshot{fixture.Rep(home.Local[6])} // sent 2026-11-14
			return o
		},
		check: func(t *testing.T, p *model.Plan) {
			send := fixture.Find(p, "htpc-home", model.KindSend)
			if send == nil || !strings.HasSuffix(send.Send.Parent, "htpc-home.20261114T0200") {
				t.Fatalf("want an incremental send from 20261114, got %+v", send)
			}
			// The old parent may go once the new send made a new one: apply
			// runs prunes after sends and skips them if the send fails.
			sent := false
			for _, a := range p.Actions() {
				sent = sent || (a.Kind == model.KindSend && a.Subvolume == "htpc-home")
				if a.Kind == model.KindPrune && a.Subvolume == "htpc-home" && !sent {
					t.Errorf("prune ordered before the send: %+v", a)
				}
			}
			if n := fixture.CountKind(p, "htpc-home", model.KindPrune); n != 7 {
				t.Errorf("want 7 prunes of 15 dailies (daily 7 keeps 8 days), got %d", n)
			}
		},
	}, {
		name: "drive-absent",
		now:  sun,
		obs: func() *model.Observed {
			o := fixture.Steady(d, at("2026-11-08 02:00"))
			o.Drives["WD-18TB"] = model.Drive{Reason: "nothing mounted at /run/media/patriark/WD-18TB"}
			for _, s := range o.Subvolumes {
				s.External = nil
			}
			home := o.Subvolumes["htpc-home"]
			home.Local = fixture.Daily("htpc-home", at("2026-11-21 02:00"), 14)
			o.LastSent = map[string]string{"htpc-home": home.Local[0].Name}
			return o
		},
		check: func(t *testing.T, p *model.Plan) {
			if n := p.Count()[model.KindSend]; n != 0 {
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
			if fixture.Find(p, "htpc-home", model.KindSnapshot) == nil {
				t.Errorf("local snapshots must go on without the drive")
			}
		},
	}, {
		name: "half-received-replica",
		now:  sun.Add(time.Hour),
		obs: func() *model.Observed {
			o := fixture.Steady(d, sun)
			docs := o.Subvolumes["subvol1-docs"]
			docs.External[0].ReceivedUUID = ""
			docs.External[0].ReadOnly = false
			o.Interrupted = []model.JournalEntry{{Time: sun.Add(-time.Hour), Phase: model.PhaseStart, Action: &model.Action{Kind: model.KindSend, Subvolume: "subvol1-docs",
				Location: "WD-18TB", Snapshot: docs.External[0].Name}}}
			return o
		},
		check: func(t *testing.T, p *model.Plan) {
			r, s := fixture.Find(p, "subvol1-docs", model.KindRepair), fixture.Find(p, "subvol1-docs", model.KindSend)
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
		obs: func() *model.Observed {
			o := fixture.Steady(d, sun)
			docs := o.Subvolumes["subvol1-docs"]
			docs.External[0].ReceivedUUID = ""
			docs.External[0].ReadOnly = false
			return o
		},
		check: func(t *testing.T, p *model.Plan) {
			for _, a := range p.Actions() {
				if a.Subvolume == "subvol1-docs" && a.Location == "WD-18TB" && a.Kind != model.KindSend {
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
		obs: func() *model.Observed {
			o := fixture.Steady(d, sun)
			docs := o.Subvolumes["subvol1-docs"]
			gone := docs.External[0].Name
			docs.External[0].ReceivedUUID = ""
			docs.Local = slices.DeleteFunc(docs.Local, func(s model.Snapshot) bool { return s.Name == gone })
			o.Interrupted = []model.JournalEntry{{Time: sun.Add(-time.Hour), Phase: model.PhaseStart, Action: &model.Action{Kind: model.KindSend, Subvolume: "subvol1-docs",
				Location: "WD-18TB", Snapshot: gone}}}
			return o
		},
		check: func(t *testing.T, p *model.Plan) {
			if r := fixture.Find(p, "subvol1-docs", model.KindRepair); r != nil {
				t.Errorf("repaired a replica whose local snapshot is gone: %+v", r)
			}
			if !planWarns(p, "subvol1-docs", "is modified (no received UUID)") {
				t.Errorf("the plan does not report the modified replica")
			}
		},
	}, {
		name: "foreign-and-source-missing",
		now:  at("2026-11-23 04:00"),
		obs: func() *model.Observed {
			o := fixture.Steady(d, at("2026-11-22 02:00"))
			home := o.Subvolumes["htpc-home"]
			home.Foreign = []string{"/home/patriark/.snapshots/htpc-home/before-upgrade", "/home/patriark/.snapshots/htpc-home/htpc-home.manual"}
			pics := o.Subvolumes["subvol2-pics"]
			pics.SourceError = "source /mnt/btrfs-pool/subvol2-pics does not exist"
			pics.Local = fixture.Daily("subvol2-pics", at("2026-11-22 02:00"), 60)
			return o
		},
		check: func(t *testing.T, p *model.Plan) {
			if fixture.Find(p, "subvol2-pics", model.KindPrune) != nil || fixture.Find(p, "subvol2-pics", model.KindSnapshot) != nil {
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
		obs: func() *model.Observed {
			o := fixture.Steady(d, at("2026-11-22 02:00"))
			s := fixture.Snap("htpc-home", at("2026-11-23 02:00"))
			s.Time = at("2026-11-21 02:00") // an old snapshot that happens to carry today's name
			o.Subvolumes["htpc-home"].Local = append([]model.Snapshot{s}, o.Subvolumes["htpc-home"].Local...)
			o.Subvolumes["subvol1-docs"].Foreign = []string{"/mnt/btrfs-pool/.snapshots/subvol1-docs/subvol1-docs.20261123T0200"}
			return o
		},
		check: func(t *testing.T, p *model.Plan) {
			a := fixture.Find(p, "htpc-home", model.KindSnapshot)
			if a == nil || a.Snapshot != "htpc-home.20261123T0200_1" {
				t.Fatalf("want htpc-home.20261123T0200_1, got %+v", a)
			}
			// A foreign entry with the next name is avoided as well.
			if b := fixture.Find(p, "subvol1-docs", model.KindSnapshot); b == nil || b.Snapshot != "subvol1-docs.20261123T0200_1" {
				t.Fatalf("want subvol1-docs.20261123T0200_1 beside a foreign entry, got %+v", b)
			}
		},
	}, {
		name: "restore-test-due",
		now:  at("2026-12-24 03:30"),
		obs: func() *model.Observed {
			o := fixture.Steady(d, at("2026-11-22 02:00"))
			for _, s := range o.Subvolumes {
				s.Local = append(s.Local, fixture.Snap("x", at("2026-12-24 02:00")))
				s.Local[1].Name = strings.Replace(s.Local[0].Name, "20261122T0200", "20261224T0200", 1)
				s.External = append(s.External, fixture.Rep(s.Local[1]))
			}
			failed := &model.TestReport{Kind: model.KindTest, Subvolume: "subvol1-docs", Snapshot: "subvol1-docs.20261224T0200",
				Result: model.ResultFail, Started: at("2026-12-24 01:00")}
			o.History["subvol1-docs"].LastTest = failed
			delete(o.History, "subvol2-pics")
			return o
		},
		check: func(t *testing.T, p *model.Plan) {
			a := fixture.Find(p, "htpc-home", model.KindTest)
			if a == nil || !strings.Contains(a.Reason, "last passed 32d ago; tier 1 wants one every 30d") {
				t.Fatalf("test of htpc-home: %+v", a)
			}
			if !a.External || a.Snapshot != "htpc-home.20261224T0200" || a.Proof.Reference == "" {
				t.Errorf("the test reads the newest replica and compares with its local snapshot: %+v", a)
			}
			if fixture.Find(p, "subvol1-docs", model.KindTest) != nil {
				t.Errorf("a test that failed 2h ago is retried at most daily")
			}
			if a := fixture.Find(p, "subvol1-docs", model.KindPrune); a != nil {
				t.Errorf("pruned the newest verified snapshot while its successor fails: %+v", a)
			}
			if b := fixture.Find(p, "subvol2-pics", model.KindTest); b == nil || !strings.HasPrefix(b.Reason, "never tested") {
				t.Errorf("never tested: %+v", b)
			}
			if fixture.Find(p, "htpc-home", model.KindDrill) != nil {
				t.Errorf("drill every 90d is not due after 32 days")
			}
		},
	}, {
		name: "external-monthly-13th",
		now:  at("2026-11-01 05:00"),
		obs: func() *model.Observed {
			o := fixture.Steady(d, at("2026-11-01 04:00"))
			pics := o.Subvolumes["subvol2-pics"]
			pics.External = nil
			for m := 13; m >= 0; m-- {
				pics.External = append(pics.External, fixture.Rep(fixture.Snap("subvol2-pics", at("2026-11-01 04:00").AddDate(0, -m, 0))))
			}
			pics.Local = []model.Snapshot{fixture.Snap("subvol2-pics", at("2026-11-01 04:00"))}
			pics.External[len(pics.External)-1] = fixture.Rep(pics.Local[0])
			return o
		},
		check: func(t *testing.T, p *model.Plan) {
			// btrbk's months start on their first week-start day (Sunday):
			// a snapshot on Thursday the 1st counts for the month before, so
			// "monthly 12" (13 months) reaches back to 2025-11 here and
			// keeps 11 of the 14 firsts-of-month (2026-04-01, a Wednesday, shares
			// March with Sunday 2026-03-01).
			if n := fixture.CountKind(p, "subvol2-pics", model.KindPrune); n != 3 {
				t.Fatalf("want 3 prunes, got %d", n)
			}
			a := fixture.Find(p, "subvol2-pics", model.KindPrune)
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
			golden(t, filepath.Join("..", "..", "testdata", "golden", "plan", tc.name+".txt"), buf.String())
		})
	}
}

// TestComputeSafety plans random histories and checks the rules that must
// hold whatever retention says.
func TestComputeSafety(t *testing.T) {
	checkComputeSafety(t, fixture.LoadHomelab(t))
}

// checkComputeSafety plans d over 300 random histories and checks that no
// plan prunes the newest snapshot or replica, the common parent, or what it
// sends.
func checkComputeSafety(t *testing.T, d *schema.Desired) {
	loc := fixture.Oslo(t)
	rng := rand.New(rand.NewSource(1))
	start := time.Date(2025, 1, 1, 2, 0, 0, 0, loc)
	for i := 0; i < 300; i++ {
		now := start.Add(time.Duration(rng.Int63n(int64(700 * 24 * time.Hour))))
		o := fixture.Steady(d, start)
		o.Drives["WD-18TB"] = model.Drive{Present: rng.Intn(4) > 0}
		for _, name := range d.SubvolumeNames() {
			st := &model.SubvolumeState{}
			tm := now.Add(-time.Duration(rng.Int63n(int64(400 * 24 * time.Hour))))
			for tm.Before(now) {
				s := fixture.Snap(name, tm)
				st.Local = append(st.Local, s)
				if o.Drives["WD-18TB"].Present && rng.Intn(3) == 0 {
					st.External = append(st.External, fixture.Rep(s))
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
				if a.Kind == model.KindPrune {
					pruned[a.Location+"/"+a.Snapshot] = true
				}
			}
			s := d.Subvolumes[sp.Name]
			if n := len(st.Local); n > 0 && pruned[s.Snapshots.Location+"/"+st.Local[n-1].Name] && fixture.Find(p, sp.Name, model.KindSnapshot) == nil {
				t.Fatalf("%s at %s: pruned the newest local snapshot", sp.Name, now)
			}
			if n := len(st.External); n > 0 && pruned["WD-18TB/"+st.External[n-1].Name] && fixture.Find(p, sp.Name, model.KindSend) == nil {
				t.Fatalf("%s at %s: pruned the newest replica", sp.Name, now)
			}
			if parent, _ := commonParent(st.Local, st.External, nil); parent != "" && fixture.Find(p, sp.Name, model.KindSend) == nil {
				if pruned[s.Snapshots.Location+"/"+parent] || pruned["WD-18TB/"+parent] {
					t.Fatalf("%s at %s: pruned the common parent %s", sp.Name, now, parent)
				}
			}
			if send := fixture.Find(p, sp.Name, model.KindSend); send != nil && pruned[s.Snapshots.Location+"/"+send.Snapshot] {
				t.Fatalf("%s at %s: prunes the snapshot it sends", sp.Name, now)
			}
		}
	}
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	goldenfile.Check(t, path, []byte(got))
}

// BenchmarkCompute plans 6 subvolumes × 1,000 snapshots, the history the
// bench/plan-vs-btrbk.sh comparison uses.
func BenchmarkCompute(b *testing.B) {
	d, err := schema.Load(fixture.Homelab, nil)
	if err != nil {
		b.Fatal(err)
	}
	loc := fixture.Oslo(b)
	now := time.Date(2026, 11, 22, 3, 30, 0, 0, loc)
	o := fixture.Steady(d, now.Add(-25*time.Hour))
	o.Files = map[string]string{}
	for name, st := range o.Subvolumes {
		st.Local = nil
		for i := 999; i >= 0; i-- {
			st.Local = append(st.Local, fixture.Snap(name, now.Add(-25*time.Hour-time.Duration(i)*8*time.Hour)))
		}
	}
	b.ResetTimer()
	for b.Loop() {
		Compute(d, o, now)
	}
}

func TestComputeServices(t *testing.T) {
	d := fixture.LoadHomelab(t)
	loc := fixture.Oslo(t)
	now := time.Date(2026, 11, 22, 3, 30, 0, 0, loc)
	o := fixture.Steady(d, now.Add(-30*time.Minute))
	o.Services = map[string]*model.ServiceState{}
	for _, name := range d.ServiceNames() {
		var archives []model.Snapshot
		for h := 40 * 24; h >= 1; h-- { // 40 days of hourly archives
			a := fixture.Snap(name, now.Add(-time.Duration(h)*time.Hour).Truncate(time.Hour))
			a.Name += model.ArchiveSuffix
			archives = append(archives, a)
		}
		o.Services[name] = &model.ServiceState{Archives: archives}
		o.History[name] = o.History["htpc-home"]
	}
	o.Services["app-db"].Unchecked = []string{"/var/backups/mcp-monitoring/app-db/app-db.20261122T0300.tar.gz"}
	p := Compute(d, o, now)
	byService := map[string]map[model.Kind]int{}
	for _, sp := range p.Services {
		byService[sp.Name] = map[model.Kind]int{}
		for _, a := range sp.Actions {
			byService[sp.Name][a.Kind]++
			if a.Kind == model.KindPrune && !strings.HasSuffix(a.Path, model.ArchiveSuffix) {
				t.Errorf("prune of a non-archive: %+v", a)
			}
		}
	}
	// Hourly, keeping 24 hourly and 30 daily (btrbk: the current period
	// plus N before it): of 960 hourly archives and the one taken now, the
	// first of each of the last 25 hours and of each of the last 31 days
	// stay, today's midnight counted once: 961 - (25 + 31 - 1) go.
	if got := byService["prometheus-tsdb"]; got[model.KindBackup] != 1 || got[model.KindPrune] != 961-(25+31-1) {
		t.Errorf("prometheus-tsdb: %v", got)
	}
	// Daily at 01:00: the newest archive (02:00 today) satisfies it; the
	// drive lacks it, so it is copied there.
	if got := byService["grafana-db"]; got[model.KindBackup] != 0 || got[model.KindSend] != 1 {
		t.Errorf("grafana-db: %v", got)
	}
	copyTo := fixture.Find(p, "grafana-db", model.KindSend)
	if !copyTo.External || copyTo.Location != "WD-18TB" || !strings.HasSuffix(copyTo.Send.From, "grafana-db.20261122T0200.tar.gz") {
		t.Errorf("archive copy: %+v", copyTo)
	}
	o.Drives["WD-18TB"] = model.Drive{Reason: "nothing mounted"}
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
	d := fixture.LoadHomelab(t)
	loc := fixture.Oslo(t)
	first := time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC).In(loc) // 02:30 CEST
	second := first.Add(time.Hour)                                  // 02:30 CET
	o := fixture.Steady(d, first)
	o.Services = map[string]*model.ServiceState{}
	for _, name := range d.ServiceNames() {
		a := fixture.Snap(name, first)
		a.Name += model.ArchiveSuffix
		o.Services[name] = &model.ServiceState{Archives: []model.Snapshot{a}}
	}
	p := Compute(d, o, second)
	for _, sp := range p.Services {
		for _, a := range sp.Actions {
			if a.Kind == model.KindBackup && a.Snapshot == o.Services[sp.Name].Archives[0].Name {
				t.Errorf("%s: backup reuses %s", sp.Name, a.Snapshot)
			}
		}
	}
	if a := fixture.Find(p, "prometheus-tsdb", model.KindBackup); a == nil || a.Snapshot != "prometheus-tsdb.20261025T0230_1.tar.gz" {
		t.Errorf("hourly backup after the fall-back: %+v", a)
	}
}

// Services reach the metrics with their evidence, so their alerts speak
// of real archives and tests, not of nothing known.
func TestRenderInputCoversServices(t *testing.T) {
	d := fixture.LoadHomelab(t)
	now := time.Date(2026, 11, 22, 3, 30, 0, 0, fixture.Oslo(t))
	o := fixture.Steady(d, now.Add(-time.Hour))
	a := fixture.Snap("app-db", now.Add(-time.Hour))
	a.Name += model.ArchiveSuffix
	o.Services = map[string]*model.ServiceState{"app-db": {Archives: []model.Snapshot{a}}}
	o.History["app-db"] = &model.History{
		LastBackup: &model.JournalEntry{Time: now.Add(-time.Hour), Seconds: 2},
		LastTest:   &model.TestReport{Kind: model.KindTest, Result: model.ResultFail, Started: now.Add(-30 * time.Minute)},
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

func planWarns(p *model.Plan, subvol, text string) bool {
	for _, s := range p.Subvolumes {
		if s.Name == subvol && slices.ContainsFunc(s.Warnings, func(w string) bool { return strings.Contains(w, text) }) {
			return true
		}
	}
	return false
}
