package runbook

import (
	"github.com/drsync/drsync/render/view"
	"github.com/drsync/drsync/schema"
)

// rbCoverage is a runbook's coverage row: one copy of a subvolume or of
// a service's archives.
type rbCoverage struct {
	Subvolume, Copy, Window, Line string
}

// rbCoverageRows lists the coverage of every copy of the covered
// subvolumes and of the services whose data lies in them, for the
// runbooks' evidence.
func rbCoverageRows(in view.Input, subs []rbSubvolume, svcs []rbService) []rbCoverage {
	covered := map[string]bool{}
	for _, s := range subs {
		covered[s.Name] = true
	}
	for _, s := range svcs {
		covered[s.Name] = true
	}
	var out []rbCoverage
	for _, s := range view.Tracked(in) {
		window, _ := view.CoverageOf(in.Desired, s)
		if window == 0 || !covered[s.Name] {
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
