package services

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/drsync/drsync/internal/humane"
	"github.com/drsync/drsync/providers/archive"
	"github.com/drsync/drsync/providers/prometheus"
	"github.com/drsync/drsync/providers/sqlite"
	"github.com/drsync/drsync/schema"
)

// DrillResult is what a service drill found: the restore (every member
// against its checksum, in Archive) and what the service made of the
// restored data (Checks, and its failures in Archive.Mismatches).
type DrillResult struct {
	Archive archive.Report
	// RestoreSeconds is extracting and checksumming the archive,
	// ServiceSeconds starting or opening the service on it and checking.
	RestoreSeconds float64
	ServiceSeconds float64
	// Checks are the service checks that passed.
	Checks []DrillCheck
}

// DrillCheck is one check of the restored service that passed: Path is
// the member it read, Check its name (serve, integrity, tables), Detail
// what it found.
type DrillCheck struct {
	Path   string
	Check  string
	Detail string
}

// Drill restores the archive at path into staging/restore (a scratch
// directory, never the service's live data), then brings the service up
// on it where one exists: the real Prometheus over the restored TSDB,
// queried over the blocks' time range; SQLite's integrity check and every
// table read; files were compared with their checksums by the restore.
// Whatever it starts is stopped before it returns; the caller removes
// staging. ErrNothingToProve means the archive holds no data to check.
func Drill(ctx context.Context, svc *schema.Service, path, staging string) (DrillResult, error) {
	var res DrillResult
	start := time.Now()
	restored := filepath.Join(staging, "restore")
	rep, err := archive.Verify(ctx, path, restored)
	res.Archive, res.RestoreSeconds = rep, time.Since(start).Seconds()
	if err != nil || len(rep.Mismatches) > 0 {
		return res, err
	}
	start = time.Now()
	switch svc.Kind {
	case schema.ServicePrometheus:
		err = res.servePrometheus(ctx, restored, staging)
	case schema.ServiceSQLite:
		res.openSQLite(ctx, restored, filepath.Base(svc.Database))
	case schema.ServiceFiles:
		for _, db := range sqliteFiles(restored) {
			rel, _ := filepath.Rel(restored, db)
			res.openSQLite(ctx, restored, rel)
		}
	default:
		err = fmt.Errorf("drill of %s: unknown kind %q", svc.Name, svc.Kind)
	}
	res.ServiceSeconds = time.Since(start).Seconds()
	return res, err
}

func (res *DrillResult) fail(path, check, got string) {
	res.Archive.Mismatches = append(res.Archive.Mismatches, archive.Mismatch{Path: path, Check: check, Got: got})
}

// servePrometheus lets promtool read the restored TSDB, then serves it
// with the real Prometheus and queries it.
func (res *DrillResult) servePrometheus(ctx context.Context, restored, staging string) error {
	tsdb := filepath.Join(restored, TSDBMember)
	if _, err := prometheus.Check(ctx, tsdb); errors.Is(err, prometheus.ErrNoBlocks) {
		return fmt.Errorf("%w: %v", ErrNothingToProve, err)
	} else if err != nil {
		res.fail(TSDBMember, "tsdb", err.Error())
		return nil
	}
	res.Checks = append(res.Checks, DrillCheck{Path: TSDBMember, Check: "tsdb", Detail: "promtool tsdb list reads every block"})
	served, err := prometheus.Serve(ctx, tsdb, staging)
	if errors.Is(err, prometheus.ErrNotServed) {
		res.fail(TSDBMember, "serve", err.Error())
		return nil
	}
	if err != nil {
		return fmt.Errorf("drill: %w", err)
	}
	res.Checks = append(res.Checks, DrillCheck{Path: TSDBMember, Check: "serve", Detail: fmt.Sprintf(
		"prometheus ready after %s; %s: %s in %s between %s and %s",
		humane.Rounded(humane.Seconds(served.ReadySeconds)), served.Metric, humane.Count(served.Samples, "sample"),
		humane.Count(served.Series, "series"), served.From.Format(time.RFC3339), served.To.Format(time.RFC3339))})
	return nil
}

// openSQLite checks the restored database's integrity and reads every
// table, as the application opening it would.
func (res *DrillResult) openSQLite(ctx context.Context, restored, rel string) {
	db := filepath.Join(restored, rel)
	if err := sqlite.IntegrityCheck(ctx, db); err != nil {
		res.fail(rel, "integrity", err.Error())
		return
	}
	res.Checks = append(res.Checks, DrillCheck{Path: rel, Check: "integrity", Detail: "PRAGMA integrity_check: ok"})
	tables, err := sqlite.CountRows(ctx, db)
	switch {
	case err != nil:
		res.fail(rel, "tables", err.Error())
	case len(tables) == 0:
		res.fail(rel, "tables", "no tables: an application would find nothing in it")
	default:
		names := make([]string, len(tables))
		for i, t := range tables {
			names[i] = fmt.Sprintf("%s (%s)", t.Name, humane.Count(int(t.Rows), "row"))
		}
		res.Checks = append(res.Checks, DrillCheck{Path: rel, Check: "tables", Detail: strings.Join(names, ", ")})
	}
}
