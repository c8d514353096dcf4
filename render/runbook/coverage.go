package runbook

import (
	"github.com/drsync/drsync/render/view"
	"github.com/drsync/drsync/schema"
)

// rbCoverage is a runbook's coverage row: one copy of a subvolume.
type rbCoverage struct {
	Subvolume, Copy, Window, Line string
}

// rbCoverageRows lists the coverage of every copy of the covered
// subvolumes, for the runbooks' evidence.
func rbCoverageRows(in view.Input, subs []rbSubvolume) []rbCoverage {
	var out []rbCoverage
	for _, s := range view.Subvolumes(in) {
		window, _ := view.CoverageOf(in.Desired, s)
		if window == 0 || !coveredBy(subs, s.Name) {
			continue
		}
		if len(s.Status.Coverage) == 0 {
			out = append(out, rbCoverage{Subvolume: s.Name, Copy: "—", Window: schema.FormatDuration(window), Line: "**nothing verified yet**"})
		}
		for _, c := range s.Status.Coverage {
			out = append(out, rbCoverage{Subvolume: s.Name, Copy: c.Location, Window: schema.FormatDuration(window), Line: c.Line(window)})
		}
	}
	return out
}

func coveredBy(subs []rbSubvolume, name string) bool {
	for _, s := range subs {
		if s.Name == name {
			return true
		}
	}
	return false
}
