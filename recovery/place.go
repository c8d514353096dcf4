package recovery

import (
	"fmt"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/drsync/drsync/internal/safefs"
)

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
