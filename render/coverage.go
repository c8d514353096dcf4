package render

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/drsync/drsync/internal/humane"
	"github.com/drsync/drsync/schema"
)

// CopyCoverage is how much of one copy of a subvolume (its local
// snapshots, or its replicas on a drive) or of a service (its archives'
// copies on the drive, else its local archives) restore tests verified
// within the tier's coverage window: the files and bytes of its newest snapshot, and
// how many of them a slice verified, against that snapshot or an older one
// they are unchanged since.
type CopyCoverage struct {
	Location string
	External bool
	Snapshot string
	// Files and Bytes are the newest snapshot's; VerifiedFiles and
	// VerifiedBytes the part of them verified within the window.
	Files, VerifiedFiles int64
	Bytes, VerifiedBytes int64
}

// FileShare is the verified share of files; a copy without files is
// wholly verified, there being nothing to prove.
func (c CopyCoverage) FileShare() float64 { return share(c.VerifiedFiles, c.Files) }

// ByteShare is the verified share of bytes.
func (c CopyCoverage) ByteShare() float64 { return share(c.VerifiedBytes, c.Bytes) }

func share(part, whole int64) float64 {
	if whole <= 0 {
		return 1
	}
	return float64(part) / float64(whole)
}

// Line is the status line of a copy: "verified within 90d: 100% of files,
// 100% of bytes" or the shortfall in counts.
func (c CopyCoverage) Line(window time.Duration) string {
	line := fmt.Sprintf("verified within %s: %s of files, %s of bytes", schema.FormatDuration(window), percent(c.FileShare()), percent(c.ByteShare()))
	if c.VerifiedFiles < c.Files || c.VerifiedBytes < c.Bytes {
		line += fmt.Sprintf(" (%d of %d files, %s of %s unverified)", c.Files-c.VerifiedFiles, c.Files,
			humane.Bytes(c.Bytes-c.VerifiedBytes), humane.Bytes(c.Bytes))
	}
	return line
}

// percent rounds down, so a copy short of a single file never shows 100%.
func percent(f float64) string {
	p := int(f * 100)
	if f < 1 && p == 100 {
		p = 99
	}
	return fmt.Sprintf("%d%%", p)
}

// Coverage metrics: the declared target and window per subvolume, and the
// verified share of files and of bytes per copy (label share).
var (
	mCoverageTarget = desc("backup_coverage_target_ratio", "Share of files and of bytes of each copy that restore tests must verify within the coverage window (the tier's coverageAlertBelow); absent when the tier declares no coverage.", subLabels)
	mCoverageWindow = desc("backup_coverage_window_seconds", "The tier's coverage window: every file of every copy is to be verified within it.", subLabels)
	mCoverage       = desc("backup_coverage_verified_ratio", "Share of the files (share=\"files\") or bytes (share=\"bytes\") of the copy's newest snapshot that a restore test's slice verified within the coverage window.", append(locLabels[:len(locLabels):len(locLabels)], "share"))
)

// coverageOf is a subvolume's declared window and target (zero window:
// none declared).
func coverageOf(d *schema.Desired, s subvolume) (window time.Duration, target float64) {
	rt := d.Tiers[s.Tier].RestoreTest
	if rt.Coverage == nil {
		return 0, 0
	}
	return rt.Coverage.Duration, rt.CoverageAlertBelow
}

// collectCoverage emits a subvolume's coverage series.
func collectCoverage(in Input, s subvolume, gauge func(d *prometheus.Desc, v float64, labels ...string)) {
	window, target := coverageOf(in.Desired, s)
	if window == 0 {
		return
	}
	l := []string{s.Name, s.Tier}
	gauge(mCoverageTarget, target, l...)
	gauge(mCoverageWindow, seconds(window), l...)
	for _, c := range s.status.Coverage {
		kind := "local"
		if c.External {
			kind = "external"
		}
		ll := append(l[:2:2], kind, c.Location)
		gauge(mCoverage, c.FileShare(), append(ll, "files")...)
		gauge(mCoverage, c.ByteShare(), append(ll[:4:4], "bytes")...)
	}
}

