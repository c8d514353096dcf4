package target

import (
	"fmt"
	"slices"
	"time"

	"github.com/drsync/drsync/retention"
	"github.com/drsync/drsync/schedule"
	"github.com/drsync/drsync/schema"
	"github.com/drsync/drsync/snapname"
)

// The off-site planner: for one subvolume and one target, what to send,
// what to clean up and what retention may delete, each with its reason.
// It is pure (the observation comes in as values) so that the reconcile
// pipeline can turn its actions into its own typed actions, and so that
// every rule is table-tested.

// ActionKind is what an off-site action does.
type ActionKind string

const (
	// ActSend copies a local snapshot to the target (full, or incremental
	// from Parent; on object storage into Chain).
	ActSend ActionKind = "offsite-send"
	// ActPrune deletes a copy (a chain, on object storage) retention no
	// longer keeps.
	ActPrune ActionKind = "offsite-prune"
	// ActCleanup removes what an interrupted transfer left: a half-received
	// replica, or unlisted objects and unfinished multipart uploads.
	ActCleanup ActionKind = "offsite-cleanup"
)

// Action is one planned off-site action.
type Action struct {
	Kind      ActionKind `json:"kind"`
	Target    string     `json:"target"`
	Subvolume string     `json:"subvolume"`
	// Name is the snapshot sent, the copy or chain pruned, or the copy
	// cleaned up (empty for object-storage leftovers).
	Name   string `json:"name,omitempty"`
	Parent string `json:"parent,omitempty"`
	Chain  string `json:"chain,omitempty"`
	Reason string `json:"reason"`
	// ExpectedBytes is a send's likely size, for a progress bar: the size
	// of the last stream of the same kind (full or incremental) stored
	// there, or of the last send; 0 when unknown.
	ExpectedBytes int64 `json:"expectedBytes,omitempty"`
}

// Local is a local snapshot that may be sent.
type Local struct {
	Name string
	Time time.Time
}

// PlanInput is what the planner knows of one subvolume and one target.
type PlanInput struct {
	Target    string
	Subvolume string
	// Sends is the subvolume's declaration for this target.
	Sends schema.OffsiteSends
	// SnapshotSchedule is when local snapshots are taken: a snapshot
	// counts for the slot it was taken for.
	SnapshotSchedule schema.Schedule
	Policy           retention.Policy
	// Local are the local snapshots, oldest first.
	Local []Local
	// Copies are what the target holds (List), oldest first.
	Copies []Copy
	// ObjectStorage is set for s3: copies live in Chains, sends follow
	// NextSend, prunes remove whole chains.
	ObjectStorage bool
	Chains        []Chain
	FullEvery     int
	// Leftovers counts objects of interrupted uploads.
	Leftovers int
	// LastSentBytes is the size of the last successful send there (from
	// the journal), the expected size where the target keeps no sizes.
	LastSentBytes int64
	// Unreachable, when set, says why the target cannot be reached now.
	Unreachable string
	Now         time.Time
	Loc         *time.Location
}

// PlanResult is the planner's answer.
type PlanResult struct {
	Actions []Action `json:"actions,omitempty"`
	// Deferred says why nothing is planned for an unreachable target.
	Deferred string `json:"deferred,omitempty"`
	// Warnings are what a person should know: foreign entries left
	// alone, broken chains.
	Warnings []string `json:"warnings,omitempty"`
	// KeepLocal is the local snapshot the next send to the target will be
	// incremental from, after this plan's send: local retention must keep
	// it, or that send becomes a full one ("" when none would be
	// incremental, or the target was not observed).
	KeepLocal string `json:"keepLocal,omitempty"`
}

