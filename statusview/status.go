// Package statusview derives and words what `drsync status` shows: one row
// per subvolume and service, from the same derivation the metrics render.
package statusview

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/drsync/drsync/internal/humane"
	"github.com/drsync/drsync/proofview"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/reconcile/planner"
	"github.com/drsync/drsync/schema"
)

// Row is one row of `drsync status`.
type Row struct {
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
	// Offsite is the evidence per off-site target (offsite.go).
	Offsite []OffsiteRow `json:"offsite,omitempty"`
	// Report is the newest report file naming it (text; JSON beside it).
	Report string `json:"report,omitempty"`
	// Coverage is each copy's share verified within the tier's coverage
	// window (absent when the tier declares none).
	Coverage []CoverageRow `json:"coverage,omitempty"`
}

// Rows reads each subvolume's and service's status from the one
// derivation the metrics and runbooks render (planner.RenderInput), so
// they never disagree; the reports of the last test and drill come from
// the journal's history as they are.
func Rows(d *schema.Desired, obs *model.Observed, now time.Time) []Row {
	in := planner.RenderInput(d, obs, now)
	age := func(t time.Time) *float64 {
		if t.IsZero() {
			return nil
		}
		s := max(0, now.Sub(t).Seconds()) // a future-dated snapshot is warned about by plan, never a negative age
		return &s
	}
	row := func(name, tier, service string, rpo, rto time.Duration) Row {
		st := in.Subvolumes[name]
		r := Row{Name: name, Tier: tier, Service: service, RPOTargetSeconds: rpo.Seconds(), RTOTargetSeconds: rto.Seconds(),
			NewestSnapshot: age(st.NewestLocal), NewestReplica: age(st.NewestExternal), Verified: age(st.Verified),
			Tests: st.TestsRun, TestsPassed: st.TestsPassed}
		if h := obs.History[name]; h != nil {
			r.LastTest, r.LastDrill = h.LastTest, h.LastDrill
		}
		r.SendFailing = obs.SendFailing[name]
		r.Offsite = offsiteRows(d, name, st, obs.History[name], age)
		r.Coverage = coverageRows(d, tier, st.Coverage)
		return r
	}
	var rows []Row
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
	return AgeText(time.Duration(*secs * float64(time.Second)))
}

func upper(s string) string { return strings.ToUpper(s) }

// Write prints the rows as `drsync status` shows them to a person.
func Write(w io.Writer, d *schema.Desired, rows []Row, now time.Time) {
	for _, r := range rows {
		if r.Service != "" {
			fmt.Fprintf(w, "%s  tier %s  (service: %s)\n", r.Name, r.Tier, r.Service)
			fmt.Fprintf(w, "  newest archive    %s\n", ageOr(r.NewestSnapshot, "none"))
		} else {
			fmt.Fprintf(w, "%s  tier %s\n", r.Name, r.Tier)
			fmt.Fprintf(w, "  newest snapshot   %s\n", ageOr(r.NewestSnapshot, "none"))
		}
		if s := d.Subvolumes[r.Name]; s != nil && s.External != nil {
			fmt.Fprintf(w, "  newest replica    %s\n", ageOr(r.NewestReplica, "none (or the drive is absent)"))
		}
		if svc := d.Services[r.Name]; svc != nil && svc.External != nil {
			fmt.Fprintf(w, "  newest copy       %s\n", ageOr(r.NewestReplica, "none (or the drive is absent)"))
		}
		if f := r.SendFailing; f != nil {
			fmt.Fprintf(w, "  send FAILING      since %s (%s ago), last %s: %s\n", f.Since.Format("2006-01-02 15:04"),
				schema.Age(now.Sub(f.Since)), f.Snapshot, f.Error)
		}
		rpo := time.Duration(r.RPOTargetSeconds * float64(time.Second))
		verdict := ""
		if r.Verified != nil && *r.Verified > r.RPOTargetSeconds {
			verdict = "  ✗ beyond the RPO target"
		}
		fmt.Fprintf(w, "  newest verified   %s  (real RPO; target %s)%s\n", ageOr(r.Verified, "NEVER VERIFIED"), schema.FormatDuration(rpo), verdict)
		if t := r.LastTest; t != nil {
			fmt.Fprintf(w, "  last test         %s %s ago, %d files in %.1fs (%d of %d passed)\n", upper(string(t.Result)),
				schema.Age(now.Sub(t.Started)), t.Files, t.Seconds, r.TestsPassed, r.Tests)
		} else {
			fmt.Fprintln(w, "  last test         never")
		}
		for _, c := range r.Coverage {
			fmt.Fprintf(w, "  coverage %-8s %s\n", c.Location, c.Line)
		}
		if dr := r.LastDrill; dr != nil {
			fmt.Fprintf(w, "  last drill        %s %s ago, %s (target %s)\n", upper(string(dr.Result)), schema.Age(now.Sub(dr.Started)),
				proofview.DrillTimes(*dr), schema.FormatDuration(humane.Rounded(humane.Seconds(r.RTOTargetSeconds))))
		}
		if r.Report != "" {
			fmt.Fprintf(w, "  report            %s\n", r.Report)
		}
		writeOffsite(w, r.Offsite, now)
	}
}

// AgeText is "26h old", or "in the future" for a name dated ahead of the
// clock (a plan made with --now, or a clock that went back).
func AgeText(d time.Duration) string {
	if d < 0 {
		return "in the future"
	}
	return schema.Age(d) + " old"
}
