package reconcile_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drsync/drsync/prove"
	"github.com/drsync/drsync/providers/archive"
	"github.com/drsync/drsync/reconcile/model"
)

// TestServiceDrills applies a desired state whose services' tier declares
// drills: the plan drills each service, each drill restores the archive's
// drive copy into staging and brings the real service up on it (the real
// Prometheus is queried for the scraped series), the metrics carry the
// drills under the service's name, staging is gone afterwards and no
// Prometheus is left running. An archive of a TSDB whose chunks were cut
// short (promtool passes it) fails its drill.
func TestServiceDrills(t *testing.T) {
	r := newRig(t, "../testdata/desired/services.cue")
	now := time.Now().In(r.loc)
	plan, events, err := r.apply(now)
	if err != nil {
		t.Fatal(err)
	}
	drills := map[string]model.Action{}
	for _, a := range plan.Actions() {
		if a.Kind == model.KindDrill {
			drills[a.Subvolume] = a
		}
	}
	for _, name := range r.d.ServiceNames() {
		a, ok := drills[name]
		if !ok {
			t.Fatalf("no drill of %s planned: %+v", name, plan.Actions())
		}
		if !a.External || a.Proof.RTOTarget.Duration != 30*time.Minute {
			t.Errorf("drill of %s reads %s (external %v), target %v: want the drive's copy against the tier's 30m", name, a.Path, a.External, a.Proof.RTOTarget)
		}
	}
	reports := map[string]*model.TestReport{}
	for _, e := range events {
		if e.Report != nil && e.Report.Kind == model.KindDrill {
			reports[e.Report.Subvolume] = e.Report
		}
	}
	want := map[string]string{
		"prometheus-tsdb": "tsdb: prometheus ready after",
		"grafana-db":      "grafana.db: memories (2000 rows)",
		"app-config":      "every file matches its checksum",
	}
	for name, evidence := range want {
		rep := reports[name]
		if rep == nil || rep.Result != model.ResultPass {
			t.Fatalf("drill of %s: %+v", name, rep)
		}
		if !strings.Contains(rep.Why, evidence) || rep.RestoreSeconds <= 0 || rep.VerifySeconds <= 0 {
			t.Errorf("drill of %s: why %q, restore %vs, service %vs; want %q and both times", name, rep.Why, rep.RestoreSeconds, rep.VerifySeconds, evidence)
		}
	}
	// A subvolume's drill splits its time too: receiving, then verifying.
	if docs := reports["docs"]; docs == nil || !docs.Passed() || docs.RestoreSeconds <= 0 || docs.VerifySeconds <= 0 ||
		docs.RestoreSeconds+docs.VerifySeconds > docs.Seconds*1.001 {
		t.Errorf("drill of the docs subvolume: %+v, want a pass with restore and verify times adding up to its duration", docs)
	}
	t.Log(reports["prometheus-tsdb"].Why)
	if why := reports["prometheus-tsdb"].Why; !strings.Contains(why, "up: ") || strings.Contains(why, "up: 0 samples") {
		t.Errorf("prometheus drill did not find the scraped series: %s", why)
	}
	if entries, err := os.ReadDir(r.d.Restore.Scratch); err != nil || len(entries) != 0 {
		t.Errorf("staging left behind in %s: %v %v", r.d.Restore.Scratch, entries, err)
	}
	assertNoDrillPrometheus(t, r.d.Restore.Scratch)
	metrics, err := os.ReadFile(r.d.Generate.Metrics)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{`backup_drill_success{subvolume="prometheus-tsdb",tier="svc"} 1`,
		`backup_drill_interval_seconds{subvolume="grafana-db",tier="svc"} 7.776e+06`} {
		if !strings.Contains(string(metrics), m) {
			t.Errorf("metrics lack %s", m)
		}
	}
	for _, a := range r.plan(now.Add(time.Minute)).Actions() {
		if a.Kind == model.KindDrill {
			t.Errorf("a drill is still due after passing: %+v", a)
		}
	}

	t.Run("damaged TSDB", func(t *testing.T) {
		good := reports["prometheus-tsdb"]
		src := filepath.Join(r.d.ArchiveCopyDir(r.d.Services["prometheus-tsdb"]), good.Snapshot)
		unpacked := filepath.Join(r.dir, "unpacked")
		if rep, err := archive.Verify(t.Context(), src, unpacked); err != nil || len(rep.Mismatches) > 0 {
			t.Fatalf("unpacking %s: %+v %v", src, rep.Mismatches, err)
		}
		chunks, err := filepath.Glob(filepath.Join(unpacked, "tsdb", "*", "chunks", "000001"))
		if err != nil || len(chunks) == 0 {
			t.Fatalf("no chunk segment in the archive: %v %v", chunks, err)
		}
		for _, c := range chunks {
			if err := os.Truncate(c, 9); err != nil {
				t.Fatal(err)
			}
		}
		damaged := filepath.Join(r.dir, "damaged", "prometheus-tsdb.20261204T0000.tar.gz")
		if err := os.MkdirAll(filepath.Dir(damaged), 0o700); err != nil {
			t.Fatal(err)
		}
		if _, err := archive.Create(t.Context(), damaged, []archive.Source{{Path: filepath.Join(unpacked, "tsdb"), Name: "tsdb"}}); err != nil {
			t.Fatal(err)
		}
		rep, err := prove.New(r.st, r.d).Prove(t.Context(), model.TestRequest{Kind: model.KindDrill, Subvolume: "prometheus-tsdb",
			Snapshot: filepath.Base(damaged), Copy: damaged, Scratch: r.d.Restore.Scratch, RTOTarget: 30 * time.Minute,
			Service: r.d.Services["prometheus-tsdb"]}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Result != model.ResultFail || len(rep.Failures) != 1 || rep.Failures[0].Check != "serve" ||
			!strings.Contains(rep.Failures[0].Got, "segment doesn't include enough bytes") {
			t.Fatalf("drill of a TSDB with its chunks cut short: %s %+v", rep.Result, rep.Failures)
		}
		if entries, err := os.ReadDir(r.d.Restore.Scratch); err != nil || len(entries) != 0 {
			t.Errorf("a failed drill left staging behind: %v %v", entries, err)
		}
		assertNoDrillPrometheus(t, r.d.Restore.Scratch)
	})
}

// assertNoDrillPrometheus fails when a Prometheus started by a drill (its
// storage under the scratch root, reached through /proc) still runs.
func assertNoDrillPrometheus(t *testing.T, scratch string) {
	t.Helper()
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || !strings.Contains(string(b), "prometheus-drill.yml") {
			continue
		}
		t.Errorf("a drill's prometheus still runs: %s", strings.ReplaceAll(string(b), "\x00", " "))
	}
}
