package schema

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drsync/drsync/internal/golden"
)

// The tests run from the repository root so positions read as a user
// running drsync there would see them.
func chdirRoot(t *testing.T) {
	t.Helper()
	t.Chdir("..")
}

func TestExamplesValidate(t *testing.T) {
	chdirRoot(t)
	files, _ := filepath.Glob("examples/desired/*.cue")
	if len(files) == 0 {
		t.Fatal("no examples")
	}
	for _, f := range files {
		if _, err := Load(f, nil); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestInvalidGolden(t *testing.T) {
	chdirRoot(t)
	files, _ := filepath.Glob("testdata/invalid/*.cue")
	if len(files) < 8 {
		t.Fatalf("want the invalid corpus, found %d files", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			_, err := Load(f, nil)
			if err == nil {
				t.Fatal("loaded without error")
			}
			if !strings.Contains(err.Error(), f+":") {
				t.Errorf("error does not name the file with a position: %v", err)
			}
			goldenPath := filepath.Join("testdata", "golden", "validate", strings.TrimSuffix(filepath.Base(f), ".cue")+".txt")
			got := err.Error() + "\n"
			golden.Check(t, goldenPath, []byte(got))
		})
	}
}

func TestHomelabMatchesDesignDocuments(t *testing.T) {
	chdirRoot(t)
	d, err := Load("examples/desired/homelab.cue", []string{"root=/sb"})
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		Tier, Source, Local, External string
		LocalRet, ExtRet              string
	}
	ret := func(r Retention) string {
		var parts []string
		for _, c := range []struct {
			n string
			c *Count
		}{{"h", r.Hourly}, {"d", r.Daily}, {"w", r.Weekly}, {"m", r.Monthly}, {"y", r.Yearly}} {
			if c.c != nil {
				parts = append(parts, c.c.String()+c.n)
			}
		}
		return strings.Join(parts, " ")
	}
	got := map[string]row{}
	for name, s := range d.Subvolumes {
		got[name] = row{s.Tier, s.Source, s.Snapshots.Schedule.Text, s.External.Schedule.Text, ret(s.Snapshots.Retention), ret(s.External.Retention)}
	}
	// The subvolume inventory table of the design document.
	want := map[string]row{
		"htpc-home":          {"1", "/sb/home", "daily 02:00", "weekly sun 03:00", "7d", "8w 12m"},
		"subvol3-opptak":     {"1", "/sb/mnt/btrfs-pool/subvol3-opptak", "daily 02:00", "weekly sun 03:00", "7d", "8w 12m"},
		"subvol7-containers": {"1", "/sb/mnt/btrfs-pool/subvol7-containers", "daily 02:00", "weekly sun 03:00", "7d", "4w 6m"},
		"subvol1-docs":       {"2", "/sb/mnt/btrfs-pool/subvol1-docs", "daily 02:00", "weekly sun 03:00", "7d", "8w 6m"},
		"htpc-root":          {"2", "/sb", "monthly 1 04:00", "monthly 1 04:00", "1m", "6m"},
		"subvol2-pics":       {"3", "/sb/mnt/btrfs-pool/subvol2-pics", "weekly sun 03:00", "monthly 1 04:00", "4w", "12m"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("homelab.cue differs from the design documents (-want +got):\n%s", diff)
	}
	// The monitoring-stack backup plan of the design documents.
	type svcRow struct{ Kind, Schedule, Retention string }
	gotSvc := map[string]svcRow{}
	for name, s := range d.Services {
		gotSvc[name] = svcRow{s.Kind, s.Schedule.Text, ret(s.Retention)}
	}
	wantSvc := map[string]svcRow{
		"prometheus-tsdb":   {"prometheus", "hourly", "24h 30d"},
		"grafana-db":        {"sqlite", "daily 01:00", "90d"},
		"monitoring-config": {"files", "daily 01:00", "90d"},
		"app-config":        {"files", "daily 01:00", "90d"},
		"app-db":            {"sqlite", "hourly", "24h 30d"},
		"app-chroma":        {"files", "daily 01:00", "30d"},
	}
	if diff := cmp.Diff(wantSvc, gotSvc); diff != "" {
		t.Errorf("homelab.cue services differ from the design documents (-want +got):\n%s", diff)
	}
	if d.StateDir != "/sb/var/lib/drsync" {
		t.Errorf("stateDir %s not under root", d.StateDir)
	}
}

func TestTagsLikeCueExport(t *testing.T) {
	chdirRoot(t)
	if _, err := Load("examples/desired/homelab.cue", []string{"nosuch=1"}); err == nil {
		t.Error("an unknown tag was accepted")
	}
	d, err := Load("examples/desired/homelab.cue", nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.Subvolumes["htpc-home"].Source != "/home" || d.Subvolumes["htpc-root"].Source != "/" {
		t.Errorf("without root the real paths: %s %s", d.Subvolumes["htpc-home"].Source, d.Subvolumes["htpc-root"].Source)
	}
}

func TestDirectoryOfFiles(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.cue"), []byte("package x\nlocations: pool: path: \"/pool/.snapshots\"\ntiers: \"1\": {rpo: \"7d\", rto: \"1h\"}\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "b.cue"), []byte("package x\nsubvolumes: docs: {tier: \"1\", source: \"/pool/docs\", snapshots: {location: \"pool\", schedule: \"every 6h\", retention: {hourly: 24}}}\n"), 0o644)
	d, err := Load(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.Subvolumes["docs"].Snapshots.Schedule.Every != 6*time.Hour {
		t.Errorf("schedule %+v", d.Subvolumes["docs"].Snapshots.Schedule)
	}
	if d.StateDir != "/var/lib/drsync" || d.Tiers["1"].RestoreTest.SampleSize != 50 {
		t.Errorf("schema defaults not applied: %s %+v", d.StateDir, d.Tiers["1"])
	}
}

func TestScheduleSlot(t *testing.T) {
	loc, err := time.LoadLocation("Europe/Oslo")
	if err != nil {
		t.Skip(err)
	}
	at := func(s string) time.Time {
		tm, _ := time.ParseInLocation("2006-01-02 15:04", s, loc)
		return tm
	}
	tests := []struct{ sched, now, want string }{
		{"daily 02:00", "2026-11-22 01:59", "2026-11-21 02:00"},
		{"daily 02:00", "2026-11-22 02:00", "2026-11-22 02:00"},
		{"weekly sun 03:00", "2026-11-22 02:59", "2026-11-15 03:00"},
		{"weekly sun 03:00", "2026-11-24 12:00", "2026-11-22 03:00"},
		{"monthly 31 04:00", "2026-03-01 00:00", "2026-02-28 04:00"},
		{"monthly 1 04:00", "2026-01-01 03:00", "2025-12-01 04:00"},
		{"hourly", "2026-03-29 03:30", "2026-03-29 03:00"},      // after the spring-forward gap
		{"daily 02:30", "2026-03-29 12:00", "2026-03-29 03:30"}, // 02:30 does not exist that day: Go moves it forward
	}
	for _, tc := range tests {
		s, err := ParseSchedule(tc.sched)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Slot(at(tc.now)).Format("2006-01-02 15:04"); got != tc.want {
			t.Errorf("%s at %s: slot %s, want %s", tc.sched, tc.now, got, tc.want)
		}
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"7d": 7 * 24 * time.Hour, "2w": 14 * 24 * time.Hour, "1h30m": 90 * time.Minute} {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("%s: %v %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "7", "d", "7x"} {
		if _, err := ParseDuration(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestWarnings(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "d.cue")
	os.WriteFile(file, []byte(`package x
locations: {pool: path: "/pool/.snapshots", usb: {external: true, path: "/usb/.snapshots", mount: "/usb"}}
tiers: "1": {rpo: "2d", rto: "1h"}
subvolumes: docs: {tier: "1", source: "/pool/docs", snapshots: {location: "pool", schedule: "daily 02:00", retention: daily: 7},
	external: {location: "usb", schedule: "weekly sun 03:00", retention: weekly: 4}}
`), 0o644)
	d, err := Load(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"drive usb is not pinned by a filesystem uuid: any btrfs mounted at /usb counts as it",
		`subvolume docs: tier 1 wants an RPO of 2d, but its replicas on usb come "weekly sun 03:00"`,
	}
	if diff := cmp.Diff(want, d.Warnings()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	chdirRoot(t)
	home, err := Load("examples/desired/homelab.cue", nil)
	if err != nil {
		t.Fatal(err)
	}
	if w := home.Warnings(); len(w) != 0 {
		t.Errorf("the homelab example warns: %q", w)
	}
}
