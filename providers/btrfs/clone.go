package btrfs

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"unsafe"

	"golang.org/x/sys/unix"
)

// iocSnapCreateV2 is BTRFS_IOC_SNAP_CREATE_V2: _IOW(0x94, 23, struct btrfs_ioctl_vol_args_v2).
const iocSnapCreateV2 = 0x50009417

// volArgsV2 is struct btrfs_ioctl_vol_args_v2 (4096 bytes).
type volArgsV2 struct {
	Fd      int64
	Transid uint64
	Flags   uint64
	_       [4]uint64
	Name    [4040]byte // BTRFS_SUBVOL_NAME_MAX + 1
}

var (
	_ [unsafe.Sizeof(volArgsV2{}) - 4096]byte
	_ [4096 - unsafe.Sizeof(volArgsV2{})]byte
)

// Clone makes a writable snapshot of the subvolume snapshot at dest, which
// must not exist. It works through file descriptors: dest's parent is
// opened without following a symlink in any component and the snapshot is
// created by name inside it, so nothing is resolved twice.
func (Storage) Clone(ctx context.Context, snapshot, dest string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return snapshotInto(snapshot, dest, false)
}

// snapshotInto snapshots the subvolume at source as dest with
// BTRFS_IOC_SNAP_CREATE_V2 on dest's parent directory.
func snapshotInto(source, dest string, readOnly bool) error {
	fail := func(err error) error { return fmt.Errorf("btrfs snapshot %s to %s: %w", source, dest, err) }
	name := filepath.Base(dest)
	if name == "." || name == "/" || len(name) >= len(volArgsV2{}.Name) {
		return fail(fmt.Errorf("invalid name %q", name))
	}
	src, err := openSubvol("btrfs snapshot", source)
	if err != nil {
		return err
	}
	defer unix.Close(src)
	dir, err := openDirNoSymlinks(filepath.Dir(dest))
	if err != nil {
		return fail(err)
	}
	defer unix.Close(dir)
	a := volArgsV2{Fd: int64(src)}
	if readOnly {
		a.Flags = subvolRdonly
	}
	copy(a.Name[:], name)
	if err := ioctl(dir, iocSnapCreateV2, unsafe.Pointer(&a)); err != nil {
		if errors.Is(err, unix.EEXIST) {
			return fail(fmt.Errorf("%s already exists", dest))
		}
		return fail(err)
	}
	return nil
}

// openDirNoSymlinks opens the directory path (absolute or relative to the
// working directory) refusing a symlink in any component.
func openDirNoSymlinks(path string) (int, error) {
	fd, err := unix.Openat2(unix.AT_FDCWD, path, &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return -1, fmt.Errorf("open %s without following symlinks: %w", path, err)
	}
	return fd, nil
}

// Move renames the snapshot at from to to on the same filesystem, through
// both parents' fds (no symlink followed), never replacing what is at to.
func (Storage) Move(from, to string) error {
	src, err := openDirNoSymlinks(filepath.Dir(from))
	if err != nil {
		return err
	}
	defer unix.Close(src)
	dst, err := openDirNoSymlinks(filepath.Dir(to))
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
	if err := snapshotInto(from, to, false); err != nil {
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
