package svcrestore_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/drsync/drsync/internal/promtest"
	"github.com/drsync/drsync/providers/services"
	"github.com/drsync/drsync/recovery/svcrestore"
	"github.com/drsync/drsync/schema"
)

// sqlite3 runs statements on db with the real CLI.
func sqlite3(t *testing.T, db, statements string) {
	t.Helper()
	promtest.Tool(t, "sqlite3", "sqlite3")
	if out, err := exec.Command("sqlite3", "-bail", db, statements).CombinedOutput(); err != nil {
		t.Fatalf("sqlite3 %s: %v: %s", db, err, out)
	}
}

// RestoreService restores what Backup archived, checked by kind, and
// refuses an archive whose bytes changed.
func TestRestoreServiceByKind(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := filepath.Join(dir, "live", "grafana.db")
	os.MkdirAll(filepath.Dir(db), 0o755)
	sqlite3(t, db, "CREATE TABLE dashboard(id INTEGER PRIMARY KEY, title TEXT); CREATE TABLE users(id INTEGER); INSERT INTO dashboard(title) VALUES ('home');")
	conf := filepath.Join(dir, "live", "config")
	os.MkdirAll(filepath.Join(conf, "rules"), 0o755)
	os.WriteFile(filepath.Join(conf, "rules", "a.yml"), []byte("groups: []\n"), 0o640)
	os.WriteFile(filepath.Join(conf, "main.yml"), []byte("listen: 1\n"), 0o644)

	for _, svc := range []*schema.Service{
		{Name: "grafana-db", Kind: schema.ServiceSQLite, Database: db},
		{Name: "conf", Kind: schema.ServiceFiles, Paths: []string{conf}},
	} {
		t.Run(svc.Name, func(t *testing.T) {
			arch := filepath.Join(dir, "backups", svc.Name+".20261122T0100.tar.gz")
			if _, err := (services.Store{}).Backup(ctx, svc, arch); err != nil {
				t.Fatal(err)
			}
			got, err := svcrestore.RestoreService(ctx, svc, arch, filepath.Join(dir, "staging-"+svc.Name))
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Paths) != 1 {
				t.Fatalf("paths %+v", got.Paths)
			}
			if _, err := os.Stat(got.Paths[0].Copy); err != nil {
				t.Errorf("the restored copy is not there: %v", err)
			}
			switch svc.Kind {
			case schema.ServiceSQLite:
				if !slices.Equal(got.Tables, []string{"dashboard", "users"}) {
					t.Errorf("tables %v, want [dashboard users]", got.Tables)
				}
			case schema.ServiceFiles:
				want := []string{filepath.Join(conf, "main.yml"), filepath.Join(conf, "rules", "a.yml")}
				if len(got.Sums) != len(want) {
					t.Errorf("sums %v, want one per file of %v", got.Sums, want)
				}
				for _, p := range want {
					if len(got.Sums[p]) != 64 {
						t.Errorf("no sha256 for %s: %v", p, got.Sums)
					}
				}
			}

			// One byte of the archive flipped: nothing from it is trusted.
			b, _ := os.ReadFile(arch)
			b[len(b)/2] ^= 0xff
			os.WriteFile(arch, b, 0o600)
			_, err = svcrestore.RestoreService(ctx, svc, arch, filepath.Join(dir, "staging-damaged-"+svc.Name))
			if !errors.Is(err, svcrestore.ErrArchiveDamaged) {
				t.Errorf("RestoreService of a damaged archive = %v, want ErrArchiveDamaged", err)
			}
		})
	}
}
