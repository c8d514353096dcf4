package rehearse

import (
	"fmt"
	"io"
	"log/slog"
	"path/filepath"

	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/rehearse/evidence"
	"github.com/drsync/drsync/reports"
	"github.com/drsync/drsync/schema"
)

// Record journals a rehearsal's outcome in the state directory of the
// desired state as given (rehearsals.jsonl, which runbooks, metrics and
// alerts read) and keeps it as a report in <stateDir>/reports, as restore
// tests, drills and recoveries are; it says where on out. A report that
// cannot be written is logged: the rehearsal is journaled.
func Record(out io.Writer, d *schema.Desired, res Result) error {
	if err := evidence.Append(d.StateDir, res); err != nil {
		return err
	}
	fmt.Fprintf(out, "Evidence journaled in %s\n", filepath.Join(d.StateDir, evidence.File))
	ref, err := reports.Write(d.StateDir, d.Reports.Keep.Duration, Report(d.Host, res))
	if err != nil {
		slog.Warn("writing the rehearsal's report", "runbook", res.Runbook, "err", err)
		return nil
	}
	fmt.Fprintf(out, "report: %s\n", ref.Text)
	return nil
}

// Report is a rehearsal as a report: the runbook, with what was checked or
// why it failed, then each service restored into staging and checked, as
// RUNBOOK/SERVICE.
func Report(host string, res Result) reports.Report {
	it := reports.Item{Name: res.Runbook, Location: res.Storage, Result: model.ResultPass, Why: res.Detail,
		Seconds: res.Seconds, Bytes: res.Bytes}
	if !res.Passed {
		it.Result, it.Why = model.ResultFail, ""
		it.Failures = []reports.Failure{{Path: ".", Check: "rehearse", Detail: res.Detail}}
	}
	items := []reports.Item{it}
	for _, s := range res.Services {
		// Named under the runbook: the check ran on a sandbox's copy, so it
		// must not stand as the real service's newest report.
		si := reports.Item{Name: res.Runbook + "/" + s.Service, Copy: s.Archive, Location: s.Location, Result: model.ResultPass, Why: s.Detail,
			Seconds: s.RestoreSeconds + s.ServiceSeconds, RestoreSeconds: s.RestoreSeconds, VerifySeconds: s.ServiceSeconds,
			Files: s.Files, Bytes: s.Bytes}
		if !s.Passed {
			si.Result, si.Why = model.ResultFail, ""
			si.Failures = []reports.Failure{{Path: ".", Check: "ready", Detail: s.Detail}}
		}
		items = append(items, si)
	}
	return reports.Report{Kind: reports.Rehearse, Host: host, Started: res.Started, Items: items}
}
