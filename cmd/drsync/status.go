package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/drsync/drsync/reconcile"
	"github.com/drsync/drsync/schema"
	"github.com/spf13/cobra"
)

// subvolumeStatus is one row of `drsync status`.
type subvolumeStatus struct {
	Name string `json:"name"`
	Tier string `json:"tier"`
	// Service is the kind of a service ("" for a subvolume).
	Service string `json:"service,omitempty"`
	// NewestSnapshot (a service's newest archive) and NewestReplica are
	// ages in seconds (absent: none).
	NewestSnapshot *float64 `json:"newestSnapshotAgeSeconds,omitempty"`
	NewestReplica  *float64 `json:"newestReplicaAgeSeconds,omitempty"`
	// Verified is the age of the newest snapshot a passing test verified:
	// the real RPO, compared with the tier's target.
	Verified         *float64              `json:"verifiedAgeSeconds,omitempty"`
	RPOTargetSeconds float64               `json:"rpoTargetSeconds"`
	LastTest         *reconcile.TestReport `json:"lastTest,omitempty"`
	TestsPassed      int                   `json:"testsPassed"`
	Tests            int                   `json:"tests"`
	LastDrill        *reconcile.TestReport `json:"lastDrill,omitempty"`
	RTOTargetSeconds float64               `json:"rtoTargetSeconds"`
}

func newStatusCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show each subvolume's newest snapshot, newest verified-restorable point and last test and drill",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runStatus(g)
		},
	}
}

func statusRows(d *schema.Desired, obs *reconcile.Observed, now time.Time) []subvolumeStatus {
	var rows []subvolumeStatus
	age := func(t time.Time) *float64 {
		if t.IsZero() {
			return nil
		}
		s := max(0, now.Sub(t).Seconds()) // a future-dated snapshot is warned about by plan, never a negative age
		return &s
	}
	evidence := func(r *subvolumeStatus) {
		if h := obs.History[r.Name]; h != nil {
			if h.Verified != nil {
				r.Verified = age(h.Verified.SnapshotTime)
			}
			r.LastTest, r.Tests, r.TestsPassed, r.LastDrill = h.LastTest, h.Tests, h.Passed, h.LastDrill
		}
	}
	for _, name := range d.SubvolumeNames() {
		s, st := d.Subvolumes[name], obs.Subvolumes[name]
		r := subvolumeStatus{Name: name, Tier: s.Tier, RPOTargetSeconds: d.Tiers[s.Tier].RPO.Seconds(), RTOTargetSeconds: d.RTO(s).Seconds()}
		if n := len(st.Local); n > 0 {
			r.NewestSnapshot = age(st.Local[n-1].Time)
		}
		if replicas := reconcile.Replicas(st.External); len(replicas) > 0 {
			r.NewestReplica = age(replicas[len(replicas)-1].Time)
		}
		evidence(&r)
		rows = append(rows, r)
	}
	for _, name := range d.ServiceNames() {
		svc := d.Services[name]
		t := d.Tiers[svc.Tier]
		r := subvolumeStatus{Name: name, Tier: svc.Tier, Service: svc.Kind, RPOTargetSeconds: t.RPO.Seconds(), RTOTargetSeconds: t.RTO.Seconds()}
		if st := obs.Services[name]; st != nil {
			if n := len(st.Archives); n > 0 {
				r.NewestSnapshot = age(st.Archives[n-1].Time)
			}
			if n := len(st.External); n > 0 {
				r.NewestReplica = age(st.External[n-1].Time)
			}
		}
		evidence(&r)
		rows = append(rows, r)
	}
	return rows
}

func ageOr(secs *float64, none string) string {
	if secs == nil {
		return none
	}
	return ageText(time.Duration(*secs * float64(time.Second)))
}

func upper(s string) string { return strings.ToUpper(s) }

// runStatus shows each subvolume's and service's newest copies and evidence.
func runStatus(g *globalOptions) error {
	d, obs, now, err := loadObserved(g)
	if err != nil {
		return err
	}
	rows := statusRows(d, obs, now)
	if g.json {
		return writeJSON(g.stdout, rows)
	}
	for _, r := range rows {
		if r.Service != "" {
			fmt.Fprintf(g.stdout, "%s  tier %s  (service: %s)\n", r.Name, r.Tier, r.Service)
			fmt.Fprintf(g.stdout, "  newest archive    %s\n", ageOr(r.NewestSnapshot, "none"))
		} else {
			fmt.Fprintf(g.stdout, "%s  tier %s\n", r.Name, r.Tier)
			fmt.Fprintf(g.stdout, "  newest snapshot   %s\n", ageOr(r.NewestSnapshot, "none"))
		}
		if s := d.Subvolumes[r.Name]; s != nil && s.External != nil {
			fmt.Fprintf(g.stdout, "  newest replica    %s\n", ageOr(r.NewestReplica, "none (or the drive is absent)"))
		}
		if svc := d.Services[r.Name]; svc != nil && svc.External != nil {
			fmt.Fprintf(g.stdout, "  newest copy       %s\n", ageOr(r.NewestReplica, "none (or the drive is absent)"))
		}
		rpo := time.Duration(r.RPOTargetSeconds * float64(time.Second))
		verdict := ""
		if r.Verified != nil && *r.Verified > r.RPOTargetSeconds {
			verdict = "  ✗ beyond the RPO target"
		}
		fmt.Fprintf(g.stdout, "  newest verified   %s  (real RPO; target %s)%s\n", ageOr(r.Verified, "NEVER VERIFIED"), schema.FormatDuration(rpo), verdict)
		if t := r.LastTest; t != nil {
			fmt.Fprintf(g.stdout, "  last test         %s %s ago, %d files in %.1fs (%d of %d passed)\n", upper(t.Result),
				schema.Age(now.Sub(t.Started)), t.Files, t.Seconds, r.TestsPassed, r.Tests)
		} else {
			fmt.Fprintln(g.stdout, "  last test         never")
		}
		if dr := r.LastDrill; dr != nil {
			fmt.Fprintf(g.stdout, "  last drill        %s %s ago, RTO %s (target %s)\n", upper(dr.Result), schema.Age(now.Sub(dr.Started)),
				seconds(dr.Seconds), schema.FormatDuration(seconds(r.RTOTargetSeconds)))
		}
	}
	return nil
}
