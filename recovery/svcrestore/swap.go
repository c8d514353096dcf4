package svcrestore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/drsync/drsync/internal/safefs"
	"github.com/drsync/drsync/providers/sqlite"
	"github.com/drsync/drsync/schema"
)

// commandTimeout bounds a declared stop or start command.
const commandTimeout = 5 * time.Minute

// sqliteSideFiles are the files SQLite keeps beside a database, which go
// where it goes: a WAL left beside a restored database would be replayed
// into it.
var sqliteSideFiles = []string{"-wal", "-shm", "-journal"}

// Swap is one path of a service's data being replaced by a restored copy:
// its parent directory held open (reached with no symlink in any component,
// never resolved again), and drsync's own 0700 directory beside it, into
// which the archive is restored. Every rename goes through the parent's
// descriptor and never replaces anything.
type Swap struct {
	Target string
	parent int
	tmp    safefs.TempDir
	member string
	// aside is the name the data was kept aside as ("" when there was
	// none); asideMoved lists it and SQLite's files moved with it, and
	// placed says the restored copy is in place: what Undo undoes.
	aside      string
	asideMoved []string
	placed     bool
}

// OpenSwap opens the parent of target (creating it when missing) and makes
// drsync's own directory in it. Close removes that directory.
func OpenSwap(target string) (*Swap, error) {
	dir := filepath.Dir(target)
	parent, err := safefs.OpenDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		parent, err = safefs.MkdirAll(dir, 0o755)
	}
	if err != nil {
		return nil, err
	}
	tmp, err := safefs.NewTempDir(parent, dir)
	if err != nil {
		unix.Close(parent)
		return nil, err
	}
	return &Swap{Target: target, parent: parent, tmp: tmp}, nil
}

// Restore restores the archive into the swap's own directory (see
// RestoreService); the swap takes the copy of its target.
func (s *Swap) Restore(ctx context.Context, svc *schema.Service, archivePath string) (Restored, error) {
	got, err := RestoreService(ctx, svc, archivePath, safefs.ProcPath(s.tmp.FD, ""))
	if err != nil {
		return got, err
	}
	for _, p := range got.Paths {
		if p.Live == s.Target {
			s.member = p.Member
			return got, nil
		}
	}
	return got, fmt.Errorf("restore %s: %s is not one of its paths", svc.Name, s.Target)
}

func (s *Swap) base() string { return filepath.Base(s.Target) }

// Proc names the target through its parent's descriptor, for programs
// that take a path.
func (s *Swap) Proc() string { return safefs.ProcPath(s.parent, s.base()) }

// Named puts the target's own path in place of its /proc name in err.
func (s *Swap) Named(err error) error {
	if err == nil {
		return nil
	}
	return errors.New(strings.ReplaceAll(err.Error(), s.Proc(), s.Target))
}

// Close removes the swap's own directory and what is left in it.
func (s *Swap) Close() {
	s.tmp.Remove(s.parent)
	unix.Close(s.parent)
}

// names are the target and, for SQLite, its side files.
func (s *Swap) names(kind string) []string {
	names := []string{s.base()}
	if kind == schema.ServiceSQLite {
		for _, suffix := range sqliteSideFiles {
			names = append(names, s.base()+suffix)
		}
	}
	return names
}

// KeepAside renames the current data (and SQLite's files beside it) to
// <name><suffix> in the same directory and returns the data's new path
// ("" when nothing was there).
func (s *Swap) KeepAside(kind, suffix string) (string, error) {
	for i, n := range s.names(kind) {
		aside := s.base() + suffix + strings.TrimPrefix(n, s.base())
		err := unix.Renameat2(s.parent, n, s.parent, aside, unix.RENAME_NOREPLACE)
		switch {
		case errors.Is(err, unix.ENOENT):
			continue // nothing there (a side file, or data deleted since the plan)
		case err != nil:
			return "", fmt.Errorf("keeping %s aside: %w", filepath.Join(filepath.Dir(s.Target), n), err)
		}
		s.asideMoved = append(s.asideMoved, aside)
		if i == 0 {
			s.aside = aside
		}
	}
	if s.aside == "" {
		return "", nil
	}
	return filepath.Join(filepath.Dir(s.Target), s.aside), nil
}

// Place gives the restored copy its owner (a TSDB: owner; a SQLite
// database: that of the one it replaces) and moves it to the target, never
// over anything, then makes the rename durable. A database is checked
// again where it now lies.
func (s *Swap) Place(ctx context.Context, kind, owner string) error {
	copyPath := safefs.ProcPath(s.tmp.FD, s.member)
	switch kind {
	case schema.ServicePrometheus:
		if err := chownTree(copyPath, owner); err != nil {
			return fmt.Errorf("giving the restored TSDB to %s: %w", owner, err)
		}
	case schema.ServiceSQLite:
		if s.aside != "" {
			if err := copyOwnerMode(s.parent, s.aside, copyPath); err != nil {
				return err
			}
		}
	}
	if err := unix.Renameat2(s.tmp.FD, s.member, s.parent, s.base(), unix.RENAME_NOREPLACE); err != nil {
		return fmt.Errorf("moving the restored copy to %s: %w", s.Target, err)
	}
	s.placed = true
	if err := unix.Fsync(s.parent); err != nil {
		return fmt.Errorf("syncing %s: %w", filepath.Dir(s.Target), err)
	}
	if kind == schema.ServiceSQLite {
		if err := sqlite.IntegrityCheck(ctx, s.Proc()); err != nil {
			return s.Named(err)
		}
	}
	return nil
}

// Undo moves a placed copy to <name><failedSuffix> (kept for inspection;
// its path is returned) and puts the kept-aside data back.
func (s *Swap) Undo(kind, asideSuffix, failedSuffix string) (string, error) {
	dir := filepath.Dir(s.Target)
	var failedCopy string
	var errs []error
	if s.placed {
		for i, n := range s.names(kind) {
			failed := s.base() + failedSuffix + strings.TrimPrefix(n, s.base())
			err := unix.Renameat2(s.parent, n, s.parent, failed, unix.RENAME_NOREPLACE)
			switch {
			case errors.Is(err, unix.ENOENT) && i > 0:
			case err != nil:
				errs = append(errs, fmt.Errorf("moving the restored %s away: %w", filepath.Join(dir, n), err))
			case i == 0:
				failedCopy = filepath.Join(dir, failed)
			}
		}
	}
	for _, aside := range s.asideMoved {
		name := s.base() + strings.TrimPrefix(aside, s.base()+asideSuffix)
		if err := unix.Renameat2(s.parent, aside, s.parent, name, unix.RENAME_NOREPLACE); err != nil {
			errs = append(errs, fmt.Errorf("putting %s back: %w", filepath.Join(dir, aside), err))
		}
	}
	return failedCopy, errors.Join(errs...)
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

// RunCommand runs a declared stop or start command (argv, no shell) and
// folds its output into the error. A command that exits 0 while a child
// it started keeps its output open (a daemon) has succeeded.
func RunCommand(ctx context.Context, argv []string) error {
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
