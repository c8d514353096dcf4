package recovery

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/drsync/drsync/internal/safefs"
	"github.com/drsync/drsync/providers/prometheus"
	"github.com/drsync/drsync/providers/sqlite"
	"github.com/drsync/drsync/schema"
	"github.com/drsync/drsync/verify"
)

// The steps of a service's recovery, beside StepKeepAside and StepPlace.
const (
	StepRestore  Step = "restore"  // the archive verified and restored beside the live data
	StepStop     Step = "stop"     // the service stopped
	StepStart    Step = "start"    // the service started on the restored data
	StepReady    Step = "ready"    // the service answers from the restored data
	StepRollback Step = "rollback" // readiness failed: the kept-aside data back, the service restarted
)

// FailedRecoverInfix names where a restored copy that failed readiness is
// moved when the kept-aside data goes back: <path>.failed-recover-<time>,
// left for a person to inspect.
const FailedRecoverInfix = ".failed-recover-"

// Timeouts of a service recovery: a stop or start command, and how long a
// started service may take to answer from the restored data (Prometheus
// replays its WAL first).
const (
	commandTimeout = 5 * time.Minute
	readyTimeout   = 2 * time.Minute
	readyPoll      = 500 * time.Millisecond
)

// sqliteSideFiles are the files SQLite keeps beside a database, which go
// where it goes: a WAL left beside a restored database would be replayed
// into it.
var sqliteSideFiles = []string{"-wal", "-shm", "-journal"}

// ServiceResult is one service recovery's outcome.
type ServiceResult struct {
	Service string `json:"service"`
	Archive string `json:"archive"`
	// Before says how the current data looked: for SQLite, its
	// integrity check before anything was changed.
	Before    string   `json:"before,omitempty"`
	KeptAside []string `json:"keptAside,omitempty"`
	Files     int      `json:"files"`
	Bytes     int64    `json:"bytes"`
	// Ready is the readiness check that passed (or last failed).
	Ready string `json:"ready,omitempty"`
	// RolledBack says the kept-aside data was put back after readiness
	// failed; FailedCopies are where the restored copies were moved.
	RolledBack   bool     `json:"rolledBack,omitempty"`
	FailedCopies []string `json:"failedCopies,omitempty"`
	Seconds      float64  `json:"seconds"`
	Error        string   `json:"error,omitempty"`
}

// recoverServices recovers the plan's services in its order, skipping
// those that come after a component whose recovery failed.
func (x *executor) recoverServices(p *Plan) ([]ServiceResult, error) {
	byName := map[string]ServiceRecovery{}
	for _, r := range p.Services {
		byName[r.Service] = r
	}
	var out []ServiceResult
	var errs []error
	for _, name := range p.Order {
		r, ok := byName[name]
		if !ok {
			continue
		}
		start := time.Now()
		var res ServiceResult
		var err error
		if dep := slices.IndexFunc(r.After, func(a string) bool { return x.failed[a] }); dep >= 0 {
			res, err = ServiceResult{Service: r.Service, Archive: r.Archive}, fmt.Errorf("not recovered: it comes after %s, whose recovery failed", r.After[dep])
		} else {
			res, err = x.recoverService(r)
		}
		res.Seconds = time.Since(start).Seconds()
		if err != nil {
			res.Error = err.Error()
			errs = append(errs, fmt.Errorf("recover %s: %w", r.Service, err))
			x.failed[r.Service] = true
		}
		out = append(out, res)
	}
	return out, errors.Join(errs...)
}

// stage is one target's side of a service recovery: its parent directory
// held open, and drsync's own directory beside it holding the restored copy.
type stage struct {
	target ServiceTarget
	parent int
	tmp    tempDir
	member string
	// aside is the name the data was kept aside as ("" when there was
	// none); asideMoved lists it and SQLite's files moved with it, and
	// placed says the restored copy is in place: what a rollback undoes.
	aside      string
	asideMoved []string
	placed     bool
}

func (s *stage) base() string { return filepath.Base(s.target.Path) }

