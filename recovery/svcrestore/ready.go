package svcrestore

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/drsync/drsync/internal/safefs"
	"github.com/drsync/drsync/providers/archive"
	"github.com/drsync/drsync/providers/prometheus"
	"github.com/drsync/drsync/providers/sqlite"
	"github.com/drsync/drsync/schema"
	"github.com/drsync/drsync/verify"
)

// How long a started Prometheus may take to answer from the restored data
// (it replays its WAL and loads its blocks first), asked every readyPoll.
const (
	readyTimeout = 2 * time.Minute
	readyPoll    = 500 * time.Millisecond
)

// WaitReady checks the service's readiness: a Prometheus until it passes
// or readyTimeout ends (it replays its WAL and loads blocks first), the
// others once, since a damaged database or file does not mend itself.
func WaitReady(ctx context.Context, svc *schema.Service, swaps []*Swap, restored Restored) (string, error) {
	if svc.Kind != schema.ServicePrometheus {
		return ready(ctx, svc, swaps, restored)
	}
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	for {
		what, err := ready(ctx, svc, swaps, restored)
		if err == nil {
			return what, nil
		}
		select {
		case <-ctx.Done():
			return what, fmt.Errorf("not ready within %s: %w", readyTimeout, err)
		case <-time.After(readyPoll):
		}
	}
}

// ready checks once that the service answers from the restored data.
func ready(ctx context.Context, svc *schema.Service, swaps []*Swap, restored Restored) (string, error) {
	switch svc.Kind {
	case schema.ServicePrometheus:
		return prometheusReady(ctx, svc.URL, restored.To)
	case schema.ServiceSQLite:
		what, err := sqliteReady(ctx, swaps[0].Proc(), restored.Tables)
		return what, swaps[0].Named(err)
	}
	return filesReady(swaps, restored.Sums)
}

// prometheusReady asks Prometheus whether it is ready and for the series
// it holds at the end of the restored range.
func prometheusReady(ctx context.Context, url string, end time.Time) (string, error) {
	if err := prometheus.Ready(ctx, url); err != nil {
		return "", err
	}
	at := end.Add(-time.Millisecond)
	n, err := prometheus.SeriesAt(ctx, url, at)
	if err != nil {
		return "", err
	}
	if n == 0 {
		return "", fmt.Errorf("%s is ready but returns no series at %s, the end of the restored range", url, at.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("%s is ready and returns %d series at %s, the end of the restored range", url, n, at.UTC().Format(time.RFC3339)), nil
}

// sqliteReady checks the live database's integrity and that it has every
// table the restored copy had.
func sqliteReady(ctx context.Context, db string, want []string) (string, error) {
	tables, err := sqlite.CheckLive(ctx, db)
	if err != nil {
		return "", err
	}
	var missing []string
	for _, t := range want {
		if !slices.Contains(tables, t) {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		return "", fmt.Errorf("the database lacks the table(s) %s", strings.Join(missing, ", "))
	}
	return fmt.Sprintf("integrity_check ok; %d table(s) present", len(tables)), nil
}

// filesReady compares every restored file, where it now lives, with the
// checksum the archive recorded for it.
func filesReady(swaps []*Swap, sums map[string]string) (string, error) {
	n := 0
	for _, s := range swaps {
		dir := filepath.Dir(s.Target)
		for live, want := range sums {
			rel, ok := strings.CutPrefix(live, dir+"/")
			if !ok || (rel != s.base() && !strings.HasPrefix(rel, s.base()+"/")) {
				continue
			}
			fi, err := verify.Stat(safefs.ProcPath(s.parent, ""), rel)
			if err != nil {
				return "", fmt.Errorf("%s: %w", live, err)
			}
			if fi.SHA256 != want {
				return "", fmt.Errorf("%s does not match the archive's checksum (sha256 %s, want %s)", live, fi.SHA256, want)
			}
			n++
		}
	}
	return fmt.Sprintf("%d file(s) match the archive's checksums", n), nil
}

// CheckSQLite runs the live integrity check on db through its directory's
// descriptor, naming db itself in what it reports.
func CheckSQLite(ctx context.Context, db string) (string, error) {
	dir, err := safefs.OpenDir(filepath.Dir(db))
	if err != nil {
		return "", err
	}
	defer unix.Close(dir)
	proc := safefs.ProcPath(dir, filepath.Base(db))
	tables, err := sqlite.CheckLive(ctx, proc)
	if err != nil {
		return "", errors.New(strings.ReplaceAll(err.Error(), proc, db))
	}
	if len(tables) == 0 {
		return "", fmt.Errorf("%s has no tables", db)
	}
	return fmt.Sprintf("integrity_check ok; %d table(s): %s", len(tables), strings.Join(tables, ", ")), nil
}

// FilesMatch compares every file the archive holds for the service's paths
// with the checksum the archive records.
func FilesMatch(ctx context.Context, svc *schema.Service, archivePath string) (string, error) {
	sums, err := archive.Sums(ctx, archivePath)
	if err != nil {
		return "", fmt.Errorf("%s, which it was recovered from: %w", archivePath, err)
	}
	n := 0
	for _, p := range svc.Paths {
		dir, err := safefs.OpenDir(filepath.Dir(p))
		if err != nil {
			return "", err
		}
		root := safefs.ProcPath(dir, "")
		for member, want := range sums {
			live := "/" + member
			if live != p && !strings.HasPrefix(live, p+"/") {
				continue
			}
			fi, err := verify.Stat(root, strings.TrimPrefix(live, filepath.Dir(p)+"/"))
			if err == nil && fi.SHA256 != want {
				err = fmt.Errorf("sha256 %s, want %s", fi.SHA256, want)
			}
			if err != nil {
				unix.Close(dir)
				return "", fmt.Errorf("%s does not match %s: %w", live, filepath.Base(archivePath), err)
			}
			n++
		}
		unix.Close(dir)
	}
	return fmt.Sprintf("%d file(s) match %s", n, filepath.Base(archivePath)), nil
}
