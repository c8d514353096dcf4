package recovery

import (
	"testing"
	"time"

	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/verify"
)

func TestReportFailsAnItemPerMismatchAndHalvesTheBytes(t *testing.T) {
	started := time.Date(2026, 12, 4, 18, 0, 0, 0, time.UTC)
	r := Report("box", started, []Result{
		{Subvolume: "docs", Snapshot: "docs.1", Target: "/home/docs", KeptAside: "/home/docs.old",
			Verified: verify.TreeReport{Files: 3, Bytes: 200}},
		{Subvolume: "notes", Snapshot: "notes.1", Target: "/home/notes",
			Verified: verify.TreeReport{Mismatches: []verify.Mismatch{{Rel: "a", Check: "size", Want: "1", Got: "2"}}}},
	}, []ServiceResult{{Service: "prom", Archive: "prom.1", Error: "not ready", RolledBack: true}})
	if r.Host != "box" || !r.Started.Equal(started) || len(r.Items) != 3 {
		t.Fatalf("report: %+v", r)
	}
	docs, notes, prom := r.Items[0], r.Items[1], r.Items[2]
	if docs.Result != model.ResultPass || docs.Bytes != 100 || docs.Why != "recovered into /home/docs; the previous source is kept as /home/docs.old" {
		t.Errorf("docs: %+v", docs)
	}
	if notes.Result != model.ResultFail || len(notes.Failures) != 1 || notes.Failures[0].Detail != "copy 1, recovered 2" {
		t.Errorf("notes: %+v", notes)
	}
	if prom.Result != model.ResultFail || prom.Failures[0].Detail != "not ready" || prom.Why != "; rolled back to the data kept aside" {
		t.Errorf("prom: %+v", prom)
	}
}
