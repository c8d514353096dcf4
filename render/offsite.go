package render

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/drsync/drsync/render/view"
)

// Off-site copies (an ssh host, an S3 bucket) in the metrics. Every series
// carries the target's name and kind beside the subvolume (or service) and
// its tier.

var offLabels = []string{"subvolume", "tier", "target", "target_kind"}

var (
	mOffInterval     = desc("backup_offsite_interval_seconds", "Longest gap between two due sends to the off-site target (for a service: between two of its backups).", offLabels)
	mOffTestInterval = desc("backup_offsite_restore_test_interval_seconds", "How often the copies on the off-site target are restore-tested.", offLabels)
	mOffDrillIntvl   = desc("backup_offsite_drill_interval_seconds", "How often the newest copy on the off-site target is drilled; absent when no drill is asked for.", offLabels)
	mOffCopies       = desc("backup_offsite_copies", "Restorable copies on the off-site target when drsync last observed it.", offLabels)
	mOffNewest       = desc("backup_offsite_newest_snapshot_timestamp", "Unix time of the snapshot of the newest restorable copy on the off-site target.", offLabels)
	mOffAge          = desc("backup_offsite_age_seconds", "Age of the newest copy on the off-site target when the metrics were written: the off-site lag.", offLabels)
	mOffLastSuccess  = desc("backup_offsite_last_success_timestamp", "Unix time of the last successful send to the off-site target.", offLabels)
	mOffSentBytes    = desc("backup_offsite_last_send_bytes", "Bytes the last successful send to the off-site target moved, as stored (encrypted, on S3).", offLabels)
	mOffTestSuccess  = desc("backup_offsite_restore_test_success", "Whether the newest restore test of a copy on the off-site target passed (1) or failed (0).", offLabels)
	mOffTestLastRun  = desc("backup_offsite_restore_test_last_run_timestamp", "Unix time of the newest restore test of a copy on the off-site target.", offLabels)
	mOffVerified     = desc("backup_offsite_verified_snapshot_timestamp", "Unix time of the newest snapshot whose copy on the off-site target a passing test or drill verified.", offLabels)
	mOffDrillSuccess = desc("backup_offsite_drill_success", "Whether the newest drill from the off-site target passed (1) or failed (0).", offLabels)
	mOffDrillLastRun = desc("backup_offsite_drill_last_run_timestamp", "Unix time of the newest drill from the off-site target.", offLabels)
	mOffDrillSeconds = desc("backup_offsite_drill_duration_seconds", "Duration of the newest drill from the off-site target (download, decrypt, receive, verify): the RTO of a total loss.", offLabels)
	mOffDrillRestore = desc("backup_offsite_drill_restore_seconds", "Of that drill, the time to fetch and receive the copy.", offLabels)
	mOffDrillVerify  = desc("backup_offsite_drill_verify_seconds", "Of that drill, the time to verify every file.", offLabels)
)

var offsiteMetrics = []*prometheus.Desc{
	mOffInterval, mOffTestInterval, mOffDrillIntvl, mOffCopies, mOffNewest, mOffAge, mOffLastSuccess, mOffSentBytes,
	mOffTestSuccess, mOffTestLastRun, mOffVerified, mOffDrillSuccess, mOffDrillLastRun, mOffDrillSeconds,
	mOffDrillRestore, mOffDrillVerify,
}

// offsiteLabels are a copy's values of offLabels.
func offsiteLabels(c view.OffsiteCopy) []string {
	return []string{c.Owner.Name, c.Owner.Tier, c.Target, c.Kind}
}

// collectOffsite emits the off-site series: the declared cadences always,
// evidence only when known.
func collectOffsite(in view.Input, gauge func(*prometheus.Desc, float64, ...string)) {
	for _, c := range view.OffsiteCopies(in) {
		l := offsiteLabels(c)
		gauge(mOffInterval, seconds(c.Interval), l...)
		gauge(mOffTestInterval, seconds(c.TestEvery), l...)
		if c.DrillEvery > 0 {
			gauge(mOffDrillIntvl, seconds(c.DrillEvery), l...)
		}
		if !c.Known {
			continue
		}
		st := c.Status
		if st.Observed {
			gauge(mOffCopies, float64(st.Copies), l...)
		}
		if !st.Newest.IsZero() {
			gauge(mOffNewest, unix(st.Newest), l...)
			gauge(mOffAge, seconds(max(0, in.Now.Sub(st.Newest))), l...)
		}
		if !st.LastSuccess.IsZero() {
			gauge(mOffLastSuccess, unix(st.LastSuccess), l...)
			gauge(mOffSentBytes, float64(st.SentBytes), l...)
		}
		if t := st.Test; t != nil {
			gauge(mOffTestSuccess, boolean(t.Passed), l...)
			gauge(mOffTestLastRun, unix(t.Time), l...)
		}
		if !st.Verified.IsZero() {
			gauge(mOffVerified, unix(st.Verified), l...)
		}
		if dr := st.Drill; dr != nil {
			gauge(mOffDrillSuccess, boolean(dr.Passed), l...)
			gauge(mOffDrillLastRun, unix(dr.Time), l...)
			gauge(mOffDrillSeconds, seconds(dr.Duration), l...)
			if dr.Restore > 0 || dr.Verify > 0 {
				gauge(mOffDrillRestore, seconds(dr.Restore), l...)
				gauge(mOffDrillVerify, seconds(dr.Verify), l...)
			}
		}
	}
}
