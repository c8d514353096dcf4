package services

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drsync/drsync/schema"
)

func sqlite3(t *testing.T, db, sql string) {
	t.Helper()
	if _, err := exec.LookPath("sqlite3"); err != nil {
		t.Skipf("sqlite3 not installed (apt-get install sqlite3): %v", err)
	}
	if out, err := exec.Command("sqlite3", db, sql).CombinedOutput(); err != nil {
		t.Fatalf("sqlite3: %v %s", err, out)
	}
}

// A files service holding a SQLite database is checked as one on restore:
// a damaged copy fails the test instead of passing on checksums alone.
func TestFilesServiceChecksSQLiteInside(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "chroma_db")
	os.MkdirAll(src, 0o755)
	db := filepath.Join(src, "chroma.sqlite3")
	sqlite3(t, db, "CREATE TABLE t(x TEXT); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 3000) INSERT INTO t SELECT hex(randomblob(64)) FROM n;")
	os.WriteFile(filepath.Join(src, "index.bin"), []byte("vectors"), 0o644)
	svc := &schema.Service{Name: "chroma", Kind: schema.ServiceFiles, Paths: []string{src}}
	ctx := context.Background()

	good := filepath.Join(dir, "backups", "chroma.20261122T0100.tar.gz")
	if _, err := (Store{}).Backup(ctx, svc, good); err != nil {
		t.Fatal(err)
	}
	rep, err := Verify(ctx, svc, good, filepath.Join(dir, "scratch-good"))
	if err != nil || len(rep.Mismatches) != 0 {
		t.Fatalf("a good archive: %+v %v", rep.Mismatches, err)
	}

	// Damage a page in the middle of the database, then back it up.
	f, _ := os.OpenFile(db, os.O_RDWR, 0)
	f.WriteAt([]byte(strings.Repeat("\xff", 512)), 8192+100)
	f.Close()
	bad := filepath.Join(dir, "backups", "chroma.20261122T0200.tar.gz")
	if _, err := (Store{}).Backup(ctx, svc, bad); err != nil {
		t.Fatal(err)
	}
	rep, err = Verify(ctx, svc, bad, filepath.Join(dir, "scratch-bad"))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Mismatches) != 1 || rep.Mismatches[0].Check != "integrity" || !strings.Contains(rep.Mismatches[0].Path, "chroma.sqlite3") {
		t.Errorf("a damaged database inside a files archive: %+v", rep.Mismatches)
	}
}

// Leftovers of a backup that was killed are swept by the next one.
func TestBackupSweepsLeftovers(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "backups")
	os.MkdirAll(filepath.Join(out, ".sqlite-backup-123"), 0o755)
	os.WriteFile(filepath.Join(out, ".conf.20261122T0100.tar.gz.tmp-99"), []byte("half"), 0o600)
	os.WriteFile(filepath.Join(out, "notes.txt"), []byte("mine"), 0o600)
	src := filepath.Join(dir, "conf")
	os.MkdirAll(src, 0o755)
	os.WriteFile(filepath.Join(src, "a.yaml"), []byte("a: 1\n"), 0o644)
	svc := &schema.Service{Name: "conf", Kind: schema.ServiceFiles, Paths: []string{src}}
	if _, err := (Store{}).Backup(context.Background(), svc, filepath.Join(out, "conf.20261122T0200.tar.gz")); err != nil {
		t.Fatal(err)
	}
	var names []string
	entries, _ := os.ReadDir(out)
	for _, e := range entries {
		names = append(names, e.Name())
	}
	want := "conf.20261122T0200.tar.gz conf.20261122T0200.tar.gz.sha256 notes.txt"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("archive directory after a backup: %s, want %s", got, want)
	}
}
