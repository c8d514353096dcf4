// Package view writes recovery plans and outcomes for people: per
// component, the copy and why it was chosen, then each step and what it
// touches; then what each recovery did.
package view

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/drsync/drsync/recovery"
)

// WritePlan prints the plan for a person to review: per subvolume, the
// copy and why it was chosen, then each step and what it touches.
func WritePlan(w io.Writer, p *recovery.Plan) {
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
	for _, r := range servicesInOrder(p) {
		writeService(w, r)
	}
	if len(p.Aligned) > 0 {
		fmt.Fprintf(w, "\nThe aligned set at %s:\n", p.At.Format("2006-01-02 15:04 MST"))
		for _, a := range p.Aligned {
			fmt.Fprintf(w, "  %-24s %-9s %-44s %s before\n", a.Name, a.Kind, a.Copy, recovery.Span(a.Behind))
			if a.Warning != "" {
				fmt.Fprintf(w, "    ! %s\n", a.Warning)
			}
		}
	}
	for _, warn := range p.Warnings {
		fmt.Fprintf(w, "! %s\n", warn)
	}
	if len(p.Order) > 1 {
		fmt.Fprintf(w, "\nOrder: %s\n", strings.Join(p.Order, " → "))
	}
	fmt.Fprintf(w, "\nRecover: %d subvolume(s), %d service(s).\n", len(p.Recoveries), len(p.Services))
}

// servicesInOrder lists the service recoveries in the order they run.
func servicesInOrder(p *recovery.Plan) []recovery.ServiceRecovery {
	var out []recovery.ServiceRecovery
	for _, n := range p.Order {
		for _, r := range p.Services {
			if r.Service == n {
				out = append(out, r)
			}
		}
	}
	return out
}

func writeService(w io.Writer, r recovery.ServiceRecovery) {
	fmt.Fprintf(w, "%s  (%s) from %s on %s (%s)\n", r.Service, r.Kind, r.Archive, r.Location, r.Choice)
	for _, warn := range r.Warnings {
		fmt.Fprintf(w, "  ! %s\n", warn)
	}
	if r.Offsite != "" {
		fmt.Fprintf(w, "  +   fetch      %s:%s → %s  (%s)\n", r.Offsite, r.Archive, filepath.Dir(r.Copy), offsiteArchiveWhy)
	}
	fmt.Fprintf(w, "  +   restore    %s → beside %s  (its checksum and every member's verified, then read as %s reads it)\n",
		r.Copy, r.Paths(), r.Kind)
	if len(r.Stop) > 0 {
		fmt.Fprintf(w, "  ~   stop       %s\n", strings.Join(r.Stop, " "))
	}
	for _, t := range r.Targets {
		if t.KeepAside != "" {
			fmt.Fprintf(w, "  +   keep aside %s → %s  (never deleted by drsync)\n", t.Path, t.KeepAside)
		}
	}
	for _, t := range r.Targets {
		why := "replaced"
		if t.State == recovery.TargetMissing {
			why = "missing: recreated"
		}
		if r.Owner != "" {
			why += ", owned by " + r.Owner
		}
		fmt.Fprintf(w, "  -/+ place      %s  (%s)\n", t.Path, why)
	}
	if len(r.Start) > 0 {
		fmt.Fprintf(w, "  ~   start      %s\n", strings.Join(r.Start, " "))
	}
	fmt.Fprintf(w, "  ?   ready      %s  (on failure: the kept-aside data goes back and the service is started again)\n", readyWhat(r.Kind))
}

func readyWhat(kind string) string {
	switch kind {
	case "prometheus":
		return "/-/ready, and a query returns series at the end of the restored range"
	case "sqlite":
		return "integrity_check on the live database, and every restored table present"
	}
	return "every restored file matches the archive's checksum"
}

func placeWhy(t recovery.Target) string {
	switch t.State {
	case recovery.TargetMissing:
		return "missing: recreated"
	case recovery.TargetEmpty:
		return "empty: replaced"
	}
	return "replaced in one atomic exchange"
}

// offsiteWhy says what fetching an off-site copy checks and gains.
const offsiteWhy = "received read-only; from S3 each stream is checked against its SHA-256 and age's authentication first; " +
	"the target holds the same snapshot, so the next off-site send can be incremental from it"

// offsiteArchiveWhy says what fetching an off-site archive checks.
const offsiteArchiveWhy = "the stored object checked against its SHA-256 and age's authentication, the archive against its own; " +
	"kept there as a local archive"
