package safefs

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// ErrNotRegular is returned (wrapped) when a file drsync reads or replaces
// is a device, a FIFO or a directory.
var ErrNotRegular = errors.New("not a regular file")

// ReadFile reads the regular file path with no symlink in any component,
// the final one included: a symlink is an error wrapping ErrSymlink, never
// followed, so the content of whatever it points at is never read.
func ReadFile(path string) ([]byte, error) {
	dir, err := OpenDir(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	defer unix.Close(dir)
	// O_NONBLOCK: opening a FIFO planted there must not hang.
	fd, err := unix.Openat(dir, filepath.Base(path), unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ELOOP) {
		return nil, fmt.Errorf("%s: %w (not followed)", path, ErrSymlink)
	}
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %w", path, ErrNotRegular)
	}
	return io.ReadAll(f)
}

// ReplaceFile writes content to path atomically (a temp file in the same
// directory, synced, renamed over path) through the directory's
// descriptor, creating missing directories 0755. The directory is reached
// with no symlink in any component, and an existing symlink (or anything
// but a regular file) at path is refused, not replaced.
func ReplaceFile(path string, content []byte, mode uint32) error {
	dir, err := MkdirAll(filepath.Dir(path), 0o755)
	if err != nil {
		return err
	}
	defer unix.Close(dir)
	name := filepath.Base(path)
	var st unix.Stat_t
	switch err := unix.Fstatat(dir, name, &st, unix.AT_SYMLINK_NOFOLLOW); {
	case errors.Is(err, unix.ENOENT):
	case err != nil:
		return &fs.PathError{Op: "stat", Path: path, Err: err}
	case st.Mode&unix.S_IFMT == unix.S_IFLNK:
		return fmt.Errorf("%s: %w: refusing to replace it", path, ErrSymlink)
	case st.Mode&unix.S_IFMT != unix.S_IFREG:
		return fmt.Errorf("%s: %w: refusing to replace it", path, ErrNotRegular)
	}
	var b [6]byte
	rand.Read(b[:])
	tmp := "." + name + ".tmp-" + hex.EncodeToString(b[:])
	fd, err := unix.Openat(dir, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return &fs.PathError{Op: "create", Path: filepath.Join(filepath.Dir(path), tmp), Err: err}
	}
	f := os.NewFile(uintptr(fd), tmp)
	_, err = f.Write(content)
	if err == nil {
		err = f.Chmod(fs.FileMode(mode))
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = unix.Renameat(dir, tmp, dir, name)
	}
	if err != nil {
		unix.Unlinkat(dir, tmp, 0)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
