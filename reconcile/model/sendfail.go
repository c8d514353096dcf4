package model

import (
	"fmt"
	"path/filepath"
	"slices"
	"time"
)

// SendFailure is a subvolume's run of failed sends since its last
// successful one, from the journal.
type SendFailure struct {
	// Since is when the first send of the run failed; Last the newest.
	Since time.Time `json:"since"`
	Last  time.Time `json:"last"`
	// Snapshot is what the newest failed send tried to send, and Error
	// the reason btrfs gave for it.
	Snapshot string `json:"snapshot"`
	Error    string `json:"error"`
	// Parents are the parents of the failed incremental sends of the run,
	// by snapshot name ("" is a failed full send). The next plan chooses
	// another: a damaged parent would fail every send again.
	Parents []string `json:"parents,omitempty"`
}

// failedParent reports whether an incremental send from parent failed
// since the last success.
func (f *SendFailure) FailedParent(parent string) bool {
	return f != nil && slices.Contains(f.Parents, parent)
}

// recordSend folds a finished send into the run of failures: a success ends
// it, a failure starts or extends it.
func RecordSend(failing map[string]*SendFailure, e JournalEntry) {
	a := e.Action
	if e.Phase == PhaseDone {
		delete(failing, a.Subvolume)
		return
	}
	if e.Phase != PhaseFailed {
		return
	}
	f := failing[a.Subvolume]
	if f == nil {
		f = &SendFailure{Since: e.Time}
		failing[a.Subvolume] = f
	}
	f.Last, f.Snapshot, f.Error = e.Time, a.Snapshot, e.Error
	parent := ""
	if a.Send != nil && a.Send.Parent != "" {
		parent = filepath.Base(a.Send.Parent)
	}
	if !slices.Contains(f.Parents, parent) {
		f.Parents = append(f.Parents, parent)
	}
}

// warning words the run of failures for the plan, with btrfs's own reason.
func (f *SendFailure) Warning() string {
	return fmt.Sprintf("send failing since %s (last %s, %s): %s",
		f.Since.Format("2006-01-02 15:04"), f.Last.Format("2006-01-02 15:04"), f.Snapshot, f.Error)
}
