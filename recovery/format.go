package recovery

import (
	"fmt"
	"io"
	"path/filepath"
)

// WriteText prints the plan for a person to review: per subvolume, the
// copy and why it was chosen, then each step and what it touches.
func (p *Plan) WriteText(w io.Writer) {
	for _, r := range p.Recoveries {
		fmt.Fprintf(w, "%s  from %s on %s (%s)\n", r.Subvolume, r.Snapshot, r.Location, r.Choice)
		for _, warn := range r.Warnings {
			fmt.Fprintf(w, "  ! %s\n", warn)
		}
		if r.Offsite != "" {
			fmt.Fprintf(w, "  +   fetch      %s → %s  (%s)\n", r.Copy, filepath.Dir(r.Receive), offsiteWhy)
		} else if r.Receive != "" {
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

// offsiteWhy says what fetching an off-site copy checks and gains.
const offsiteWhy = "received read-only; from S3 each stream is checked against its SHA-256 and age's authentication first; " +
	"the target holds the same snapshot, so the next off-site send can be incremental from it"
