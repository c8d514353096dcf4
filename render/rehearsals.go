package render

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/drsync/drsync/internal/humane"
	"github.com/drsync/drsync/internal/shellwords"
	"github.com/drsync/drsync/schema"
	"github.com/prometheus/client_golang/prometheus"
)

// RehearsalEvidence is the newest rehearsal of a runbook on a sandbox
// (drsync rehearse) and when one last passed.
type RehearsalEvidence struct {
	Time        time.Time
	Passed      bool
	Duration    time.Duration
	Bytes       int64     // data recovered and compared
	LastSuccess time.Time // zero: never passed
}

var (
	rbLabels           = []string{"runbook"}
	mRehearsalInterval = desc("backup_rehearsal_interval_seconds", "How often the runbook is to be rehearsed on a sandbox (drsync rehearse); absent when no cadence is declared.", rbLabels)
	mRehearsalSuccess  = desc("backup_rehearsal_success", "Whether the runbook's newest rehearsal passed (1) or failed (0).", rbLabels)
	mRehearsalLastRun  = desc("backup_rehearsal_last_run_timestamp", "Unix time of the runbook's newest rehearsal.", rbLabels)
	mRehearsalLastOK   = desc("backup_rehearsal_last_success_timestamp", "Unix time of the runbook's newest passing rehearsal.", rbLabels)
	mRehearsalDuration = desc("backup_rehearsal_duration_seconds", "Duration of the runbook's newest rehearsal, sandbox included.", rbLabels)
	mRehearsalBytes    = desc("backup_rehearsal_bytes", "Bytes the runbook's newest rehearsal recovered and compared.", rbLabels)
)

// collectRehearsals exports each runbook's declared cadence and its
// newest rehearsal; a runbook never rehearsed has no evidence samples.
func collectRehearsals(in Input, gauge func(*prometheus.Desc, float64, ...string)) {
	for _, id := range RunbookIDs() {
		if r, ok := in.Desired.Rehearsals[id]; ok {
			gauge(mRehearsalInterval, seconds(r.Every.Duration), id)
		}
		e, ok := in.Rehearsals[id]
		if !ok {
			continue
		}
		gauge(mRehearsalSuccess, boolean(e.Passed), id)
		gauge(mRehearsalLastRun, unix(e.Time), id)
		gauge(mRehearsalDuration, seconds(e.Duration), id)
		gauge(mRehearsalBytes, float64(e.Bytes), id)
		if !e.LastSuccess.IsZero() {
			gauge(mRehearsalLastOK, unix(e.LastSuccess), id)
		}
	}
}

// lastRehearsed is a runbook's "Last Rehearsed" line: "2026-12-04, 2 min
// for 1.5 GiB", what failed, or "never rehearsed" with the command.
func lastRehearsed(in Input, id string) string {
	run := fmt.Sprintf("`%s rehearse %s -f %s`", shellwords.Quote(in.Desired.Generate.Binary), id, shellwords.Quote(in.Desired.Generate.DesiredFile))
	e, ok := in.Rehearsals[id]
	if !ok {
		return "**never rehearsed**: " + run
	}
	out := fmt.Sprintf("%s, %s for %s", day(in, e.Time), minutes(e.Duration), humane.Bytes(e.Bytes))
	if !e.Passed {
		out = fmt.Sprintf("**FAILED** on %s (%s shows why); last passed: ", day(in, e.Time), run)
		if e.LastSuccess.IsZero() {
			out += "never"
		} else {
			out += day(in, e.LastSuccess)
		}
	}
	if r, ok := in.Desired.Rehearsals[id]; ok {
		out += fmt.Sprintf(" (to be rehearsed every %s)", schema.FormatDuration(r.Every.Duration))
	}
	return out
}

func minutes(d time.Duration) string {
	return strconv.Itoa(int(max(1, math.Round(d.Minutes())))) + " min"
}

