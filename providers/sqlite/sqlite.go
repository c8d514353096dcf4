// Package sqlite backs up SQLite databases (Grafana's, the application's)
// while their owners keep writing. It drives the sqlite3 CLI: its .backup
// uses SQLite's online backup API, which copies one committed state of the
// database, where copying the file could catch a transaction half written.
package sqlite

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// busyTimeout is how long sqlite3 waits for a writer to let go of the
// database before failing with "database is locked"; ctx bounds the whole
// run on top of it.
const busyTimeout = 30 * time.Second

// ErrCorrupt marks a database SQLite itself reports as damaged, as opposed
// to one that could not be checked at all.
var ErrCorrupt = errors.New("sqlite database is corrupt")

// Backup makes a consistent online copy of the database at db into dest,
// safe while the application writes. The copy is built in a temporary file
// in dest's directory (sqlite syncs it when the backup commits) and renamed
// over dest, so dest is either the old file or a complete new copy. The copy
// is created mode 0600: application databases hold credentials.
//
// The whole copy runs in one read transaction. Without it, .backup copies
// 100 pages per step, releasing its lock in between, and restarts whenever
// another process commits meanwhile: a database written every few
// milliseconds was then never copied ("database is locked"). The price, in
// rollback-journal mode only, is that writers wait (on their own busy
// timeout) while the copy runs; WAL-mode writers do not wait.
func Backup(ctx context.Context, db, dest string) error {
	// mode=rw: a plain path would make sqlite3 create a missing database
	// and back up that empty file.
	src, err := uri(db, "mode=rw")
	if err != nil {
		return fmt.Errorf("sqlite backup of %s: %w", db, err)
	}
	dir := filepath.Dir(dest)
	// The name needs no quoting in .backup's own argument syntax, and sqlite3
	// runs in dir so it is given bare.
	f, err := os.CreateTemp(dir, ".drsync-sqlite-*.tmp")
	if err != nil {
		return fmt.Errorf("sqlite backup of %s: %w", db, err)
	}
	tmp := f.Name()
	if err := f.Close(); err != nil {
		return errors.Join(fmt.Errorf("sqlite backup of %s: %w", db, err), removeTemp(tmp))
	}
	if _, err := run(ctx, dir, "-bail", "-cmd", fmt.Sprintf(".timeout %d", busyTimeout.Milliseconds()), src,
		"BEGIN", "SELECT count(*) FROM sqlite_schema", ".backup "+filepath.Base(tmp), "COMMIT"); err != nil {
		return errors.Join(fmt.Errorf("sqlite backup of %s to %s: %w", db, dest, err), removeTemp(tmp))
	}
	if err := os.Rename(tmp, dest); err != nil {
		return errors.Join(fmt.Errorf("sqlite backup of %s: %w", db, err), removeTemp(tmp))
	}
	// The rename is only durable once the directory entry is on disk.
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sqlite backup of %s: syncing %s: %w", db, dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sqlite backup of %s: syncing %s: %w", db, dir, err)
	}
	return nil
}

// IntegrityCheck runs PRAGMA integrity_check on a closed copy of a database,
// such as Backup writes, and returns nil only when sqlite answers "ok".
// Otherwise the error lists what sqlite reported and wraps ErrCorrupt when
// sqlite found damage. quick_check would skip index-versus-table checks.
//
// The copy is opened immutable, so checking writes nothing next to it (a
// WAL-mode copy would otherwise grow -wal and -shm files); a path with a
// -wal file beside it is refused, since immutable would ignore that WAL.
func IntegrityCheck(ctx context.Context, path string) error {
	if _, err := os.Stat(path + "-wal"); err == nil {
		return fmt.Errorf("sqlite integrity_check of %s: it has a -wal file: check a closed copy (as Backup makes), not a live database", path)
	}
	src, err := uri(path, "mode=ro&immutable=1")
	if err != nil {
		return fmt.Errorf("sqlite integrity_check of %s: %w", path, err)
	}
	out, err := run(ctx, "", "-bail", src, "PRAGMA integrity_check;")
	report := strings.ReplaceAll(strings.TrimSpace(out), "\n", "; ")
	switch {
	case err != nil && (strings.Contains(err.Error(), "malformed") || strings.Contains(err.Error(), "not a database")):
		// sqlite3 stops at damage it cannot step over; keep what it reported first.
		if report != "" {
			return fmt.Errorf("%w: %s: %s: %w", ErrCorrupt, path, report, err)
		}
		return fmt.Errorf("%w: %s: %w", ErrCorrupt, path, err)
	case err != nil:
		return fmt.Errorf("sqlite integrity_check of %s: %w", path, err)
	case report != "ok":
		return fmt.Errorf("%w: %s: %s", ErrCorrupt, path, report)
	}
	return nil
}

