package dashboard

import "github.com/drsync/drsync/render/view"

// coveragePanel shows each copy's verified shares against the target.
func coveragePanel(in view.Input) panel {
	p := table("Coverage: verified within the window", 24, 6,
		map[string]string{"Value #A": "Verified share", "Value #B": "Target", "Value #C": "Window"},
		map[string]propertyValue{"Verified share": unit("percentunit"), "Target": unit("percentunit"), "Window": unit("s")},
		query(`backup_coverage_verified_ratio`, ""),
		query(`0 * backup_coverage_verified_ratio + on (host, subvolume, tier) group_left backup_coverage_target_ratio`, ""),
		query(`0 * backup_coverage_verified_ratio + on (host, subvolume, tier) group_left backup_coverage_window_seconds`, ""))
	p.Description = "Share of each copy's files and bytes that restore tests' slices verified within the tier's coverage window (CoverageBelowTarget fires under the target)."
	return p
}
