package recovery

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/drsync/drsync/internal/safefs"
	"github.com/drsync/drsync/providers/archive"
	"github.com/drsync/drsync/providers/prometheus"
	"github.com/drsync/drsync/providers/sqlite"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/schema"
	"github.com/drsync/drsync/verify"
)

// The lines of a service's checklist, beside CheckData and CheckVerified.
const (
	CheckReady = "ready" // the service answers from its data
)

// checkTimeout bounds one readiness check of --verify-only: it asks once,
// it does not wait for a service to come up.
const checkTimeout = 30 * time.Second

// serviceRecord is a service's newest successful recovery as the journal
// tells it.
type serviceRecord struct {
	Archive, Copy string
	ArchiveTime   time.Time
	At            time.Time
	// ChangedSince says a backup of the service was taken after it.
	ChangedSince bool
}

func lastServiceRecoveries(entries []model.JournalEntry) map[string]*serviceRecord {
	out := map[string]*serviceRecord{}
	for _, e := range entries {
		a := e.Action
		if a == nil || e.Phase != model.PhaseDone {
			continue
		}
		switch {
		case a.Recover != nil && a.Recover.Step == string(StepReady):
			out[a.Subvolume] = &serviceRecord{Archive: a.Snapshot, Copy: a.Recover.From, ArchiveTime: a.Recover.SnapshotTime, At: e.Time}
		case a.Kind == model.KindBackup && out[a.Subvolume] != nil:
			out[a.Subvolume].ChangedSince = true
		}
	}
	return out
}

// VerifyServices checks each named service as it is after a recovery (or
// any time), changing nothing: its data is there, a verified archive
// exists, and the service answers from its data.
func VerifyServices(ctx context.Context, d *schema.Desired, entries []model.JournalEntry, names []string) []Checklist {
	verified := VerifiedFrom(entries)
	recovered := lastServiceRecoveries(entries)
	var out []Checklist
	for _, name := range names {
		svc := d.Services[name]
		c := Checklist{Service: name}
		c.add(checkServiceData(svc))
		c.add(checkVerified(verified[name]))
		c.add(checkServiceReady(ctx, svc, recovered[name]))
		out = append(out, c)
	}
	return out
}

func checkServiceData(svc *schema.Service) Check {
	for _, p := range livePaths(svc) {
		fi, err := os.Lstat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return fail(CheckData, "%s is missing: recover it with drsync recover %s", p, svc.Name)
		case err != nil:
			return fail(CheckData, "%v", err)
		case fi.Mode()&fs.ModeSymlink != 0:
			return fail(CheckData, "%s is a symlink, which drsync never follows", p)
		}
	}
	return pass(CheckData, "%s there", strings.Join(livePaths(svc), ", "))
}

func checkServiceReady(ctx context.Context, svc *schema.Service, rec *serviceRecord) Check {
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	switch svc.Kind {
	case schema.ServicePrometheus:
		// Series at the recovered archive's time can only come from it
		// (its samples end within a minute of its name's time); without a
		// recovery, any series now.
		at, from := time.Now(), "now"
		if rec != nil {
			at, from = rec.ArchiveTime.Add(5*time.Minute), "at "+rec.Archive+"'s time"
		}
		if err := prometheus.Ready(ctx, svc.URL); err != nil {
			return fail(CheckReady, "%v", err)
		}
		n, err := prometheus.SeriesAt(ctx, svc.URL, at)
		switch {
		case err != nil:
			return fail(CheckReady, "%v", err)
		case n == 0:
			return fail(CheckReady, "%s is ready but returns no series %s", svc.URL, from)
		}
		return pass(CheckReady, "%s is ready and returns %d series %s", svc.URL, n, from)
	case schema.ServiceSQLite:
		what, err := sqliteCheck(ctx, svc.Database)
		if err != nil {
			return fail(CheckReady, "%v", err)
		}
		return pass(CheckReady, "%s", what)
	}
	switch {
	case rec == nil:
		return skip(CheckReady, "no recovery is journaled: nothing to compare the files with")
	case rec.ChangedSince:
		return skip(CheckReady, "recovered from %s on %s; backups were taken since, so the files may have changed", rec.Archive, rec.At.Format("2006-01-02 15:04"))
	}
	what, err := filesMatch(ctx, svc, rec.Copy)
	if err != nil {
		return fail(CheckReady, "%v", err)
	}
	return pass(CheckReady, "%s, which %s was recovered from on %s", what, svc.Name, rec.At.Format("2006-01-02 15:04"))
}

// sqliteCheck runs the live integrity check on db through its directory's
// descriptor, naming db itself in what it reports.
func sqliteCheck(ctx context.Context, db string) (string, error) {
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

// filesMatch compares every file the archive holds for the service's paths
// with the checksum the archive records.
func filesMatch(ctx context.Context, svc *schema.Service, archivePath string) (string, error) {
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
