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
