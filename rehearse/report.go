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

// Report is a rehearsal as a report: one item, the runbook, with what was
// checked or why it failed.
func Report(host string, res Result) reports.Report {
	it := reports.Item{Name: res.Runbook, Location: res.Storage, Result: model.ResultPass, Why: res.Detail,
		Seconds: res.Seconds, Bytes: res.Bytes}
	if !res.Passed {
		it.Result, it.Why = model.ResultFail, ""
		it.Failures = []reports.Failure{{Path: ".", Check: "rehearse", Detail: res.Detail}}
	}
	return reports.Report{Kind: reports.Rehearse, Host: host, Started: res.Started, Items: []reports.Item{it}}
}
