package services

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drsync/drsync/schema"
)

// A SQLite drill opens the restored copy: integrity, then every table
// read; a database that restores and passes integrity but holds no table
// fails, since an application would find nothing in it.
func TestDrillOpensSQLite(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	for _, tc := range []struct {
		name, sql, wantFail, wantTables string
	}{
		{"tables", "CREATE TABLE memories(id INTEGER PRIMARY KEY, text TEXT); INSERT INTO memories(text) VALUES ('a'), ('b');", "", "memories (2 rows)"},
		{"no tables", "PRAGMA user_version = 7;", "tables", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := filepath.Join(dir, tc.name, "grafana.db")
			svc := &schema.Service{Name: "grafana-db", Kind: schema.ServiceSQLite, Database: db}
			if err := os.MkdirAll(filepath.Dir(db), 0o755); err != nil {
				t.Fatal(err)
			}
			sqlite3(t, db, tc.sql)
			arch := filepath.Join(dir, tc.name, "backups", "grafana-db.20261204T0100.tar.gz")
			if _, err := (Store{}).Backup(ctx, svc, arch); err != nil {
				t.Fatal(err)
			}
			res, err := Drill(ctx, svc, arch, filepath.Join(dir, tc.name, "staging"))
			if err != nil {
				t.Fatal(err)
			}
			var failed []string
			for _, m := range res.Archive.Mismatches {
				failed = append(failed, m.Check)
			}
			if strings.Join(failed, ",") != tc.wantFail {
				t.Errorf("failed checks %v, want %q", res.Archive.Mismatches, tc.wantFail)
			}
			var tables string
			for _, c := range res.Checks {
				if c.Check == "tables" {
					tables = c.Detail
				}
			}
			if tables != tc.wantTables {
				t.Errorf("tables check %q, want %q", tables, tc.wantTables)
			}
			if res.RestoreSeconds <= 0 || res.ServiceSeconds <= 0 {
				t.Errorf("restore %v s, service %v s: both are measured", res.RestoreSeconds, res.ServiceSeconds)
			}
		})
	}
}
