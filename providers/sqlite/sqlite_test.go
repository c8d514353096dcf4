package sqlite_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/drsync/drsync/internal/promtest"
	"github.com/drsync/drsync/providers/sqlite"
)

const seedRows = 5000

// sql runs statements on db with the sqlite3 CLI and returns its output.
func sql(t *testing.T, db, statements string) string {
	t.Helper()
	out, err := exec.Command("sqlite3", "-bail", "-cmd", ".timeout 10000", db, statements).CombinedOutput()
	if err != nil {
		t.Fatalf("sqlite3 %s %q: %v\n%s", db, statements, err, out)
	}
	return strings.TrimSpace(string(out))
}

func sqlInt(t *testing.T, db, query string) int {
	t.Helper()
	n, err := strconv.Atoi(sql(t, db, query))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// seed creates a database of seedRows rows with ids 1..seedRows, spanning
// a few hundred pages so the backup takes several steps.
func seed(t *testing.T, journalMode string) string {
	t.Helper()
	promtest.Tool(t, "sqlite3", "sqlite3")
	db := filepath.Join(t.TempDir(), "app.db")
	sql(t, db, fmt.Sprintf(`PRAGMA journal_mode=%s;
CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT NOT NULL);
CREATE INDEX t_v ON t(v);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < %d)
INSERT INTO t(id, v) SELECT x, printf('%%0200d', x) FROM c;`, journalMode, seedRows))
	return db
}

// writer inserts rows with consecutive ids into db from another sqlite3
// process, one transaction each, until the returned stop is called.
func writer(t *testing.T, db string) (stop func()) {
	t.Helper()
	cmd := exec.Command("sqlite3", "-bail", "-cmd", ".timeout 10000", db)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	fed := make(chan error, 1)
	go func() {
		// A commit about every millisecond: often enough that a backup
		// taken in several lock-releasing steps is restarted for ever.
		for i := seedRows + 1; ; i++ {
			select {
			case <-done:
				fed <- in.Close()
				return
			case <-time.After(time.Millisecond):
			}
			if _, err := fmt.Fprintf(in, "INSERT INTO t(id, v) VALUES(%d, printf('%%0200d', %d));\n", i, i); err != nil {
				fed <- err
				return
			}
		}
	}()
	var stopped bool
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		close(done)
		if err := <-fed; err != nil {
			t.Errorf("feeding the writer: %v", err)
		}
		if err := cmd.Wait(); err != nil {
			t.Errorf("writer: %v\n%s", err, out.String())
		}
	}
	t.Cleanup(stop)
	return stop
}

// entries lists the names in dir.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	return names
}

func TestBackupDuringWrites(t *testing.T) {
	for _, mode := range []string{"delete", "wal"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			db := seed(t, mode)
			stop := writer(t, db)
			deadline := time.Now().Add(10 * time.Second)
			for sqlInt(t, db, "SELECT count(*) FROM t") == seedRows {
				if time.Now().After(deadline) {
					t.Fatal("writer inserted nothing within 10s")
				}
				time.Sleep(10 * time.Millisecond)
			}

			before := sqlInt(t, db, "SELECT count(*) FROM t")
			destDir := t.TempDir()
			dest := filepath.Join(destDir, "app-backup.db")
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := sqlite.Backup(ctx, db, dest); err != nil {
				t.Fatal(err)
			}
			after := sqlInt(t, db, "SELECT count(*) FROM t")
			stop()
			if after <= before {
				t.Fatalf("writer did not write around the backup: %d rows before, %d after", before, after)
			}

			if err := sqlite.IntegrityCheck(ctx, dest); err != nil {
				t.Fatal(err)
			}
			// One committed state: every row committed before the backup
			// began, ids without a gap, nothing committed after it ended.
			got := strings.Split(sql(t, dest, "SELECT count(*), min(id), max(id) FROM t"), "|")
			n, _ := strconv.Atoi(got[0])
			if got[1] != "1" || got[2] != got[0] || n < before || n > after {
				t.Fatalf("copy has count|min|max %v; want ids 1..n with %d <= n <= %d", got, before, after)
			}
			t.Logf("copied %d rows (%d before the backup, %d after)", n, before, after)
			if names := entries(t, destDir); len(names) != 1 || names[0] != "app-backup.db" {
				t.Fatalf("dest dir holds %v, want only app-backup.db", names)
			}
		})
	}
}

func TestBackupMissingDB(t *testing.T) {
	promtest.Tool(t, "sqlite3", "sqlite3")
	dir := t.TempDir()
	db := filepath.Join(dir, "missing.db")
	destDir := t.TempDir()
	dest := filepath.Join(destDir, "backup.db")
	// A previous backup at dest must survive a failed one.
	if err := os.WriteFile(dest, []byte("previous backup"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := sqlite.Backup(context.Background(), db, dest)
	if err == nil || !strings.Contains(err.Error(), db) || !strings.Contains(err.Error(), "unable to open database") {
		t.Fatalf("Backup of a missing db = %v, want sqlite's error naming %s", err, db)
	}
	t.Log(err)
	if _, err := os.Stat(db); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Backup created the missing source: %v", err)
	}
	if got, err := os.ReadFile(dest); err != nil || string(got) != "previous backup" {
		t.Fatalf("dest after a failed backup: %q, %v", got, err)
	}
	if names := entries(t, destDir); len(names) != 1 {
		t.Fatalf("dest dir holds %v after a failed backup, want only backup.db", names)
	}
}

func TestBackupContextCancelled(t *testing.T) {
	db := seed(t, "delete")
	destDir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := sqlite.Backup(ctx, db, filepath.Join(destDir, "backup.db"))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Backup with a cancelled ctx = %v, want context.Canceled", err)
	}
	if names := entries(t, destDir); len(names) != 0 {
		t.Fatalf("dest dir holds %v after a cancelled backup, want nothing", names)
	}
}

