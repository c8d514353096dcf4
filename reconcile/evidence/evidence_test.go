package evidence

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/reports"
	"github.com/drsync/drsync/schema"
)

// TestWriteOnlyWhatChanged: a selected file is written when it differs
// from what the observation saw; an unchanged, unselected or refused one
// is left as it is.
func TestWriteOnlyWhatChanged(t *testing.T) {
	dir := t.TempDir()
	path := func(name string) string { return filepath.Join(dir, name) }
	for _, name := range []string{"same", "refused"} {
		if err := os.WriteFile(path(name), []byte("old"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string][]byte{path("new"): []byte("new"), path("same"): []byte("old"), path("refused"): []byte("new"), path("unwanted"): []byte("new")}
	o := &model.Observed{Files: map[string]string{path("same"): "old"}, RefusedFiles: map[string]string{path("refused"): "a symlink"}}
	if err := Write(files, o, func(p string) bool { return p != path("unwanted") }); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"new": "new", "same": "old", "refused": "old", "unwanted": ""} {
		got, _ := os.ReadFile(path(name))
		if string(got) != want {
			t.Errorf("%s holds %q, want %q", name, got, want)
		}
	}
}

// TestReadFilesRefusesSymlinks: a generated file replaced by a symlink is
// refused and not read; a missing one is absent.
func TestReadFilesRefusesSymlinks(t *testing.T) {
	dir := t.TempDir()
	secret, plain, link := filepath.Join(dir, "secret"), filepath.Join(dir, "plain"), filepath.Join(dir, "link")
	for p, content := range map[string]string{secret: "root only", plain: "generated"} {
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(secret, link); err != nil {
		t.Fatal(err)
	}
	files, refused, err := ReadFiles([]string{plain, link, filepath.Join(dir, "missing")})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 || files[plain] != "generated" {
		t.Errorf("files %v, want only %s", files, plain)
	}
	if _, ok := refused[link]; !ok || len(refused) != 1 {
		t.Errorf("refused %v, want %s", refused, link)
	}
}

func TestIsRunbook(t *testing.T) {
	d := &schema.Desired{Generate: schema.Generate{Runbooks: "/etc/drsync/runbooks"}}
	for path, want := range map[string]bool{"/etc/drsync/runbooks/DR-001.md": true, "/etc/drsync/runbooks-old/DR-001.md": false, "/etc/drsync/runbooks": false} {
		if got := IsRunbook(d, path); got != want {
			t.Errorf("IsRunbook(%s) = %v, want %v", path, got, want)
		}
	}
	if IsRunbook(&schema.Desired{}, "/DR-001.md") {
		t.Error("a runbook without runbooks generated")
	}
}

// TestWriteReportsOnePerKind: a run's tests and drills go to one report
// of each kind, started at the earliest proof; other kinds write none.
func TestWriteReportsOnePerKind(t *testing.T) {
	d := &schema.Desired{StateDir: t.TempDir(), Host: "nas", Reports: schema.Reports{Keep: schema.Duration{Duration: 24 * time.Hour}}}
	t0 := time.Date(2026, 12, 5, 3, 0, 0, 0, time.UTC)
	refs := WriteReports(d, []model.TestReport{
		{Kind: model.KindTest, Subvolume: "docs", Result: model.ResultPass, Started: t0.Add(time.Minute)},
		{Kind: model.KindTest, Subvolume: "photos", Result: model.ResultFail, Started: t0},
		{Kind: model.KindDrill, Subvolume: "docs", Result: model.ResultPass, Started: t0.Add(2 * time.Minute)},
		{Kind: model.KindOffsiteTest, Subvolume: "docs", Result: model.ResultPass, Started: t0},
	})
	if len(refs) != 2 || refs[0].Kind != reports.RestoreTest || refs[1].Kind != reports.Drill {
		t.Fatalf("wrote %+v, want a restore-test and a drill report", refs)
	}
	rep, err := reports.Read(refs[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Items) != 2 || rep.Host != "nas" || !rep.Started.Equal(t0) {
		t.Errorf("restore-test report: %d items, host %q, started %v", len(rep.Items), rep.Host, rep.Started)
	}
}
