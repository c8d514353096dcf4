package reconcile_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drsync/drsync/prove"
	"github.com/drsync/drsync/providers/dirfs"
	"github.com/drsync/drsync/providers/services"
	"github.com/drsync/drsync/reconcile"
	"github.com/drsync/drsync/reconcile/journal"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/reconcile/planner"
	"github.com/drsync/drsync/render"
	"github.com/drsync/drsync/render/view"
	"github.com/drsync/drsync/schema"
)

// dirDesired is a plain-directory sandbox's desired state: one subvolume,
// a drive, a restore test every 30 days and every generated file.
const dirDesired = `package drsync

root: *"" | string @tag(root)

stateDir: "\(root)/state"
restore: scratch: "\(root)/scratch"
locations: {
	pool: path: "\(root)/pool/.snapshots"
	usb: {external: true, path: "\(root)/usb/.snapshots", mount: "\(root)/usb", uuid: "0d2c7a3e-1b4f-4e6a-9c8d-7f6e5d4c3b2a"}
}
tiers: "1": {rpo: "7d", rto: "1h", restoreTest: every: "30d"}
subvolumes: docs: {
	tier:   "1"
	source: "\(root)/pool/docs"
	snapshots: {location: "pool", schedule: "daily 02:00", retention: daily: 7}
	external: {location: "usb", schedule: "daily 03:00", retention: {daily: 3, weekly: 4}}
}
`

// dirRig is a plain-directory sandbox: no root, no btrfs, real files.
type dirRig struct {
	t    *testing.T
	root string
	d    *schema.Desired
	st   model.Storage
}

