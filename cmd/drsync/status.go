package main

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/drsync/drsync/internal/humane"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/reconcile/planner"
	"github.com/drsync/drsync/reports"
	"github.com/drsync/drsync/schema"
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
	Verified         *float64          `json:"verifiedAgeSeconds,omitempty"`
	RPOTargetSeconds float64           `json:"rpoTargetSeconds"`
	LastTest         *model.TestReport `json:"lastTest,omitempty"`
	TestsPassed      int               `json:"testsPassed"`
	Tests            int               `json:"tests"`
	LastDrill        *model.TestReport `json:"lastDrill,omitempty"`
	RTOTargetSeconds float64           `json:"rtoTargetSeconds"`
	// SendFailing is the run of failed sends since the last successful
	// one, with btrfs's reason (absent: the last send succeeded).
	SendFailing *model.SendFailure `json:"sendFailing,omitempty"`
	// Offsite is the evidence per off-site target (status_offsite.go).
	Offsite []offsiteStatus `json:"offsite,omitempty"`
	// Report is the newest report file naming it (text; JSON beside it).
	Report string `json:"report,omitempty"`
	// Coverage is each copy's share verified within the tier's coverage
	// window (absent when the tier declares none).
	Coverage []coverageStatus `json:"coverage,omitempty"`
}

func newStatusCommand(g *globalOptions) *cobra.Command {
	var now string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show each subvolume's newest snapshot, newest verified-restorable point and last test and drill",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runStatus(g, now)
		},
	}
	cmd.Flags().StringVar(&now, "now", "", "report as if it were this time (RFC 3339, or 2006-01-02T15:04 in local time)")
	return cmd
}

// statusRows reads each subvolume's and service's status from the one
// derivation the metrics and runbooks render (planner.RenderInput), so
// they never disagree; the reports of the last test and drill come from
// the journal's history as they are.
func statusRows(d *schema.Desired, obs *model.Observed, now time.Time) []subvolumeStatus {
	in := planner.RenderInput(d, obs, now)
	age := func(t time.Time) *float64 {
		if t.IsZero() {
			return nil
		}
		s := max(0, now.Sub(t).Seconds()) // a future-dated snapshot is warned about by plan, never a negative age
		return &s
	}
	row := func(name, tier, service string, rpo, rto time.Duration) subvolumeStatus {
		st := in.Subvolumes[name]
		r := subvolumeStatus{Name: name, Tier: tier, Service: service, RPOTargetSeconds: rpo.Seconds(), RTOTargetSeconds: rto.Seconds(),
			NewestSnapshot: age(st.NewestLocal), NewestReplica: age(st.NewestExternal), Verified: age(st.Verified),
			Tests: st.TestsRun, TestsPassed: st.TestsPassed}
		if h := obs.History[name]; h != nil {
			r.LastTest, r.LastDrill = h.LastTest, h.LastDrill
		}
		r.SendFailing = obs.SendFailing[name]
		r.Offsite = offsiteRows(d, name, st, obs.History[name], age)
		r.Coverage = coverageRows(d, name, st.Coverage)
		return r
	}
	var rows []subvolumeStatus
	for _, name := range d.SubvolumeNames() {
		s := d.Subvolumes[name]
		rows = append(rows, row(name, s.Tier, "", d.Tiers[s.Tier].RPO.Duration, d.RTO(s).Duration))
	}
	for _, name := range d.ServiceNames() {
		svc := d.Services[name]
		t := d.Tiers[svc.Tier]
		rows = append(rows, row(name, svc.Tier, svc.Kind, t.RPO.Duration, t.RTO.Duration))
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
func runStatus(g *globalOptions, at string) error {
	now, err := parseNow(at)
	if err != nil {
		return err
	}
	d, err := loadDesired(g, g.file, g.tags)
	if err != nil {
		return err
	}
	obs, err := observe(g, d, now)
	if err != nil {
		return err
	}
	rows := statusRows(d, obs, now)
	newest, err := reports.NewestByName(d.StateDir)
	if err != nil {
		slog.Warn("reading reports", "err", err)
	}
	for i := range rows {
		rows[i].Report = newest[rows[i].Name].Text
	}
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
		if f := r.SendFailing; f != nil {
			fmt.Fprintf(g.stdout, "  send FAILING      since %s (%s ago), last %s: %s\n", f.Since.Format("2006-01-02 15:04"),
				schema.Age(now.Sub(f.Since)), f.Snapshot, f.Error)
		}
		rpo := time.Duration(r.RPOTargetSeconds * float64(time.Second))
		verdict := ""
		if r.Verified != nil && *r.Verified > r.RPOTargetSeconds {
			verdict = "  ✗ beyond the RPO target"
		}
		fmt.Fprintf(g.stdout, "  newest verified   %s  (real RPO; target %s)%s\n", ageOr(r.Verified, "NEVER VERIFIED"), schema.FormatDuration(rpo), verdict)
		if t := r.LastTest; t != nil {
			fmt.Fprintf(g.stdout, "  last test         %s %s ago, %d files in %.1fs (%d of %d passed)\n", upper(string(t.Result)),
				schema.Age(now.Sub(t.Started)), t.Files, t.Seconds, r.TestsPassed, r.Tests)
		} else {
			fmt.Fprintln(g.stdout, "  last test         never")
		}
		for _, c := range r.Coverage {
			fmt.Fprintf(g.stdout, "  coverage %-8s %s\n", c.Location, c.Line)
		}
		if dr := r.LastDrill; dr != nil {
			fmt.Fprintf(g.stdout, "  last drill        %s %s ago, %s (target %s)\n", upper(string(dr.Result)), schema.Age(now.Sub(dr.Started)),
				drillTimes(*dr), schema.FormatDuration(humane.Rounded(humane.Seconds(r.RTOTargetSeconds))))
		}
		if r.Report != "" {
			fmt.Fprintf(g.stdout, "  report            %s\n", r.Report)
		}
		printOffsite(g, r.Offsite, now)
	}
	return nil
}
