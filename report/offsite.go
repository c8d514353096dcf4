package report

import (
	"fmt"
	"io"
	"maps"
	"slices"

	"github.com/drsync/drsync/target"
)

// OffsiteListing is what one off-site target holds, or why it could not say
// (`drsync offsite list`).
type OffsiteListing struct {
	Target     string                   `json:"target"`
	Kind       string                   `json:"kind"`
	Reachable  bool                     `json:"reachable"`
	Problem    string                   `json:"problem,omitempty"`
	Subvolumes map[string][]target.Copy `json:"subvolumes,omitempty"`
	Services   map[string][]target.Copy `json:"services,omitempty"`
}

// WriteOffsiteListings shows each target and the state of every copy on it.
func WriteOffsiteListings(w io.Writer, ls []OffsiteListing) {
	for _, l := range ls {
		switch {
		case !l.Reachable:
			fmt.Fprintf(w, "%s (%s): unreachable, deferred: %s\n", l.Target, l.Kind, l.Problem)
			continue
		case l.Problem != "":
			fmt.Fprintf(w, "%s (%s): %s\n", l.Target, l.Kind, l.Problem)
			continue
		}
		fmt.Fprintf(w, "%s (%s): reachable\n", l.Target, l.Kind)
		for _, group := range []struct {
			what   string
			copies map[string][]target.Copy
		}{{"subvolume", l.Subvolumes}, {"service", l.Services}} {
			for _, owner := range slices.Sorted(maps.Keys(group.copies)) {
				fmt.Fprintf(w, "  %s %s\n", group.what, owner)
				if len(group.copies[owner]) == 0 {
					fmt.Fprintln(w, "    (no copies yet)")
				}
				for _, c := range group.copies[owner] {
					fmt.Fprintf(w, "    %s  %s\n", c.Name, copyState(c))
				}
			}
		}
	}
}

func copyState(c target.Copy) string {
	switch {
	case c.Foreign:
		return "not drsync's: left alone"
	case c.Broken != "":
		return "BROKEN: " + c.Broken
	case !c.Complete:
		return "incomplete: removed by the next apply"
	case c.Chain != "":
		return "complete (chain " + c.Chain + ")"
	}
	return "complete"
}