// rehearsalAlerts are RehearsalFailed and RehearsalOverdue: a runbook
// whose newest rehearsal failed, or that has not passed one within its
// declared cadence (with the slack tests and drills get).
func rehearsalAlerts(in Input) []alert {
	bin, f := shellwords.Quote(in.Desired.Generate.Binary), shellwords.Quote(in.Desired.Generate.DesiredFile)
	run := fmt.Sprintf("`%s rehearse {{ $labels.runbook }} -f %s`", bin, f)
	rb := rehearsalRunbook(in)
	return []alert{{
		name:   "RehearsalFailed",
		expr:   "backup_rehearsal_success == 0",
		forDur: 5 * time.Minute, severity: "critical", category: "disaster-recovery",
		summary:     "Rehearsal of runbook {{ $labels.runbook }} failed",
		description: fmt.Sprintf("The newest rehearsal of runbook {{ $labels.runbook }} on a sandbox failed: following it in a real disaster would not recover the data. Its output says which step failed; fix it and run %s again.", run),
		runbook:     rb,
	}, {
		name: "RehearsalOverdue",
		expr: fmt.Sprintf(`(time() - backup_rehearsal_last_success_timestamp > %[1]g * backup_rehearsal_interval_seconds)
or
(backup_rehearsal_interval_seconds unless backup_rehearsal_last_success_timestamp)`, cadenceSlack),
		forDur: time.Hour, severity: "warning", category: "disaster-recovery",
		summary:     "Rehearsal of runbook {{ $labels.runbook }} overdue",
		description: fmt.Sprintf("Runbook {{ $labels.runbook }} has not been rehearsed with success for %g times its declared cadence, or never has: it is unproven. Run %s.", cadenceSlack, run),
		runbook:     rb,
	}}
}

// rehearsalRunbook is a template choosing the runbook's path by the
// alert's runbook label; empty when runbooks are not generated.
func rehearsalRunbook(in Input) string {
	if runbookPath(in, runbookTotal) == "" {
		return ""
	}
	var b strings.Builder
	for i, sc := range scenarios {
		if i > 0 {
			b.WriteString("{{ else }}")
		}
		if i < len(scenarios)-1 {
			fmt.Fprintf(&b, "{{ if eq $labels.runbook %q }}", sc.id)
		}
		b.WriteString(runbookPath(in, sc.file))
	}
	for range len(scenarios) - 1 {
		b.WriteString("{{ end }}")
	}
	return b.String()
}

// runbookFileByID is the file name of a runbook.
func runbookFileByID(id string) string {
	for _, sc := range scenarios {
		if sc.id == id {
			return sc.file
		}
	}
	return ""
}

// rehearsalAlertTests prove RehearsalFailed on one runbook and
// RehearsalOverdue on the first runbook with a declared cadence.
func rehearsalAlertTests(in Input, byName map[string]alert, host func(map[string]string) map[string]string) []testGroup {
	var groups []testGroup
	l := host(map[string]string{"runbook": "DR-002"})
	groups = append(groups, edgeTests(in, "RehearsalFailed: passing rehearsal quiet, failed rehearsal fires", byName["RehearsalFailed"], l,
		[]seriesSpec{{"backup_rehearsal_success", l, step2(1, 0)}}, stepTiming))
	for _, id := range RunbookIDs() {
		r, ok := in.Desired.Rehearsals[id]
		if !ok {
			continue
		}
		l := host(map[string]string{"runbook": id})
		every := seconds(r.Every.Duration)
		interval := seriesSpec{"backup_rehearsal_interval_seconds", l, flat(every)}
		a := byName["RehearsalOverdue"]
		groups = append(groups,
			edgeTests(in, "RehearsalOverdue: last success just inside and past the cadence with slack", a, l,
				[]seriesSpec{{"backup_rehearsal_last_success_timestamp", l, crossing(cadenceSlack * every)}, interval}, crossingTiming),
			edgeTests(in, "RehearsalOverdue: never rehearsed", a, l, []seriesSpec{interval}, fromStartTiming))
		break
	}
	return groups
}
