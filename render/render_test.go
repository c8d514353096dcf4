package render

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drsync/drsync/internal/golden"
	"github.com/drsync/drsync/schema"
)

const goldenDir = "../testdata/golden/render"

// now is a Sunday afternoon, after the weekly external run.
var now = time.Date(2026, 3, 15, 14, 0, 0, 0, time.UTC)

// homelab loads the first user's desired state.
func homelab(t testing.TB) *schema.Desired {
	t.Helper()
	d, err := schema.Load("../examples/desired/homelab.cue", nil)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// withCoverage declares a 90-day coverage window on tier 1, as the
// coverage evidence of the golden input needs.
func withCoverage(d *schema.Desired) *schema.Desired {
	t := d.Tiers["1"]
	t.RestoreTest.Coverage = &schema.Duration{Duration: 90 * 24 * time.Hour}
	t.RestoreTest.CoverageAlertBelow = 0.95
	d.Tiers["1"] = t
	return d
}

// fixedInput is the golden files' input: htpc-home fully evidenced,
// subvol3-opptak with a failing restore test and a drill over its RTO,
// subvol7-containers never tested with a failed drill, subvol2-pics with
// no replica yet, htpc-root with nothing known.
func fixedInput(t testing.TB) Input {
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	day := 24 * time.Hour
	return Input{
		Desired: withCoverage(homelab(t)),
		Now:     now,
		Subvolumes: map[string]SubvolumeStatus{
			"htpc-home": {
				LocalCount: 7, ExternalCount: 20,
				NewestLocal: ago(12 * time.Hour), NewestExternal: ago(11 * time.Hour),
				LastSuccess: ago(11 * time.Hour), LastDuration: 4*time.Minute + 12*time.Second, SizeBytes: 2_500_000_000,
				Test:     &TestEvidence{Time: ago(20 * day), Passed: true, Duration: 95 * time.Second, Files: 50, Snapshot: "htpc-home.20260222T0300"},
				TestsRun: 5, TestsPassed: 5,
				Verified: ago(21 * day),
				Drill:    &DrillEvidence{Time: ago(60 * day), Passed: true, Duration: 25 * time.Minute, Restore: 19 * time.Minute, Verify: 6 * time.Minute, Bytes: 48_000_000_000, Snapshot: "htpc-home.20260111T0300"},
				Offsite: map[string]OffsiteStatus{"s3-secondary": {
					Observed: true, Copies: 6, Newest: ago(9*time.Hour + 30*time.Minute),
					LastSuccess: ago(9 * time.Hour), SentBytes: 310_000_000,
					Test:     &TestEvidence{Time: ago(10 * day), Passed: true, Duration: 6 * time.Minute, Files: 50, Snapshot: "htpc-home.20260301T0300"},
					Verified: ago(14 * day),
					Drill: &DrillEvidence{Time: ago(40 * day), Passed: true, Duration: 2 * time.Hour, Bytes: 48_000_000_000, Snapshot: "htpc-home.20260201T0300",
						Restore: 95 * time.Minute, Verify: 25 * time.Minute},
				}},
				Coverage: []CopyCoverage{
					{Location: "home", Snapshot: "htpc-home.20260315T0200", Files: 41_210, VerifiedFiles: 41_210, Bytes: 88 << 30, VerifiedBytes: 88 << 30},
					{Location: "WD-18TB", External: true, Snapshot: "htpc-home.20260315T0300", Files: 41_210, VerifiedFiles: 30_000, Bytes: 88 << 30, VerifiedBytes: 60 << 30},
				},
			},
			"subvol3-opptak": {
				LocalCount: 7, ExternalCount: 18,
				NewestLocal: ago(12 * time.Hour), NewestExternal: ago(11 * time.Hour),
				LastSuccess: ago(11 * time.Hour), LastDuration: 48 * time.Minute, SizeBytes: 61_000_000_000,
				SendFailingSince: ago(2 * day),
				Test:             &TestEvidence{Time: ago(2 * day), Passed: false, Duration: 10 * time.Minute, Files: 47, Snapshot: "subvol3-opptak.20260308T0300"},
				TestsRun:         4, TestsPassed: 3,
				Verified: ago(35 * day),
				Drill:    &DrillEvidence{Time: ago(80 * day), Passed: true, Duration: 9 * time.Hour, Bytes: 2_000_000_000_000, Snapshot: "subvol3-opptak.20251221T0300"},
				// Off-site: unreachable at the last run, a failed test there.
				Offsite: map[string]OffsiteStatus{"s3-secondary": {
					Newest:      ago(20 * day),
					LastSuccess: ago(20 * day), SentBytes: 4_000_000_000,
					Test: &TestEvidence{Time: ago(3 * day), Passed: false, Duration: 30 * time.Minute, Files: 12, Snapshot: "subvol3-opptak.20260222T0300"},
				}},
			},
			"subvol7-containers": {
				LocalCount: 7, ExternalCount: 10,
				NewestLocal: ago(12 * time.Hour), NewestExternal: ago(11 * time.Hour),
				LastSuccess: ago(11 * time.Hour), LastDuration: 6 * time.Minute, SizeBytes: 3_100_000_000,
				Drill: &DrillEvidence{Time: ago(30 * day), Passed: false, Duration: 41 * time.Minute, Bytes: 60_000_000_000, Snapshot: "subvol7-containers.20260208T0300"},
			},
			"subvol1-docs": {
				LocalCount: 7, ExternalCount: 14,
				NewestLocal: ago(12 * time.Hour), NewestExternal: ago(11 * time.Hour),
				LastSuccess: ago(11 * time.Hour), LastDuration: 50 * time.Second, SizeBytes: 120_000_000,
				Test:     &TestEvidence{Time: ago(9 * day), Passed: true, Duration: 40 * time.Second, Files: 50, Snapshot: "subvol1-docs.20260301T0300"},
				TestsRun: 2, TestsPassed: 2,
				Verified: ago(14 * day),
			},
			"subvol2-pics": {
				LocalCount:  2,
				NewestLocal: ago(11 * time.Hour),
				LastSuccess: ago(11 * time.Hour), LastDuration: 3 * time.Minute,
			},
		},
		Reconcile: ReconcileStatus{
			Runs:    map[string]int{"applied": 40, "failed": 2, "stopped": 1},
			LastRun: ago(11 * time.Hour), LastDuration: 61 * time.Minute, LastResult: "applied",
		},
		ExternalSeen: map[string]time.Time{"WD-18TB": ago(10 * time.Hour)},
		// DR-002 passed; DR-004 failed and never passed; DR-001 and DR-003
		// were never rehearsed.
		Rehearsals: map[string]RehearsalEvidence{
			"DR-002": {Time: ago(40 * day), Passed: true, Duration: 3*time.Minute + 40*time.Second, Bytes: 1_600_000_000, LastSuccess: ago(40 * day)},
			"DR-004": {Time: ago(3 * day), Passed: false, Duration: 50 * time.Second},
		},
	}
}

func TestGolden(t *testing.T) {
	files, err := Files(fixedInput(t))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for path, got := range files {
		name := filepath.Base(path)
		if other, ok := seen[name]; ok {
			t.Fatalf("%s and %s share a golden file name", path, other)
		}
		seen[name] = path
		golden.Check(t, filepath.Join(goldenDir, name), got)
	}
	entries, err := os.ReadDir(goldenDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		// Directories hold other inputs' goldens (shapes/ for the runbooks).
		if _, ok := seen[e.Name()]; ok || e.IsDir() {
			continue
		}
		if golden.Update() {
			if err := os.Remove(filepath.Join(goldenDir, e.Name())); err != nil {
				t.Fatal(err)
			}
			continue
		}
		t.Errorf("stale golden file %s: no generated file has that name", e.Name())
	}
}

// TestFilesPaths checks Files keys every output by the path Generate
// declares, and leaves out what is disabled.
func TestFilesPaths(t *testing.T) {
	in := fixedInput(t)
	g := in.Desired.Generate
	files, err := Files(in)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{g.Metrics, g.AlertRules, g.AlertTests, g.ScrapeConfig, g.Dashboard,
		filepath.Join(g.Systemd, applyService), filepath.Join(g.Systemd, applyTimer), filepath.Join(g.Systemd, watchService),
		filepath.Join(g.Runbooks, runbookSystem), filepath.Join(g.Runbooks, runbookPool),
		filepath.Join(g.Runbooks, runbookDeletion), filepath.Join(g.Runbooks, runbookTotal)}
	for _, p := range want {
		if _, ok := files[p]; !ok {
			t.Errorf("missing %s", p)
		}
		if !filepath.IsAbs(p) {
			t.Errorf("%s is not absolute", p)
		}
	}
	if len(files) != len(want) {
		t.Errorf("got %d files, want %d", len(files), len(want))
	}

	in.Desired.Generate.Enabled.Runbooks = false
	in.Desired.Generate.Enabled.Metrics = false
	files, err = Files(in)
	if err != nil {
		t.Fatal(err)
	}
	for p := range files {
		if strings.HasPrefix(p, g.Runbooks) || p == g.Metrics {
			t.Errorf("disabled output %s rendered", p)
		}
	}
	rules, err := AlertRules(in)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(rules), "runbook:") {
		t.Error("alert rules point to runbooks that are not generated")
	}
}

// Paths names exactly the files Files renders.
func TestPathsMatchFiles(t *testing.T) {
	in := fixedInput(t)
	files, err := Files(in)
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Sorted(maps.Keys(files))
	if diff := cmp.Diff(want, Paths(in.Desired)); diff != "" {
		t.Errorf("Paths differs from Files (-want +got):\n%s", diff)
	}
}
