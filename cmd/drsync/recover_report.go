package main

import (
	"fmt"
	"log/slog"
	"time"

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
	r := recovery.Report(d.Host, started, results, services)
	ref, err := reports.Write(d.StateDir, d.Reports.Keep.Duration, r)
	if err != nil {
		slog.Warn("writing the recovery's report", "err", err)
		return
	}
	if !g.json {
		fmt.Fprintf(g.stdout, "report: %s\n", ref.Text)
	}
}
