package prepare

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/drsync/drsync/internal/safefs"
	"github.com/drsync/drsync/reconcile/model"
	"github.com/drsync/drsync/recovery"
)

// ObserveTarget says what is at path: nothing, an empty directory, a
// subvolume holding data, a plain directory holding data, or a symlink
// (never followed). Execute checks again as it acts: it never replaces
// what appeared after this observation without an atomic exchange.
func ObserveTarget(st model.Storage, path string) (recovery.Target, error) {
	t := recovery.Target{Path: path}
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		t.State = recovery.TargetMissing
		return t, nil
	case err != nil:
		return t, fmt.Errorf("target %s: %w", path, err)
	case fi.Mode()&fs.ModeSymlink != 0:
		t.State = recovery.TargetSymlink
		return t, nil
	case !fi.IsDir():
		t.State = recovery.TargetPlainData
		return t, nil
	}
	empty, err := isEmptyDir(path)
	if err != nil {
		return t, err
	}
	t.Subvolume = st.CheckSource(path) == nil
	switch {
	case empty:
		t.State = recovery.TargetEmpty
	case t.Subvolume:
		t.State = recovery.TargetData
	default:
		t.State = recovery.TargetPlainData
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

// ObserveServiceTarget says what is at a service's data path: nothing, a
// symlink (never followed or replaced), or data, to be kept aside.
func ObserveServiceTarget(path string) (recovery.Target, error) {
	t := recovery.Target{Path: path}
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		t.State = recovery.TargetMissing
	case err != nil:
		return t, fmt.Errorf("service data %s: %w", path, err)
	case fi.Mode()&fs.ModeSymlink != 0:
		t.State = recovery.TargetSymlink
	default:
		t.State = recovery.TargetData
	}
	return t, nil
}
