package render

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/drsync/drsync/render/view"
)

// Coverage metrics: the declared target and window per subvolume, and the
// verified share of files and of bytes per copy (label share).
var (
	mCoverageTarget = desc("backup_coverage_target_ratio", "Share of files and of bytes of each copy that restore tests must verify within the coverage window (the tier's coverageAlertBelow); absent when the tier declares no coverage.", subLabels)
	mCoverageWindow = desc("backup_coverage_window_seconds", "The tier's coverage window: every file of every copy is to be verified within it.", subLabels)
	mCoverage       = desc("backup_coverage_verified_ratio", "Share of the files (share=\"files\") or bytes (share=\"bytes\") of the copy's newest snapshot that a restore test's slice verified within the coverage window.", append(locLabels[:len(locLabels):len(locLabels)], "share"))
)

// collectCoverage emits a subvolume's coverage series.
func collectCoverage(in view.Input, s view.Subvolume, gauge func(d *prometheus.Desc, v float64, labels ...string)) {
	window, target := view.CoverageOf(in.Desired, s)
	if window == 0 {
		return
	}
	l := []string{s.Name, s.Tier}
	gauge(mCoverageTarget, target, l...)
	gauge(mCoverageWindow, seconds(window), l...)
	for _, c := range s.Status.Coverage {
		kind := "local"
		if c.External {
			kind = "external"
		}
		ll := append(l[:2:2], kind, c.Location)
		gauge(mCoverage, c.FileShare(), append(ll, "files")...)
		gauge(mCoverage, c.ByteShare(), append(ll[:4:4], "bytes")...)
	}
}