// uri turns path into an absolute SQLite URI filename with the given query,
// escaping the characters that URI syntax would otherwise take.
func uri(path, query string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	return "file:" + strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(abs) + "?" + query, nil
}

// run runs sqlite3 in dir and returns its stdout, folding its stderr into
// the error, since that is where sqlite3 explains what went wrong.
func run(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "sqlite3", args...)
	var stdout, stderr bytes.Buffer
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, &stdout, &stderr
	cmd.WaitDelay = time.Second
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", ctx.Err(), err)
		}
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return stdout.String(), fmt.Errorf("%w: %s", err, msg)
		}
		return stdout.String(), err
	}
	return stdout.String(), nil
}

// removeTemp deletes a failed backup's temporary file and the journal files
// sqlite may have left beside it.
func removeTemp(tmp string) error {
	var errs []error
	for _, suffix := range []string{"", "-journal", "-wal", "-shm"} {
		if err := os.Remove(tmp + suffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Tables lists the tables of a closed copy of a database (opened
// immutable, as IntegrityCheck does), sorted.
func Tables(ctx context.Context, path string) ([]string, error) {
	src, err := uri(path, "mode=ro&immutable=1")
	if err != nil {
		return nil, fmt.Errorf("sqlite tables of %s: %w", path, err)
	}
	out, err := run(ctx, "", "-bail", src, tablesQuery)
	if err != nil {
		return nil, fmt.Errorf("sqlite tables of %s: %w", path, err)
	}
	return lines(out), nil
}

// tablesMark separates the integrity report from the table names in
// CheckLive's output.
const tablesMark = "-- drsync: tables --"

const tablesQuery = "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name;"

// lines splits sqlite3's output into its non-empty lines.
func lines(out string) []string {
	var l []string
	for s := range strings.Lines(out) {
		if s = strings.TrimRight(s, "\r\n"); s != "" {
			l = append(l, s)
		}
	}
	return l
}

// CheckLive runs PRAGMA integrity_check on a database its application may
// have open (read-only, through SQLite's locks, its WAL included) and lists
// its tables: how a recovery tells the service can read it. It wraps
// ErrCorrupt when SQLite found damage.
func CheckLive(ctx context.Context, path string) ([]string, error) {
	src, err := uri(path, "mode=ro")
	if err != nil {
		return nil, fmt.Errorf("sqlite check of %s: %w", path, err)
	}
	out, err := run(ctx, "", "-bail", "-cmd", fmt.Sprintf(".timeout %d", busyTimeout.Milliseconds()), src,
		"PRAGMA integrity_check;", "SELECT '"+tablesMark+"';", tablesQuery)
	// The integrity report comes before the mark, the tables after it
	// (when sqlite3 got that far: -bail stops at an unreadable page).
	report, tables, _ := strings.Cut(out, tablesMark+"\n")
	got := lines(report)
	switch {
	case err != nil && (strings.Contains(err.Error(), "malformed") || strings.Contains(err.Error(), "not a database")):
		return nil, fmt.Errorf("%w: %s: %w", ErrCorrupt, path, err)
	case err != nil:
		return nil, fmt.Errorf("sqlite check of %s: %w", path, err)
	case len(got) != 1 || got[0] != "ok":
		return nil, fmt.Errorf("%w: %s: %s", ErrCorrupt, path, strings.Join(got, "; "))
	}
	return lines(tables), nil
}
