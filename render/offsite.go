package render

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/drsync/drsync/internal/shellwords"
)

// Off-site copies (an ssh host, an S3 bucket) in the metrics, the alert
// rules and their tests, and the dashboard. Every series carries the
// target's name and kind beside the subvolume (or service) and its tier.

// OffsiteStatus is the recorded evidence about the copies of one
// subvolume or service on one off-site target.
type OffsiteStatus struct {
	// Observed says Copies was counted on the target by this run; Newest
	// may still be known from the last send when it was not.
	Observed bool
	Copies   int       // restorable copies on the target
	Newest   time.Time // snapshot time of the newest restorable copy (zero = none known)
	// LastSuccess and SentBytes are of the last successful send there.
	LastSuccess time.Time
	SentBytes   int64
	Test        *TestEvidence  // newest restore test of a copy there
	Verified    time.Time      // newest snapshot a passing test or drill there verified
	Drill       *DrillEvidence // newest drill from there: its duration is DR-004's RTO
}

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

// offsiteCopy is one declared pair of a subvolume (or service) and a
// target, with its cadences resolved and its evidence attached.
type offsiteCopy struct {
	owner      subvolume
	target     string
	kind       string
	interval   time.Duration // of sends there
	testEvery  time.Duration
	drillEvery time.Duration // zero: no drills
	status     OffsiteStatus
	known      bool
}

func (c offsiteCopy) labels() []string {
	return []string{c.owner.Name, c.owner.Tier, c.target, c.kind}
}

// offsiteCopies lists the declared off-site copies: subvolumes first, then
// services, each by target name.
func offsiteCopies(in Input) []offsiteCopy {
	d := in.Desired
	var out []offsiteCopy
	for _, s := range tracked(in) {
		sub, svc := d.Subvolumes[s.Name], d.Services[s.Name]
		for _, name := range d.TargetNames() {
			c := offsiteCopy{owner: s, target: name, kind: d.Targets[name].Kind}
			switch {
			case sub != nil && sub == s.Subvolume:
				sends, ok := sub.Offsite[name]
				if !ok {
					continue
				}
				c.interval = sends.Schedule.Period()
				c.testEvery = d.OffsiteTestEvery(sub.Tier, sends.RestoreTest)
				c.drillEvery = d.OffsiteDrillEvery(sub.Tier, sends.Drill)
			case svc != nil:
				copies, ok := svc.Offsite[name]
				if !ok {
					continue
				}
				c.interval = svc.Schedule.Period()
				c.testEvery = d.OffsiteTestEvery(svc.Tier, copies.RestoreTest)
			default:
				continue
			}
			c.status, c.known = s.status.Offsite[name]
			out = append(out, c)
		}
	}
	return out
}

