package model

// Result is the verdict of a check: a restore test, a drill, a recovery
// check. It is what the journal, the evidence, the metrics' result labels
// and the plan say of anything that can pass or fail.
type Result string

const (
	ResultPass Result = "pass" // the check ran and everything verified
	ResultFail Result = "fail" // the check ran, or could not run, and found a problem
	ResultSkip Result = "skip" // nothing to check (an empty snapshot or archive): no proof either way
)

// Status is how a run ended: the journal's run-end entries, the runs in
// the metrics, and watch's last result all use it.
type Status string

const (
	StatusUnchanged Status = "unchanged" // nothing to do; evidence refreshed
	StatusDrift     Status = "drift"     // changes found and left alone (a dry run)
	StatusGuarded   Status = "guarded"   // the guard refused an unattended apply
	StatusDeclined  Status = "declined"  // the review declined the plan
	StatusApplied   Status = "applied"   // every action ran
	StatusFailed    Status = "failed"    // a step or an action failed
	StatusStopped   Status = "stopped"   // cancelled between actions
)

// UnmarshalText reads a status, including "ok", which journals written
// before Status existed use for a run whose every action ran.
func (s *Status) UnmarshalText(b []byte) error {
	*s = Status(b)
	if *s == "ok" {
		*s = StatusApplied
	}
	return nil
}
