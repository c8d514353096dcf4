// Package safefs opens, creates and checks directories without letting a
// path redirect drsync, which runs as root over directories other users own.
// Every path is resolved once, by the kernel, with symlinks refused in every
// component (openat2 RESOLVE_NO_SYMLINKS); everything below an opened
// directory is reached through its file descriptor, never by its path again.
package safefs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrSymlink is returned (wrapped) when a path runs through a symlink.
var ErrSymlink = errors.New("reached through a symlink")

// ErrOtherFilesystem is returned (wrapped) when a directory lies on another
// filesystem than the one it must be on (a mount point crossed below root).
var ErrOtherFilesystem = errors.New("on another filesystem")

// ErrUnsafeOwner is returned (wrapped) when a directory drsync must trust is
// not owned by root or is writable by group or others.
var ErrUnsafeOwner = errors.New("not owned by root or writable by others")

const dirFlags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC

// OpenDir opens the absolute directory path with no symlink in any component.
// The caller closes the descriptor.
func OpenDir(path string) (int, error) {
	if !filepath.IsAbs(path) {
		return -1, fmt.Errorf("open %s: not an absolute path", path)
	}
	fd, err := openat2(unix.AT_FDCWD, filepath.Clean(path), dirFlags, 0, unix.RESOLVE_NO_SYMLINKS|unix.RESOLVE_NO_MAGICLINKS)
	if err != nil {
		return -1, explain(path, err)
	}
	return fd, nil
}

// OpenDirBelow opens the directory dir, which must be root or lie below it,
// with no symlink in any component and without crossing a mount point
// between root and dir: dir is on root's filesystem.
func OpenDirBelow(root, dir string) (int, error) {
	rel, err := relBelow(root, dir)
	if err != nil {
		return -1, err
	}
	rootFd, err := OpenDir(root)
	if err != nil {
		return -1, err
	}
	defer unix.Close(rootFd)
	fd, err := openat2(rootFd, rel, dirFlags, 0,
		unix.RESOLVE_BENEATH|unix.RESOLVE_NO_SYMLINKS|unix.RESOLVE_NO_MAGICLINKS|unix.RESOLVE_NO_XDEV)
	if errors.Is(err, unix.EXDEV) {
		return -1, fmt.Errorf("%s: %w than %s", dir, ErrOtherFilesystem, root)
	}
	if err != nil {
		return -1, explain(dir, err)
	}
	return fd, nil
}

// OpenBeneath opens rel below the directory dirfd with flags, refusing
// symlinks and ".." escapes; O_NOFOLLOW and O_CLOEXEC are always added.
func OpenBeneath(dirfd int, rel string, flags int, mode uint32) (int, error) {
	fd, err := openat2(dirfd, rel, flags|unix.O_NOFOLLOW|unix.O_CLOEXEC, mode,
		unix.RESOLVE_BENEATH|unix.RESOLVE_NO_SYMLINKS|unix.RESOLVE_NO_MAGICLINKS)
	if err != nil {
		if errors.Is(err, unix.ELOOP) {
			err = fmt.Errorf("%w (%w)", ErrSymlink, err)
		}
		return -1, &fs.PathError{Op: "open", Path: rel, Err: err}
	}
	return fd, nil
}

// MkdirAllBelow creates the directories of rel below dirfd that are missing
// (with mode), one component at a time through the parent's descriptor, and
// returns the last one opened. It refuses symlinks and "..".
func MkdirAllBelow(dirfd int, rel string, mode uint32) (int, error) {
	fd, err := unix.Dup(dirfd)
	if err != nil {
		return -1, fmt.Errorf("dup: %w", err)
	}
	unix.CloseOnExec(fd)
	for _, c := range strings.Split(filepath.ToSlash(rel), "/") {
		if c == "" || c == "." {
			continue
		}
		if c == ".." {
			unix.Close(fd)
			return -1, fmt.Errorf("%s: \"..\" is not allowed", rel)
		}
		if err := unix.Mkdirat(fd, c, mode); err != nil && !errors.Is(err, unix.EEXIST) {
			unix.Close(fd)
			return -1, &fs.PathError{Op: "mkdir", Path: c, Err: err}
		}
		next, err := OpenBeneath(fd, c, unix.O_RDONLY|unix.O_DIRECTORY, 0)
		unix.Close(fd)
		if err != nil {
			return -1, err
		}
		fd = next
	}
	return fd, nil
}

