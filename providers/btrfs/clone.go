package btrfs

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/drsync/drsync/internal/safefs"
)

// Clone makes a writable snapshot of the subvolume snapshot at dest, which
// must not exist. Both ends are opened with no symlink in any component and
// the snapshot is created by name in dest's directory, so nothing is
// resolved twice.
func (Storage) Clone(ctx context.Context, snapshot, dest string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return cloneAt(snapshot, dest)
}

func cloneAt(snapshot, dest string) error {
	fail := func(err error) error { return fmt.Errorf("writable snapshot of %s at %s: %w", snapshot, dest, err) }
	if err := checkName(filepath.Base(dest)); err != nil {
		return fail(err)
	}
	src, err := safefs.OpenDir(snapshot)
	if err != nil {
		return fail(err)
	}
	defer unix.Close(src)
	dir, err := safefs.OpenDir(filepath.Dir(dest))
	if err != nil {
		return fail(err)
	}
	defer unix.Close(dir)
	a := volArgsV2{Fd: int64(src)}
	copy(a.Name[:], filepath.Base(dest))
	if err := ioctl(dir, iocSnapCreateV2, unsafe.Pointer(&a)); err != nil {
		if errors.Is(err, unix.EEXIST) {
			return fail(fmt.Errorf("%s already exists", dest))
		}
		return fail(err)
	}
	return nil
}

// Move renames the snapshot at from to to on the same filesystem, through
// both parents' fds (no symlink followed), never replacing what is at to.
func (Storage) Move(from, to string) error {
	src, err := safefs.OpenDir(filepath.Dir(from))
	if err != nil {
		return err
	}
	defer unix.Close(src)
	dst, err := safefs.OpenDir(filepath.Dir(to))
	if err != nil {
		return err
	}
	defer unix.Close(dst)
	err = unix.Renameat2(src, filepath.Base(from), dst, filepath.Base(to), unix.RENAME_NOREPLACE)
	if errors.Is(err, unix.EROFS) {
		return copyReceived(from, to)
	}
	if err != nil {
		return fmt.Errorf("moving %s to %s: %w", from, to, err)
	}
	return nil
}

// copyReceived is Move for a read-only subvolume, which btrfs will not
// give another parent directory: a snapshot of it at to takes its content
// and, as btrfs receive does, its received UUID and stransid before it is
// made read-only; then the original is deleted.
func copyReceived(from, to string) error {
	fail := func(err error) error { return fmt.Errorf("moving %s to %s: %w", from, to, err) }
	fd, err := openSubvol("btrfs move", from)
	if err != nil {
		return err
	}
	var info getSubvolInfoArgs
	err = ioctl(fd, iocGetSubvolInfo, unsafe.Pointer(&info))
	unix.Close(fd)
	if err != nil {
		return fail(err)
	}
	if err := cloneAt(from, to); err != nil {
		return fail(err)
	}
	if received := formatUUID(info.ReceivedUUID); received != "" {
		if err := SetReceivedUUID(to, received, info.Stransid); err != nil {
			return fail(err)
		}
	}
	if err := SetReadOnly(to, true); err != nil {
		return fail(err)
	}
	return Delete(context.Background(), from)
}
