package runbook

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/drsync/drsync/internal/humane"
	"github.com/drsync/drsync/internal/shellwords"
	"github.com/drsync/drsync/render/view"
	"github.com/drsync/drsync/schema"
)

// lastRehearsed is a runbook's "Last Rehearsed" line: "2026-12-04, 2 min
// for 1.5 GiB", what failed, or "never rehearsed" with the command.
func lastRehearsed(in view.Input, id string) string {
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
