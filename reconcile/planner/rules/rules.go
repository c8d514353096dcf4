// Package rules holds the planning rules the local and the off-site
// planners share (planner and planner/offsite): what a declared retention
// keeps, and when a restore test or drill is due.
package rules

import (
	"fmt"
	"time"

	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/retention"
	"github.com/drsync/drsync/schema"
)

// Policy translates a declared retention into the retention package's terms.
func Policy(d *schema.Desired, r schema.Retention) retention.Policy {
	p := retention.Policy{
		Hourly: count(r.Hourly), Daily: count(r.Daily), Weekly: count(r.Weekly),
		Monthly: count(r.Monthly), Yearly: count(r.Yearly),
		WeekStart: weekday(d.Calendar.WeekStart), DayStartHour: d.Calendar.DayStartHour,
	}
	switch r.Min {
	case "all":
		p.MinAll = true
	case "latest", "":
		p.MinLatest = true
	default:
		fmt.Sscanf(r.Min, "%d%c", &p.MinN, &p.MinUnit)
	}
	return p
}

func count(c *schema.Count) int {
	switch {
	case c == nil:
		return retention.Unset
	case c.All:
		return retention.All
	default:
		return c.N
	}
}

func weekday(name string) time.Weekday {
	for wd := time.Sunday; wd <= time.Saturday; wd++ {
		if len(name) >= 3 && wd.String()[:3] == capitalize(name[:3]) {
			return wd
		}
	}
	return time.Sunday
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// ProofDue says whether a test or drill is due: the last pass is older
// than the tier's cadence. A failing one is retried at most daily, so an
// unattended watch does not hammer a broken drive.
func ProofDue(what string, lastPassed, last, skipped *model.TestReport, every time.Duration, now time.Time) (*model.ProofWhy, bool) {
	why := &model.ProofWhy{What: what, Every: schema.Duration{Duration: every}}
	if skipped != nil && now.Sub(skipped.Started) < every && (last == nil || skipped.Started.After(last.Started)) {
		return nil, false // nothing to prove last time: wait for the next cadence
	}
	if last != nil && !last.Passed() {
		if now.Sub(last.Started) < min(every, 24*time.Hour) {
			return nil, false
		}
		why.Last, why.Age, why.Snapshot = model.ResultFail, schema.Duration{Duration: now.Sub(last.Started)}, last.Snapshot
		return why, true
	}
	if lastPassed == nil {
		return why, true
	}
	if age := now.Sub(lastPassed.Started); age >= every {
		why.Last, why.Age = model.ResultPass, schema.Duration{Duration: age}
		return why, true
	}
	return nil, false
}
