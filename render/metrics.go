package render

import (
	"bytes"
	"fmt"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/drsync/drsync/render/view"
)

// Label sets. Every per-subvolume series carries its tier so that panels
// and alerts can group by it; per-location series say whether the copy is
// "local" or "external" (the design documents' values) and which declared
// location holds it.
var (
	subLabels   = []string{"subvolume", "tier"}
	locLabels   = []string{"subvolume", "tier", "location", "location_name"}
	driveLabels = []string{"location_name"}
)

func desc(name, help string, labels []string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

// The metrics. Timestamps are exported beside ages because the textfile is
// only rewritten at apply: an age frozen in the file would never grow while
// drsync is not running, so alerts and panels compute ages from timestamps
// with time(). The design documents' backup_snapshot_count is exported as
// backup_snapshots: promtool's linter reserves "_count" for histograms.
var (
	// Declared targets, always present: they make the alert rules generic.
	mRPOTarget       = desc("backup_rpo_target_seconds", "RPO target of the subvolume's tier: the age its newest verified restorable copy may reach.", subLabels)
	mRTOTarget       = desc("backup_rto_target_seconds", "RTO target of the subvolume: the longest a full restore may take.", subLabels)
	mTestInterval    = desc("backup_restore_test_interval_seconds", "How often the subvolume's tier wants a restore test.", subLabels)
	mDrillInterval   = desc("backup_drill_interval_seconds", "How often the subvolume's tier wants a full restore drill; absent when it wants none.", subLabels)
	mScheduleIntvl   = desc("backup_schedule_interval_seconds", "Longest gap between two due slots of the subvolume's schedule at a location.", locLabels)
	mDriveInterval   = desc("backup_external_drive_interval_seconds", "How often the external drive must be present: its most frequent replica schedule.", driveLabels)
	mLastSuccess     = desc("backup_last_success_timestamp", "Unix time of the last apply that snapshotted or sent the subvolume without error.", subLabels)
	mDuration        = desc("backup_duration_seconds", "Duration of that backup (snapshot and send).", subLabels)
	mSendFailing     = desc("backup_send_failing_since_timestamp", "Unix time the subvolume's sends to its external location started failing; absent while the last send succeeded. drsync status and plan give btrfs's reason.", subLabels)
	mSize            = desc("backup_size_bytes", "Stream size of the subvolume's last send to its external location.", subLabels)
	mSnapshots       = desc("backup_snapshots", "Number of snapshots of the subvolume at a location.", locLabels)
	mNewest          = desc("backup_newest_snapshot_timestamp", "Unix time of the subvolume's newest snapshot at a location.", locLabels)
	mAge             = desc("backup_age_seconds", "Age of the subvolume's newest snapshot at a location when the metrics were written.", locLabels)
	mTestSuccess     = desc("backup_restore_test_success", "Whether the subvolume's newest restore test passed (1) or failed (0).", subLabels)
	mTestDuration    = desc("backup_restore_test_duration_seconds", "Duration of the subvolume's newest restore test.", subLabels)
	mTestFiles       = desc("backup_restore_test_files_validated", "Files the subvolume's newest restore test validated.", subLabels)
	mTestLastRun     = desc("backup_restore_test_last_run_timestamp", "Unix time of the subvolume's newest restore test.", subLabels)
	mTestsRun        = desc("backup_restore_tests_total", "Restore tests of the subvolume on record.", subLabels)
	mTestsPassed     = desc("backup_restore_tests_passed_total", "Passing restore tests of the subvolume on record.", subLabels)
	mVerified        = desc("backup_verified_snapshot_timestamp", "Unix time of the newest snapshot of the subvolume a passing restore test verified.", subLabels)
	mVerifiedAge     = desc("backup_verified_age_seconds", "Age of the newest verified restorable snapshot when the metrics were written: the real RPO.", subLabels)
	mDrillSuccess    = desc("backup_drill_success", "Whether the subvolume's newest full restore drill passed (1) or failed (0).", subLabels)
	mDrillLastRun    = desc("backup_drill_last_run_timestamp", "Unix time of the subvolume's newest full restore drill.", subLabels)
	mDrillDuration   = desc("backup_drill_duration_seconds", "Duration of the subvolume's newest full restore drill.", subLabels)
	mDrillBytes      = desc("backup_drill_bytes", "Bytes the subvolume's newest full restore drill restored.", subLabels)
	mRTOMeasured     = desc("backup_rto_measured_seconds", "Measured RTO: restore time of the subvolume's newest drill, when it passed (its verification not included).", subLabels)
	mDrillRestore    = desc("backup_drill_restore_seconds", "Restore (receive) time of the subvolume's newest full restore drill: what a recovery costs.", subLabels)
	mDrillVerify     = desc("backup_drill_verify_seconds", "Verification time of the subvolume's newest full restore drill: every file compared.", subLabels)
	mDriveSeen       = desc("backup_external_drive_last_seen_timestamp", "Unix time the external drive was last known present (mounted at an apply, or its newest replica).", driveLabels)
	mRuns            = desc("drsync_reconcile_runs_total", "drsync apply runs on record by result.", []string{"result"})
	mLastRun         = desc("drsync_reconcile_last_run_timestamp", "Unix time of drsync's last apply run.", nil)
	mLastRunDuration = desc("drsync_reconcile_last_duration_seconds", "Duration of drsync's last apply run.", nil)
	mLastResult      = desc("drsync_reconcile_last_result", "Result of drsync's last apply run: 1 for the result it had, 0 for the others.", []string{"result"})
)

var allMetrics = []*prometheus.Desc{
	mRPOTarget, mRTOTarget, mTestInterval, mDrillInterval, mScheduleIntvl, mDriveInterval,
	mLastSuccess, mDuration, mSize, mSendFailing, mSnapshots, mNewest, mAge,
	mTestSuccess, mTestDuration, mTestFiles, mTestLastRun, mTestsRun, mTestsPassed,
	mVerified, mVerifiedAge, mDrillSuccess, mDrillLastRun, mDrillDuration, mDrillBytes, mRTOMeasured,
	mDrillRestore, mDrillVerify,
	mDriveSeen, mRuns, mLastRun, mLastRunDuration, mLastResult,
	mCoverageTarget, mCoverageWindow, mCoverage,
	mRehearsalInterval, mRehearsalSuccess, mRehearsalLastRun, mRehearsalLastOK, mRehearsalDuration, mRehearsalBytes,
}

// reconcileResults are the results an apply run can have; each gets a
// drsync_reconcile_last_result sample so a panel can show which one holds.
var reconcileResults = []string{"applied", "failed", "stopped"}

// collector exports an Input as constant metrics: the Input is a snapshot
// of history, so counters are counts on record, not live increments.
type collector struct{ in view.Input }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range append(allMetrics, offsiteMetrics...) {
		ch <- d
	}
}

