// Package checklist verifies subvolumes and services as they are after a
// recovery, or at any time, changing nothing (drsync recover
// --verify-only, the design's verify_recovery.sh): one checklist per
// component, readiness included.
package checklist

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/drsync/drsync/providers/prometheus"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/reconcile/model/health"
	"github.com/drsync/drsync/reconcile/planner"
	"github.com/drsync/drsync/recovery"
	"github.com/drsync/drsync/recovery/svcrestore"
	"github.com/drsync/drsync/schema"
	"github.com/drsync/drsync/verify"
)

// Run checks each named subvolume and service (default: all), changing
// nothing. entries is the journal.
func Run(ctx context.Context, d *schema.Desired, o *model.Observed, entries []model.JournalEntry, names []string) ([]recovery.Checklist, error) {
	if len(names) == 0 {
		names = append(d.SubvolumeNames(), d.ServiceNames()...)
	}
	var subvolumes, services []string
	for _, n := range names {
		switch {
		case d.Subvolumes[n] != nil:
			subvolumes = append(subvolumes, n)
		case d.Services[n] != nil:
			services = append(services, n)
		default:
			return nil, fmt.Errorf("%s: not a declared subvolume or service (declared: %s)", n,
				strings.Join(append(d.SubvolumeNames(), d.ServiceNames()...), ", "))
		}
	}
	return append(Subvolumes(ctx, d, o, entries, subvolumes), Services(ctx, d, entries, services)...), nil
}

// Subvolumes checks each named subvolume as it is after a recovery (or
// any time), changing nothing. entries is the journal.
func Subvolumes(ctx context.Context, d *schema.Desired, o *model.Observed, entries []model.JournalEntry, names []string) []recovery.Checklist {
	verified := recovery.VerifiedFrom(entries)
	recovered := lastRecoveries(entries)
	var out []recovery.Checklist
	for _, name := range names {
		s, st := d.Subvolumes[name], o.Subvolumes[name]
		if st == nil {
			st = &model.SubvolumeState{}
		}
		c := recovery.Checklist{Subvolume: name}
		c.Add(checkSource(s, st))
		c.Add(checkData(st, o.History[name]))
		c.Add(checkIncremental(d, o, s, st))
		c.Add(checkVerified(verified[name]))
		c.Add(checkContent(ctx, s, st, recovered[name], recovery.SnapshotDirsInside(d, s.Source)))
		out = append(out, c)
	}
	return out
}

func pass(name, format string, args ...any) recovery.Check {
	return recovery.Check{Name: name, Result: model.ResultPass, Detail: fmt.Sprintf(format, args...)}
}
func fail(name, format string, args ...any) recovery.Check {
	return recovery.Check{Name: name, Result: model.ResultFail, Detail: fmt.Sprintf(format, args...)}
}
func skip(name, format string, args ...any) recovery.Check {
	return recovery.Check{Name: name, Result: model.ResultSkip, Detail: fmt.Sprintf(format, args...)}
}

func checkSource(s *schema.Subvolume, st *model.SubvolumeState) recovery.Check {
	switch {
	case st.SourceMissing:
		return fail(recovery.CheckSource, "%s is missing: recover it with drsync recover %s", s.Source, s.Name)
	case st.SourceError != "":
		return fail(recovery.CheckSource, "%s", st.SourceError)
	}
	return pass(recovery.CheckSource, "%s is there", s.Source)
}

func checkData(st *model.SubvolumeState, h *model.History) recovery.Check {
	if st.SourceError != "" || st.Health == nil {
		return skip(recovery.CheckData, "no source to inspect")
	}
	why := st.Disaster()
	hl := st.Health
	switch {
	case why != "" && h != nil && h.AcceptedAgainst == hl.Reference:
		return pass(recovery.CheckData, "accepted as it is by a person: %s", why)
	case why != "":
		return fail(recovery.CheckData, "%s", why)
	case hl.Reference == "":
		return pass(recovery.CheckData, "%d entries; no snapshot to compare with yet", hl.Entries)
	}
	return pass(recovery.CheckData, "%s entries, against %s in %s", atLeast(hl.Entries), atLeast(hl.ReferenceEntries), filepath.Base(hl.Reference))
}