// proc names the target through its parent's descriptor, for programs
// that take a path: the parent is never resolved again.
func (s *stage) proc() string { return safefs.ProcPath(s.parent, s.base()) }

// named puts the target's own path in place of its /proc name in err.
func (s *stage) named(err error) error {
	if err == nil {
		return nil
	}
	return errors.New(strings.ReplaceAll(err.Error(), s.proc(), s.target.Path))
}

func (s *stage) close() {
	s.tmp.remove(s.parent)
	unix.Close(s.parent)
}

func (x *executor) recoverService(r ServiceRecovery) (res ServiceResult, err error) {
	res = ServiceResult{Service: r.Service, Archive: r.Archive}
	c := component{r.Service, r.Location, r.Archive, r.External, r.ArchiveTime}
	var stages []*stage
	defer func() {
		for _, s := range stages {
			s.close()
		}
	}()
	var restored Restored
	err = x.stepOf(c, StepRestore, r.Copy, r.Targets[0].Path, "verify "+r.Copy+" and restore it beside "+targetList(r), func() error {
		for i, t := range r.Targets {
			s, err := newStage(t)
			if err != nil {
				return err
			}
			stages = append(stages, s)
			got, err := RestoreService(x.ctx, r.Declared, r.Copy, safefs.ProcPath(s.tmp.fd, ""))
			if err != nil {
				return err
			}
			s.member = got.Paths[i].Member
			if i == 0 {
				restored = got
			}
		}
		res.Files, res.Bytes = restored.Files, restored.Bytes
		if r.Kind == schema.ServiceSQLite && r.Targets[0].State != TargetMissing {
			res.Before = "the current database passes integrity_check"
			if _, err := sqlite.CheckLive(x.ctx, stages[0].proc()); err != nil {
				res.Before = "the current database fails: " + stages[0].named(err).Error()
			}
		}
		return nil
	})
	if err != nil {
		return res, err
	}
	if len(r.Stop) > 0 {
		if err := x.stepOf(c, StepStop, "", r.Targets[0].Path, strings.Join(r.Stop, " "), func() error { return runCommand(x.ctx, r.Stop) }); err != nil {
			return res, err
		}
	}
	err = x.swapIn(c, r, stages, restored, &res)
	if err == nil {
		return res, nil
	}
	rerr := x.stepOf(c, StepRollback, "", r.Targets[0].Path, "put the kept-aside data back and start "+r.Service+" again", func() error {
		return x.rollback(r, stages, &res)
	})
	if rerr != nil {
		return res, fmt.Errorf("%w; the rollback failed too: %w", err, rerr)
	}
	res.RolledBack = true
	return res, fmt.Errorf("%w; rolled back: the previous data is in place again and the service was started on it", err)
}

