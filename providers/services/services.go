// Package services takes consistent copies of monitored services' data —
// a Prometheus TSDB snapshot, a SQLite online backup, configuration files —
// into checksummed archives: model.ServiceStore.
package services

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/drsync/drsync/providers/archive"
	"github.com/drsync/drsync/providers/prometheus"
	"github.com/drsync/drsync/providers/sqlite"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/schema"
)

// Store implements model.ServiceStore.
type Store struct{}

var _ model.ServiceStore = Store{}

// Member names inside an archive, by kind: a restore test knows where to
// look for what it checks.
const (
	TSDBMember = "tsdb"
)

func (Store) ListArchives(dir string) ([]model.ArchiveEntry, error) {
	entries, err := archive.List(dir)
	if err != nil {
		return nil, err
	}
	out := make([]model.ArchiveEntry, len(entries))
	for i, e := range entries {
		out[i] = model.ArchiveEntry{Name: e.Name, HasChecksum: e.HasChecksum}
	}
	return out, nil
}

// Backup copies the service's data consistently, then archives it.
func (Store) Backup(ctx context.Context, svc *schema.Service, dest string) (int64, error) {
	if err := os.MkdirAll(filepath.Dir(dest), 0o750); err != nil {
		return 0, fmt.Errorf("backup %s: %w", svc.Name, err)
	}
	if err := sweep(filepath.Dir(dest)); err != nil {
		return 0, fmt.Errorf("backup %s: %w", svc.Name, err)
	}
	var sources []archive.Source
	switch svc.Kind {
	case schema.ServicePrometheus:
		snap, err := prometheus.Snapshot(ctx, svc.URL, svc.DataDir)
		if err != nil {
			return 0, fmt.Errorf("backup %s: %w", svc.Name, err)
		}
		defer func() {
			if err := prometheus.Remove(svc.DataDir, snap); err != nil {
				slog.Warn("a Prometheus snapshot was left behind", "service", svc.Name, "err", err)
			}
		}()
		sources = []archive.Source{{Path: snap, Name: TSDBMember}}
	case schema.ServiceSQLite:
		tmp, err := os.MkdirTemp(filepath.Dir(dest), ".sqlite-backup-")
		if err != nil {
			return 0, fmt.Errorf("backup %s: %w", svc.Name, err)
		}
		defer os.RemoveAll(tmp)
		copy := filepath.Join(tmp, filepath.Base(svc.Database))
		if err := sqlite.Backup(ctx, svc.Database, copy); err != nil {
			return 0, fmt.Errorf("backup %s: %w", svc.Name, err)
		}
		sources = []archive.Source{{Path: copy, Name: filepath.Base(svc.Database)}}
	case schema.ServiceFiles:
		for _, p := range svc.Paths {
			sources = append(sources, archive.Source{Path: p, Name: strings.TrimPrefix(p, "/")})
		}
	default:
		return 0, fmt.Errorf("backup %s: unknown kind %q", svc.Name, svc.Kind)
	}
	res, err := archive.Create(ctx, dest, sources)
	if err != nil {
		return 0, fmt.Errorf("backup %s: %w", svc.Name, err)
	}
	return res.Bytes, nil
}

func (Store) DeleteArchive(path string) error { return archive.Delete(path) }

func (Store) CopyArchive(ctx context.Context, src, destDir string) (int64, error) {
	return archive.Copy(ctx, src, destDir)
}

// Verify restores an archive into scratch and checks it the way the
// service would read it back: every member against its checksum, then
// SQLite's integrity check or Prometheus's own reading of the TSDB.
func Verify(ctx context.Context, svc *schema.Service, path, scratch string) (archive.Report, error) {
	rep, err := archive.Verify(ctx, path, scratch)
	if err != nil || len(rep.Mismatches) > 0 {
		return rep, err
	}
	switch svc.Kind {
	case schema.ServiceSQLite:
		db := filepath.Join(scratch, filepath.Base(svc.Database))
		if err := sqlite.IntegrityCheck(ctx, db); err != nil {
			rep.Mismatches = append(rep.Mismatches, archive.Mismatch{Path: filepath.Base(svc.Database), Check: "integrity", Got: err.Error()})
		}
	case schema.ServiceFiles:
		// Files may hold live SQLite databases: a copy taken mid-write is
		// caught here rather than on the day it is needed.
		for _, db := range sqliteFiles(scratch) {
			if err := sqlite.IntegrityCheck(ctx, db); err != nil {
				rel, _ := filepath.Rel(scratch, db)
				rep.Mismatches = append(rep.Mismatches, archive.Mismatch{Path: rel, Check: "integrity", Got: err.Error()})
			}
		}
	case schema.ServicePrometheus:
		_, err := prometheus.Check(ctx, filepath.Join(scratch, TSDBMember))
		switch {
		case errors.Is(err, prometheus.ErrNoBlocks):
			return rep, fmt.Errorf("%w: %v", ErrNothingToProve, err)
		case err != nil:
			rep.Mismatches = append(rep.Mismatches, archive.Mismatch{Path: TSDBMember, Check: "tsdb", Got: err.Error()})
		}
	}
	return rep, nil
}

// ErrNothingToProve reports an archive that restores but holds no data a
// test could check, such as the TSDB of a Prometheus that stored nothing yet.
var ErrNothingToProve = errors.New("nothing to prove")

// sweep removes what a backup killed mid-way left in the archive
// directory: temp archives and SQLite copies. The apply lock guarantees no
// other backup is running.
func sweep(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		n := e.Name()
		if strings.HasPrefix(n, ".sqlite-backup-") || (strings.HasPrefix(n, ".") && strings.Contains(n, ".tar.gz.tmp-")) {
			if err := os.RemoveAll(filepath.Join(dir, n)); err != nil {
				return err
			}
		}
	}
	return nil
}

// sqliteFiles lists the regular files under root that start with SQLite's
// magic header.
func sqliteFiles(root string) []string {
	var out []string
	magic := []byte("SQLite format 3\x00")
	filepath.WalkDir(root, func(p string, e os.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return nil
		}
		defer f.Close()
		head := make([]byte, len(magic))
		if n, _ := io.ReadFull(f, head); n == len(magic) && bytes.Equal(head, magic) {
			out = append(out, p)
		}
		return nil
	})
	return out
}