func newDirRig(t *testing.T) *dirRig {
	t.Helper()
	root := t.TempDir()
	for path, content := range map[string]string{
		"desired.cue":           dirDesired,
		"pool/docs/a/file.txt":  "hello\n",
		"pool/docs/b/notes.txt": "notes\n",
		"usb/.drsync-drive":     "0d2c7a3e-1b4f-4e6a-9c8d-7f6e5d4c3b2a\n",
	} {
		p := filepath.Join(root, path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	d, err := schema.Load(filepath.Join(root, "desired.cue"), []string{"root=" + root})
	if err != nil {
		t.Fatal(err)
	}
	return &dirRig{t: t, root: root, d: d, st: dirfs.Storage{}}
}

func (r *dirRig) env() reconcile.Env {
	j, err := journal.OpenJournal(r.d.StateDir)
	if err != nil {
		r.t.Fatal(err)
	}
	return reconcile.Env{Storage: r.st, Services: services.Store{}, Prover: prove.New(r.st, r.d), Journal: j, Desired: r.d}
}

func (r *dirRig) at(s string) time.Time {
	tm, err := time.ParseInLocation("2006-01-02 15:04", s, time.UTC)
	if err != nil {
		r.t.Fatal(err)
	}
	return tm
}

func (r *dirRig) journal() []model.JournalEntry {
	entries, err := r.env().Journal.Entries()
	if err != nil {
		r.t.Fatal(err)
	}
	return entries
}

func (r *dirRig) exists(rel string) bool {
	_, err := os.Stat(filepath.Join(r.root, rel))
	return err == nil
}

// failingList is a storage whose snapshot directories cannot be read.
type failingList struct{ model.Storage }

func (failingList) List(string) ([]model.Entry, error) {
	return nil, errors.New("input/output error")
}

// failingSnapshot is a storage that cannot take snapshots.
type failingSnapshot struct{ model.Storage }

func (failingSnapshot) Snapshot(context.Context, string, string) error {
	return errors.New("no space left on device")
}

// Each step that fails ends the run: nothing after it happens, and the
// lock is released whatever happened.
func TestRunStopsAtTheFailedStep(t *testing.T) {
	now := "2026-11-22 03:30"
	t.Run("lock held", func(t *testing.T) {
		r := newDirRig(t)
		l, err := reconcile.AcquireLock(r.d.StateDir, "another apply")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Release()
		out, err := reconcile.Run(t.Context(), r.env(), reconcile.RunOptions{Now: r.at(now)})
		if !errors.Is(err, reconcile.ErrLocked) || out.Step != reconcile.StepLock || out.Observed != nil {
			t.Fatalf("outcome %+v, %v", out, err)
		}
		if len(r.journal()) != 0 || r.exists("pool/.snapshots/docs") {
			t.Error("a locked-out run wrote something")
		}
	})
	t.Run("observe fails", func(t *testing.T) {
		r := newDirRig(t)
		r.st = failingList{r.st}
		out, err := reconcile.Run(t.Context(), r.env(), reconcile.RunOptions{Now: r.at(now)})
		if err == nil || out.Step != reconcile.StepObserve || out.Plan != nil || out.Status != model.StatusFailed {
			t.Fatalf("outcome %+v, %v", out, err)
		}
		if len(r.journal()) != 0 {
			t.Error("a run that could not observe journaled something")
		}
		l, err := reconcile.AcquireLock(r.d.StateDir, "next")
		if err != nil {
			t.Fatalf("lock left held: %v", err)
		}
		l.Release()
	})
	t.Run("review declines", func(t *testing.T) {
		r := newDirRig(t)
		out, err := reconcile.Run(t.Context(), r.env(), reconcile.RunOptions{Now: r.at(now),
			Review: func(*model.Plan) error { return errors.New("apply cancelled") }})
		if err == nil || out.Step != reconcile.StepReview || out.Status != model.StatusDeclined || out.Plan.Empty() {
			t.Fatalf("outcome %+v, %v", out, err)
		}
		if len(r.journal()) != 0 || r.exists("pool/.snapshots/docs") || r.exists("var/lib/node_exporter/textfile_collector/drsync.prom") {
			t.Error("a declined plan changed the machine")
		}
	})
	t.Run("dry run", func(t *testing.T) {
		r := newDirRig(t)
		out, err := reconcile.Run(t.Context(), r.env(), reconcile.RunOptions{Now: r.at(now), DryRun: true})
		if err != nil || out.Status != model.StatusDrift || out.Step != reconcile.StepGuard {
			t.Fatalf("outcome %+v, %v", out, err)
		}
		if len(r.journal()) != 0 || r.exists("state/lock") || r.exists("pool/.snapshots/docs") {
			t.Error("a dry run wrote something")
		}
	})
	t.Run("failed action still writes evidence", func(t *testing.T) {
		r := newDirRig(t)
		r.st = failingSnapshot{r.st}
		out, err := reconcile.Run(t.Context(), r.env(), reconcile.RunOptions{Now: r.at(now)})
		if err == nil || out.Status != model.StatusFailed || out.Step != "" || out.Result.Failed != 1 {
			t.Fatalf("outcome %+v, %v", out, err)
		}
		// The send and test of the snapshot never taken are skipped.
		if out.Result.Skipped != 2 {
			t.Errorf("skipped %d, want the send and the test", out.Result.Skipped)
		}
		prom, rerr := os.ReadFile(filepath.Join(r.root, "var/lib/node_exporter/textfile_collector/drsync.prom"))
		if rerr != nil || !strings.Contains(string(prom), `drsync_reconcile_last_result{result="failed"} 1`) {
			t.Errorf("metrics after a failed run: %v\n%s", rerr, prom)
		}
	})
	t.Run("metrics cannot be written", func(t *testing.T) {
		r := newDirRig(t)
		// A file where the metrics directory should be.
		dir := filepath.Dir(r.d.Generate.Metrics)
		if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dir, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := reconcile.Run(t.Context(), r.env(), reconcile.RunOptions{Now: r.at(now)})
		if err == nil || out.Step != reconcile.StepMetrics || out.Result.Done == 0 {
			t.Fatalf("outcome %+v, %v", out, err)
		}
		if e := r.journal(); len(e) == 0 || e[len(e)-1].Phase != model.PhaseRunEnd {
			t.Error("the apply before the metrics step was not journaled to its end")
		}
	})
}

// An unattended run whose plan prunes most snapshots does nothing.
func TestRunGuardsUnattendedPrunes(t *testing.T) {
	r := newDirRig(t)
	for day := 1; day <= 6; day++ {
		if _, err := reconcile.Run(t.Context(), r.env(), reconcile.RunOptions{Now: r.at("2026-11-0" + string(rune('0'+day)) + " 03:30")}); err != nil {
			t.Fatal(err)
		}
	}
	before := len(r.journal())
	// A retention typo: keep one day instead of seven.
	src := strings.Replace(dirDesired, "retention: daily: 7", "retention: daily: 1", 1)
	if err := os.WriteFile(filepath.Join(r.root, "desired.cue"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := schema.Load(filepath.Join(r.root, "desired.cue"), []string{"root=" + r.root})
	if err != nil {
		t.Fatal(err)
	}
	r.d = d
	out, err := reconcile.Run(t.Context(), r.env(), reconcile.RunOptions{Now: r.at("2026-11-06 03:40"), Unattended: true})
	if err == nil || out.Status != model.StatusGuarded || out.Step != reconcile.StepGuard {
		t.Fatalf("outcome %+v, %v", out, err)
	}
	if len(r.journal()) != before {
		t.Error("a guarded run journaled something")
	}
	if entries, _ := os.ReadDir(filepath.Join(r.root, "pool/.snapshots/docs")); len(entries) < 6 {
		t.Errorf("a guarded run pruned: %d left", len(entries))
	}
	// By hand, the same plan applies.
	if out, err := reconcile.Run(t.Context(), r.env(), reconcile.RunOptions{Now: r.at("2026-11-06 03:40")}); err != nil || out.Result.Done == 0 {
		t.Fatalf("attended run: %+v %v", out, err)
	}
}

// Everything a run records is timed by its clock, so a plan at the same
// clock right after is empty, far from the wall clock too (issue 14).
func TestRunRecordsAtThePlanClock(t *testing.T) {
	r := newDirRig(t)
	at := r.at("2027-06-01 03:30")
	out, err := reconcile.Run(t.Context(), r.env(), reconcile.RunOptions{Now: at})
	if err != nil || out.Result.Done == 0 {
		t.Fatalf("%+v %v", out, err)
	}
	for _, e := range r.journal() {
		if e.Time.Before(at) || e.Time.After(at.Add(time.Hour)) {
			t.Errorf("journaled at %s, not at the plan's clock %s", e.Time, at)
		}
		if e.Report != nil && (e.Report.Started.Before(at) || e.Report.Started.After(at.Add(time.Hour))) {
			t.Errorf("%s started at %s, not at the plan's clock", e.Report.Kind, e.Report.Started)
		}
	}
	again, err := reconcile.Run(t.Context(), r.env(), reconcile.RunOptions{Now: at.Add(time.Minute), DryRun: true})
	if err != nil || !again.Plan.Empty() {
		var buf strings.Builder
		again.Plan.WriteText(&buf, false)
		t.Fatalf("plan right after apply is not empty: %v\n%s", err, buf.String())
	}
}

// The evidence written after a run is what a fresh observation renders:
// the run's one observation learned what it did.
func TestRunEvidenceMatchesAFreshObservation(t *testing.T) {
	r := newDirRig(t)
	at := r.at("2026-11-22 03:30")
	if _, err := reconcile.Run(t.Context(), r.env(), reconcile.RunOptions{Now: at}); err != nil {
		t.Fatal(err)
	}
	metrics := r.d.Generate.Metrics
	written, err := os.ReadFile(metrics)
	if err != nil {
		t.Fatal(err)
	}
	obs, err := reconcile.Observe(r.d, r.env(), time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	// Rendered at the same instant as the run's last journal entry.
	entries := r.journal()
	in := planner.RenderInput(r.d, obs, entries[len(entries)-1].Time)
	fresh := renderMetrics(t, in)
	if drop(string(written)) != drop(fresh) {
		t.Errorf("metrics after the run differ from a fresh observation's:\n%s\n---\n%s", written, fresh)
	}
}

func renderMetrics(t *testing.T, in view.Input) string {
	t.Helper()
	files, err := render.Files(in)
	if err != nil {
		t.Fatal(err)
	}
	return string(files[in.Desired.Generate.Metrics])
}

// drop removes the samples that move with the clock.
func drop(metrics string) string {
	var keep []string
	for _, l := range strings.Split(metrics, "\n") {
		if !strings.Contains(l, "age_seconds") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}
