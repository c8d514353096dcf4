package btrfs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/drsync/drsync/internal/safefs"
)

// Delete deletes the given subvolumes, read-only ones included (as root).
// Each is destroyed by name through its parent directory's descriptor
// (BTRFS_IOC_SNAP_DESTROY), the parent opened with no symlink in any
// component, so no path is resolved twice and a symlink planted anywhere on
// the way cannot redirect the delete.
func Delete(ctx context.Context, paths ...string) error {
	for _, p := range paths {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("btrfs subvolume delete %s: %w", p, err)
		}
		dir, err := safefs.OpenDir(filepath.Dir(p))
		if err != nil {
			return fmt.Errorf("btrfs subvolume delete %s: %w", p, err)
		}
		err = DeleteAt(dir, filepath.Base(p))
		unix.Close(dir)
		if err != nil {
			return fmt.Errorf("btrfs subvolume delete %s: %w", p, err)
		}
	}
	return nil
}

// DeleteAt destroys the subvolume called name in the directory dirfd. The
// kernel looks the name up in that directory without following it and
// refuses anything that is not a subvolume root.
func DeleteAt(dirfd int, name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: name, Err: err}
	}
	var st unix.Stat_t
	err = unix.Fstat(fd, &st)
	unix.Close(fd)
	if err != nil {
		return &os.PathError{Op: "stat", Path: name, Err: err}
	}
	if st.Ino != firstFreeObjectID {
		return fmt.Errorf("%s: %w", name, ErrNotSubvolume)
	}
	var a volArgs
	copy(a.Name[:], name)
	if err := ioctl(dirfd, iocSnapDestroy, unsafe.Pointer(&a)); err != nil {
		return fmt.Errorf("SNAP_DESTROY %s: %w", name, err)
	}
	return nil
}

// SnapshotAt creates a read-only snapshot of the subvolume open at srcfd,
// called name, in the directory dirfd (BTRFS_IOC_SNAP_CREATE_V2): both ends
// are descriptors, so nothing is looked up by path.
func SnapshotAt(srcfd, dirfd int, name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	a := volArgsV2{Fd: int64(srcfd), Flags: subvolRdonly}
	copy(a.Name[:], name)
	if err := ioctl(dirfd, iocSnapCreateV2, unsafe.Pointer(&a)); err != nil {
		return fmt.Errorf("SNAP_CREATE_V2 %s: %w", name, err)
	}
	return nil
}

// Snapshot creates a read-only snapshot of source at dest. Both the source
// and dest's directory are opened with no symlink in any component; an
// existing dest is refused (the kernel's EEXIST).
func Snapshot(ctx context.Context, source, dest string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("snapshot %s: %w", dest, err)
	}
	src, err := safefs.OpenDir(source)
	if err != nil {
		return fmt.Errorf("snapshot of %s: %w", source, err)
	}
	defer unix.Close(src)
	dir, err := safefs.OpenDir(filepath.Dir(dest))
	if err != nil {
		return fmt.Errorf("snapshot %s: %w", dest, err)
	}
	defer unix.Close(dir)
	if err := SnapshotAt(src, dir, filepath.Base(dest)); err != nil {
		if errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("snapshot %s: already exists", dest)
		}
		return fmt.Errorf("snapshot %s of %s: %w", dest, source, err)
	}
	return nil
}

func checkName(name string) error {
	if name == "" || name == "." || name == ".." || len(name) > 255 || filepath.Base(name) != name {
		return fmt.Errorf("%q is not a name in a directory", name)
	}
	return nil
}