// collectOffsite emits the off-site series: the declared cadences always,
// evidence only when known.
func collectOffsite(in Input, gauge func(*prometheus.Desc, float64, ...string)) {
	for _, c := range offsiteCopies(in) {
		l := c.labels()
		gauge(mOffInterval, seconds(c.interval), l...)
		gauge(mOffTestInterval, seconds(c.testEvery), l...)
		if c.drillEvery > 0 {
			gauge(mOffDrillIntvl, seconds(c.drillEvery), l...)
		}
		if !c.known {
			continue
		}
		st := c.status
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

// offsiteAlerts are the off-site rules: a copy that stopped arriving, a
// test or drill that failed, a test that is overdue. They point at DR-004,
// the runbook that needs the off-site copy.
func offsiteAlerts(in Input) []alert {
	if len(offsiteCopies(in)) == 0 {
		return nil
	}
	d := in.Desired
	f := shellwords.Quote(d.Generate.DesiredFile)
	bin := shellwords.Quote(d.Generate.Binary)
	rb := runbookPath(in, runbookTotal)
	test := fmt.Sprintf("`%s offsite test {{ $labels.target }} {{ $labels.subvolume }} -f %s`", bin, f)
	return []alert{{
		name: "OffsiteTooOld",
		expr: `(time() - backup_offsite_newest_snapshot_timestamp > 2 * backup_offsite_interval_seconds)
or
(backup_offsite_interval_seconds unless backup_offsite_newest_snapshot_timestamp)`,
		forDur: time.Hour, severity: "warning", category: "backup",
		summary:     "Off-site copy of {{ $labels.subvolume }} on {{ $labels.target }} is too old",
		description: fmt.Sprintf("The newest copy of {{ $labels.subvolume }} (tier {{ $labels.tier }}) on {{ $labels.target }} ({{ $labels.target_kind }}) is older than twice its off-site interval, or there is none: a fire or a theft would lose more than planned. `%s plan -f %s` says why sends wait (an unreachable target is deferred); `%s offsite list {{ $labels.target }} -f %s` shows what it holds.", bin, f, bin, f),
		runbook:     rb,
	}, {
		name:   "OffsiteTestFailed",
		expr:   `(backup_offsite_restore_test_success == 0) or (backup_offsite_drill_success == 0)`,
		forDur: 5 * time.Minute, severity: "critical", category: "disaster-recovery",
		summary:     "Off-site copy of {{ $labels.subvolume }} on {{ $labels.target }} failed its test",
		description: fmt.Sprintf("The newest restore test or drill of the copy of {{ $labels.subvolume }} (tier {{ $labels.tier }}) on {{ $labels.target }} failed: after a fire or a theft it may not restore. `%s status -f %s` names the failure; test again with %s.", bin, f, test),
		runbook:     rb,
	}, {
		name: "OffsiteTestOverdue",
		expr: fmt.Sprintf(`(time() - backup_offsite_restore_test_last_run_timestamp > %[1]g * backup_offsite_restore_test_interval_seconds)
or
(backup_offsite_restore_test_interval_seconds unless backup_offsite_restore_test_last_run_timestamp)`, cadenceSlack),
		forDur: time.Hour, severity: "warning", category: "disaster-recovery",
		summary:     "Off-site restore test overdue for {{ $labels.subvolume }} on {{ $labels.target }}",
		description: fmt.Sprintf("The copies of {{ $labels.subvolume }} (tier {{ $labels.tier }}) on {{ $labels.target }} have had no restore test for %g times their interval, or never had one: the off-site copy is unproven. Run %s.", cadenceSlack, test),
		runbook:     rb,
	}}
}

// offsiteAlertTests adds the edge tests of the off-site rules, with the
// first declared off-site copy.
func offsiteAlertTests(in Input, byName map[string]alert, host func(map[string]string) map[string]string,
	add func(string, alert, map[string]string, []seriesSpec, timing)) {
	all := offsiteCopies(in)
	if len(all) == 0 {
		return
	}
	c := all[0]
	l := host(map[string]string{"subvolume": c.owner.Name, "tier": c.owner.Tier, "target": c.target, "target_kind": c.kind})
	interval := seriesSpec{"backup_offsite_interval_seconds", l, flat(seconds(c.interval))}
	a := byName["OffsiteTooOld"]
	add("OffsiteTooOld: newest copy just inside and past twice the off-site interval", a, l,
		[]seriesSpec{{"backup_offsite_newest_snapshot_timestamp", l, crossing(2 * seconds(c.interval))}, interval}, crossingTiming)
	add("OffsiteTooOld: nothing off-site yet", a, l, []seriesSpec{interval}, fromStartTiming)

	a = byName["OffsiteTestFailed"]
	add("OffsiteTestFailed: passing test quiet, failed test fires", a, l,
		[]seriesSpec{{"backup_offsite_restore_test_success", l, step2(1, 0)}}, stepTiming)
	add("OffsiteTestFailed: passing test, failed drill fires", a, l,
		[]seriesSpec{{"backup_offsite_restore_test_success", l, flat(1)}, {"backup_offsite_drill_success", l, step2(1, 0)}}, stepTiming)

	a = byName["OffsiteTestOverdue"]
	every := seriesSpec{"backup_offsite_restore_test_interval_seconds", l, flat(seconds(c.testEvery))}
	add("OffsiteTestOverdue: last test just inside and past the interval with slack", a, l,
		[]seriesSpec{{"backup_offsite_restore_test_last_run_timestamp", l, crossing(cadenceSlack * seconds(c.testEvery))}, every}, crossingTiming)
	add("OffsiteTestOverdue: never tested", a, l, []seriesSpec{every}, fromStartTiming)
}

// offsitePanels are the dashboard's off-site row: lag per target against
// its interval, what each target holds and when it was last proven, the
// bytes each send moves, and drills from off-site against the RTO.
func offsitePanels(in Input) []panel {
	all := offsiteCopies(in)
	if len(all) == 0 {
		return nil
	}
	var lag []override
	for _, c := range all {
		lag = append(lag, thresholdOverride(c.owner.Name+" → "+c.target, seconds(c.interval), 2*seconds(c.interval)))
	}
	const by = "max by (subvolume, tier, target, target_kind) "
	return []panel{
		stat("Off-site lag", 24, 6,
			"Age of the newest copy on each off-site target: yellow past its off-site interval, red past twice it (OffsiteTooOld).",
			"s", lag,
			query(`time() - backup_offsite_newest_snapshot_timestamp`, "{{subvolume}} → {{target}}")),
		withResultMapping(table("Off-site copies per target", 24, 8,
			map[string]string{"Value #A": "Result", "Value #B": "Tested", "Value #C": "Newest copy", "Value #D": "Copies",
				"Value #E": "Last send", "Value #F": "Bytes sent", "Value #G": "Verified snapshot"},
			map[string]propertyValue{"Tested": unit("dateTimeFromNow"), "Newest copy": unit("dateTimeFromNow"),
				"Last send": unit("dateTimeFromNow"), "Bytes sent": unit("bytes"), "Verified snapshot": unit("dateTimeFromNow")},
			query(by+`(backup_offsite_restore_test_success)`, ""),
			query(by+`(backup_offsite_restore_test_last_run_timestamp) * 1000`, ""),
			query(by+`(backup_offsite_newest_snapshot_timestamp) * 1000`, ""),
			query(by+`(backup_offsite_copies)`, ""),
			query(by+`(backup_offsite_last_success_timestamp) * 1000`, ""),
			query(by+`(backup_offsite_last_send_bytes)`, ""),
			query(by+`(backup_offsite_verified_snapshot_timestamp) * 1000`, ""))),
		timeSeries("Off-site bytes per send", 12, 8, "bytes",
			query(`backup_offsite_last_send_bytes`, "{{subvolume}} → {{target}}")),
		withResultMapping(table("Drills from off-site (DR-004 RTO)", 12, 8,
			map[string]string{"Value #A": "Result", "Value #B": "Restore", "Value #C": "Verify", "Value #D": "Total", "Value #E": "Drilled"},
			map[string]propertyValue{"Restore": unit("s"), "Verify": unit("s"), "Total": unit("s"), "Drilled": unit("dateTimeFromNow")},
			query(by+`(backup_offsite_drill_success)`, ""),
			query(by+`(backup_offsite_drill_restore_seconds)`, ""),
			query(by+`(backup_offsite_drill_verify_seconds)`, ""),
			query(by+`(backup_offsite_drill_duration_seconds)`, ""),
			query(by+`(backup_offsite_drill_last_run_timestamp) * 1000`, ""))),
	}
}
