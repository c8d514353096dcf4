package alerts

import (
	"fmt"
	"time"

	"github.com/drsync/drsync/render/view"
)

// coverageAlert fires when a copy's verified share of files or bytes is
// below the declared target, or coverage is declared and nothing is known.
func coverageAlert(bin, desiredFile, rb string) alert {
	return alert{
		name: "CoverageBelowTarget",
		expr: `(backup_coverage_verified_ratio < on (host, subvolume, tier) group_left backup_coverage_target_ratio)
or
(backup_coverage_target_ratio unless on (host, subvolume, tier) backup_coverage_verified_ratio)`,
		forDur: time.Hour, severity: "warning", category: "disaster-recovery",
		summary: "Coverage of {{ $labels.subvolume }} is below its target",
		description: fmt.Sprintf("Restore tests verified less than the declared share of the %s of {{ $labels.subvolume }} (tier {{ $labels.tier }}) on %s within its coverage window, or nothing is known: the rest of the copy is unproven. `%s status -f %s` shows the shortfall; `%s test --subvolume {{ $labels.subvolume }} -f %s` verifies the next slice.",
			"{{ $labels.share }}", "{{ $labels.location_name }}", bin, desiredFile, bin, desiredFile),
		runbook: rb,
	}
}

// coverageAlertTests: a copy's share at the target is quiet and one point
// under it fires; declared coverage with no evidence fires from the start.
func coverageAlertTests(in view.Input, a alert, host func(map[string]string) map[string]string) []testGroup {
	for _, s := range view.Subvolumes(in) {
		_, target := view.CoverageOf(in.Desired, s)
		if target == 0 {
			continue
		}
		sl := host(map[string]string{"subvolume": s.Name, "tier": s.Tier})
		copyLabels := with(sl, "location", "local", "location_name", s.Snapshots.Location, "share", "bytes")
		targetSeries := seriesSpec{"backup_coverage_target_ratio", sl, flat(target)}
		return []testGroup{
			edgeTests(in, "CoverageBelowTarget: bytes verified at the target quiet, below it fires", a, copyLabels,
				[]seriesSpec{{"backup_coverage_verified_ratio", copyLabels, step2(target, target-0.01)}, targetSeries}, stepTiming),
			edgeTests(in, "CoverageBelowTarget: declared but never measured", a, sl, []seriesSpec{targetSeries}, fromStartTiming),
		}
	}
	return nil
}
