package recovery_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drsync/drsync/providers/services"
	"github.com/drsync/drsync/reconcile/journal"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/recovery"
	"github.com/drsync/drsync/schema"
)

// filesRecovery backs up dir/etc/app (config.yaml "archived") and plans
// its recovery with the given start command; the live file is then
// changed, so the kept-aside data is told apart from the restored.
func filesRecovery(t *testing.T, dir string, start []string) (*recovery.Plan, string) {
	t.Helper()
	app := filepath.Join(dir, "etc", "app")
	os.MkdirAll(app, 0o755)
	os.WriteFile(filepath.Join(app, "config.yaml"), []byte("archived\n"), 0o644)
	svc := &schema.Service{Name: "conf", Kind: schema.ServiceFiles, Paths: []string{app}, Stop: []string{"/bin/true"}, Start: start}
	arch := filepath.Join(dir, "backups", "conf.20261122T0100.tar.gz")
	if _, err := (services.Store{}).Backup(t.Context(), svc, arch); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(app, "config.yaml"), []byte("live\n"), 0o644)
	now := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	return &recovery.Plan{Now: now, Order: []string{"conf"}, Services: []recovery.ServiceRecovery{{
		Service: "conf", Kind: svc.Kind, Archive: filepath.Base(arch), Location: "pool", Copy: arch,
		Targets: []recovery.ServiceTarget{{Path: app, State: recovery.TargetData, KeepAside: app + ".pre-recover-20261122T090000"}},
		Stop:    svc.Stop, Start: svc.Start, Declared: svc}}}, app
}

// A service that starts but is not ready (its first start changes a
// restored file) is rolled back: the kept-aside data is in place again,
// the restored copy kept for inspection, the rollback journaled.
func TestServiceReadinessFailureRollsBack(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "started")
	// The first start damages the restored file; the restart leaves it be.
	start := []string{"/bin/sh", "-c", `[ -e "$0" ] && exit 0; touch "$0"; echo damaged >> "$1/config.yaml"`, marker, filepath.Join(dir, "etc", "app")}
	p, app := filesRecovery(t, dir, start)
	j, _ := journal.OpenJournal(filepath.Join(dir, "state"))
	out, err := recovery.Run(t.Context(), p, recovery.Env{Journal: j}, nil)
	if err == nil || !strings.Contains(err.Error(), "does not match the archive's checksum") || !strings.Contains(err.Error(), "rolled back") {
		t.Fatalf("Run = %v, want a readiness failure, rolled back", err)
	}
	res := out.Services[0]
	if !res.RolledBack || len(res.FailedCopies) != 1 {
		t.Fatalf("result %+v", res)
	}
	if b, _ := os.ReadFile(filepath.Join(app, "config.yaml")); string(b) != "live\n" {
		t.Errorf("after the rollback config.yaml is %q, want the kept-aside live data", b)
	}
	if b, _ := os.ReadFile(filepath.Join(res.FailedCopies[0], "config.yaml")); string(b) != "archived\ndamaged\n" {
		t.Errorf("the failed copy holds %q", b)
	}
	if _, err := os.Lstat(app + ".pre-recover-20261122T090000"); err == nil {
		t.Errorf("the kept-aside name is still there after it was put back")
	}
	entries, _ := j.Entries()
	var steps []string
	for _, e := range entries {
		if e.Action != nil && e.Action.Recover != nil && e.Phase != model.PhaseStart {
			steps = append(steps, e.Action.Recover.Step+":"+string(e.Phase))
		}
	}
	want := "restore:done stop:done keep-aside:done place:done start:done ready:failed rollback:done"
	if got := strings.Join(steps, " "); got != want {
		t.Errorf("journaled %s\nwant      %s", got, want)
	}
}

// A symlink planted where the data's directory was is never followed: the
// recovery fails before the service is stopped, and nothing is written
// where the symlink points.
func TestServiceRecoveryRefusesSymlinkedParent(t *testing.T) {
	dir := t.TempDir()
	p, _ := filesRecovery(t, dir, []string{"/bin/true"})
	elsewhere := filepath.Join(dir, "elsewhere")
	os.MkdirAll(elsewhere, 0o755)
	os.Rename(filepath.Join(dir, "etc"), filepath.Join(dir, "etc.moved"))
	if err := os.Symlink(elsewhere, filepath.Join(dir, "etc")); err != nil {
		t.Fatal(err)
	}
	j, _ := journal.OpenJournal(filepath.Join(dir, "state"))
	_, err := recovery.Run(t.Context(), p, recovery.Env{Journal: j}, nil)
	if err == nil || !strings.Contains(err.Error(), "symlink") {
		t.Fatalf("Run through a symlinked parent = %v, want a refusal naming the symlink", err)
	}
	if left, _ := os.ReadDir(elsewhere); len(left) != 0 {
		t.Errorf("written through the symlink: %v", left)
	}
}