func atLeast(n int) string {
	if n >= health.Limit {
		return fmt.Sprintf("%d or more", n)
	}
	return fmt.Sprint(n)
}

func checkIncremental(d *schema.Desired, o *model.Observed, s *schema.Subvolume, st *model.SubvolumeState) recovery.Check {
	switch {
	case s.External == nil:
		return skip(recovery.CheckIncremental, "no external copy declared")
	case !o.Drives[s.External.Location].Present:
		return skip(recovery.CheckIncremental, "drive %s is absent: %s", s.External.Location, o.Drives[s.External.Location].Reason)
	case len(model.Replicas(st.External)) == 0:
		return skip(recovery.CheckIncremental, "the drive holds no replica yet: the first send is a full one")
	}
	if p := planner.CommonParent(st.Local, st.External); p != "" {
		return pass(recovery.CheckIncremental, "the next send is incremental from %s, which the drive holds", p)
	}
	return fail(recovery.CheckIncremental, "no local snapshot is on the drive: the next send to %s is a full one", s.External.Location)
}

func checkVerified(v map[string]time.Time) recovery.Check {
	var newest string
	var at time.Time
	for snap, when := range v {
		if newest == "" || snap > newest {
			newest, at = snap, when
		}
	}
	if newest == "" {
		return fail(recovery.CheckVerified, "no copy was ever verified by a restore test or drill (or the newest failed): run drsync test")
	}
	return pass(recovery.CheckVerified, "%s, verified %s", newest, at.Format("2006-01-02 15:04"))
}

// recoveryRecord is a finished recovery as the journal tells it.
type recoveryRecord struct {
	Copy, Snapshot, Target string
	At                     time.Time
	// ChangedSince says a snapshot of the subvolume was taken after it.
	ChangedSince bool
}

func lastRecoveries(entries []model.JournalEntry) map[string]*recoveryRecord {
	out := map[string]*recoveryRecord{}
	verifiedCopy := map[string]string{}
	for _, e := range entries {
		a := e.Action
		if a == nil || e.Phase != model.PhaseDone {
			continue
		}
		switch {
		case a.Recover != nil && a.Recover.Step == string(recovery.StepVerify):
			verifiedCopy[a.Subvolume] = a.Recover.From // the copy the clone was compared with
		case a.Recover != nil && a.Recover.Step == string(recovery.StepPlace):
			out[a.Subvolume] = &recoveryRecord{Copy: verifiedCopy[a.Subvolume], Snapshot: a.Snapshot, Target: a.Path, At: e.Time}
		case a.Kind == model.KindSnapshot && out[a.Subvolume] != nil:
			out[a.Subvolume].ChangedSince = true
		}
	}
	return out
}

