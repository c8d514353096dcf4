package evidence

import (
	"log/slog"

	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/reports"
	"github.com/drsync/drsync/schema"
)

// reportKinds maps the proofs a run makes to the report files they go to.
var reportKinds = map[model.Kind]reports.Kind{model.KindTest: reports.RestoreTest, model.KindDrill: reports.Drill}

// WriteReports writes a run's tests and drills as one report per kind
// into <stateDir>/reports and returns the reports written. A report that
// cannot be written is logged: the journal stays the record the plan and
// the evidence come from.
func WriteReports(d *schema.Desired, proofs []model.TestReport) []reports.Ref {
	var written []reports.Ref
	by := map[reports.Kind]*reports.Report{}
	for _, p := range proofs {
		k, ok := reportKinds[p.Kind]
		if !ok {
			continue
		}
		rep := by[k]
		if rep == nil {
			rep = &reports.Report{Kind: k, Host: d.Host, Started: p.Started}
			by[k] = rep
		}
		if p.Started.Before(rep.Started) {
			rep.Started = p.Started
		}
		rep.Items = append(rep.Items, ReportItem(p))
	}
	for _, k := range reports.Kinds {
		rep := by[k]
		if rep == nil {
			continue
		}
		ref, err := reports.Write(d.StateDir, d.Reports.Keep.Duration, *rep)
		if err != nil {
			slog.Warn("writing the run's report", "kind", k, "err", err)
			continue
		}
		written = append(written, ref)
	}
	return written
}

// ReportItem is a test's or drill's evidence as a report item.
func ReportItem(p model.TestReport) reports.Item {
	it := reports.Item{Name: p.Subvolume, Copy: p.Snapshot, Location: p.Location, Result: p.Result, Why: p.Why,
		Seconds: p.Seconds, RestoreSeconds: p.RestoreSeconds, VerifySeconds: p.VerifySeconds, RTOTargetSeconds: p.RTOTargetSeconds,
		Files: p.Files, Bytes: p.Bytes, FailuresOmitted: p.FailuresOmitted}
	for _, f := range p.Failures {
		it.Failures = append(it.Failures, reports.Failure{Path: f.Path, Check: f.Check, Detail: f.Detail(nil)})
	}
	return it
}
