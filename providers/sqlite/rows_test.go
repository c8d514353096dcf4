package sqlite_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/drsync/drsync/providers/sqlite"
)

func TestCountRowsReadsEveryTable(t *testing.T) {
	if _, err := exec.LookPath("sqlite3"); err != nil {
		t.Skipf("sqlite3 not installed (apt-get install sqlite3): %v", err)
	}
	db := filepath.Join(t.TempDir(), "app.db")
	sql := `CREATE TABLE memories(id INTEGER PRIMARY KEY, text TEXT);
		CREATE TABLE "it's ""quoted"""(x);
		CREATE INDEX by_text ON memories(text);
		WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 250) INSERT INTO memories(text) SELECT 'm' || i FROM n;
		INSERT INTO "it's ""quoted""" VALUES (1), (2);`
	if out, err := exec.Command("sqlite3", db, sql).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	got, err := sqlite.CountRows(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	want := []sqlite.Table{{Name: `it's "quoted"`, Rows: 2}, {Name: "memories", Rows: 250}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("CountRows = %+v, want %+v", got, want)
	}

	empty := filepath.Join(t.TempDir(), "empty.db")
	if out, err := exec.Command("sqlite3", empty, "PRAGMA user_version = 1;").CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if got, err := sqlite.CountRows(context.Background(), empty); err != nil || len(got) != 0 {
		t.Errorf("CountRows of a database without tables = %+v, %v", got, err)
	}

	if err := os.WriteFile(db+"-wal", nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := sqlite.CountRows(context.Background(), db); err == nil {
		t.Error("CountRows read a database with a -wal file beside it, ignoring that WAL")
	}
}
