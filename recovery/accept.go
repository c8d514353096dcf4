package recovery

import (
	"fmt"
	"time"

	"github.com/drsync/drsync/reconcile/journal"
	"github.com/drsync/drsync/reconcile/model"
)

// acceptedPrefix starts the reason of an accept-source action; what
// follows is why the source looked destroyed.
const acceptedPrefix = "accepted as it is: "

// Accepted is a source a person accepted as it is.
type Accepted struct {
	Subvolume string
	// Why is what made the source look wiped or replaced.
	Why string
}

// AcceptSources journals that a person accepts each named source as it
// is, though it looks wiped or replaced, so its prunes resume. A missing
// source cannot be accepted (it is to be recovered); one that does not
// look destroyed needs nothing and is returned in unchanged.
func AcceptSources(j *journal.Journal, obs *model.Observed, names []string) (accepted []Accepted, unchanged []string, err error) {
	var actions []model.Action
	for _, n := range names {
		st := obs.Subvolumes[n]
		switch {
		case st == nil:
			return nil, nil, fmt.Errorf("%s: not a declared subvolume", n)
		case st.SourceMissing:
			return nil, nil, fmt.Errorf("%s: the source is missing, so there is nothing to accept: recover it with drsync recover %s", n, n)
		case st.Disaster() == "":
			unchanged = append(unchanged, n)
			continue
		}
		actions = append(actions, model.Action{Kind: model.KindAcceptSource, Subvolume: n, Path: st.Health.Reference,
			Reason: acceptedPrefix + st.Disaster()})
		accepted = append(accepted, Accepted{Subvolume: n, Why: st.Disaster()})
	}
	if len(actions) == 0 {
		return nil, unchanged, nil
	}
	run := fmt.Sprintf("%s-accept", time.Now().UTC().Format("20060102T150405.000"))
	if err := j.Append(model.JournalEntry{Time: time.Now(), Run: run, Phase: model.PhaseRunStart, Command: "recover"}); err != nil {
		return nil, nil, err
	}
	for _, a := range actions {
		if err := j.Append(model.JournalEntry{Time: time.Now(), Run: run, Phase: model.PhaseDone, Action: &a}); err != nil {
			return nil, nil, err
		}
	}
	err = j.Append(model.JournalEntry{Time: time.Now(), Run: run, Phase: model.PhaseRunEnd, Result: model.StatusApplied, Command: "recover"})
	return accepted, unchanged, err
}
