package planner

import (
	"path/filepath"
	"slices"
	"time"

	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/reconcile/planner/rules"
	"github.com/drsync/drsync/retention"
	"github.com/drsync/drsync/schema"
)

// prune evaluates retention over snaps and adds prunes for what no rule
// keeps, except protected snapshots and the one this plan creates.
func prune(sp *model.SubvolumePlan, d *schema.Desired, loc, dir string, snaps []model.Snapshot, planned *model.Snapshot,
	r schema.Retention, protect map[string]string, now time.Time) {
	items := make([]retention.Item, len(snaps))
	for i, s := range snaps {
		items[i] = retention.Item{Name: s.Name, Time: s.Time, HasTime: s.HasTime, Seq: s.Seq}
	}
	decisions := retention.Evaluate(items, rules.Policy(d, r), now, now.Location())
	// Room for every note and prune up front: actions are large, and
	// growing the slice one append at a time copied them over and over.
	sp.Retention = slices.Grow(sp.Retention, len(decisions))
	sp.Actions = slices.Grow(sp.Actions, len(decisions))
	// Copy names are single path elements: joined to the directory cleaned
	// once, they need no filepath.Join (and its Clean) per prune.
	withSlash := filepath.Join(dir, "x")
	withSlash = withSlash[:len(withSlash)-1]
	for _, dec := range decisions {
		keep, reason := dec.Keep, dec.Reason
		if why, ok := protect[dec.Name]; ok && !keep {
			keep, reason = true, "kept as the "+why+" (retention alone would prune it: "+reason+")"
		}
		sp.Retention = append(sp.Retention, model.RetentionNote{Location: loc, Snapshot: dec.Name, Keep: keep, Reason: reason})
		if keep || (planned != nil && dec.Name == planned.Name) {
			continue
		}
		a := model.Action{Kind: model.KindPrune, Subvolume: sp.Name, Location: loc, Snapshot: dec.Name,
			Path: withSlash + dec.Name, Remove: &model.RemoveCopy{}}
		a.Because(model.Reason{Code: model.BecauseRetention, Retention: &model.RetentionWhy{Rule: dec.Rule, Verdict: reason}})
		sp.Actions = append(sp.Actions, a)
	}
}

// protections are the safety rules that keep a copy whatever retention
// says, by name with the reason: the newest copy in the location (newest
// names it), the parent of the next incremental send, and the newest
// verified-restorable snapshot while tests of newer ones fail ("" when
// none applies).
func protections(snaps []model.Snapshot, newest, parent, verified string) map[string]string {
	protect := map[string]string{}
	if len(snaps) > 0 {
		protect[model.LastName(snaps)] = newest
	}
	if parent != "" && parent != model.LastName(snaps) {
		protect[parent] = "parent of the next incremental send"
	}
	if verified != "" {
		protect[verified] = verifiedWhy
	}
	return protect
}
