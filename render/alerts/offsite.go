package alerts

import (
	"fmt"
	"time"

	"github.com/drsync/drsync/internal/shellwords"
	"github.com/drsync/drsync/render/runbook"
	"github.com/drsync/drsync/render/view"
)

// offsiteAlerts are the off-site rules: a copy that stopped arriving, a
// test or drill that failed, a test that is overdue. They point at DR-004,
// the runbook that needs the off-site copy.
func offsiteAlerts(in view.Input) []alert {
	if len(view.OffsiteCopies(in)) == 0 {
		return nil
	}
	d := in.Desired
	f := shellwords.Quote(d.Generate.DesiredFile)
	bin := shellwords.Quote(d.Generate.Binary)
	rb := runbookPath(in, runbook.Total)
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
(backup_offsite_restore_test_interval_seconds unless backup_offsite_restore_test_last_run_timestamp)`, CadenceSlack),
		forDur: time.Hour, severity: "warning", category: "disaster-recovery",
		summary:     "Off-site restore test overdue for {{ $labels.subvolume }} on {{ $labels.target }}",
		description: fmt.Sprintf("The copies of {{ $labels.subvolume }} (tier {{ $labels.tier }}) on {{ $labels.target }} have had no restore test for %g times their interval, or never had one: the off-site copy is unproven. Run %s.", CadenceSlack, test),
		runbook:     rb,
	}}
}

// offsiteAlertTests adds the edge tests of the off-site rules, with the
// first declared off-site copy.
func offsiteAlertTests(in view.Input, byName map[string]alert, host func(map[string]string) map[string]string,
	add func(string, alert, map[string]string, []seriesSpec, timing)) {
	all := view.OffsiteCopies(in)
	if len(all) == 0 {
		return
	}
	c := all[0]
	l := host(map[string]string{"subvolume": c.Owner.Name, "tier": c.Owner.Tier, "target": c.Target, "target_kind": c.Kind})
	interval := seriesSpec{"backup_offsite_interval_seconds", l, flat(c.Interval.Seconds())}
	a := byName["OffsiteTooOld"]
	add("OffsiteTooOld: newest copy just inside and past twice the off-site interval", a, l,
		[]seriesSpec{{"backup_offsite_newest_snapshot_timestamp", l, crossing(2 * c.Interval.Seconds())}, interval}, crossingTiming)
	add("OffsiteTooOld: nothing off-site yet", a, l, []seriesSpec{interval}, fromStartTiming)

	a = byName["OffsiteTestFailed"]
	add("OffsiteTestFailed: passing test quiet, failed test fires", a, l,
		[]seriesSpec{{"backup_offsite_restore_test_success", l, step2(1, 0)}}, stepTiming)
	add("OffsiteTestFailed: passing test, failed drill fires", a, l,
		[]seriesSpec{{"backup_offsite_restore_test_success", l, flat(1)}, {"backup_offsite_drill_success", l, step2(1, 0)}}, stepTiming)

	a = byName["OffsiteTestOverdue"]
	every := seriesSpec{"backup_offsite_restore_test_interval_seconds", l, flat(c.TestEvery.Seconds())}
	add("OffsiteTestOverdue: last test just inside and past the interval with slack", a, l,
		[]seriesSpec{{"backup_offsite_restore_test_last_run_timestamp", l, crossing(CadenceSlack * c.TestEvery.Seconds())}, every}, crossingTiming)
	add("OffsiteTestOverdue: never tested", a, l, []seriesSpec{every}, fromStartTiming)
}