// CheckTrusted refuses a directory (open at fd) that another user could
// change under drsync: it must be owned by root and not writable by group
// or others (sticky or not).
func CheckTrusted(fd int, path string) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	if st.Uid != 0 || st.Mode&0o022 != 0 {
		return fmt.Errorf("%s (owner uid %d, mode %04o): %w", path, st.Uid, st.Mode&0o7777, ErrUnsafeOwner)
	}
	return nil
}

// FreeBytes is the space an unprivileged writer may still use on the
// filesystem holding fd (root may use a little more: the reserve).
func FreeBytes(fd int) (uint64, error) {
	var s unix.Statfs_t
	if err := unix.Fstatfs(fd, &s); err != nil {
		return 0, fmt.Errorf("statfs: %w", err)
	}
	return s.Bavail * uint64(s.Bsize), nil
}

// ProcPath names fd (or the entry name below it) for calls and programs
// that only take paths: the kernel resolves it to the open file itself,
// however the path it was opened by has changed since. It names this
// process rather than "self", so child processes running as root (sqlite3,
// promtool checking a restored service) reach the same directory.
func ProcPath(fd int, name string) string {
	p := fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), fd)
	if name != "" {
		p += "/" + name
	}
	return p
}

func relBelow(root, dir string) (string, error) {
	rel, err := filepath.Rel(filepath.Clean(root), filepath.Clean(dir))
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") || filepath.IsAbs(rel) {
		return "", fmt.Errorf("%s does not lie below %s", dir, root)
	}
	return rel, nil
}

func openat2(dirfd int, path string, flags int, mode uint32, resolve uint64) (int, error) {
	how := unix.OpenHow{Flags: uint64(flags), Mode: uint64(mode), Resolve: resolve}
	for {
		fd, err := unix.Openat2(dirfd, path, &how)
		if errors.Is(err, unix.EINTR) || errors.Is(err, unix.EAGAIN) {
			continue // EAGAIN: a concurrent rename; the kernel asks to retry
		}
		if errors.Is(err, unix.ENOSYS) {
			return -1, fmt.Errorf("openat2 %s: this kernel lacks openat2 (Linux 5.6+), which drsync needs to open paths safely: %w", path, err)
		}
		return fd, err
	}
}

// explain names the component that is a symlink when the kernel refused
// one; the lstat walk only words the error, it decides nothing.
func explain(path string, err error) error {
	// O_NOFOLLOW|O_DIRECTORY on a final symlink says ENOTDIR.
	if !errors.Is(err, unix.ELOOP) && !errors.Is(err, unix.ENOTDIR) {
		return &fs.PathError{Op: "open", Path: path, Err: err}
	}
	p := "/"
	for _, c := range strings.Split(filepath.Clean(path), "/") {
		if c == "" {
			continue
		}
		p = filepath.Join(p, c)
		if fi, lerr := os.Lstat(p); lerr == nil && fi.Mode()&fs.ModeSymlink != 0 {
			return fmt.Errorf("%s: %w at %s", path, ErrSymlink, p)
		}
	}
	if errors.Is(err, unix.ENOTDIR) {
		return &fs.PathError{Op: "open", Path: path, Err: err}
	}
	return fmt.Errorf("%s: %w", path, ErrSymlink)
}

// MkdirAll creates the absolute directory path and any missing parents with
// mode, with no symlink in any component, and returns it opened.
func MkdirAll(path string, mode uint32) (int, error) {
	if !filepath.IsAbs(path) {
		return -1, fmt.Errorf("mkdir %s: not an absolute path", path)
	}
	root, err := OpenDir("/")
	if err != nil {
		return -1, err
	}
	defer unix.Close(root)
	fd, err := MkdirAllBelow(root, strings.TrimPrefix(filepath.Clean(path), "/"), mode)
	if err != nil {
		return -1, fmt.Errorf("mkdir %s: %w", path, err)
	}
	return fd, nil
}
