package schema

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// These tests pin rules that mutation testing (make mutate) found no test
// for: each was deleted or inverted and every other test still passed.

// TestMutantEveryZeroIsNoSchedule: "every 0h" would make every moment due.
func TestMutantEveryZeroIsNoSchedule(t *testing.T) {
	for _, text := range []string{"every 0h", "every 0m", "every 0d"} {
		if s, err := ParseSchedule(text); err == nil {
			t.Errorf("ParseSchedule(%q) = %+v, want an error", text, s)
		}
	}
	if _, err := ParseSchedule("every 1m"); err != nil {
		t.Errorf("every 1m: %v", err)
	}
	d := desiredFile(t, strings.Replace(twoSubvolumes, `schedule: "daily 02:00"`, `schedule: "every 0h"`, 1))
	if _, err := Load(d, nil); err == nil || !strings.Contains(err.Error(), "every 0h") {
		t.Errorf("Load with every 0h: %v, want an error naming it", err)
	}
}

// TestMutantDrillTargetCheckedAfterSubvolumeWithout: a subvolume without a
// drill target ("a") must not end the drill-target checks of the ones after
// it ("b", whose target lies inside a's source).
func TestMutantDrillTargetCheckedAfterSubvolumeWithout(t *testing.T) {
	d := desiredFile(t, strings.Replace(twoSubvolumes, `// b's drill target`, `drillTarget: "/data/a/drills"`, 1))
	_, err := Load(d, nil)
	if err == nil || !strings.Contains(err.Error(), `drill target /data/a/drills lies inside the source of "a"`) {
		t.Fatalf("Load: %v, want b's drill target refused", err)
	}
	if !strings.Contains(err.Error(), "subvolumes.b.drillTarget") && !strings.Contains(err.Error(), `"b"`) {
		t.Errorf("the error does not name subvolume b: %v", err)
	}
	// Without it the file is valid: the error above is about the target.
	if _, err := Load(desiredFile(t, twoSubvolumes), nil); err != nil {
		t.Fatalf("the file without b's drill target: %v", err)
	}
}

const twoSubvolumes = `package drsync

stateDir: "/var/lib/drsync-test"
locations: pool: path: "/data/.snapshots"
tiers: "1": {rpo: "7d", rto: "1h"}
subvolumes: {
	a: {tier: "1", source: "/data/a", snapshots: {location: "pool", schedule: "daily 02:00", retention: daily: 7}}
	b: {
		tier: "1", source: "/data/b"
		// b's drill target
		snapshots: {location: "pool", schedule: "daily 03:00", retention: daily: 7}
	}
}
`

func desiredFile(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "drsync.cue")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
