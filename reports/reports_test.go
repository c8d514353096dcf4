package reports

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/drsync/drsync/reconcile/model"

	"github.com/drsync/drsync/internal/golden"
	"github.com/drsync/drsync/internal/safefs"
)

var started = time.Date(2026, 12, 4, 17, 1, 2, 0, time.UTC)

func sample() Report {
	return Report{Kind: Drill, Host: "htpc", Started: started, Items: []Item{
		{Name: "prometheus-tsdb", Copy: "prometheus-tsdb.20261204T1600.tar.gz", Location: "external", Result: model.ResultPass,
			Seconds: 12.5, RestoreSeconds: 2.25, VerifySeconds: 10.25, RTOTargetSeconds: 4 * 3600, Files: 1204, Bytes: 47 << 20},
		{Name: "grafana-db", Copy: "grafana-db.20261204T0100.tar.gz", Location: "backups", Result: model.ResultFail, Seconds: 0.5,
			Files: 1, Bytes: 4096, Failures: []Failure{{Path: "grafana.db", Check: "integrity", Detail: "row 3 missing from index\x1b[2J"}}},
		{Name: "app-config", Result: model.ResultSkip, Why: "no archive yet"},
	}}
}

func TestWriteKeepsTextAndJSONPrivate(t *testing.T) {
	state := t.TempDir()
	ref, err := Write(state, 0, sample())
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(state, "reports", "drill-20261204T170102.000Z.log"); ref.Text != want {
		t.Errorf("text report at %s, want %s", ref.Text, want)
	}
	for path, mode := range map[string]os.FileMode{filepath.Join(state, "reports"): 0o700, ref.Text: 0o600, ref.JSON: 0o600} {
		fi, err := os.Lstat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s mode %o, want %o", path, fi.Mode().Perm(), mode)
		}
	}
	text, err := os.ReadFile(ref.Text)
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/drill.log", text)
	got, err := Read(ref)
	if err != nil {
		t.Fatal(err)
	}
	if got.Summary != (Summary{Items: 3, Passed: 1, Failed: 1, Skipped: 1, SuccessRate: 0.5}) {
		t.Errorf("summary %+v", got.Summary)
	}
	if len(got.Items) != 3 || got.Items[0].RestoreSeconds != 2.25 || got.Items[1].Failures[0].Check != "integrity" {
		t.Errorf("report read back differs: %+v", got.Items)
	}
}

func TestWriteNeverOverwrites(t *testing.T) {
	state := t.TempDir()
	first, err := Write(state, 0, sample())
	if err != nil {
		t.Fatal(err)
	}
	second := sample()
	second.Items = second.Items[:1]
	ref, err := Write(state, 0, second)
	if err != nil {
		t.Fatal(err)
	}
	if ref.Stem != "drill-20261204T170102.000Z-2" {
		t.Errorf("second report of the same millisecond named %s", ref.Stem)
	}
	r, latest, ok, err := Latest(state, "")
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if latest.Stem != ref.Stem || len(r.Items) != 1 {
		t.Errorf("latest is %s with %d items, want the second one", latest.Stem, len(r.Items))
	}
	_, byName, ok, err := Latest(state, "grafana-db")
	if err != nil || !ok || byName.Stem != first.Stem {
		t.Errorf("latest naming grafana-db: %s %v %v, want %s", byName.Stem, ok, err, first.Stem)
	}
	if _, _, ok, err := Latest(state, "nobody"); ok || err != nil {
		t.Errorf("a name no report holds was found: %v %v", ok, err)
	}
	newest, err := NewestByName(state)
	if err != nil {
		t.Fatal(err)
	}
	if newest["prometheus-tsdb"].Stem != ref.Stem || newest["grafana-db"].Stem != first.Stem {
		t.Errorf("newest by name: %+v", newest)
	}
}

func TestPruneKeepsTheNewestOfEachKind(t *testing.T) {
	state := t.TempDir()
	old := sample()
	old.Started = started.AddDate(-2, 0, 0)
	older := sample()
	older.Started = started.AddDate(-3, 0, 0)
	test := sample()
	test.Kind, test.Started = RestoreTest, started.AddDate(-2, 0, 0)
	recent := sample()
	for _, r := range []Report{older, old, test, recent} {
		if _, err := Write(state, 0, r); err != nil {
			t.Fatal(err)
		}
	}
	stranger := filepath.Join(state, "reports", "notes.txt")
	if err := os.WriteFile(stranger, []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Prune(state, 400*24*time.Hour, started); err != nil {
		t.Fatal(err)
	}
	refs, err := List(state)
	if err != nil {
		t.Fatal(err)
	}
	var stems []string
	for _, r := range refs {
		stems = append(stems, r.Stem)
	}
	want := []string{"drill-20261204T170102.000Z", "restore-test-20241204T170102.000Z"}
	if len(stems) != 2 || stems[0] != want[0] || stems[1] != want[1] {
		t.Errorf("kept %v, want %v", stems, want)
	}
	for _, gone := range []string{"drill-20241204T170102.000Z.log", "drill-20231204T170102.000Z.json"} {
		if _, err := os.Lstat(filepath.Join(state, "reports", gone)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s not pruned: %v", gone, err)
		}
	}
	if _, err := os.Stat(stranger); err != nil {
		t.Errorf("a file that is no report was touched: %v", err)
	}
}

func TestReportsDirectoryThroughASymlinkIsRefused(t *testing.T) {
	state := t.TempDir()
	elsewhere := t.TempDir()
	if err := os.Symlink(elsewhere, filepath.Join(state, "reports")); err != nil {
		t.Fatal(err)
	}
	if _, err := Write(state, 0, sample()); err == nil {
		t.Error("a report was written through a symlinked reports directory")
	}
	if entries, _ := os.ReadDir(elsewhere); len(entries) != 0 {
		t.Errorf("a report was written where the symlink points: %v", entries)
	}
	if _, err := List(state); !errors.Is(err, safefs.ErrSymlink) {
		t.Errorf("list through a symlink: %v, want ErrSymlink", err)
	}
}

func TestReportsDirectoryOthersCanWriteIsRefused(t *testing.T) {
	state := t.TempDir()
	if err := os.Mkdir(filepath.Join(state, "reports"), 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Join(state, "reports"), 0o777)
	if _, err := Write(state, 0, sample()); !errors.Is(err, safefs.ErrUnsafeOwner) {
		t.Errorf("write into a world-writable reports directory: %v, want ErrUnsafeOwner", err)
	}
}

func TestBadReportsAreRefused(t *testing.T) {
	bad := sample()
	bad.Kind = "../x"
	if _, err := Write(t.TempDir(), 0, bad); err == nil {
		t.Error("a report of an unknown kind was written")
	}
	var b bytes.Buffer
	r := sample()
	r.Summarize()
	if err := WriteText(&b, r); err != nil || bytes.Contains(b.Bytes(), []byte("\x1b")) {
		t.Errorf("text report holds a raw escape sequence or failed: %v", err)
	}
}