// anyCoverage reports whether some tier used by a subvolume or service
// declares a coverage window: the alert, its tests and the panel exist
// only then.
func anyCoverage(in Input) bool {
	for _, s := range tracked(in) {
		if w, _ := coverageOf(in.Desired, s); w > 0 {
			return true
		}
	}
	return false
}

// coverageAlert fires when a copy's verified share of files or bytes is
// below the declared target, or coverage is declared and nothing is known.
func coverageAlert(bin, desiredFile, runbook string) alert {
	return alert{
		name: "CoverageBelowTarget",
		expr: `(backup_coverage_verified_ratio < on (host, subvolume, tier) group_left backup_coverage_target_ratio)
or
(backup_coverage_target_ratio unless on (host, subvolume, tier) backup_coverage_verified_ratio)`,
		forDur: time.Hour, severity: "warning", category: "disaster-recovery",
		summary: "Coverage of {{ $labels.subvolume }} is below its target",
		description: fmt.Sprintf("Restore tests verified less than the declared share of the %s of {{ $labels.subvolume }} (tier {{ $labels.tier }}) on %s within its coverage window, or nothing is known: the rest of the copy is unproven. `%s status -f %s` shows the shortfall; `%s test --subvolume {{ $labels.subvolume }} -f %s` verifies the next slice.",
			"{{ $labels.share }}", "{{ $labels.location_name }}", bin, desiredFile, bin, desiredFile),
		runbook: runbook,
	}
}

// coverageAlertTests: a copy's share at the target is quiet and one point
// under it fires; declared coverage with no evidence fires from the start.
func coverageAlertTests(in Input, a alert, host func(map[string]string) map[string]string) []testGroup {
	for _, s := range subvolumes(in) {
		_, target := coverageOf(in.Desired, s)
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

// coveragePanel shows each copy's verified shares against the target.
func coveragePanel(in Input) panel {
	p := table("Coverage: verified within the window", 24, 6,
		map[string]string{"Value #A": "Verified share", "Value #B": "Target", "Value #C": "Window"},
		map[string]propertyValue{"Verified share": unit("percentunit"), "Target": unit("percentunit"), "Window": unit("s")},
		query(`backup_coverage_verified_ratio`, ""),
		query(`0 * backup_coverage_verified_ratio + on (host, subvolume, tier) group_left backup_coverage_target_ratio`, ""),
		query(`0 * backup_coverage_verified_ratio + on (host, subvolume, tier) group_left backup_coverage_window_seconds`, ""))
	p.Description = "Share of each copy's files and bytes that restore tests' slices verified within the tier's coverage window (CoverageBelowTarget fires under the target)."
	return p
}

// rbCoverage is a runbook's coverage row: one copy of a subvolume.
type rbCoverage struct {
	Subvolume, Copy, Window, Line string
}

// rbCoverageRows lists the coverage of every copy of the covered
// subvolumes, for the runbooks' evidence.
func rbCoverageRows(in Input, subs []rbSubvolume) []rbCoverage {
	var out []rbCoverage
	for _, s := range subvolumes(in) {
		window, _ := coverageOf(in.Desired, s)
		if window == 0 || !coveredBy(subs, s.Name) {
			continue
		}
		if len(s.status.Coverage) == 0 {
			out = append(out, rbCoverage{Subvolume: s.Name, Copy: "—", Window: schema.FormatDuration(window), Line: "**nothing verified yet**"})
		}
		for _, c := range s.status.Coverage {
			out = append(out, rbCoverage{Subvolume: s.Name, Copy: c.Location, Window: schema.FormatDuration(window), Line: c.Line(window)})
		}
	}
	return out
}

func coveredBy(subs []rbSubvolume, name string) bool {
	for _, s := range subs {
		if s.Name == name {
			return true
		}
	}
	return false
}