// Plan plans one subvolume's off-site work on one target.
func Plan(in PlanInput) PlanResult {
	var res PlanResult
	if in.Unreachable != "" {
		res.Deferred = fmt.Sprintf("%s unreachable: %s; its sends and prunes wait", in.Target, in.Unreachable)
		return res
	}
	add := func(a Action) {
		a.Target, a.Subvolume = in.Target, in.Subvolume
		res.Actions = append(res.Actions, a)
	}
	var restorable []Copy
	for _, c := range in.Copies {
		switch {
		case c.Foreign:
			res.Warnings = append(res.Warnings, fmt.Sprintf("%s on %s is not drsync's: left alone", c.Name, in.Target))
		case c.Broken != "":
			res.Warnings = append(res.Warnings, fmt.Sprintf("%s on %s cannot be restored: %s", c.Name, in.Target, c.Broken))
		case !c.Complete:
			add(Action{Kind: ActCleanup, Name: c.Name, Reason: "half-received: an interrupted receive left it"})
		default:
			restorable = append(restorable, c)
		}
	}
	if in.Leftovers > 0 {
		add(Action{Kind: ActCleanup, Reason: fmt.Sprintf("%d objects or uploads of interrupted transfers", in.Leftovers)})
	}

	isLocal := func(name string) bool {
		return slices.ContainsFunc(in.Local, func(l Local) bool { return l.Name == name })
	}
	var sent string
	if snap, why, due := in.sendDue(restorable); due {
		a := Action{Kind: ActSend, Name: snap.Name}
		a.ExpectedBytes = in.LastSentBytes
		if in.ObjectStorage {
			next := NextSend(in.Chains, snap.Name, in.FullEvery, isLocal)
			a.Parent, a.Chain, a.Reason = next.Parent, next.Chain, why+"; "+next.Reason
			if n := lastStreamSize(in.Chains, next.Parent == ""); n > 0 {
				a.ExpectedBytes = n
			}
		} else {
			a.Parent = commonParent(in.Local, restorable, snap.Name)
			a.Reason = why
			if a.Parent != "" {
				a.Reason += "; incremental from " + a.Parent
			} else {
				a.Reason += "; full: no snapshot in common"
			}
		}
		add(a)
		sent = snap.Name
	}
	res.Actions = append(res.Actions, in.prunes(restorable, sent)...)
	res.KeepLocal = in.nextParent(restorable, sent)
	return res
}

// nextParent is the parent the send after this plan's would use: on a
// btrfs host the newest snapshot both sides hold; on object storage the
// newest snapshot of the newest chain while that chain can grow.
func (in PlanInput) nextParent(restorable []Copy, sent string) string {
	isLocal := func(name string) bool {
		return slices.ContainsFunc(in.Local, func(l Local) bool { return l.Name == name })
	}
	if !in.ObjectStorage {
		if sent != "" {
			return sent
		}
		return commonParent(in.Local, restorable, "\xff")
	}
	if sent != "" {
		// The send extends the newest chain or starts one; either way the
		// chain then ends at sent, and grows unless it is full.
		next := NextSend(in.Chains, sent, in.FullEvery, isLocal)
		if next.Seq+1 >= in.FullEvery {
			return ""
		}
		return sent
	}
	if len(in.Chains) == 0 {
		return ""
	}
	newest := in.Chains[len(in.Chains)-1]
	if !newest.Complete() || len(newest.Manifest.Streams) >= in.FullEvery || !isLocal(newest.Last()) {
		return ""
	}
	return newest.Last()
}

