package reconcile

import (
	"slices"
	"strings"
	"time"

	"github.com/drsync/drsync/reconcile/journal"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/snapname"
)

// takeSummary copies the journal fold into the observation's fields.
func takeSummary(o *model.Observed, f *journal.Fold) {
	sum := f.Summary()
	o.LastSent, o.Interrupted, o.History = sum.LastSent, sum.Interrupted, sum.History
	o.Runs, o.LastRun, o.DriveSeen = sum.Runs, sum.Last, sum.DriveSeen
	o.SendFailing = sum.SendFailing
}

// learn folds what a run did (the journal entries it wrote) into the
// journal fold and the observation the run started from: the run's one observation stays
// current for the evidence written after it, without a second look at the
// machine. Only what evidence reads is updated: names, times, counts and
// the journal's history.
func learn(o *model.Observed, f *journal.Fold, entries []model.JournalEntry, loc *time.Location) {
	for _, e := range entries {
		f.Add(e)
		if e.Phase == model.PhaseDone && e.Action != nil {
			learnAction(o, *e.Action, loc)
		}
	}
	takeSummary(o, f)
}

func learnAction(o *model.Observed, a model.Action, loc *time.Location) {
	var list *[]model.Snapshot
	stem := a.Snapshot
	if svc := o.Services[a.Subvolume]; svc != nil {
		stem = strings.TrimSuffix(a.Snapshot, model.ArchiveSuffix)
		list = &svc.Archives
		if a.External {
			list = &svc.External
		}
	} else if st := o.Subvolumes[a.Subvolume]; st != nil {
		list = &st.Local
		if a.External {
			list = &st.External
		}
	}
	if list == nil {
		return
	}
	switch a.Kind {
	case model.KindSnapshot, model.KindBackup, model.KindSend:
		stamp, ok := snapname.Parse(a.Subvolume, stem, loc)
		if !ok || model.HasName(*list, a.Snapshot) {
			return
		}
		made := model.Snapshot{Name: a.Snapshot, Time: stamp.Time, HasTime: stamp.HasTime, Seq: stamp.Seq, ReadOnly: true}
		if a.Kind == model.KindSend {
			// A replica made by this run is received, as the next
			// observation will find it.
			made.ReceivedUUID = receivedInRun
		}
		*list = append(*list, made)
		model.SortSnapshots(*list)
	case model.KindPrune, model.KindRepair:
		*list = slices.DeleteFunc(*list, func(s model.Snapshot) bool { return s.Name == a.Snapshot })
	}
}

// receivedInRun stands for the received UUID of a replica this run sent,
// which evidence never reads beyond "it has one".
const receivedInRun = "received-in-this-run"
