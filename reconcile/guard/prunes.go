// Package guard holds the checks that stop the pipeline from doing harm a
// valid plan could still do: an unattended plan that prunes en masse (the
// signature of a retention typo), and an action that writes or deletes in
// a directory that is no longer its location's, or on a drive that is no
// longer there, since the plan's observation was made.
package guard

import (
	"fmt"
	"sort"

	"github.com/drsync/drsync/reconcile/model"
)

// Prunes refuses an unattended apply whose plan would prune more than
// maxShare of a subvolume's snapshots in a location, or every replica on a
// drive: the signature of a bad but valid commit (a retention typo) rather
// than of time passing. A person can still apply such a plan by hand.
func Prunes(p *model.Plan, o *model.Observed, maxShare float64) error {
	type key struct{ subvol, loc string }
	pruned := map[key]int{}
	for _, a := range p.Actions() {
		if a.Kind == model.KindPrune || a.Kind == model.KindRepair {
			pruned[key{a.Subvolume, a.Location}]++
		}
	}
	var problems []string
	for k, n := range pruned {
		var have int
		where := "local"
		switch st, svc := o.Subvolumes[k.subvol], o.Services[k.subvol]; {
		case st != nil && isExternal(p, k.loc):
			have, where = len(st.External), "external"
		case st != nil:
			have = len(st.Local)
		case svc != nil:
			have = len(svc.Archives)
		default:
			continue
		}
		switch {
		case where == "external" && n >= have:
			problems = append(problems, fmt.Sprintf("%s: would prune every replica (%d) on %s", k.subvol, n, k.loc))
		case have > 0 && float64(n) > maxShare*float64(have):
			problems = append(problems, fmt.Sprintf("%s: would prune %d of %d snapshots on %s (more than %.0f%%)", k.subvol, n, have, k.loc, maxShare*100))
		}
	}
	if len(problems) == 0 {
		return nil
	}
	sort.Strings(problems)
	return fmt.Errorf("unattended apply refused: %v; review with drsync plan and apply by hand if intended", problems)
}

func isExternal(p *model.Plan, loc string) bool {
	for _, d := range p.Drives {
		if d.Location == loc {
			return true
		}
	}
	return false
}