// sendDue picks the snapshot a send slot asks for: the newest local
// snapshot taken for a snapshot slot at or before the latest send slot,
// when the target lacks it or anything newer. (The drive's rule: a 02:00
// snapshot sent at the 05:00 slot satisfies that slot until the next.)
func (in PlanInput) sendDue(restorable []Copy) (Local, string, bool) {
	if len(in.Local) == 0 {
		return Local{}, "", false
	}
	var newest time.Time
	for _, c := range restorable {
		if st, ok := snapname.Parse(in.Subvolume, c.Name, in.Loc); ok && st.Time.After(newest) {
			newest = st.Time
		}
	}
	send := in.Sends.Schedule
	if send.Kind == "every" {
		last := in.Local[len(in.Local)-1]
		if v := schedule.Due(send, newest, in.Now); v.Due && last.Time.After(newest) {
			why := "no copy yet"
			if !newest.IsZero() {
				why = fmt.Sprintf("newest copy is %s old; %q wants one every %s", schema.Age(v.Age.Duration), send.Text, schema.FormatDuration(send.Every))
			}
			return last, why, true
		}
		return Local{}, "", false
	}
	slot := send.Slot(in.Now)
	for i := len(in.Local) - 1; i >= 0; i-- {
		taken := in.Local[i].Time
		if in.SnapshotSchedule.Kind != "every" {
			taken = in.SnapshotSchedule.Slot(taken)
		}
		if taken.After(slot) {
			continue
		}
		if !in.Local[i].Time.After(newest) {
			return Local{}, "", false
		}
		why := "no copy yet"
		if !newest.IsZero() {
			why = fmt.Sprintf("newest copy is %s old", schema.Age(in.Now.Sub(newest)))
		}
		return in.Local[i], fmt.Sprintf("%s; %q wants %s or newer on %s since %s", why, send.Text, in.Local[i].Name, in.Target, slot.Format("2006-01-02 15:04")), true
	}
	return Local{}, "", false
}

// commonParent is the newest snapshot older than name that is both local
// and on the target: the parent of an incremental send.
func commonParent(local []Local, copies []Copy, name string) string {
	for i := len(local) - 1; i >= 0; i-- {
		if local[i].Name >= name {
			continue
		}
		if slices.ContainsFunc(copies, func(c Copy) bool { return c.Name == local[i].Name }) {
			return local[i].Name
		}
	}
	return ""
}

// prunes applies retention to the copies as they will be after the send
// (sent, when not empty, counts as a copy). The newest copy and the
// parent of the next incremental send are never pruned; on object storage
// chains go whole, and only when retention keeps none of their snapshots.
func (in PlanInput) prunes(restorable []Copy, sent string) []Action {
	names := make([]string, 0, len(restorable)+1)
	for _, c := range restorable {
		names = append(names, c.Name)
	}
	if sent != "" && !slices.Contains(names, sent) {
		names = append(names, sent)
	}
	var items []retention.Item
	for _, n := range names {
		if st, ok := snapname.Parse(in.Subvolume, n, in.Loc); ok {
			items = append(items, retention.Item{Name: n, Time: st.Time, HasTime: st.HasTime, Seq: st.Seq})
		}
	}
	if len(items) == 0 {
		return nil
	}
	verdicts := map[string]retention.Decision{}
	for _, d := range retention.Evaluate(items, in.Policy, in.Now, in.Loc) {
		verdicts[d.Name] = d
	}
	keep := func(n string) bool { d, ok := verdicts[n]; return !ok || d.Keep }
	var out []Action
	if in.ObjectStorage {
		for _, c := range Prune(in.Chains, keep) {
			if !c.Complete() && c.Restorable == 0 {
				continue // nothing restorable: reported as broken, left for a person
			}
			out = append(out, Action{Kind: ActPrune, Target: in.Target, Subvolume: in.Subvolume, Name: c.Name, Chain: c.Name,
				Reason: fmt.Sprintf("retention keeps none of the chain's %d snapshots", len(c.Manifest.Streams))})
		}
		return out
	}
	protected := map[string]string{names[len(names)-1]: "the newest copy"}
	if p := commonParent(in.Local, restorable, "\xff"); p != "" {
		protected[p] = "the parent of the next incremental send"
	}
	for _, n := range names {
		if keep(n) || n == sent {
			continue
		}
		if _, ok := protected[n]; ok {
			continue
		}
		out = append(out, Action{Kind: ActPrune, Target: in.Target, Subvolume: in.Subvolume, Name: n, Reason: verdicts[n].Reason})
	}
	return out
}

// lastStreamSize is the size of the newest stored stream that is full (or
// incremental), 0 when there is none.
func lastStreamSize(chains []Chain, full bool) int64 {
	for i := len(chains) - 1; i >= 0; i-- {
		streams := chains[i].Manifest.Streams
		for j := len(streams) - 1; j >= 0; j-- {
			if (streams[j].Parent == "") == full {
				return streams[j].Size
			}
		}
	}
	return 0
}