func checkContent(ctx context.Context, s *schema.Subvolume, st *model.SubvolumeState, r *recoveryRecord, snapshotDirs []string) recovery.Check {
	switch {
	case r == nil || r.Target != s.Source:
		return skip(recovery.CheckContent, "no recovery into %s is journaled", s.Source)
	case r.ChangedSince:
		return skip(recovery.CheckContent, "recovered from %s on %s; snapshots were taken since, so it may have changed", r.Snapshot, r.At.Format("2006-01-02 15:04"))
	case st.SourceError != "":
		return skip(recovery.CheckContent, "no source to compare")
	}
	if _, err := os.Lstat(r.Copy); err != nil {
		return skip(recovery.CheckContent, "%s, which it was recovered from, is not at hand: %v", r.Snapshot, err)
	}
	rep, err := verify.CompareTrees(ctx, r.Copy, s.Source, nil)
	if err != nil {
		return fail(recovery.CheckContent, "comparing with %s: %v", r.Copy, err)
	}
	// Snapshot directories inside the source are not its data: the
	// recovery moved the received copy into one after it compared.
	mismatches := slices.DeleteFunc(rep.Mismatches, func(m verify.Mismatch) bool {
		return slices.ContainsFunc(snapshotDirs, func(dir string) bool { return m.Rel == dir || strings.HasPrefix(m.Rel, dir+"/") })
	})
	if n := len(mismatches); n > 0 {
		m := mismatches[0]
		return fail(recovery.CheckContent, "differs from %s, which it was recovered from: %d problem(s), first %s: %s", r.Snapshot, n, m.Rel, m.Check)
	}
	return pass(recovery.CheckContent, "equals %s, which it was recovered from on %s: %d files compared", r.Snapshot, r.At.Format("2006-01-02 15:04"), rep.Files)
}

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
		case a.Recover != nil && a.Recover.Step == string(recovery.StepReady):
			out[a.Subvolume] = &serviceRecord{Archive: a.Snapshot, Copy: a.Recover.From, ArchiveTime: a.Recover.SnapshotTime, At: e.Time}
		case a.Kind == model.KindBackup && out[a.Subvolume] != nil:
			out[a.Subvolume].ChangedSince = true
		}
	}
	return out
}

// Services checks each named service as it is after a recovery (or
// any time), changing nothing: its data is there, a verified archive
// exists, and the service answers from its data.
func Services(ctx context.Context, d *schema.Desired, entries []model.JournalEntry, names []string) []recovery.Checklist {
	verified := recovery.VerifiedFrom(entries)
	recovered := lastServiceRecoveries(entries)
	var out []recovery.Checklist
	for _, name := range names {
		svc := d.Services[name]
		c := recovery.Checklist{Service: name}
		c.Add(checkServiceData(svc))
		c.Add(checkVerified(verified[name]))
		c.Add(checkServiceReady(ctx, svc, recovered[name]))
		out = append(out, c)
	}
	return out
}

func checkServiceData(svc *schema.Service) recovery.Check {
	for _, p := range svc.LivePaths() {
		fi, err := os.Lstat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return fail(recovery.CheckData, "%s is missing: recover it with drsync recover %s", p, svc.Name)
		case err != nil:
			return fail(recovery.CheckData, "%v", err)
		case fi.Mode()&fs.ModeSymlink != 0:
			return fail(recovery.CheckData, "%s is a symlink, which drsync never follows", p)
		}
	}
	return pass(recovery.CheckData, "%s there", strings.Join(svc.LivePaths(), ", "))
}

func checkServiceReady(ctx context.Context, svc *schema.Service, rec *serviceRecord) recovery.Check {
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
			return fail(recovery.CheckReady, "%v", err)
		}
		n, err := prometheus.SeriesAt(ctx, svc.URL, at)
		switch {
		case err != nil:
			return fail(recovery.CheckReady, "%v", err)
		case n == 0:
			return fail(recovery.CheckReady, "%s is ready but returns no series %s", svc.URL, from)
		}
		return pass(recovery.CheckReady, "%s is ready and returns %d series %s", svc.URL, n, from)
	case schema.ServiceSQLite:
		what, err := svcrestore.CheckSQLite(ctx, svc.Database)
		if err != nil {
			return fail(recovery.CheckReady, "%v", err)
		}
		return pass(recovery.CheckReady, "%s", what)
	}
	switch {
	case rec == nil:
		return skip(recovery.CheckReady, "no recovery is journaled: nothing to compare the files with")
	case rec.ChangedSince:
		return skip(recovery.CheckReady, "recovered from %s on %s; backups were taken since, so the files may have changed", rec.Archive, rec.At.Format("2006-01-02 15:04"))
	}
	what, err := svcrestore.FilesMatch(ctx, svc, rec.Copy)
	if err != nil {
		return fail(recovery.CheckReady, "%v", err)
	}
	return pass(recovery.CheckReady, "%s, which %s was recovered from on %s", what, svc.Name, rec.At.Format("2006-01-02 15:04"))
}
