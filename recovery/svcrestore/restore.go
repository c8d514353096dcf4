// Package svcrestore restores a service's data from its archive: into a
// directory, checked the way the service reads it (drills restore into
// staging with RestoreService), or in place of the live data, through
// Swaps that keep the current data aside, move the restored copy in and can
// put everything back, and readiness checks on the running service.
package svcrestore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/drsync/drsync/providers/archive"
	"github.com/drsync/drsync/providers/prometheus"
	"github.com/drsync/drsync/providers/services"
	"github.com/drsync/drsync/providers/sqlite"
	"github.com/drsync/drsync/schema"
	"github.com/drsync/drsync/verify"
)

// ErrArchiveDamaged marks an archive whose checksum, or one of whose
// members' checksums, does not match: nothing from it is used.
var ErrArchiveDamaged = errors.New("the archive is damaged")

// RestoredPath is one piece of a service's data restored from an archive:
// Live is where the service reads it, Member its name inside the restore
// directory, and Copy the restored copy's path (the directory joined with
// Member).
type RestoredPath struct {
	Live   string `json:"live"`
	Member string `json:"member"`
	Copy   string `json:"copy"`
}

// Restored is a service archive restored into a directory and checked the
// way the service will read it. It also says what the service must answer
// once it runs on the data: Tables for SQLite, the range From..To for a
// TSDB, Sums for files.
type Restored struct {
	Service string         `json:"service"`
	Kind    string         `json:"kind"`
	Paths   []RestoredPath `json:"paths"`
	Files   int            `json:"files"`
	Bytes   int64          `json:"bytes"`
	// Tables are the restored SQLite database's tables.
	Tables []string `json:"tables,omitempty"`
	// From and To bound the restored TSDB's samples.
	From time.Time `json:"from,omitzero"`
	To   time.Time `json:"to,omitzero"`
	// Sums are the SHA-256 of each restored regular file of a files
	// service, by the live path it takes.
	Sums map[string]string `json:"sums,omitempty"`
}

// RestoreService restores the service archive at archivePath into dir
// (created 0700 if missing; it must be empty) and checks it before anything
// uses it: the archive against its .sha256 sidecar and every member against
// its own checksum (a mismatch wraps ErrArchiveDamaged), then by kind:
// SQLite's PRAGMA integrity_check and its tables, a TSDB's blocks read by
// promtool and their time range, a files archive holding every declared
// path. The caller removes dir. Drills restore into staging with it;
// recovery restores beside the live data, then moves the copies in place.
func RestoreService(ctx context.Context, svc *schema.Service, archivePath, dir string) (Restored, error) {
	out := Restored{Service: svc.Name, Kind: svc.Kind}
	rep, err := archive.Verify(ctx, archivePath, dir)
	if err != nil {
		return out, fmt.Errorf("restore %s: %w", svc.Name, err)
	}
	out.Files, out.Bytes = rep.Files, rep.Bytes
	if n := len(rep.Mismatches); n > 0 {
		m := rep.Mismatches[0]
		what := m.Path
		if what == "" {
			what = "the archive itself"
		}
		return out, fmt.Errorf("restore %s from %s: %w: %d problem(s), first %s: %s (want %s, got %s)",
			svc.Name, archivePath, ErrArchiveDamaged, n, what, m.Check, m.Want, m.Got)
	}
	for _, live := range svc.LivePaths() {
		member := memberOf(svc, live)
		p := RestoredPath{Live: live, Member: member, Copy: dir + "/" + member}
		if _, err := os.Lstat(p.Copy); err != nil {
			return out, fmt.Errorf("restore %s: %s holds no %s (for %s): %w", svc.Name, archivePath, member, live, ErrArchiveDamaged)
		}
		out.Paths = append(out.Paths, p)
	}
	if err := out.check(ctx); err != nil {
		return out, fmt.Errorf("restore %s from %s: %w", svc.Name, archivePath, err)
	}
	return out, nil
}

// check reads the restored data the way the service will.
func (r *Restored) check(ctx context.Context) error {
	switch r.Kind {
	case schema.ServiceSQLite:
		db := r.Paths[0].Copy
		if err := sqlite.IntegrityCheck(ctx, db); err != nil {
			return err
		}
		tables, err := sqlite.Tables(ctx, db)
		if err != nil {
			return err
		}
		if len(tables) == 0 {
			return fmt.Errorf("the restored database %s has no tables", r.Paths[0].Member)
		}
		r.Tables = tables
	case schema.ServicePrometheus:
		tsdb := r.Paths[0].Copy
		if _, err := prometheus.Check(ctx, tsdb); err != nil {
			return err
		}
		from, to, err := prometheus.Range(tsdb)
		if err != nil {
			return err
		}
		r.From, r.To = from, to
	case schema.ServiceFiles:
		r.Sums = map[string]string{}
		for _, p := range r.Paths {
			if err := sumTree(p.Copy, p.Live, r.Sums); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("unknown kind %q", r.Kind)
	}
	return nil
}

// memberOf is the archive member holding live, as services.Store.Backup
// names it.
func memberOf(svc *schema.Service, live string) string {
	switch svc.Kind {
	case schema.ServicePrometheus:
		return services.TSDBMember
	case schema.ServiceSQLite:
		return filepath.Base(svc.Database)
	}
	return strings.TrimPrefix(live, "/")
}

// sumTree hashes every regular file of the restored copy (a directory or
// one file), keyed by the path it takes below live.
func sumTree(copy, live string, sums map[string]string) error {
	fi, err := os.Lstat(copy)
	if err != nil {
		return err
	}
	if fi.Mode().IsRegular() {
		info, err := verify.Stat(filepath.Dir(copy), filepath.Base(copy))
		if err != nil {
			return err
		}
		sums[live] = info.SHA256
		return nil
	}
	return filepath.WalkDir(copy, func(p string, e fs.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() {
			return err
		}
		rel := strings.TrimPrefix(p, copy+"/")
		info, err := verify.Stat(copy, rel)
		if err != nil {
			return err
		}
		sums[filepath.Join(live, rel)] = info.SHA256
		return nil
	})
}
