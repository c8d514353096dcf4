package rehearse

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/rehearse/evidence"
	"github.com/drsync/drsync/reports"
	"github.com/drsync/drsync/schema"
)

// Record journals a rehearsal and keeps it as a report that reads back,
// failed or passed.
func TestRecord(t *testing.T) {
	d := &schema.Desired{StateDir: t.TempDir(), Host: "htpc"}
	started := time.Date(2026, 12, 4, 18, 0, 0, 0, time.UTC)
	runs := []Result{
		{Runbook: "DR-001", Started: started, Seconds: 12, Bytes: 4096, Passed: true, Detail: "2 subvolumes recovered", Storage: "btrfs",
			Services: []evidence.ServiceCheck{
				{Service: "app-db", Archive: "app-db.20261204T0100.tar.gz", Location: "WD-18TB", Passed: true, Detail: "integrity ok", Files: 1, Bytes: 100},
				{Service: "prometheus-tsdb", Archive: "prometheus-tsdb.20261204T0100.tar.gz", Location: "WD-18TB", Detail: "not served"},
			}},
		{Runbook: "DR-002", Started: started.Add(time.Minute), Seconds: 3, Passed: false, Detail: "drsync recover: exit 1", Storage: "dir"},
	}
	var out bytes.Buffer
	for _, res := range runs {
		if err := Record(&out, d, res); err != nil {
			t.Fatal(err)
		}
	}
	if n := strings.Count(out.String(), "report: "); n != 2 {
		t.Errorf("%d report paths said, want 2:\n%s", n, out.String())
	}
	got, _, err := evidence.Load(d.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	if !got["DR-001"].Last.Passed || got["DR-002"].Last.Passed {
		t.Errorf("journaled %+v", got)
	}
	want := map[string]model.Result{"DR-001": model.ResultPass, "DR-002": model.ResultFail}
	for _, res := range runs {
		r, ref, ok, err := reports.Latest(d.StateDir, res.Runbook)
		if err != nil || !ok {
			t.Fatalf("%s: no report (ok %v, err %v)", res.Runbook, ok, err)
		}
		if r.Kind != reports.Rehearse || r.Host != "htpc" || len(r.Items) != 1+len(res.Services) || ref.Kind != reports.Rehearse {
			t.Fatalf("%s: report %+v", res.Runbook, r)
		}
		it := r.Items[0]
		if it.Result != want[res.Runbook] || it.Seconds != res.Seconds || it.Bytes != res.Bytes || it.Location != res.Storage {
			t.Errorf("%s: item %+v", res.Runbook, it)
		}
		if !res.Passed && (len(it.Failures) != 1 || it.Failures[0].Detail != res.Detail) {
			t.Errorf("%s: failures %+v, want the rehearsal's error", res.Runbook, it.Failures)
		}
	}
	// The services are items of their own, named under the runbook so a
	// sandbox's check never stands as the real service's report.
	r, _, _, err := reports.Latest(d.StateDir, "DR-001/app-db")
	if err != nil || len(r.Items) != 3 || r.Items[0].Name != "DR-001" {
		t.Fatalf("DR-001's report: %+v (%v)", r, err)
	}
	if db := r.Items[1]; db.Name != "DR-001/app-db" || db.Result != model.ResultPass || db.Copy != "app-db.20261204T0100.tar.gz" || db.Bytes != 100 {
		t.Errorf("app-db's item: %+v", db)
	}
	if p := r.Items[2]; p.Result != model.ResultFail || len(p.Failures) != 1 || p.Failures[0].Detail != "not served" {
		t.Errorf("prometheus-tsdb's item: %+v", p)
	}
	if _, _, ok, _ := reports.Latest(d.StateDir, "app-db"); ok {
		t.Error("the rehearsal's report names the real app-db")
	}
}
