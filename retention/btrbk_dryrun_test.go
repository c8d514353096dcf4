package retention_test

import (
	"bytes"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drsync/drsync/providers/btrfs"
	"github.com/drsync/drsync/sandbox"
)

// TestBtrbkDryrunAgrees runs the btrbk program itself, not only its
// scheduler: `btrbk dryrun` under faketime on read-only snapshots in a
// loop-mounted btrfs, with one subvolume per policy (min all, latest and
// durations, every rule, week and day starts) and histories across DST
// changes with _N, short, long-iso, future-dated and foreign names. The
// snapshots it would delete must be exactly the ones retention prunes, at
// several reference times and in several zones.
func TestBtrbkDryrunAgrees(t *testing.T) {
	t.Parallel()
	if os.Getenv("DRSYNC_BTRBK_DRYRUN") == "skip" {
		t.Skip("DRSYNC_BTRBK_DRYRUN=skip (make mutate: TestMatchesBtrbk compares with btrbk's scheduler instead)")
	}
	btrbkPath(t)
	faketime, err := exec.LookPath("faketime")
	if err != nil {
		t.Skip("faketime not installed (apt-get install faketime; scripts/install-deps.sh does): btrbk has no --now")
	}
	mnt := sandbox.TestFS(t, 512)
	ctx := t.Context()

	policies := []struct{ min, preserve, dow string }{
		{"latest", "24h 7d 4w 12m *y", "monday"},
		{"all", "1d", "sunday"},
		{"2d", "0h 14d 8w", "sunday"},
		{"latest", "*h 2w", "thursday"},
		{"1w", "3d 2w 6m 2y", "saturday"},
		{"6h", "*d *w *m", "wednesday"},
	}
	hods := []int{0, 0, 3, 0, 23, 12}
	// The histories end at the Oslo fall-back night of 2025 and straddle
	// the spring change and New York's changes too.
	ref := time.Date(2025, time.October, 26, 1, 30, 0, 0, time.UTC)
	oslo := zone(t, "Europe/Oslo")
	rng := rand.New(rand.NewPCG(2025, 10)) // fixed: the same snapshots every run

	conf := []string{"snapshot_create no", "volume " + mnt}
	subvols := make([]string, len(policies))
	names := map[string][]string{}
	for i, p := range policies {
		sv := fmt.Sprintf("sv%d", i)
		subvols[i] = sv
		if err := btrfs.Create(ctx, filepath.Join(mnt, sv)); err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(mnt, ".snapshots", sv)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		used := map[string]bool{}
		for _, at := range layeredHistory(rng, ref) {
			base := sv + "." + stamp(rng, at, oslo, rng.IntN(9))
			name := base
			for n := 1; used[name]; n++ {
				name = fmt.Sprintf("%s_%d", base, n)
			}
			used[name] = true
		}
		for _, extra := range []string{"%s.20251026T0230", "%s.20251026T0230_1", "%s.20251026", "%s.20251101T0000", "%s.20250230", "%s.XXXX0101"} {
			used[fmt.Sprintf(extra, sv)] = true
		}
		names[sv] = slices.Sorted(maps.Keys(used))
		// Four at a time: each snapshot waits for a transaction commit.
		var wg sync.WaitGroup
		slots := make(chan struct{}, 4)
		for _, name := range names[sv] {
			slots <- struct{}{}
			wg.Go(func() {
				defer func() { <-slots }()
				if err := btrfs.Snapshot(ctx, filepath.Join(mnt, sv), filepath.Join(dir, name)); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
		conf = append(conf, "  subvolume "+sv,
			"    snapshot_dir .snapshots/"+sv,
			"    snapshot_preserve_min "+p.min,
			"    snapshot_preserve "+p.preserve,
			"    preserve_day_of_week "+p.dow,
			fmt.Sprintf("    preserve_hour_of_day %d", hods[i]))
	}
	confPath := filepath.Join(t.TempDir(), "btrbk.conf")
	if err := os.WriteFile(confPath, []byte(strings.Join(conf, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	runs := []struct {
		tz  string
		now time.Time
	}{
		{"Europe/Oslo", ref},                         // 02:30 summer time, the hour before it repeats
		{"Europe/Oslo", ref.Add(time.Hour)},          // 02:30 winter time
		{"Europe/Oslo", ref.Add(6 * 24 * time.Hour)}, // after the future-dated one's hour
		{"America/New_York", ref.Add(-3*time.Hour + 17*time.Minute)},
		{"Australia/Lord_Howe", ref.Add(40 * 24 * time.Hour)},
		{"UTC", ref.Add(400 * 24 * time.Hour)},
	}
	for _, r := range runs {
		t.Run(r.tz+"@"+r.now.Format("2006-01-02T15:04Z"), func(t *testing.T) {
			cmd := exec.CommandContext(ctx, faketime, r.now.Format("2006-01-02 15:04:05")+" UTC", "btrbk", "-c", confPath, "dryrun")
			cmd.Env = append(os.Environ(), "TZ="+r.tz)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("btrbk dryrun: %v\n%s\n%s", err, out, stderr.Bytes())
			}
			deleted := btrbkDeletions(out, mnt)
			total := 0
			for i, sv := range subvols {
				p := policies[i]
				c := btrbkCase{TZ: r.tz, Now: r.now.Unix(), Subvol: sv, Names: names[sv], Preserve: p.preserve, Min: p.min, DOW: p.dow, HOD: hods[i]}
				want := btrbkVerdict{Delete: deleted[sv]}
				for _, name := range names[sv] {
					if !slices.Contains(deleted[sv], name) {
						want.Keep = append(want.Keep, name)
					}
				}
				// btrbk's dryrun shows what it deletes, not what it ignores:
				// drsync must not delete those either, which the keep side checks.
				got, _ := compareWithBtrbk(t, c, want)
				for _, line := range strings.Split(got, "\n") {
					if line != "" && !strings.Contains(line, "btrbk keep, drsync ignored") {
						t.Errorf("%s (%s, min %s, weeks start %s, days at %02d:00):\n%s", sv, p.preserve, p.min, p.dow, hods[i], line)
					}
				}
				total += len(deleted[sv])
			}
			if total == 0 && !t.Failed() {
				t.Fatalf("btrbk deletes nothing: it did not see the snapshots?\n%s\n%s", out, stderr.Bytes())
			}
			t.Logf("btrbk and retention both delete the same %d snapshots", total)
		})
	}
}

// layeredHistory is about 150 instants before ref as a btrbk schedule leaves
// them, each layer with jitter: every 6 hours for 3 days, daily near 02:00
// for 60 days (across the spring and fall DST nights), weekly for 40 weeks,
// monthly for 30 months, so every rule's oldest period is populated.
func layeredHistory(rng *rand.Rand, ref time.Time) []time.Time {
	jitter := func(d time.Duration) time.Duration { return time.Duration(rng.Int64N(int64(2*d))) - d }
	var out []time.Time
	for i := range 12 {
		out = append(out, ref.Add(-time.Duration(i)*6*time.Hour+jitter(time.Hour)))
	}
	day := ref.Truncate(24 * time.Hour)
	for i := range 60 {
		out = append(out, day.AddDate(0, 0, -i).Add(time.Hour+jitter(90*time.Minute)))
	}
	for i := range 40 {
		out = append(out, day.AddDate(0, 0, -7*i).Add(jitter(36*time.Hour)))
	}
	for i := range 30 {
		out = append(out, day.AddDate(0, -i, 0).Add(jitter(5*24*time.Hour)))
	}
	return out
}

// btrbkDeletions reads "--- /mnt/.snapshots/SV/NAME" lines of btrbk's
// dryrun output into names by subvolume.
func btrbkDeletions(out []byte, mnt string) map[string][]string {
	del := map[string][]string{}
	for _, line := range strings.Split(string(out), "\n") {
		path, ok := strings.CutPrefix(line, "--- ")
		if !ok || !strings.HasPrefix(path, mnt+"/.snapshots/") {
			continue
		}
		sv, name := filepath.Base(filepath.Dir(path)), filepath.Base(path)
		del[sv] = append(del[sv], name)
	}
	return del
}