// Collect emits only what is known: a subvolume never tested has no
// restore-test samples rather than a fake 0, and the alert rules use the
// always-present targets to notice what is missing.
func (c collector) Collect(ch chan<- prometheus.Metric) {
	in := c.in
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- constMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- constMetric(d, prometheus.CounterValue, v, labels...)
	}
	for _, s := range view.Tracked(in) {
		l := []string{s.Name, s.Tier}
		st := s.Status
		gauge(mRPOTarget, seconds(s.RPO), l...)
		gauge(mRTOTarget, seconds(s.RTO), l...)
		gauge(mTestInterval, seconds(s.RestoreEvery), l...)
		if s.DrillEvery > 0 {
			gauge(mDrillInterval, seconds(s.DrillEvery), l...)
		}
		collectCoverage(in, s, gauge)
		locs := []copyAt{{"local", s.Snapshots.Location, s.Snapshots.Schedule.Period(), st.LocalCount, st.NewestLocal}}
		if s.External != nil {
			locs = append(locs, copyAt{"external", s.External.Location, s.External.Schedule.Period(), st.ExternalCount, st.NewestExternal})
		}
		for _, loc := range locs {
			ll := append(l[:2:2], loc.kind, loc.name)
			gauge(mScheduleIntvl, seconds(loc.period), ll...)
			if !s.Known {
				continue
			}
			gauge(mSnapshots, float64(loc.count), ll...)
			if !loc.newest.IsZero() {
				gauge(mNewest, unix(loc.newest), ll...)
				gauge(mAge, seconds(max(0, in.Now.Sub(loc.newest))), ll...) // never negative, even for a clock that ran ahead
			}
		}
		if !s.Known {
			continue
		}
		if !st.LastSuccess.IsZero() {
			gauge(mLastSuccess, unix(st.LastSuccess), l...)
			gauge(mDuration, seconds(st.LastDuration), l...)
		}
		if s.External != nil && !st.NewestExternal.IsZero() {
			gauge(mSize, float64(st.SizeBytes), l...)
		}
		if !st.SendFailingSince.IsZero() {
			gauge(mSendFailing, unix(st.SendFailingSince), l...)
		}
		if t := st.Test; t != nil {
			gauge(mTestSuccess, boolean(t.Passed), l...)
			gauge(mTestDuration, seconds(t.Duration), l...)
			gauge(mTestFiles, float64(t.Files), l...)
			gauge(mTestLastRun, unix(t.Time), l...)
		}
		counter(mTestsRun, float64(st.TestsRun), l...)
		counter(mTestsPassed, float64(st.TestsPassed), l...)
		if !st.Verified.IsZero() {
			gauge(mVerified, unix(st.Verified), l...)
			gauge(mVerifiedAge, seconds(max(0, in.Now.Sub(st.Verified))), l...)
		}
		if d := st.Drill; d != nil {
			gauge(mDrillSuccess, boolean(d.Passed), l...)
			gauge(mDrillLastRun, unix(d.Time), l...)
			gauge(mDrillDuration, seconds(d.Duration), l...)
			gauge(mDrillBytes, float64(d.Bytes), l...)
			if d.Restore > 0 {
				gauge(mDrillRestore, seconds(d.Restore), l...)
				gauge(mDrillVerify, seconds(d.Verify), l...)
			}
			if d.Passed {
				gauge(mRTOMeasured, seconds(d.RTO()), l...)
			}
		}
	}
	collectOffsite(in, gauge)
	names, by := view.ExternalLocations(in)
	for _, name := range names {
		gauge(mDriveInterval, seconds(view.DriveInterval(by[name])), name)
		if seen := view.DriveLastSeen(in, name, by[name]); !seen.IsZero() {
			gauge(mDriveSeen, unix(seen), name)
		}
	}
	r := in.Reconcile
	for result, n := range r.Runs {
		counter(mRuns, float64(n), result)
	}
	if !r.LastRun.IsZero() {
		gauge(mLastRun, unix(r.LastRun))
		gauge(mLastRunDuration, seconds(r.LastDuration))
		results := reconcileResults
		if !slices.Contains(results, r.LastResult) {
			results = append(results[:len(results):len(results)], r.LastResult)
		}
		for _, res := range results {
			gauge(mLastResult, boolean(res == r.LastResult), res)
		}
	}
	collectRehearsals(in, gauge)
}