func TestIntegrityCheckCorrupt(t *testing.T) {
	db := seed(t, "delete")
	ctx := context.Background()
	backup := filepath.Join(t.TempDir(), "copy.db")
	if err := sqlite.Backup(ctx, db, backup); err != nil {
		t.Fatal(err)
	}
	if err := sqlite.IntegrityCheck(ctx, backup); err != nil {
		t.Fatalf("fresh copy: %v", err)
	}

	// Overwrite the middle of a table page halfway through the file.
	pageSize := sqlInt(t, backup, "PRAGMA page_size")
	page := sqlInt(t, backup, "SELECT rootpage FROM sqlite_schema WHERE name = 't'") +
		sqlInt(t, backup, "PRAGMA page_count")/4
	f, err := os.OpenFile(backup, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(bytes.Repeat([]byte{0xff}, 256), int64((page-1)*pageSize+pageSize/2)); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	err = sqlite.IntegrityCheck(ctx, backup)
	if !errors.Is(err, sqlite.ErrCorrupt) || !strings.Contains(err.Error(), fmt.Sprintf("page %d", page)) {
		t.Fatalf("IntegrityCheck of a copy with page %d overwritten = %v, want ErrCorrupt with sqlite's report on that page", page, err)
	}
	t.Log(err)

	garbage := filepath.Join(t.TempDir(), "garbage.db")
	if err := os.WriteFile(garbage, bytes.Repeat([]byte("not sqlite "), 1000), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := sqlite.IntegrityCheck(ctx, garbage); !errors.Is(err, sqlite.ErrCorrupt) || !strings.Contains(err.Error(), "not a database") {
		t.Fatalf("IntegrityCheck of a non-database = %v, want ErrCorrupt saying so", err)
	}
}

func TestIntegrityCheckRefusesLiveWAL(t *testing.T) {
	db := seed(t, "wal")
	// An open reader keeps the -wal file in place.
	if err := os.WriteFile(db+"-wal", nil, 0o600); err != nil {
		t.Fatal(err)
	}
	err := sqlite.IntegrityCheck(context.Background(), db)
	if err == nil || errors.Is(err, sqlite.ErrCorrupt) || !strings.Contains(err.Error(), "-wal") {
		t.Fatalf("IntegrityCheck beside a -wal file = %v, want a refusal", err)
	}
}

func TestIntegrityCheckMissing(t *testing.T) {
	promtest.Tool(t, "sqlite3", "sqlite3")
	path := filepath.Join(t.TempDir(), "missing.db")
	err := sqlite.IntegrityCheck(context.Background(), path)
	if err == nil || errors.Is(err, sqlite.ErrCorrupt) || !strings.Contains(err.Error(), path) {
		t.Fatalf("IntegrityCheck of a missing file = %v, want an error naming it, not ErrCorrupt", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("IntegrityCheck created %s: %v", path, err)
	}
}

// CheckLive reads a WAL-mode database while it is open for writing, lists
// its tables as Tables lists a closed copy's, and reports damage.
func TestCheckLiveAndTables(t *testing.T) {
	db := seed(t, "wal")
	ctx := context.Background()
	stop := writer(t, db)
	tables, err := sqlite.CheckLive(ctx, db)
	stop()
	if err != nil || strings.Join(tables, ",") != "t" {
		t.Fatalf("CheckLive of a live WAL database = %v, %v; want [t]", tables, err)
	}
	backup := filepath.Join(t.TempDir(), "copy.db")
	if err := sqlite.Backup(ctx, db, backup); err != nil {
		t.Fatal(err)
	}
	sql(t, backup, "CREATE TABLE \"with space\"(x)")
	if got, err := sqlite.Tables(ctx, backup); err != nil || strings.Join(got, ",") != "t,with space" {
		t.Fatalf("Tables = %q, %v; want [t, with space]", got, err)
	}
	pageSize := sqlInt(t, backup, "PRAGMA page_size")
	page := sqlInt(t, backup, "SELECT rootpage FROM sqlite_schema WHERE name = 't'") + sqlInt(t, backup, "PRAGMA page_count")/4
	f, err := os.OpenFile(backup, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(bytes.Repeat([]byte{0xff}, 256), int64((page-1)*pageSize+pageSize/2)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := sqlite.CheckLive(ctx, backup); !errors.Is(err, sqlite.ErrCorrupt) {
		t.Fatalf("CheckLive of a damaged database = %v, want ErrCorrupt", err)
	}
}
