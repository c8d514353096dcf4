package recovery

import (
	"fmt"
	"time"

	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/reports"
)

// Report is a recovery's outcome as the report kept in <stateDir>/reports:
// one item per recovered subvolume and service, failed with each mismatch
// the verification found or the error that stopped it.
func Report(host string, started time.Time, results []Result, services []ServiceResult) reports.Report {
	r := reports.Report{Kind: reports.Recover, Host: host, Started: started}
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
		if res.FetchedFrom != "" {
			it.Why = "fetched from " + res.FetchedFrom + "; " + it.Why
		}
		if res.RolledBack {
			it.Why += "; rolled back to the data kept aside"
		}
		r.Items = append(r.Items, it)
	}
	return r
}
