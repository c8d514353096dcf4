package main

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/drsync/drsync/reconcile/model"

	"github.com/drsync/drsync/recovery"
	"github.com/drsync/drsync/reports"
	"github.com/drsync/drsync/schema"
)

// writeRecoverReport keeps a recovery's outcome as a report in
// <stateDir>/reports (recover-<time>.log and .json), and says where. A
// report that cannot be written is logged: the recovery is journaled.
func writeRecoverReport(g *globalOptions, d *schema.Desired, started time.Time, results []recovery.Result, services []recovery.ServiceResult) {
	if len(results)+len(services) == 0 {
		return
	}
	r := reports.Report{Kind: reports.Recover, Host: d.Host, Started: started}
	for _, res := range results {
		it := reports.Item{Name: res.Subvolume, Copy: res.Snapshot, Result: model.ResultPass, Why: "recovered into " + res.Target,
			Seconds: res.Seconds, Files: res.Verified.Files, Bytes: res.Verified.Bytes / 2} // Bytes counts both trees
		if res.KeptAside != "" {
			it.Why += "; the previous source is kept as " + res.KeptAside
		}
		if res.Error != "" {
			it.Result = model.ResultFail
			it.Failures = append(it.Failures, reports.Failure{Path: ".", Check: "recover", Detail: res.Error})
		}
		for _, m := range res.Verified.Mismatches {
			it.Result = model.ResultFail
			it.Failures = append(it.Failures, reports.Failure{Path: m.Rel, Check: m.Check,
				Detail: fmt.Sprintf("copy %s, recovered %s", m.Want, m.Got)})
		}
		r.Items = append(r.Items, it)
	}
	for _, res := range services {
		it := reports.Item{Name: res.Service, Copy: res.Archive, Result: model.ResultPass, Why: res.Ready,
			Seconds: res.Seconds, Files: res.Files, Bytes: res.Bytes}
		if res.Error != "" {
			it.Result = model.ResultFail
			it.Failures = append(it.Failures, reports.Failure{Path: ".", Check: "recover", Detail: res.Error})
		}
		if res.RolledBack {
			it.Why += "; rolled back to the data kept aside"
		}
		r.Items = append(r.Items, it)
	}
	ref, err := reports.Write(d.StateDir, d.Reports.Keep.Duration, r)
	if err != nil {
		slog.Warn("writing the recovery's report", "err", err)
		return
	}
	if !g.json {
		fmt.Fprintf(g.stdout, "report: %s\n", ref.Text)
	}
}
