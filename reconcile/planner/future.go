package planner

import (
	"fmt"
	"time"

	"github.com/drsync/drsync/reconcile/model"
)

// current is the part of s (sorted oldest first) not dated after now. A
// snapshot named by a clock that ran ahead must not count as the newest for
// schedules and ages: nothing would be taken until its date, and ages
// would be negative, so alerts on old backups could never fire.
func current(s []model.Snapshot, now time.Time) []model.Snapshot {
	i := len(s)
	for i > 0 && s[i-1].Time.After(now) {
		i--
	}
	return s[:i]
}

// futureWarnings names each of s (what: "snapshot", "replica", "archive")
// that is dated after now.
func futureWarnings(s []model.Snapshot, now time.Time, what string) []string {
	var out []string
	for _, x := range s[len(current(s, now)):] {
		out = append(out, fmt.Sprintf("%s %s is dated in the future (%s); the schedule counts from the newest one that is not",
			what, x.Name, x.Time.Format("2006-01-02 15:04")))
	}
	return out
}
