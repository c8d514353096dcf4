package recovery

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/drsync/drsync/internal/safefs"
	"github.com/drsync/drsync/reconcile/model"
)

// ObserveTarget says what is at path: nothing, an empty directory, a
// subvolume holding data, a plain directory holding data, or a symlink
// (never followed). Execute checks again as it acts: it never replaces
// what appeared after this observation without an atomic exchange.
func ObserveTarget(st model.Storage, path string) (Target, error) {
	t := Target{Path: path}
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		t.State = TargetMissing
		return t, nil
	case err != nil:
		return t, fmt.Errorf("target %s: %w", path, err)
	case fi.Mode()&fs.ModeSymlink != 0:
		t.State = TargetSymlink
		return t, nil
	case !fi.IsDir():
		t.State = TargetPlainData
		return t, nil
	}
	empty, err := isEmptyDir(path)
	if err != nil {
		return t, err
	}
	t.Subvolume = st.CheckSource(path) == nil
	switch {
	case empty:
		t.State = TargetEmpty
	case t.Subvolume:
		t.State = TargetData
	default:
		t.State = TargetPlainData
	}
	return t, nil
}

// isEmptyDir opens path without following a symlink and reads one name.
func isEmptyDir(path string) (bool, error) {
	fd, err := safefs.OpenDir(path)
	if err != nil {
		return false, err
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	names, err := f.Readdirnames(1)
	if errors.Is(err, io.EOF) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("target %s: %w", path, err)
	}
	return len(names) == 0, nil
}

// putInPlace moves the verified staging copy to target, both in one directory
// opened without following symlinks. A missing target is created with
// RENAME_NOREPLACE, so whatever appeared there meanwhile is never
// replaced; an existing one is swapped atomically (RENAME_EXCHANGE), so
// the target path is never empty, and the displaced one is then at
// staging.
func putInPlace(staging, target string, exchange bool) error {
	if filepath.Dir(staging) != filepath.Dir(target) {
		return fmt.Errorf("staging %s is not beside %s", staging, target)
	}
	dir, err := safefs.OpenDir(filepath.Dir(target))
	if err != nil {
		return err
	}
	defer unix.Close(dir)
	flags := uint(unix.RENAME_NOREPLACE)
	if exchange {
		flags = unix.RENAME_EXCHANGE
	}
	if err := unix.Renameat2(dir, filepath.Base(staging), dir, filepath.Base(target), flags); err != nil {
		return fmt.Errorf("putting %s in place of %s: %w", staging, target, err)
	}
	return nil
}

// removeEmptyDir removes what was an empty directory at staging, through
// its parent's fd; one that is no longer empty is left and reported.
func removeEmptyDir(staging string) error {
	dir, err := safefs.OpenDir(filepath.Dir(staging))
	if err != nil {
		return err
	}
	defer unix.Close(dir)
	if err := unix.Unlinkat(dir, filepath.Base(staging), unix.AT_REMOVEDIR); err != nil {
		return fmt.Errorf("removing the replaced empty directory %s: %w", staging, err)
	}
	return nil
}

// ObserveServiceTarget says what is at a service's data path: nothing, a
// symlink (never followed or replaced), or data, to be kept aside.
func ObserveServiceTarget(path string) (Target, error) {
	t := Target{Path: path}
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		t.State = TargetMissing
	case err != nil:
		return t, fmt.Errorf("service data %s: %w", path, err)
	case fi.Mode()&fs.ModeSymlink != 0:
		t.State = TargetSymlink
	default:
		t.State = TargetData
	}
	return t, nil
}
