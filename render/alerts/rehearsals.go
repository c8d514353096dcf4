package alerts

import (
	"fmt"
	"strings"
	"time"

	"github.com/drsync/drsync/internal/shellwords"
	"github.com/drsync/drsync/render/runbook"
	"github.com/drsync/drsync/render/view"
)

// rehearsalAlerts are RehearsalFailed and RehearsalOverdue: a runbook
// whose newest rehearsal failed, or that has not passed one within its
// declared cadence (with the slack tests and drills get).
func rehearsalAlerts(in view.Input) []alert {
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
(backup_rehearsal_interval_seconds unless backup_rehearsal_last_success_timestamp)`, CadenceSlack),
		forDur: time.Hour, severity: "warning", category: "disaster-recovery",
		summary:     "Rehearsal of runbook {{ $labels.runbook }} overdue",
		description: fmt.Sprintf("Runbook {{ $labels.runbook }} has not been rehearsed with success for %g times its declared cadence, or never has: it is unproven. Run %s.", CadenceSlack, run),
		runbook:     rb,
	}}
}

// rehearsalRunbook is a template choosing the runbook's path by the
// alert's runbook label; empty when runbooks are not generated.
func rehearsalRunbook(in view.Input) string {
	if runbookPath(in, runbook.Total) == "" {
		return ""
	}
	var b strings.Builder
	ids := runbook.IDs()
	for i, id := range ids {
		if i > 0 {
			b.WriteString("{{ else }}")
		}
		if i < len(ids)-1 {
			fmt.Fprintf(&b, "{{ if eq $labels.runbook %q }}", id)
		}
		b.WriteString(runbookPath(in, runbook.FileByID(id)))
	}
	for range len(ids) - 1 {
		b.WriteString("{{ end }}")
	}
	return b.String()
}

// rehearsalAlertTests prove RehearsalFailed on one runbook and
// RehearsalOverdue on the first runbook with a declared cadence.
func rehearsalAlertTests(in view.Input, byName map[string]alert, host func(map[string]string) map[string]string) []testGroup {
	var groups []testGroup
	l := host(map[string]string{"runbook": "DR-002"})
	groups = append(groups, edgeTests(in, "RehearsalFailed: passing rehearsal quiet, failed rehearsal fires", byName["RehearsalFailed"], l,
		[]seriesSpec{{"backup_rehearsal_success", l, step2(1, 0)}}, stepTiming))
	for _, id := range runbook.IDs() {
		r, ok := in.Desired.Rehearsals[id]
		if !ok {
			continue
		}
		l := host(map[string]string{"runbook": id})
		every := r.Every.Duration.Seconds()
		interval := seriesSpec{"backup_rehearsal_interval_seconds", l, flat(every)}
		a := byName["RehearsalOverdue"]
		groups = append(groups,
			edgeTests(in, "RehearsalOverdue: last success just inside and past the cadence with slack", a, l,
				[]seriesSpec{{"backup_rehearsal_last_success_timestamp", l, crossing(CadenceSlack * every)}, interval}, crossingTiming),
			edgeTests(in, "RehearsalOverdue: never rehearsed", a, l, []seriesSpec{interval}, fromStartTiming))
		break
	}
	return groups
}