// swapIn keeps the current data aside, moves the restored copies in,
// starts the service and waits until it answers from the restored data.
func (x *executor) swapIn(c component, r ServiceRecovery, stages []*stage, restored Restored, res *ServiceResult) error {
	err := x.stepOf(c, StepKeepAside, "", r.Targets[0].Path, "keep "+targetList(r)+" aside as <path>"+PreRecoverInfix+x.stamp, func() error {
		for _, s := range stages {
			if err := s.keepAside(r.Kind, x.stamp); err != nil {
				return err
			}
			if s.aside != "" {
				res.KeptAside = append(res.KeptAside, filepath.Join(filepath.Dir(s.target.Path), s.aside))
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	err = x.stepOf(c, StepPlace, r.Copy, r.Targets[0].Path, "move the restored "+r.Kind+" data to "+targetList(r), func() error {
		for _, s := range stages {
			if err := s.place(x.ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(r.Start) > 0 {
		if err := x.stepOf(c, StepStart, "", r.Targets[0].Path, strings.Join(r.Start, " "), func() error { return runCommand(x.ctx, r.Start) }); err != nil {
			return err
		}
	}
	return x.stepOf(c, StepReady, r.Copy, r.Targets[0].Path, "check "+r.Service+" answers from the restored data", func() error {
		what, err := waitReady(x.ctx, r, stages, restored)
		res.Ready = what
		return err
	})
}

func targetList(r ServiceRecovery) string {
	var paths []string
	for _, t := range r.Targets {
		paths = append(paths, t.Path)
	}
	return strings.Join(paths, ", ")
}

// newStage opens the target's parent (creating it when missing) with no
// symlink in any component, and makes drsync's own directory in it.
func newStage(t ServiceTarget) (*stage, error) {
	parent, err := safefs.OpenDir(filepath.Dir(t.Path))
	if errors.Is(err, fs.ErrNotExist) {
		parent, err = safefs.MkdirAll(filepath.Dir(t.Path), 0o755)
	}
	if err != nil {
		return nil, err
	}
	tmp, err := newTemp(parent, filepath.Dir(t.Path))
	if err != nil {
		unix.Close(parent)
		return nil, err
	}
	return &stage{target: t, parent: parent, tmp: tmp}, nil
}

// keepAside renames the current data (and SQLite's files beside it) to
// <name>.pre-recover-<stamp> in the same directory, never over anything.
func (s *stage) keepAside(kind, stamp string) error {
	names := []string{s.base()}
	if kind == schema.ServiceSQLite {
		for _, suffix := range sqliteSideFiles {
			names = append(names, s.base()+suffix)
		}
	}
	for i, n := range names {
		aside := s.base() + PreRecoverInfix + stamp
		if i > 0 {
			aside += strings.TrimPrefix(n, s.base())
		}
		err := unix.Renameat2(s.parent, n, s.parent, aside, unix.RENAME_NOREPLACE)
		switch {
		case errors.Is(err, unix.ENOENT):
			continue // nothing there (a side file, or data deleted since the plan)
		case err != nil:
			return fmt.Errorf("keeping %s aside: %w", filepath.Join(filepath.Dir(s.target.Path), n), err)
		}
		s.asideMoved = append(s.asideMoved, aside)
		if i == 0 {
			s.aside = aside
		}
	}
	return nil
}

// place gives the restored copy its owner and moves it to the target,
// never over anything, then makes the rename durable.
func (s *stage) place(ctx context.Context, r ServiceRecovery) error {
	copyPath := safefs.ProcPath(s.tmp.fd, s.member)
	switch r.Kind {
	case schema.ServicePrometheus:
		if err := chownTree(copyPath, r.Owner); err != nil {
			return fmt.Errorf("giving the restored TSDB to %s: %w", r.Owner, err)
		}
	case schema.ServiceSQLite:
		if s.aside != "" {
			if err := copyOwnerMode(s.parent, s.aside, copyPath); err != nil {
				return err
			}
		}
	}
	if err := unix.Renameat2(s.tmp.fd, s.member, s.parent, s.base(), unix.RENAME_NOREPLACE); err != nil {
		return fmt.Errorf("moving the restored copy to %s: %w", s.target.Path, err)
	}
	s.placed = true
	if err := unix.Fsync(s.parent); err != nil {
		return fmt.Errorf("syncing %s: %w", filepath.Dir(s.target.Path), err)
	}
	if r.Kind == schema.ServiceSQLite {
		// The check after: the database where the service will open it.
		if err := sqlite.IntegrityCheck(ctx, s.proc()); err != nil {
			return s.named(err)
		}
	}
	return nil
}

// chownTree gives every entry of a restored tree (in drsync's own 0700
// directory, so nobody else can swap an entry) the owner uid:gid.
func chownTree(root, owner string) error {
	if owner == "" {
		return nil
	}
	u, g, ok := strings.Cut(owner, ":")
	uid, uerr := strconv.Atoi(u)
	gid, gerr := strconv.Atoi(g)
	if !ok || uerr != nil || gerr != nil {
		return fmt.Errorf("owner %q is not uid:gid", owner)
	}
	return filepath.WalkDir(root+"/.", func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
}

// copyOwnerMode gives the restored database the owner and mode of the one
// it replaces (kept aside as aside in dir): the service's user must be
// able to open it, whoever ran the backup.
func copyOwnerMode(dir int, aside, copyPath string) error {
	var st unix.Stat_t
	if err := unix.Fstatat(dir, aside, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("reading the owner of %s: %w", aside, err)
	}
	fd, err := unix.Open(copyPath, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("the restored database: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Fchown(fd, int(st.Uid), int(st.Gid)); err != nil {
		return fmt.Errorf("giving the restored database its owner: %w", err)
	}
	if err := unix.Fchmod(fd, st.Mode&0o7777); err != nil {
		return fmt.Errorf("giving the restored database its mode: %w", err)
	}
	return nil
}

// rollback moves the restored copies away (kept for inspection), puts the
// kept-aside data back and starts the service again on it.
func (x *executor) rollback(r ServiceRecovery, stages []*stage, res *ServiceResult) error {
	if len(r.Stop) > 0 {
		// The service may run on the restored data: stop it before its
		// files move. A failure here is not final: it may not have started.
		_ = runCommand(context.WithoutCancel(x.ctx), r.Stop)
	}
	var errs []error
	for _, s := range stages {
		dir := filepath.Dir(s.target.Path)
		if s.placed {
			names := []string{s.base()}
			if r.Kind == schema.ServiceSQLite {
				for _, suffix := range sqliteSideFiles {
					names = append(names, s.base()+suffix)
				}
			}
			for i, n := range names {
				failed := s.base() + FailedRecoverInfix + x.stamp
				if i > 0 {
					failed += strings.TrimPrefix(n, s.base())
				}
				err := unix.Renameat2(s.parent, n, s.parent, failed, unix.RENAME_NOREPLACE)
				switch {
				case errors.Is(err, unix.ENOENT) && i > 0:
				case err != nil:
					errs = append(errs, fmt.Errorf("moving the restored %s away: %w", filepath.Join(dir, n), err))
				case i == 0:
					res.FailedCopies = append(res.FailedCopies, filepath.Join(dir, failed))
				}
			}
		}
		for _, aside := range s.asideMoved {
			name := s.base() + strings.TrimPrefix(aside, s.base()+PreRecoverInfix+x.stamp)
			if err := unix.Renameat2(s.parent, aside, s.parent, name, unix.RENAME_NOREPLACE); err != nil {
				errs = append(errs, fmt.Errorf("putting %s back: %w", filepath.Join(dir, aside), err))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	res.KeptAside = nil
	if len(r.Start) > 0 {
		return runCommand(context.WithoutCancel(x.ctx), r.Start)
	}
	return nil
}

// runCommand runs a declared stop or start command (argv, no shell) and
// folds its output into the error. A command that exits 0 while a child
// it started keeps its output open (a daemon) has succeeded.
func runCommand(ctx context.Context, argv []string) error {
	ctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if err == nil || (errors.Is(err, exec.ErrWaitDelay) && cmd.ProcessState != nil && cmd.ProcessState.Success()) {
		return nil
	}
	msg := strings.TrimSpace(out.String())
	if len(msg) > 2000 {
		msg = "…" + msg[len(msg)-2000:]
	}
	if msg == "" {
		return fmt.Errorf("%s: %w", strings.Join(argv, " "), err)
	}
	return fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, msg)
}

// waitReady checks the service's readiness: a Prometheus until it passes
// or readyTimeout ends (it replays its WAL and loads blocks first), the
// others once, since a damaged database or file does not mend itself.
func waitReady(ctx context.Context, r ServiceRecovery, stages []*stage, restored Restored) (string, error) {
	if r.Kind != schema.ServicePrometheus {
		return ready(ctx, r, stages, restored)
	}
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	for {
		what, err := ready(ctx, r, stages, restored)
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
func ready(ctx context.Context, r ServiceRecovery, stages []*stage, restored Restored) (string, error) {
	switch r.Kind {
	case schema.ServicePrometheus:
		return prometheusReady(ctx, r.Declared.URL, restored.To)
	case schema.ServiceSQLite:
		what, err := sqliteReady(ctx, stages[0].proc(), restored.Tables)
		return what, stages[0].named(err)
	}
	return filesReady(stages, restored.Sums)
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
func filesReady(stages []*stage, sums map[string]string) (string, error) {
	n := 0
	for _, s := range stages {
		dir := filepath.Dir(s.target.Path)
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
