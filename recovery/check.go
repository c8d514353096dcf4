package recovery

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/reconcile/planner"
	"github.com/drsync/drsync/schema"
	"github.com/drsync/drsync/verify"
)

// Check is one line of a recovery checklist.
type Check struct {
	Name   string `json:"name"`
	Result string `json:"result"` // model.ResultPass, ResultFail or ResultSkip
	Detail string `json:"detail"`
}

// Checklist is what --verify-only reports for one subvolume or service.
type Checklist struct {
	Subvolume string  `json:"subvolume,omitempty"`
	Service   string  `json:"service,omitempty"`
	Result    string  `json:"result"`
	Checks    []Check `json:"checks"`
}

// Name is the subvolume or service checked.
func (c Checklist) Name() string { return cmp.Or(c.Subvolume, c.Service) }

// Checks names the checklist's lines, in order.
const (
	CheckSource      = "source"      // exists and is a subvolume
	CheckData        = "data"        // not wiped or replaced compared with its newest snapshot
	CheckIncremental = "incremental" // shares a snapshot with the drive: the next send is incremental
	CheckVerified    = "verified"    // a copy a test or drill verified exists
	CheckContent     = "content"     // equals the copy it was recovered from, while unchanged since
)

// VerifyState checks each named subvolume as it is after a recovery (or
// any time), changing nothing. entries is the journal.
func VerifyState(ctx context.Context, d *schema.Desired, o *model.Observed, entries []model.JournalEntry, names []string) []Checklist {
	verified := VerifiedFrom(entries)
	recovered := lastRecoveries(entries)
	var out []Checklist
	for _, name := range names {
		s, st := d.Subvolumes[name], o.Subvolumes[name]
		if st == nil {
			st = &model.SubvolumeState{}
		}
		c := Checklist{Subvolume: name}
		c.add(checkSource(s, st))
		c.add(checkData(st, o.History[name]))
		c.add(checkIncremental(d, o, s, st))
		c.add(checkVerified(verified[name]))
		c.add(checkContent(ctx, s, st, recovered[name], SnapshotDirsInside(d, s.Source)))
		out = append(out, c)
	}
	return out
}

func (c *Checklist) add(k Check) {
	c.Checks = append(c.Checks, k)
	switch {
	case k.Result == model.ResultFail:
		c.Result = model.ResultFail
	case c.Result == "":
		c.Result = model.ResultPass
	}
}

func pass(name, format string, args ...any) Check {
	return Check{Name: name, Result: model.ResultPass, Detail: fmt.Sprintf(format, args...)}
}
func fail(name, format string, args ...any) Check {
	return Check{Name: name, Result: model.ResultFail, Detail: fmt.Sprintf(format, args...)}
}
func skip(name, format string, args ...any) Check {
	return Check{Name: name, Result: model.ResultSkip, Detail: fmt.Sprintf(format, args...)}
}

func checkSource(s *schema.Subvolume, st *model.SubvolumeState) Check {
	switch {
	case st.SourceMissing:
		return fail(CheckSource, "%s is missing: recover it with drsync recover %s", s.Source, s.Name)
	case st.SourceError != "":
		return fail(CheckSource, "%s", st.SourceError)
	}
	return pass(CheckSource, "%s is there", s.Source)
}

func checkData(st *model.SubvolumeState, h *model.History) Check {
	if st.SourceError != "" || st.Health == nil {
		return skip(CheckData, "no source to inspect")
	}
	why := st.Disaster()
	hl := st.Health
	switch {
	case why != "" && h != nil && h.AcceptedAgainst == hl.Reference:
		return pass(CheckData, "accepted as it is by a person: %s", why)
	case why != "":
		return fail(CheckData, "%s", why)
	case hl.Reference == "":
		return pass(CheckData, "%d entries; no snapshot to compare with yet", hl.Entries)
	}
	return pass(CheckData, "%s entries, against %s in %s", atLeast(hl.Entries), atLeast(hl.ReferenceEntries), filepath.Base(hl.Reference))
}

func atLeast(n int) string {
	if n >= model.HealthLimit {
		return fmt.Sprintf("%d or more", n)
	}
	return fmt.Sprint(n)
}

