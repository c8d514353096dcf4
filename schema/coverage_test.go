package schema

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func loadTier(t *testing.T, tier string) (*Desired, error) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "d.cue")
	src := "package x\nlocations: pool: path: \"/pool/.snapshots\"\n" +
		"tiers: \"1\": {rpo: \"7d\", rto: \"1h\", " + tier + "}\n" +
		"subvolumes: docs: {tier: \"1\", source: \"/pool/docs\", snapshots: {location: \"pool\", schedule: \"every 6h\", retention: {hourly: 24}}}\n"
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return Load(file, nil)
}

// TestCoverageAndShrinkDecode: the coverage window turns into a number of
// slices, rounding up so the window is never exceeded, and the shares
// have their defaults.
func TestCoverageAndShrinkDecode(t *testing.T) {
	d, err := loadTier(t, `restoreTest: {every: "30d", coverage: "100d"}, shrink: holdBelow: 0.25`)
	if err != nil {
		t.Fatal(err)
	}
	tier := d.Tiers["1"]
	if n := tier.RestoreTest.Slices(); n != 4 {
		t.Errorf("100d at every 30d: %d slices, want 4", n)
	}
	if tier.RestoreTest.CoverageAlertBelow != 0.95 || tier.RestoreTest.SliceBudget.Duration != 6*time.Hour || tier.Shrink.WarnBelow != 0.5 || tier.Shrink.HoldBelow == nil || *tier.Shrink.HoldBelow != 0.25 {
		t.Errorf("defaults: %+v %+v", tier.RestoreTest, tier.Shrink)
	}
	d, err = loadTier(t, `restoreTest: every: "30d"`)
	if err != nil {
		t.Fatal(err)
	}
	if n := d.Tiers["1"].RestoreTest.Slices(); n != 0 || d.Tiers["1"].Shrink.HoldBelow != nil {
		t.Errorf("without coverage: %d slices, hold %v", n, d.Tiers["1"].Shrink.HoldBelow)
	}
	for _, bad := range []string{`restoreTest: coverageAlertBelow: 1.5`, `shrink: holdBelow: 0`} {
		if _, err := loadTier(t, bad); err == nil || !strings.Contains(err.Error(), strings.Fields(strings.Split(bad, ":")[1])[0]) {
			t.Errorf("%s: want an error naming the field, got %v", bad, err)
		}
	}
}
