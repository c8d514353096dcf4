package recovery

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/drsync/drsync/providers/prometheus"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/recovery/svcrestore"
	"github.com/drsync/drsync/schema"
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
	for _, p := range svcrestore.LivePaths(svc) {
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
	return pass(CheckData, "%s there", strings.Join(svcrestore.LivePaths(svc), ", "))
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
		what, err := svcrestore.CheckSQLite(ctx, svc.Database)
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
	what, err := svcrestore.FilesMatch(ctx, svc, rec.Copy)
	if err != nil {
		return fail(CheckReady, "%v", err)
	}
	return pass(CheckReady, "%s, which %s was recovered from on %s", what, svc.Name, rec.At.Format("2006-01-02 15:04"))
}
