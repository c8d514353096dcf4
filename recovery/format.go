package recovery

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"
)

// WriteText prints the plan for a person to review: per subvolume, the
// copy and why it was chosen, then each step and what it touches.
func (p *Plan) WriteText(w io.Writer) {
	for _, r := range p.Recoveries {
		fmt.Fprintf(w, "%s  from %s on %s (%s)\n", r.Subvolume, r.Snapshot, r.Location, r.Choice)
		for _, warn := range r.Warnings {
			fmt.Fprintf(w, "  ! %s\n", warn)
		}
		if r.Receive != "" {
			fmt.Fprintf(w, "  +   receive    %s → %s  (a read-only copy the drive also holds: the next send is incremental from it)\n", r.Copy, filepath.Dir(r.Receive))
		}
		fmt.Fprintf(w, "  +   clone      %s → %s  (a writable snapshot, verified file by file against %s before it is used)\n", r.Base, r.Staging, r.Copy)
		if r.KeepAside != "" {
			fmt.Fprintf(w, "  +   keep aside %s → %s  (it holds data: kept read-only, pruned only by hand)\n", r.Target.Path, r.KeepAside)
		}
		fmt.Fprintf(w, "  -/+ place      %s  (%s)\n", r.Target.Path, placeWhy(r.Target))
	}
	fmt.Fprintf(w, "\nRecover: %d subvolume(s).\n", len(p.Recoveries))
}

func placeWhy(t Target) string {
	switch t.State {
	case TargetMissing:
		return "missing: recreated"
	case TargetEmpty:
		return "empty: replaced"
	}
	return "replaced in one atomic exchange"
}

// span writes a distance in time as days, hours and minutes: "2d 30m".
func span(d time.Duration) string {
	d = d.Truncate(time.Minute)
	if d <= 0 {
		return "0m"
	}
	var parts []string
	for _, u := range []struct {
		unit time.Duration
		name string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}} {
		if n := d / u.unit; n > 0 {
			parts = append(parts, fmt.Sprintf("%d%s", n, u.name))
			d -= n * u.unit
		}
	}
	return strings.Join(parts, " ")
}
