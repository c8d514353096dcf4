package dirfs

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Clone copies the snapshot to dest as a writable tree (no sidecar: a
// source, not a snapshot), under a temporary name renamed into place, so a
// crash never leaves a partial tree at dest.
func (Storage) Clone(ctx context.Context, snapshot, dest string) error {
	fail := func(err error) error { return fmt.Errorf("clone %s to %s: %w", snapshot, dest, err) }
	if _, err := readSidecar(snapshot); err != nil {
		return fail(fmt.Errorf("%s is not a snapshot: %w", snapshot, err))
	}
	if err := refuseExisting(dest); err != nil {
		return fail(err)
	}
	partial := filepath.Join(filepath.Dir(dest), "."+filepath.Base(dest)+".partial")
	if err := removeTree(partial); err != nil {
		return fail(err)
	}
	c := &copier{ctx: ctx}
	err := c.copyTree(snapshot, partial)
	if err == nil {
		err = unix.Renameat2(unix.AT_FDCWD, partial, unix.AT_FDCWD, dest, unix.RENAME_NOREPLACE)
	}
	if err != nil {
		return fail(errors.Join(err, removeTree(partial)))
	}
	return nil
}

// Move renames the snapshot at from, and its sidecar, to to, never
// replacing what is at to. The sidecar goes first: a crash between leaves
// a tree without one, which List reports as foreign, never as a snapshot.
func (Storage) Move(from, to string) error {
	if err := refuseExisting(to); err != nil {
		return fmt.Errorf("moving %s: %w", from, err)
	}
	if err := unix.Renameat2(unix.AT_FDCWD, sidecarPath(from), unix.AT_FDCWD, sidecarPath(to), unix.RENAME_NOREPLACE); err != nil {
		return fmt.Errorf("moving %s to %s: %w", from, to, err)
	}
	if err := unix.Renameat2(unix.AT_FDCWD, from, unix.AT_FDCWD, to, unix.RENAME_NOREPLACE); err != nil {
		return fmt.Errorf("moving %s to %s: %w", from, to, err)
	}
	return nil
}