func checkIncremental(d *schema.Desired, o *model.Observed, s *schema.Subvolume, st *model.SubvolumeState) Check {
	switch {
	case s.External == nil:
		return skip(CheckIncremental, "no external copy declared")
	case !o.Drives[s.External.Location].Present:
		return skip(CheckIncremental, "drive %s is absent: %s", s.External.Location, o.Drives[s.External.Location].Reason)
	case len(model.Replicas(st.External)) == 0:
		return skip(CheckIncremental, "the drive holds no replica yet: the first send is a full one")
	}
	if p := planner.CommonParent(st.Local, st.External); p != "" {
		return pass(CheckIncremental, "the next send is incremental from %s, which the drive holds", p)
	}
	return fail(CheckIncremental, "no local snapshot is on the drive: the next send to %s is a full one", s.External.Location)
}

func checkVerified(v map[string]time.Time) Check {
	var newest string
	var at time.Time
	for snap, when := range v {
		if newest == "" || snap > newest {
			newest, at = snap, when
		}
	}
	if newest == "" {
		return fail(CheckVerified, "no copy was ever verified by a restore test or drill (or the newest failed): run drsync test")
	}
	return pass(CheckVerified, "%s, verified %s", newest, at.Format("2006-01-02 15:04"))
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
		case a.Recover != nil && a.Recover.Step == string(StepVerify):
			verifiedCopy[a.Subvolume] = a.Recover.From // the copy the clone was compared with
		case a.Recover != nil && a.Recover.Step == string(StepPlace):
			out[a.Subvolume] = &recoveryRecord{Copy: verifiedCopy[a.Subvolume], Snapshot: a.Snapshot, Target: a.Path, At: e.Time}
		case a.Kind == model.KindSnapshot && out[a.Subvolume] != nil:
			out[a.Subvolume].ChangedSince = true
		}
	}
	return out
}

func checkContent(ctx context.Context, s *schema.Subvolume, st *model.SubvolumeState, r *recoveryRecord, snapshotDirs []string) Check {
	switch {
	case r == nil || r.Target != s.Source:
		return skip(CheckContent, "no recovery into %s is journaled", s.Source)
	case r.ChangedSince:
		return skip(CheckContent, "recovered from %s on %s; snapshots were taken since, so it may have changed", r.Snapshot, r.At.Format("2006-01-02 15:04"))
	case st.SourceError != "":
		return skip(CheckContent, "no source to compare")
	}
	if _, err := os.Lstat(r.Copy); err != nil {
		return skip(CheckContent, "%s, which it was recovered from, is not at hand: %v", r.Snapshot, err)
	}
	rep, err := verify.CompareTrees(ctx, r.Copy, s.Source, nil)
	if err != nil {
		return fail(CheckContent, "comparing with %s: %v", r.Copy, err)
	}
	// Snapshot directories inside the source are not its data: the
	// recovery moved the received copy into one after it compared.
	mismatches := slices.DeleteFunc(rep.Mismatches, func(m verify.Mismatch) bool {
		return slices.ContainsFunc(snapshotDirs, func(dir string) bool { return m.Rel == dir || strings.HasPrefix(m.Rel, dir+"/") })
	})
	if n := len(mismatches); n > 0 {
		m := mismatches[0]
		return fail(CheckContent, "differs from %s, which it was recovered from: %d problem(s), first %s: %s", r.Snapshot, n, m.Rel, m.Check)
	}
	return pass(CheckContent, "equals %s, which it was recovered from on %s: %d files compared", r.Snapshot, r.At.Format("2006-01-02 15:04"), rep.Files)
}

// SnapshotDirsInside lists the locations' directories lying inside source,
// relative to it and slash-separated, as tree comparisons name paths: they
// are not the source's data.
func SnapshotDirsInside(d *schema.Desired, source string) []string {
	var out []string
	for _, l := range d.Locations {
		if rel, err := filepath.Rel(source, l.Path); err == nil && rel != "." && !strings.HasPrefix(rel, "..") {
			out = append(out, filepath.ToSlash(rel))
		}
	}
	return out
}