// constMetric turns a mismatch between labels and descriptor into an
// invalid metric, which Gather reports, instead of a panic.
func constMetric(d *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string) prometheus.Metric {
	m, err := prometheus.NewConstMetric(d, t, v, labels...)
	if err != nil {
		return prometheus.NewInvalidMetric(d, err)
	}
	return m
}

func seconds(d time.Duration) float64 { return d.Seconds() }
func unix(t time.Time) float64        { return float64(t.Unix()) }

func boolean(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// copyAt is where a subvolume keeps copies: its local snapshots or its
// external replicas.
type copyAt struct {
	kind, name string
	period     time.Duration
	count      int
	newest     time.Time
}

// Registry builds a registry holding every metric of in, used both for the
// textfile and by `drsync watch` for /metrics. It is pedantic so that a
// sample that does not fit its description fails Gather.
func Registry(in view.Input) (*prometheus.Registry, error) {
	if err := view.Check(in); err != nil {
		return nil, err
	}
	reg := prometheus.NewPedanticRegistry()
	// A named machine's every series carries its name, so one Prometheus
	// can watch a fleet and every alert says which machine.
	var r prometheus.Registerer = reg
	if h := in.Desired.Host; h != "" {
		r = prometheus.WrapRegistererWith(prometheus.Labels{"host": h}, reg)
	}
	if err := r.Register(collector{in}); err != nil {
		return nil, fmt.Errorf("registering drsync metrics: %w", err)
	}
	return reg, nil
}

// Metrics encodes Registry(in) in the text exposition format for the
// node_exporter textfile collector. Gather sorts families and samples, so
// equal inputs give equal bytes.
func Metrics(in view.Input) ([]byte, error) {
	reg, err := Registry(in)
	if err != nil {
		return nil, err
	}
	mfs, err := reg.Gather()
	if err != nil {
		return nil, fmt.Errorf("gathering drsync metrics: %w", err)
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return nil, fmt.Errorf("encoding %s: %w", mf.GetName(), err)
		}
	}
	return buf.Bytes(), nil
}
