package prove

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"golang.org/x/sys/unix"

	"github.com/drsync/drsync/internal/humane"
	"github.com/drsync/drsync/providers/services"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/schema"
)

// drillService restores a service's whole archive into staging (a fresh
// directory under the scratch root, never the live data), brings the real
// service up on it (services.Drill), and times the run as the service's
// measured RTO: restoring the archive, then starting and checking the
// service, reported apart. Staging is removed afterwards, failed or not:
// the report holds what failed, and a restored TSDB is large.
func (p *Prover) drillService(ctx context.Context, req model.TestRequest) (model.TestReport, error) {
	r := p.report(req)
	r.RTOTargetSeconds = req.RTOTarget.Seconds()
	r.Why = archiveWhy(req.External)
	start := time.Now()
	rootFd, staging, err := p.archiveScratch(req, r.Started)
	if err != nil {
		return r, err
	}
	defer unix.Close(rootFd)
	defer staging.Close()
	res, err := services.Drill(ctx, req.Service, req.Copy, staging.Proc)
	r.Seconds = time.Since(start).Seconds()
	r.RestoreSeconds, r.VerifySeconds = res.RestoreSeconds, res.ServiceSeconds
	cleanup := removeBelow(rootFd, staging.Name)
	if errors.Is(err, services.ErrNothingToProve) {
		r.Result, r.Why, r.Files = model.ResultSkip, err.Error(), res.Archive.Files
		return r, cleanup
	}
	if err != nil {
		return r, errors.Join(fmt.Errorf("drill of %s: %w", req.Snapshot, err), cleanup)
	}
	r.Files, r.Bytes = res.Archive.Files, res.Archive.Bytes
	r.Failures, r.Checked = archiveReport(req.Service, req.Copy, res.Archive)
	r.Checked = withServiceChecks(r.Checked, req.Service, res.Checks)
	if req.RTOTarget > 0 && r.Seconds > req.RTOTarget.Seconds() {
		r.Failures = append(r.Failures, model.Failure{Path: ".", Check: "rto",
			Want: schema.FormatDuration(req.RTOTarget), WantFrom: "RTO target",
			Got: humane.Seconds(r.Seconds).Round(time.Second).String(), GotFrom: "restore and service start"})
	}
	switch {
	case len(r.Failures) > 0:
		r.Result = model.ResultFail
	case r.Files == 0:
		r.Result, r.Why = model.ResultSkip, "the archive holds no files: nothing to prove"
	default:
		r.Result = model.ResultPass
		r.Why += "; " + serviceSummary(res.Checks)
	}
	return r, cleanup
}

// withServiceChecks adds the service checks that passed to the per-file
// list, on the member they read.
func withServiceChecks(checked []model.FileCheck, svc *schema.Service, passed []services.DrillCheck) []model.FileCheck {
	rel := memberRel(svc)
	for _, c := range passed {
		path, found := rel(c.Path), false
		for i := range checked {
			if checked[i].Path == path {
				found = true
				if !slices.Contains(checked[i].Passed, c.Check) {
					checked[i].Passed = append(checked[i].Passed, c.Check)
				}
			}
		}
		if !found {
			checked = append(checked, model.FileCheck{Path: path, Passed: []string{c.Check}})
		}
	}
	return checked
}

// serviceSummary says what the service made of the restored data: the
// evidence a person reads in status and the report.
func serviceSummary(checks []services.DrillCheck) string {
	var s string
	for _, c := range checks {
		if c.Check == "tsdb" || c.Check == "integrity" {
			continue // implied by the checks after them
		}
		if s != "" {
			s += "; "
		}
		s += c.Path + ": " + c.Detail
	}
	if s == "" {
		return "every file matches its checksum"
	}
	return s
}
